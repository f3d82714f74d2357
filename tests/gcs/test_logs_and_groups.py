"""The log channel (pub/sub with bounded subscriber queues) and placement groups."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest

from polyray.protocol import common_pb2, gcs_pb2

from .harness import RPC_TIMEOUT, cluster, eventually, run

pytestmark = pytest.mark.timeout(30)


def batch(job_id: bytes, *lines: str) -> gcs_pb2.LogBatch:
    return gcs_pb2.LogBatch(job_id=job_id, node_id=b"n" * 28, pid=7, worker_label="(f pid=7)", lines=list(lines))


@run
async def test_logs_reach_the_subscribers_of_their_job() -> None:
    async with cluster() as c:
        job1, job2 = await c.new_job(), await c.new_job()
        sub1 = c.stub.SubscribeLogs(gcs_pb2.SubscribeLogsRequest(job_id=job1), timeout=10)
        sub_all = c.stub.SubscribeLogs(gcs_pb2.SubscribeLogsRequest(), timeout=10)
        await eventually(lambda: c.server.logs.subscriber_count == 2)
        await c.stub.PublishLogs(
            gcs_pb2.PublishLogsRequest(batches=[batch(job2, "for job 2"), batch(job1, "hello", "world")]),
            timeout=RPC_TIMEOUT,
        )
        got = await asyncio.wait_for(sub1.read(), 5)
        assert got.job_id == job1 and list(got.lines) == ["hello", "world"] and got.worker_label == "(f pid=7)"
        assert list((await asyncio.wait_for(sub_all.read(), 5)).lines) == ["for job 2"]
        assert list((await asyncio.wait_for(sub_all.read(), 5)).lines) == ["hello", "world"]
        sub1.cancel()
        sub_all.cancel()
        await eventually(lambda: c.server.logs.subscriber_count == 0)


@run
async def test_slow_subscriber_drops_oldest_with_a_notice() -> None:
    async with cluster(log_queue_size=5) as c:
        job = await c.new_job()
        sub = c.stub.SubscribeLogs(gcs_pb2.SubscribeLogsRequest(job_id=job), timeout=10)
        await eventually(lambda: c.server.logs.subscriber_count == 1)
        # Large batches while the subscriber reads nothing: once the transport's
        # buffers are full the GCS queue overflows; publishing must not block.
        filler = "x" * 100_000
        for i in range(200):
            await c.stub.PublishLogs(
                gcs_pb2.PublishLogsRequest(batches=[batch(job, f"line {i}", filler)]), timeout=RPC_TIMEOUT
            )
        received: list[gcs_pb2.LogBatch] = []
        while not received or received[-1].lines[0] != "line 199":
            received.append(await asyncio.wait_for(sub.read(), 5))
        firsts = [b.lines[0] for b in received]
        notices = [i for i, line in enumerate(firsts) if "dropped" in line]
        assert len(notices) == 1 and received[notices[0]].is_error
        regular = [int(line.split()[1]) for line in firsts if "dropped" not in line]
        # Batches arrive in order, the newest survive, and the gap is where the notice is.
        assert regular == sorted(regular) and regular[-5:] == list(range(195, 200))
        assert len(regular) < 200
        gap = notices[0]
        if gap > 0:
            assert int(firsts[gap + 1].split()[1]) > int(firsts[gap - 1].split()[1]) + 1
        sub.cancel()


@run
async def test_publish_rejects_bad_job_id() -> None:
    async with cluster() as c:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.PublishLogs(gcs_pb2.PublishLogsRequest(batches=[batch(b"xyz", "l")]), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "batches[0].job_id" in err.value.details()


def group(job_id: bytes) -> gcs_pb2.PlacementGroupInfo:
    return gcs_pb2.PlacementGroupInfo(
        placement_group_id=os.urandom(14) + job_id,
        strategy=gcs_pb2.SPREAD,
        bundles=[common_pb2.ResourceMap(amounts={"CPU": 1.0}), common_pb2.ResourceMap(amounts={"CPU": 2.0})],
        name="pg",
        job_id=job_id,
    )


@run
async def test_placement_group_stays_pending_and_wait_honours_deadline() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        pg = group(job)
        await c.stub.CreatePlacementGroup(gcs_pb2.CreatePlacementGroupRequest(group=pg), timeout=RPC_TIMEOUT)
        await c.stub.CreatePlacementGroup(  # retry ok
            gcs_pb2.CreatePlacementGroupRequest(group=pg), timeout=RPC_TIMEOUT
        )
        got = await c.stub.GetPlacementGroup(
            gcs_pb2.GetPlacementGroupRequest(placement_group_id=pg.placement_group_id), timeout=RPC_TIMEOUT
        )
        assert got.group.state == gcs_pb2.PG_PENDING and len(got.group.bundles) == 2
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            waited = await c.stub.GetPlacementGroup(
                gcs_pb2.GetPlacementGroupRequest(placement_group_id=pg.placement_group_id, wait_until_created=True),
                timeout=0.6,
            )
            assert waited.group.state == gcs_pb2.PG_PENDING
        except grpc.aio.AioRpcError as err:  # a late reply on a loaded machine
            assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.3 < loop.time() - start < 2.0


@run
async def test_remove_placement_group_wakes_waiters() -> None:
    async with cluster() as c:
        job = await c.new_job()
        pg = group(job)
        await c.stub.CreatePlacementGroup(gcs_pb2.CreatePlacementGroupRequest(group=pg), timeout=RPC_TIMEOUT)
        waiter = asyncio.ensure_future(
            c.stub.GetPlacementGroup(
                gcs_pb2.GetPlacementGroupRequest(placement_group_id=pg.placement_group_id, wait_until_created=True),
                timeout=10,
            )
        )
        await asyncio.sleep(0.2)
        assert not waiter.done()
        await c.stub.RemovePlacementGroup(
            gcs_pb2.RemovePlacementGroupRequest(placement_group_id=pg.placement_group_id), timeout=RPC_TIMEOUT
        )
        assert (await asyncio.wait_for(waiter, 5)).group.state == gcs_pb2.PG_REMOVED


@run
async def test_placement_group_validation_and_job_end() -> None:
    async with cluster() as c:
        job = await c.new_job()
        bad = group(job)
        bad.bundles[0].amounts["CPU"] = -1.0
        empty = group(job)
        del empty.bundles[:]
        short_id = group(job)
        short_id.placement_group_id = b"abc"
        for pg, field in [(bad, "group.bundles[0]"), (empty, "group.bundles"), (short_id, "group.placement_group_id")]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.stub.CreatePlacementGroup(gcs_pb2.CreatePlacementGroupRequest(group=pg), timeout=RPC_TIMEOUT)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()
        pg = group(job)
        await c.stub.CreatePlacementGroup(gcs_pb2.CreatePlacementGroupRequest(group=pg), timeout=RPC_TIMEOUT)
        await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=job), timeout=RPC_TIMEOUT)
        got = await c.stub.GetPlacementGroup(
            gcs_pb2.GetPlacementGroupRequest(placement_group_id=pg.placement_group_id), timeout=RPC_TIMEOUT
        )
        assert got.group.state == gcs_pb2.PG_REMOVED
