"""Actor directory end to end against fake raylets and fake workers."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest

from polyray.protocol import common_pb2, gcs_pb2

from .fakes import CONSTRUCTOR_ERROR, LEASE_FAILURE
from .harness import RPC_TIMEOUT, actor_spec, cluster, run

pytestmark = pytest.mark.timeout(30)

ALIVE, DEAD, PENDING, RESTARTING = gcs_pb2.ALIVE, gcs_pb2.DEAD, gcs_pb2.PENDING_CREATION, gcs_pb2.RESTARTING


@run
async def test_creation_succeeds_and_records_the_worker() -> None:
    async with cluster() as c:
        raylet = await c.add_node({"CPU": 4.0})
        job = await c.new_job(namespace="ns")
        spec = actor_spec(job, name="counter")
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [ALIVE])
        (worker,) = raylet.workers
        assert info.address.port == worker.port and info.address.worker_id == worker.worker_id
        assert info.node_id == raylet.node_id and info.pid == worker.pid
        assert info.class_name == "Counter" and info.job_id == job
        assert info.handle.name == "counter" and info.handle.namespace == "ns"  # the job's namespace
        # The raylet got the creation TaskSpec; the worker got the task itself.
        assert raylet.lease_requests[0].task.actor_id == spec.actor_id
        assert worker.pushed[0].task_id == spec.task_id
        listed = (await c.stub.ListActors(gcs_pb2.ListActorsRequest(job_id=job), timeout=RPC_TIMEOUT)).actors
        assert [a.actor_id for a in listed] == [spec.actor_id]
        assert raylet.returned == []  # the lease is kept while the actor lives


@run
async def test_prefers_the_callers_node() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 8.0})
        caller_node = await c.add_node({"CPU": 2.0})
        job = await c.new_job()
        spec = actor_spec(job, caller_node=caller_node.node_id)
        await c.register_actor(spec)
        assert (await c.wait_state(spec.actor_id, [ALIVE])).node_id == caller_node.node_id


@run
async def test_constructor_error_makes_the_actor_dead_with_the_cause() -> None:
    async with cluster() as c:
        raylet = await c.add_node(worker_behaviour="raise")
        job = await c.new_job()
        spec = actor_spec(job, name="broken", max_restarts=3)
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [DEAD])
        assert info.death_cause.kind == common_pb2.ACTOR_DIED
        assert info.death_cause.cause == CONSTRUCTOR_ERROR
        assert "ValueError" in info.death_cause.message
        assert info.num_restarts == 0  # a constructor error is not retried
        # The lease goes back to the raylet with disconnect, and the name is free again.
        await raylet.wait_for(lambda: len(raylet.returned) == 1)
        assert raylet.returned[0].disconnect and raylet.returned[0].worker_id == raylet.workers[0].worker_id
        found = await c.stub.GetNamedActor(gcs_pb2.GetNamedActorRequest(name="broken"), timeout=RPC_TIMEOUT)
        assert not found.found


@run
async def test_lease_failure_makes_the_actor_dead() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        raylet.lease_script.append("fail")
        job = await c.new_job()
        spec = actor_spec(job)
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [DEAD])
        assert info.death_cause.kind == common_pb2.ACTOR_DIED
        assert info.death_cause.cause == LEASE_FAILURE
        assert raylet.workers == []


@run
async def test_unreachable_raylet_is_retried_then_succeeds() -> None:
    async with cluster(lease_retry_base_s=0.05) as c:
        raylet = await c.add_node()
        raylet.lease_script.extend(["unavailable", "unavailable"])
        job = await c.new_job()
        spec = actor_spec(job)
        await c.register_actor(spec)
        await c.wait_state(spec.actor_id, [ALIVE])
        assert len(raylet.lease_requests) == 3


@run
async def test_pending_until_a_node_fits() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 1.0})
        job = await c.new_job()
        spec = actor_spec(job, resources={"CPU": 1.0, "GPU": 1.0})
        await c.register_actor(spec)
        await asyncio.sleep(0.2)
        assert (await c.info(spec.actor_id)).state == PENDING
        gpu_node = await c.add_node({"CPU": 2.0, "GPU": 1.0})
        info = await c.wait_state(spec.actor_id, [ALIVE])
        assert info.node_id == gpu_node.node_id


@run
async def test_pending_until_resources_free_up() -> None:
    async with cluster() as c:
        raylet = await c.add_node({"CPU": 2.0})
        await c.stub.Heartbeat(
            gcs_pb2.HeartbeatRequest(node_id=raylet.node_id, resources_available={"CPU": 0.0}), timeout=RPC_TIMEOUT
        )
        job = await c.new_job()
        spec = actor_spec(job)
        await c.register_actor(spec)
        await asyncio.sleep(0.2)
        assert (await c.info(spec.actor_id)).state == PENDING and raylet.lease_requests == []
        await c.stub.Heartbeat(
            gcs_pb2.HeartbeatRequest(node_id=raylet.node_id, resources_available={"CPU": 2.0}), timeout=RPC_TIMEOUT
        )
        await c.wait_state(spec.actor_id, [ALIVE])


@run
async def test_kill_actor() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        job = await c.new_job()
        spec = actor_spec(job, name="victim", max_restarts=5)
        await c.register_actor(spec)
        await c.wait_state(spec.actor_id, [ALIVE])
        await c.stub.KillActor(gcs_pb2.KillActorRequest(actor_id=spec.actor_id, no_restart=True), timeout=RPC_TIMEOUT)
        info = await c.info(spec.actor_id)
        assert info.state == DEAD
        assert info.death_cause.kind == common_pb2.ACTOR_DIED and "killed by polyray.kill" in info.death_cause.message
        (worker,) = raylet.workers
        # KillActor replies after the worker was told to exit and the lease returned.
        assert worker.exits and worker.exits[0].force
        assert len(raylet.returned) == 1 and raylet.returned[0].disconnect
        # Killing again is harmless; the name is free for a new actor.
        await c.stub.KillActor(gcs_pb2.KillActorRequest(actor_id=spec.actor_id, no_restart=True), timeout=RPC_TIMEOUT)
        await c.register_actor(actor_spec(job, name="victim"))


@run
async def test_kill_with_restart_allowed_restarts_the_actor() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        job = await c.new_job()
        spec = actor_spec(job, max_restarts=1)
        await c.register_actor(spec)
        await c.wait_state(spec.actor_id, [ALIVE])
        await c.stub.KillActor(gcs_pb2.KillActorRequest(actor_id=spec.actor_id, no_restart=False), timeout=RPC_TIMEOUT)
        info = await c.wait_state(spec.actor_id, [ALIVE])
        assert info.num_restarts == 1 and info.address.worker_id == raylet.workers[1].worker_id
        assert raylet.workers[1].pushed[0].attempt == 1


@run
async def test_kill_pending_actor_withdraws_the_lease_request() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        raylet.lease_script.append("hang")
        job = await c.new_job()
        spec = actor_spec(job)
        await c.register_actor(spec)
        await raylet.wait_for(lambda: len(raylet.lease_requests) == 1)
        await c.stub.KillActor(gcs_pb2.KillActorRequest(actor_id=spec.actor_id, no_restart=True), timeout=RPC_TIMEOUT)
        assert (await c.info(spec.actor_id)).state == DEAD
        await raylet.wait_for(lambda: len(raylet.cancelled) == 1)
        assert raylet.cancelled[0].task_id == spec.task_id


async def _report_death(c, info: gcs_pb2.ActorInfo, message: str = "worker segfaulted") -> None:  # type: ignore[no-untyped-def]
    await c.stub.ReportWorkerDeath(
        gcs_pb2.ReportWorkerDeathRequest(
            worker_id=info.address.worker_id,
            node_id=info.node_id,
            actor_id=info.actor_id,
            cause=common_pb2.ErrorRecord(kind=common_pb2.WORKER_CRASHED, message=message),
        ),
        timeout=RPC_TIMEOUT,
    )


@run
async def test_worker_death_without_restarts_kills_the_actor() -> None:
    async with cluster() as c:
        await c.add_node()
        job = await c.new_job()
        spec = actor_spec(job, max_restarts=0)
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [ALIVE])
        await _report_death(c, info)
        dead = await c.wait_state(spec.actor_id, [DEAD])
        assert dead.death_cause.kind == common_pb2.ACTOR_DIED
        assert dead.death_cause.cause.kind == common_pb2.WORKER_CRASHED
        assert "worker segfaulted" in dead.death_cause.message


@run
async def test_worker_death_with_restarts_restarts_until_the_budget_is_spent() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        job = await c.new_job()
        spec = actor_spec(job, max_restarts=2)
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [ALIVE])
        for restart in (1, 2):
            await _report_death(c, info)
            info = await c.wait_state(spec.actor_id, [ALIVE])
            assert info.num_restarts == restart
            assert info.address.worker_id == raylet.workers[restart].worker_id
        # A stale report about an earlier worker changes nothing.
        await c.stub.ReportWorkerDeath(
            gcs_pb2.ReportWorkerDeathRequest(worker_id=raylet.workers[0].worker_id, actor_id=spec.actor_id),
            timeout=RPC_TIMEOUT,
        )
        assert (await c.info(spec.actor_id)).state == ALIVE
        await _report_death(c, info)
        dead = await c.wait_state(spec.actor_id, [DEAD])
        assert dead.num_restarts == 2 and "max_restarts=2" in dead.death_cause.message


@run
async def test_infinite_restarts() -> None:
    async with cluster() as c:
        await c.add_node()
        job = await c.new_job()
        spec = actor_spec(job, max_restarts=-1)
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [ALIVE])
        for _ in range(3):
            await _report_death(c, info)
            info = await c.wait_state(spec.actor_id, [ALIVE])
        assert info.num_restarts == 3


@run
async def test_worker_crash_during_constructor_uses_the_restart_budget() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        raylet.worker_script.extend(["crash", "ready"])
        job = await c.new_job()
        spec = actor_spec(job, max_restarts=1)
        await c.register_actor(spec)
        info = await c.wait_state(spec.actor_id, [ALIVE])
        assert info.num_restarts == 1
        no_budget = actor_spec(job, max_restarts=0)
        raylet.worker_script.append("close")
        await c.register_actor(no_budget)
        dead = await c.wait_state(no_budget.actor_id, [DEAD])
        assert dead.death_cause.cause.kind == common_pb2.WORKER_CRASHED


@run
async def test_get_actor_info_wait_for_change() -> None:
    async with cluster() as c:
        job = await c.new_job()
        spec = actor_spec(job)
        await c.register_actor(spec)
        loop = asyncio.get_running_loop()
        # Nothing changes: the long poll ends near the caller's deadline.
        start = loop.time()
        request = gcs_pb2.GetActorInfoRequest(actor_id=spec.actor_id, wait_for_change=True, known_state=PENDING)
        try:
            reply = await c.stub.GetActorInfo(request, timeout=0.6)
            assert reply.actor.state == PENDING
        except grpc.aio.AioRpcError as err:  # a late reply on a loaded machine
            assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.3 < loop.time() - start < 2.0
        # A state change wakes the waiter well before its deadline.
        waiter = asyncio.ensure_future(c.stub.GetActorInfo(request, timeout=10))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        start = loop.time()
        await c.add_node()
        reply = await asyncio.wait_for(waiter, 5)
        assert reply.actor.state == ALIVE and loop.time() - start < 5
        # A known_state that already differs answers at once.
        quick = await c.stub.GetActorInfo(request, timeout=RPC_TIMEOUT)
        assert quick.actor.state == ALIVE


@run
async def test_named_actors_are_unique_per_namespace() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        a = actor_spec(job, name="svc", namespace="one")
        b = actor_spec(job, name="svc", namespace="two")
        await c.register_actor(a)
        await c.register_actor(b)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.register_actor(actor_spec(job, name="svc", namespace="one"))
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "'svc'" in err.value.details() and "'one'" in err.value.details()
        # Registering the same actor again (a retry) is fine.
        await c.register_actor(a)
        for spec, namespace in ((a, "one"), (b, "two")):
            reply = await c.stub.GetNamedActor(
                gcs_pb2.GetNamedActorRequest(name="svc", namespace=namespace), timeout=RPC_TIMEOUT
            )
            assert reply.found and reply.actor.actor_id == spec.actor_id
        missing = await c.stub.GetNamedActor(
            gcs_pb2.GetNamedActorRequest(name="svc", namespace="three"), timeout=RPC_TIMEOUT
        )
        assert not missing.found


@run
async def test_job_end_kills_non_detached_actors_only() -> None:
    async with cluster() as c:
        raylet = await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        normal = actor_spec(job, name="normal")
        detached = actor_spec(job, name="keeper", detached=True)
        for spec in (normal, detached):
            await c.register_actor(spec)
            await c.wait_state(spec.actor_id, [ALIVE])
        await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=job), timeout=RPC_TIMEOUT)
        dead = await c.wait_state(normal.actor_id, [DEAD])
        assert dead.death_cause.kind == common_pb2.ACTOR_DIED and "job" in dead.death_cause.message
        assert (await c.info(detached.actor_id)).state == ALIVE
        await raylet.wait_for(lambda: len(raylet.returned) == 1)
        # A finished job cannot create actors.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.register_actor(actor_spec(job))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@run
async def test_owner_death_kills_owned_actors() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        owner = os.urandom(28)
        owned = actor_spec(job, caller_worker=owner)
        detached = actor_spec(job, caller_worker=owner, detached=True)
        for spec in (owned, detached):
            await c.register_actor(spec)
            await c.wait_state(spec.actor_id, [ALIVE])
        await c.stub.ReportWorkerDeath(gcs_pb2.ReportWorkerDeathRequest(worker_id=owner), timeout=RPC_TIMEOUT)
        assert (await c.wait_state(owned.actor_id, [DEAD])).death_cause.kind == common_pb2.ACTOR_DIED
        assert (await c.info(detached.actor_id)).state == ALIVE


@run
async def test_node_death_fails_or_moves_its_actors() -> None:
    async with cluster(node_timeout_s=0.5) as c:
        doomed = await c.add_node({"CPU": 4.0})
        job = await c.new_job()
        fragile = actor_spec(job, caller_node=doomed.node_id)
        sturdy = actor_spec(job, caller_node=doomed.node_id, max_restarts=1)
        for spec in (fragile, sturdy):
            await c.register_actor(spec)
            assert (await c.wait_state(spec.actor_id, [ALIVE])).node_id == doomed.node_id
        survivor = await c.add_node({"CPU": 4.0})

        async def beat() -> None:
            while True:
                await c.stub.Heartbeat(gcs_pb2.HeartbeatRequest(node_id=survivor.node_id,
                                                                 resources_available={"CPU": 4.0}), timeout=RPC_TIMEOUT)
                await asyncio.sleep(0.1)

        beating = asyncio.create_task(beat())
        try:
            dead = await c.wait_state(fragile.actor_id, [DEAD])
            assert dead.death_cause.kind == common_pb2.ACTOR_DIED
            assert dead.death_cause.cause.kind == common_pb2.NODE_DIED
            moved = await c.wait_state(sturdy.actor_id, [ALIVE, RESTARTING])
            moved = await c.wait_state(sturdy.actor_id, [ALIVE])
            assert moved.node_id == survivor.node_id and moved.num_restarts == 1
        finally:
            beating.cancel()
        assert doomed.returned == []  # nothing is returned to a dead raylet


@run
async def test_invalid_creation_tasks() -> None:
    async with cluster() as c:
        job = await c.new_job()
        cases = []
        spec = actor_spec(job)
        spec.actor_id = b"short"
        cases.append((spec, "creation_task.actor_id"))
        spec = actor_spec(job)
        spec.resources["CPU"] = -2.0
        cases.append((spec, "creation_task.resources"))
        spec = actor_spec(job)
        spec.type = common_pb2.NORMAL_TASK
        cases.append((spec, "creation_task.type"))
        spec = actor_spec(job)
        spec.actor_id = os.urandom(16)
        cases.append((spec, "creation_task.actor_id"))
        spec = actor_spec(job)
        spec.max_restarts = -5
        cases.append((spec, "creation_task.max_restarts"))
        for spec, field in cases:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.register_actor(spec)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
            assert field in err.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.GetActorInfo(gcs_pb2.GetActorInfoRequest(actor_id=os.urandom(16)), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


@run
async def test_actors_survive_a_gcs_restart_on_the_same_storage() -> None:
    from polyray.gcs import InMemoryStorage

    storage = InMemoryStorage()
    async with cluster(storage) as c:
        raylet = await c.add_node()
        job = await c.new_job()
        alive = actor_spec(job, name="kept", namespace="ns")
        await c.register_actor(alive)
        await c.wait_state(alive.actor_id, [ALIVE])
        storage_copy = storage  # same object, read by the next GCS
        # Stop only the GCS: the fake raylet keeps running and re-registers below.
        c.raylets.remove(raylet)
    try:
        async with cluster(storage_copy) as c:
            info = await c.info(alive.actor_id)
            assert info.state == ALIVE and info.address.worker_id == raylet.workers[0].worker_id
            found = await c.stub.GetNamedActor(gcs_pb2.GetNamedActorRequest(name="kept", namespace="ns"),
                                               timeout=RPC_TIMEOUT)
            assert found.found
            # The lease was restored: killing returns it to the raylet.
            await c.stub.KillActor(gcs_pb2.KillActorRequest(actor_id=alive.actor_id, no_restart=True),
                                   timeout=RPC_TIMEOUT)
            assert len(raylet.returned) == 1
    finally:
        await raylet.stop()
