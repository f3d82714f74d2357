"""GetDeadWorkers: which of the asked processes the GCS knows to be dead
(reported by a raylet, the driver of a finished job, or on a dead node)."""

from __future__ import annotations

import os

import grpc
import pytest

from polyray.protocol import common_pb2, gcs_pb2

from .harness import RPC_TIMEOUT, actor_spec, cluster, eventually, run


def _addr(worker_id: bytes, node_id: bytes = b"") -> common_pb2.Address:
    return common_pb2.Address(worker_id=worker_id, node_id=node_id)


async def _dead(c, workers: list[common_pb2.Address]) -> set[bytes]:  # type: ignore[no-untyped-def]
    reply = await c.stub.GetDeadWorkers(gcs_pb2.GetDeadWorkersRequest(workers=workers), timeout=RPC_TIMEOUT)
    return set(reply.dead_worker_ids)


@run
async def test_reported_finished_and_node_deaths_are_dead_others_alive() -> None:
    async with cluster(node_timeout_s=30.0) as c:
        alive_node = await c.add_node({"CPU": 1.0})
        doomed = await c.add_node({"CPU": 1.0})
        crashed, alive, on_doomed = os.urandom(28), os.urandom(28), os.urandom(28)
        asked = [_addr(crashed, alive_node.node_id), _addr(alive, alive_node.node_id),
                 _addr(on_doomed, doomed.node_id)]
        assert await _dead(c, asked) == set()
        await c.stub.ReportWorkerDeath(gcs_pb2.ReportWorkerDeathRequest(worker_id=crashed), timeout=RPC_TIMEOUT)
        assert await _dead(c, asked) == {crashed}

        driver = os.urandom(28)
        job = (await c.stub.AddJob(gcs_pb2.AddJobRequest(job=gcs_pb2.JobInfo(
            driver=_addr(driver, alive_node.node_id), driver_pid=os.getpid())), timeout=RPC_TIMEOUT)).job_id
        assert await _dead(c, [_addr(driver)]) == set()
        await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=job), timeout=RPC_TIMEOUT)
        assert await _dead(c, [_addr(driver)]) == {driver}

        await c.stub.UnregisterNode(gcs_pb2.UnregisterNodeRequest(node_id=doomed.node_id, reason="gone"),
                                    timeout=RPC_TIMEOUT)
        await eventually(lambda: not c.server.nodes.is_alive(doomed.node_id), timeout=10)
        assert await _dead(c, asked) == {crashed, on_doomed}


@run
async def test_a_worker_the_raylet_stopped_is_recorded_only() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        owner = os.urandom(28)
        owned = actor_spec(job, caller_worker=owner)
        await c.register_actor(owned)
        await c.wait_state(owned.actor_id, [gcs_pb2.ALIVE])
        await c.stub.ReportWorkerDeath(gcs_pb2.ReportWorkerDeathRequest(worker_id=owner, stopped_by_raylet=True),
                                       timeout=RPC_TIMEOUT)
        assert await _dead(c, [_addr(owner)]) == {owner}
        assert (await c.info(owned.actor_id)).state == gcs_pb2.ALIVE, "a stop is not a crash: its actors live on"


@run
async def test_too_many_asked_is_invalid() -> None:
    async with cluster() as c:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.GetDeadWorkers(gcs_pb2.GetDeadWorkersRequest(
                workers=[_addr(b"x" * 28)] * 100_001), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
