"""Worker output to the GCS, in batches (the driver prints it, like Ray)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from polyray.protocol import gcs_pb2

log = logging.getLogger(__name__)

#: Lines held while the GCS is unreachable; older ones are dropped past this.
MAX_BUFFERED_LINES = 20_000
#: Lines sent in one PublishLogs call at most.
MAX_LINES_PER_CALL = 2_000
#: A pipe reader waits at most this long for room (LogForwarder.room) per chunk.
ROOM_WAIT_S = 2.0

Publish = Callable[[list[gcs_pb2.LogBatch]], Awaitable[None]]
_Key = tuple[bytes, int, str, bool]


class LogForwarder:
    """Collects lines per (job, pid, label, stream) and publishes them
    every ``interval_s`` or as soon as ``MAX_LINES_PER_CALL`` are waiting."""

    def __init__(self, node_id: bytes, publish: Publish, interval_s: float, node_ip: str = "") -> None:
        self._node_id = node_id
        self._node_ip = node_ip
        self._publish = publish
        self._interval_s = interval_s
        self._pending: dict[_Key, list[str]] = {}
        self._count = 0
        self._dropped = 0
        #: Lines dropped per source since its last batch (sent as dropped_lines).
        self._dropped_by: dict[_Key, int] = {}
        # One flush at a time: a drain's flush returns only after a flush
        # already sending (the timer's) has been published.
        self._flushing = asyncio.Lock()
        # Set after each publish that made room; False while the GCS fails.
        self._published = asyncio.Event()
        self._publishing_ok = True
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the flushing task."""
        self._task = asyncio.create_task(self._run(), name="raylet-log-forwarder")

    def push(self, job_id: bytes, pid: int, label: str, is_error: bool, line: str) -> None:
        """Queue one line of a worker's output."""
        if self._count >= MAX_BUFFERED_LINES:
            self._dropped += 1
            key = (job_id, pid, label, is_error)
            self._dropped_by[key] = self._dropped_by.get(key, 0) + 1
            return
        self._pending.setdefault((job_id, pid, label, is_error), []).append(line)
        self._count += 1
        if self._count >= MAX_LINES_PER_CALL:
            self._wake.set()

    async def room(self, timeout_s: float = ROOM_WAIT_S) -> None:
        """Backpressure for the pipe readers: while the buffer is over half
        full and the GCS takes what is sent, wait (at most ``timeout_s``) for
        a publish to make room, so a fast writer is slowed down instead of
        having its lines dropped. While the GCS fails it returns at once
        (lines past the bound are then dropped and counted)."""
        if self._count < MAX_BUFFERED_LINES // 2 or not self._publishing_ok:
            return
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._count >= MAX_BUFFERED_LINES // 2 and self._publishing_ok:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._published.clear()
            try:
                await asyncio.wait_for(self._published.wait(), left)
            except asyncio.TimeoutError:
                return

    async def _run(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    def _take(self) -> list[gcs_pb2.LogBatch]:
        batches: list[gcs_pb2.LogBatch] = []
        taken = 0
        dropped_by, self._dropped_by = self._dropped_by, {}
        for key in [k for k in dropped_by if k not in self._pending]:
            job_id, pid, label, is_error = key
            batches.append(gcs_pb2.LogBatch(
                job_id=job_id, node_id=self._node_id, pid=pid, worker_label=label,
                is_error=is_error, dropped_lines=dropped_by.pop(key), node_ip=self._node_ip))
        for key in list(self._pending):
            if taken >= MAX_LINES_PER_CALL:
                break
            lines = self._pending[key]
            room = MAX_LINES_PER_CALL - taken
            send, rest = lines[:room], lines[room:]
            if rest:
                self._pending[key] = rest
            else:
                del self._pending[key]
            job_id, pid, label, is_error = key
            batches.append(
                gcs_pb2.LogBatch(
                    job_id=job_id, node_id=self._node_id, pid=pid,
                    worker_label=label, is_error=is_error, lines=send,
                    dropped_lines=dropped_by.pop(key, 0), node_ip=self._node_ip,
                )
            )
            taken += len(send)
        self._count -= taken
        for key, dropped in dropped_by.items():  # sources not reached this call
            self._dropped_by[key] = self._dropped_by.get(key, 0) + dropped
        return batches

    @property
    def pending(self) -> int:
        """Lines queued, not yet published."""
        return self._count

    async def flush(self) -> None:
        """Send everything queued now (lines are dropped if the GCS fails)."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        while self._count or self._dropped_by:
            batches = self._take()
            try:
                await self._publish(batches)
            except Exception as exc:  # the GCS being away must not stop the raylet
                log.warning("could not forward %d log batches to the GCS: %s", len(batches), exc)
                # Their lines are lost to the driver (they are in the log files):
                # counted, and reported with the worker's next batch.
                for b in batches:
                    key = (b.job_id, b.pid, b.worker_label, b.is_error)
                    self._dropped_by[key] = self._dropped_by.get(key, 0) + len(b.lines) + b.dropped_lines
                self._publishing_ok = False
                self._published.set()
                return
            self._publishing_ok = True
            self._published.set()
        if self._dropped:
            log.warning("dropped %d worker log lines (buffer full)", self._dropped)
            self._dropped = 0

    async def stop(self) -> None:
        """Flush what is left and stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=2.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        await self.flush()
