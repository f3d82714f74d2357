"""DrainLogs: every alive raylet is asked to FlushLogs, then the job's
subscribers get a marker batch with the token, behind what was published."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from polyray.protocol import common_pb2, gcs_pb2, raylet_pb2

from .harness import RPC_TIMEOUT, cluster, eventually, run

pytestmark = pytest.mark.timeout(30)


class _Raylet:
    """A raylet stub that answers FlushLogs (publishing one line first) or fails."""

    def __init__(self, publish, fail: bool) -> None:
        self.publish = publish
        self.fail = fail
        self.asked = 0

    async def FlushLogs(self, request: raylet_pb2.FlushLogsRequest, timeout: float) -> raylet_pb2.FlushLogsReply:
        self.asked += 1
        if self.fail:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "gone")
        await self.publish()
        return raylet_pb2.FlushLogsReply(complete=True)


@run
async def test_the_marker_comes_after_what_the_raylets_flushed() -> None:
    async with cluster() as c:
        job = await c.new_job()

        async def publish() -> None:
            await c.stub.PublishLogs(gcs_pb2.PublishLogsRequest(batches=[gcs_pb2.LogBatch(
                job_id=job, pid=7, worker_label="f pid=7, node=x", lines=["flushed"])]), timeout=RPC_TIMEOUT)

        good, bad = _Raylet(publish, fail=False), _Raylet(publish, fail=True)
        stubs = {1: good, 2: bad}
        c.server.logs.raylet = lambda address: stubs[address.port]
        c.server.logs.raylet_addresses = lambda: [common_pb2.Address(host="h", port=1),
                                                  common_pb2.Address(host="h", port=2)]
        sub = c.stub.SubscribeLogs(gcs_pb2.SubscribeLogsRequest(job_id=job), timeout=10)
        await sub.wait_for_connection()  # the GCS sends headers once it has the subscriber
        assert c.server.logs.subscriber_count == 1
        reply = await c.stub.DrainLogs(gcs_pb2.DrainLogsRequest(job_id=job, token="t1", timeout_ms=2000),
                                       timeout=RPC_TIMEOUT)
        assert (reply.nodes_drained, reply.nodes_timed_out) == (1, 1) and good.asked == bad.asked == 1
        first = await asyncio.wait_for(sub.read(), 5)
        assert list(first.lines) == ["flushed"] and not first.drain_token
        marker = await asyncio.wait_for(sub.read(), 5)
        assert marker.drain_token == "t1" and not marker.lines
        sub.cancel()
        await eventually(lambda: c.server.logs.subscriber_count == 0)
