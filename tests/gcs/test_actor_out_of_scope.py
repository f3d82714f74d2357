"""KillActor(out_of_scope) (issue 17: an actor goes when its last handle goes): the owner's
request destroys a non-detached actor for good (REASON_OUT_OF_SCOPE, no restart whatever its
max_restarts, its name freed) and leaves a detached one alone. Fake raylets and workers."""

from __future__ import annotations

import pytest

from polyray.protocol import common_pb2, gcs_pb2

from .harness import RPC_TIMEOUT, actor_spec, cluster, run

pytestmark = pytest.mark.timeout(30)

ALIVE, DEAD = gcs_pb2.ALIVE, gcs_pb2.DEAD


def _out_of_scope(actor_id: bytes) -> gcs_pb2.KillActorRequest:
    return gcs_pb2.KillActorRequest(actor_id=actor_id, no_restart=True, out_of_scope=True)


@run
async def test_out_of_scope_destroys_without_restart_and_frees_the_name() -> None:
    async with cluster() as c:
        raylet = await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        spec = actor_spec(job, name="scoped", max_restarts=5)
        await c.register_actor(spec)
        await c.wait_state(spec.actor_id, [ALIVE])
        # Even a request that allows restarts: out of scope is final.
        req = _out_of_scope(spec.actor_id)
        req.no_restart = False
        await c.stub.KillActor(req, timeout=RPC_TIMEOUT)
        info = await c.info(spec.actor_id)
        assert info.state == DEAD and info.num_restarts == 0
        assert info.death_cause.kind == common_pb2.ACTOR_DIED
        assert info.death_cause.reason == common_pb2.REASON_OUT_OF_SCOPE
        assert "went out of scope" in info.death_cause.message
        (worker,) = raylet.workers
        assert worker.exits and worker.exits[0].force
        # Twice is harmless; the name is free.
        await c.stub.KillActor(_out_of_scope(spec.actor_id), timeout=RPC_TIMEOUT)
        assert (await c.info(spec.actor_id)).death_cause.reason == common_pb2.REASON_OUT_OF_SCOPE
        await c.register_actor(actor_spec(job, name="scoped"))


@run
async def test_out_of_scope_leaves_a_detached_actor_alone() -> None:
    async with cluster() as c:
        raylet = await c.add_node({"CPU": 8.0})
        job = await c.new_job()
        spec = actor_spec(job, name="keeper", detached=True)
        await c.register_actor(spec)
        await c.wait_state(spec.actor_id, [ALIVE])
        await c.stub.KillActor(_out_of_scope(spec.actor_id), timeout=RPC_TIMEOUT)
        assert (await c.info(spec.actor_id)).state == ALIVE
        (worker,) = raylet.workers
        assert not worker.exits
        # kill() still works on it.
        await c.stub.KillActor(gcs_pb2.KillActorRequest(actor_id=spec.actor_id, no_restart=True), timeout=RPC_TIMEOUT)
        assert (await c.info(spec.actor_id)).death_cause.reason == common_pb2.REASON_KILLED
