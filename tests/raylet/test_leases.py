"""Worker leases: grant, reuse, queueing on resources, cancel, infeasible."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from polyray.protocol import common_pb2, raylet_pb2

from .fakes import running_raylet, task_spec, wait_for


async def test_lease_granted_with_worker_address(tmp_path):
    async with running_raylet(tmp_path) as h:
        reply = await h.lease()
        assert not reply.HasField("failure") and not reply.canceled
        assert len(reply.lease_id) == 16
        addr = reply.worker_address
        assert addr.node_id == h.config.node_id and addr.host == "127.0.0.1" and addr.port > 0
        assert len(addr.worker_id) == 28 and reply.worker_pid > 0
        # The worker got the node's environment.
        (ctx,) = h.launcher.launched
        env = ctx.polyray_env()
        assert env["POLYRAY_JOB_ID"] == "01000000"
        assert env["POLYRAY_STORE_NAME"] == h.config.store_name
        assert env["POLYRAY_CODE_SEARCH_PATH"] == "/nonexistent/code"
        assert env["POLYRAY_WORKER_ID"] == addr.worker_id.hex()
        stats = await h.stats()
        assert stats.resources_available["CPU"] == 1.0
        assert [w.leased for w in stats.workers] == [True]


async def test_worker_reused_by_second_lease(tmp_path):
    async with running_raylet(tmp_path) as h:
        first = await h.lease()
        await h.give_back(first)
        second = await h.lease()
        assert second.worker_address.worker_id == first.worker_address.worker_id
        assert second.lease_id != first.lease_id
        assert len(h.launcher.launched) == 1
        # Another job does not get this job's worker.
        other = await h.lease(job_id=bytes.fromhex("02000000"))
        assert other.worker_address.worker_id != first.worker_address.worker_id


async def test_queued_lease_granted_when_resources_return(tmp_path):
    async with running_raylet(tmp_path) as h:
        first = await h.lease(resources={"CPU": 2})
        queued = asyncio.create_task(h.lease(resources={"CPU": 1.5}))
        await wait_for(lambda: h.raylet.leases.pending_count == 1, what="queued request")
        await asyncio.sleep(0.2)
        assert not queued.done()
        assert (await h.stats()).pending_leases == 1
        await h.give_back(first)
        second = await asyncio.wait_for(queued, 20)
        assert second.lease_id and not second.HasField("failure")
        # The returned worker served it: same job, same language.
        assert second.worker_address.worker_id == first.worker_address.worker_id
        assert (await h.stats()).resources_available["CPU"] == pytest.approx(0.5)


async def test_fractional_resources_add_up_exactly(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 1.0}) as h:
        leases = [await h.lease(resources={"CPU": 0.1}) for _ in range(3)]
        assert len({r.worker_address.worker_id for r in leases}) == 3
        for r in leases:
            await h.give_back(r)
        assert (await h.stats()).resources_available["CPU"] == 1.0


async def test_cancel_queued_lease(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 1.0}) as h:
        held = await h.lease()
        spec = task_spec()
        queued = asyncio.create_task(h.lease(spec))
        await wait_for(lambda: h.raylet.leases.pending_count == 1, what="queued request")
        cancel = await h.stub.CancelWorkerLease(
            raylet_pb2.CancelWorkerLeaseRequest(task_id=spec.task_id), timeout=5
        )
        assert cancel.canceled
        reply = await asyncio.wait_for(queued, 5)
        assert reply.canceled and not reply.lease_id
        again = await h.stub.CancelWorkerLease(
            raylet_pb2.CancelWorkerLeaseRequest(task_id=spec.task_id), timeout=5
        )
        assert not again.canceled
        assert h.raylet.leases.pending_count == 0
        await h.give_back(held)
        assert (await h.stats()).resources_available["CPU"] == 1.0


async def test_client_cancellation_drops_queued_request(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 1.0}) as h:
        held = await h.lease()
        call = h.stub.RequestWorkerLease(
            raylet_pb2.RequestWorkerLeaseRequest(task=task_spec()), timeout=20
        )
        await wait_for(lambda: h.raylet.leases.pending_count == 1, what="queued request")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await wait_for(lambda: h.raylet.leases.pending_count == 0, what="request dropped")
        # A deadline that passes drops it too.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.lease(timeout=0.3)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await wait_for(lambda: h.raylet.leases.pending_count == 0, what="request dropped")
        await h.give_back(held)
        assert (await h.stats()).resources_available["CPU"] == 1.0


async def test_infeasible_request_waits_and_warns_naming_resources(tmp_path):
    """No node can ever hold the request: the driver is warned (through the job's
    log channel) with the resources asked for, and the request waits for a node
    that fits instead of failing (as in Ray)."""
    async with running_raylet(tmp_path) as h:
        pending = asyncio.ensure_future(h.lease(resources={"CPU": 4, "GPU": 1}))
        await wait_for(lambda: h.gcs.log_lines(is_error=True), what="infeasible warning")
        (message,) = h.gcs.log_lines(is_error=True)
        assert "{CPU: 4, GPU: 1}" in message and "{CPU: 2}" in message, message
        assert not pending.done()
        assert not h.launcher.launched
        assert (await h.stats()).pending_leases == 1
        pending.cancel()


async def test_spilled_request_that_cannot_fit_fails_naming_resources(tmp_path):
    """A request another raylet spilled here (grant_or_reject) is not spilled
    again: one that can never fit fails at once, naming the resources."""
    async with running_raylet(tmp_path) as h:
        reply = await h.stub.RequestWorkerLease(
            raylet_pb2.RequestWorkerLeaseRequest(task=task_spec(resources={"CPU": 4, "GPU": 1}),
                                                 grant_or_reject=True), timeout=20)
        assert reply.failure.kind == common_pb2.RUNTIME_ERROR
        message = reply.failure.message
        assert "{CPU: 4, GPU: 1}" in message and "{CPU: 2}" in message, message
        assert not h.launcher.launched


async def test_actor_creation_uses_spec_resources(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 1.0}) as h:
        held = await h.lease()  # the node's only CPU
        spec = task_spec(task_type=common_pb2.ACTOR_CREATION_TASK)
        actor = await h.lease(spec)  # no resources in the spec: holds none
        assert actor.lease_id
        stats = await h.stats()
        (actor_worker,) = [w for w in stats.workers if w.actor_id]
        assert actor_worker.actor_id == spec.actor_id
        assert stats.resources_available.get("CPU", 0.0) == 0.0
        await h.give_back(held)
        # An actor's worker is not reused: returning it stops it.
        await h.give_back(actor)
        await wait_for(
            lambda: actor.worker_address.worker_id not in h.raylet.pool.workers,
            what="actor worker stopped",
        )
        # Stopped by the raylet: not a crash (recorded for owners only).
        assert all(d.stopped_by_raylet for d in h.gcs.deaths)


async def test_bad_lease_requests_are_invalid_argument(tmp_path):
    async with running_raylet(tmp_path) as h:
        for spec, needle in [
            (task_spec(resources={"CPU": -1}), "'CPU' must not be negative"),
            (task_spec(task_type=common_pb2.ACTOR_TASK), "actor tasks"),
            (task_spec(job_id=b"\x01"), "job_id"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await h.lease(spec)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert needle in err.value.details()
