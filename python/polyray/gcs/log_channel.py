"""The log channel: raylets publish workers' output, drivers subscribe per job.

Publishing never waits for subscribers: each subscriber has a bounded queue,
and when it falls behind the oldest batches are dropped and it receives one
notice line saying how many, instead of slowing every raylet down.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from polyray.protocol import common_pb2, gcs_pb2, raylet_pb2
from polyray.protocol.runtime_spec import LOGS_DRAIN_MS

from .validation import JOB_ID_SIZE, NODE_ID_SIZE, check_id


class _Subscriber:
    """One SubscribeLogs stream: a bounded queue and a count of dropped batches."""

    def __init__(self, job_id: bytes, size: int) -> None:
        self.job_id = job_id
        self.queue: collections.deque[gcs_pb2.LogBatch] = collections.deque(maxlen=size)
        self.dropped = 0
        self.ready = asyncio.Event()

    def offer(self, batch: gcs_pb2.LogBatch) -> None:
        """Queue a batch, dropping the oldest when full; never blocks."""
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1  # the deque drops the oldest on append
        self.queue.append(batch)
        self.ready.set()


class LogChannel:
    """PublishLogs / SubscribeLogs."""

    def __init__(self, queue_size: int) -> None:
        """Subscribers buffer up to ``queue_size`` batches each."""
        self._queue_size = max(1, queue_size)
        self._subscribers: set[_Subscriber] = set()
        #: The raylets to drain (DrainLogs): their addresses, and a stub for one.
        self.raylet_addresses: Callable[[], list[common_pb2.Address]] = list
        self.raylet: Callable[[common_pb2.Address], Any] | None = None

    @property
    def subscriber_count(self) -> int:
        """Open SubscribeLogs streams."""
        return len(self._subscribers)

    async def PublishLogs(
        self, request: gcs_pb2.PublishLogsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.PublishLogsReply:
        """Hand each batch to the subscribers of its job (and to those of every job)."""
        for i, batch in enumerate(request.batches):
            check_id(batch.job_id, f"batches[{i}].job_id", JOB_ID_SIZE, optional=True)
            check_id(batch.node_id, f"batches[{i}].node_id", NODE_ID_SIZE, optional=True)
        for batch in request.batches:
            self.offer(batch)
        return gcs_pb2.PublishLogsReply()

    def offer(self, batch: gcs_pb2.LogBatch) -> None:
        """Hand one batch to the subscribers of its job (and to those of every job); never waits.
        The GCS's own lines (LabelWarnings) come in here."""
        for sub in self._subscribers:
            if not sub.job_id or sub.job_id == batch.job_id:
                sub.offer(batch)

    async def DrainLogs(
        self, request: gcs_pb2.DrainLogsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.DrainLogsReply:
        """Have every raylet publish what its workers wrote up to now (FlushLogs,
        in parallel, within the timeout), then put a marker with the request's
        token into the job's streams: a subscriber that reads the marker has
        read everything ahead of it."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE, optional=True)
        timeout_ms = request.timeout_ms or LOGS_DRAIN_MS
        drained = timed_out = 0
        if self.raylet is not None:
            stub = self.raylet

            async def flush(address: common_pb2.Address) -> bool:
                try:
                    reply = await stub(address).FlushLogs(
                        raylet_pb2.FlushLogsRequest(timeout_ms=timeout_ms), timeout=timeout_ms / 1000 + 0.5)
                    return bool(reply.complete)
                except grpc.aio.AioRpcError:
                    return False

            results = await asyncio.gather(*(flush(a) for a in self.raylet_addresses()))
            drained = sum(results)
            timed_out = len(results) - drained
        marker = gcs_pb2.LogBatch(job_id=request.job_id, drain_token=request.token)
        for sub in self._subscribers:
            if not sub.job_id or sub.job_id == request.job_id:
                sub.offer(marker)
        return gcs_pb2.DrainLogsReply(nodes_drained=drained, nodes_timed_out=timed_out)

    async def SubscribeLogs(
        self, request: gcs_pb2.SubscribeLogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gcs_pb2.LogBatch]:
        """Stream the batches of one job (empty job_id: every job) until the client leaves."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE, optional=True)
        sub = _Subscriber(request.job_id, self._queue_size)
        self._subscribers.add(sub)
        try:
            # Headers now: a client that waits for the connection knows it is
            # subscribed (a DrainLogs marker after that reaches it).
            await context.send_initial_metadata(())
            while True:
                # The notice goes where the gap is: before the oldest batch kept.
                if sub.dropped:
                    dropped, sub.dropped = sub.dropped, 0
                    yield gcs_pb2.LogBatch(
                        job_id=sub.job_id,
                        worker_label="(polyray)",
                        is_error=True,
                        lines=[
                            f"[polyray] {dropped} log batch(es) dropped: this subscriber read too slowly"
                        ],
                    )
                elif sub.queue:
                    yield sub.queue.popleft()
                else:
                    sub.ready.clear()
                    await sub.ready.wait()
        finally:
            self._subscribers.discard(sub)
