"""Actors whose label_selector no node matches: the GCS warns the driver once per actor,
through the job's log channel, at most MAX per job (gcs/label_warnings.py; issue 17)."""

from __future__ import annotations

import asyncio

import pytest

from polyray.gcs.label_warnings import LabelWarnings
from polyray.protocol import gcs_pb2

from .harness import actor_spec, cluster, eventually, run

pytestmark = pytest.mark.timeout(30)


def test_one_line_per_warning_then_one_notice_per_job():
    seen: list[gcs_pb2.LogBatch] = []
    w = LabelWarnings(seen.append, limit=2)
    job1, job2 = b"\x01" * 4, b"\x02" * 4
    for i in range(5):
        w.warn(job1, f"A{i}", "no node matches")
    w.warn(job2, "B", "no node matches")
    lines = [(b.job_id, b.lines[0]) for b in seen]
    assert [line for job, line in lines if job == job1][:2] == [
        "Warning: the actor A0 cannot be scheduled right now: no node matches. "
        "It will be created as soon as a node that matches joins the cluster.",
        "Warning: the actor A1 cannot be scheduled right now: no node matches. "
        "It will be created as soon as a node that matches joins the cluster."]
    assert len([1 for job, _ in lines if job == job1]) == 3, "two warnings and one notice, then silence"
    assert "further such warnings are not shown" in lines[2][1]
    assert lines[3][0] == job2 and "actor B " in lines[3][1], "another job has its own bound"
    assert all(b.worker_label == "scheduler" and b.is_error for b in seen)
    w.forget(job1)
    w.warn(job1, "A9", "x")
    assert "actor A9 " in seen[-1].lines[0], "a finished job's count is dropped"


@run
async def test_actor_no_node_matches_warns_its_driver_once_and_is_created_when_one_joins() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 4.0})
        job = await c.new_job()
        sub = c.stub.SubscribeLogs(gcs_pb2.SubscribeLogsRequest(job_id=job), timeout=20)
        await eventually(lambda: c.server.logs.subscriber_count == 1)
        spec = actor_spec(job, class_name="Picky")
        spec.scheduling.label_selector["zone"] = "gpu"
        spec.scheduling.fallback.add().selector["zone"] = "in(tpu)"
        actor_id = await c.register_actor(spec)
        got = await asyncio.wait_for(sub.read(), 5)
        assert got.job_id == job and got.worker_label == "scheduler" and got.is_error
        [line] = got.lines
        assert f"Picky({actor_id.hex()}) cannot be scheduled right now" in line, line
        assert "label_selector {'zone': 'gpu'}" in line and "fallback_strategy [{'zone': 'in(tpu)'}]" in line, line
        # Placement is tried again on every node change: no second warning for the same actor.
        await c.add_node({"CPU": 2.0})
        await asyncio.sleep(0.3)
        assert (await c.info(actor_id)).state != gcs_pb2.ALIVE
        # A selector some node matches (if busy) gives no warning; a matching node joining creates the actor.
        tpu = await c.add_node({"CPU": 1.0}, register=False)
        info = tpu.node_info({"CPU": 1.0})
        info.labels["zone"] = "tpu"
        await c.stub.RegisterNode(gcs_pb2.RegisterNodeRequest(node=info), timeout=5)
        assert (await c.wait_state(actor_id, [gcs_pb2.ALIVE])).address.node_id == tpu.node_id
        read = asyncio.ensure_future(sub.read())
        done, _ = await asyncio.wait([read], timeout=0.3)
        assert not done, "the actor was warned about twice"
        read.cancel()
        sub.cancel()
