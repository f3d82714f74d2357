"""``init(job_config=JobConfig(...))`` on a real local cluster (issue 17): the namespace and
runtime_env reach the job's tasks, metadata shows in the state API's job list, and named
actors are detached by default_actor_lifetime, in the driver and inside tasks."""

from __future__ import annotations

import os

import pytest

import polyray
from polyray.job_config import JobConfig
from polyray.util.state import list_jobs

WAIT = 60.0


@polyray.remote
def seen() -> tuple[str, str | None]:
    return polyray.get_runtime_context().namespace, os.environ.get("JC_VAR")


@polyray.remote
class Named:
    def ping(self) -> int:
        return 1


@polyray.remote
def make_named_in_task() -> bool:
    a = Named.options(name="jc-inner").remote()
    polyray.get(a.ping.remote())
    return bool(a._handle.detached)


def test_job_config_reaches_the_job():
    if polyray.is_initialized():
        polyray.shutdown()
    jc = JobConfig(ray_namespace="jc-ns", metadata={"team": "parity"}, default_actor_lifetime="detached",
                   runtime_env={"env_vars": {"JC_VAR": "on"}})
    info = polyray.init(num_cpus=2, job_config=jc)
    try:
        assert polyray.get(seen.remote(), timeout=WAIT) == ("jc-ns", "on")
        jobs = [j for j in list_jobs(detail=True) if j["job_id"] == info["job_id"]]
        assert jobs and jobs[0]["metadata"] == {"team": "parity"} and jobs[0]["namespace"] == "jc-ns"
        outer = Named.options(name="jc-outer").remote()
        assert outer._handle.detached and polyray.get(outer.ping.remote(), timeout=WAIT) == 1
        assert not Named.options(name="jc-short", lifetime="non_detached").remote()._handle.detached
        assert polyray.get(make_named_in_task.remote(), timeout=WAIT) is True   # a worker reads the job's default
        for name in ("jc-outer", "jc-inner"):
            polyray.kill(polyray.get_actor(name))
    finally:
        polyray.shutdown()


def test_init_refuses_a_conflict_before_starting_anything():
    if polyray.is_initialized():
        polyray.shutdown()
    with pytest.raises(ValueError, match="conflict"):
        polyray.init(namespace="a", job_config=JobConfig(ray_namespace="b"))
    with pytest.raises(TypeError):
        polyray.init(job_config={"ray_namespace": "b"})
    assert not polyray.is_initialized()
