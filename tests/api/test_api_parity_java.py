"""Issue 17's actor exits in a Java actor (real JVM workers): PolyRay.exitActor() and the
built-in __polyray_ready__ / __polyray_terminate__ (and Ray's spellings) called from Python."""

from __future__ import annotations

import os
import subprocess
import time

import java_support
import pytest

import polyray
import polyray.sdk
from polyray.exceptions import ActorDiedError, TaskError
from polyray.util.state import list_actors, list_jobs

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA_SRC = os.path.join(HERE, "java_src")
TIMEOUT = 90


@pytest.fixture(scope="module")
def java_cluster(tmp_path_factory):
    yield from java_support.java_cluster(tmp_path_factory, JAVA_SRC, "api_java_classes")


def _actor_state(name: str) -> str:
    rows = [a for a in list_actors(filters=[("name", "=", name)], detail=True) if a["namespace"] == "jobcfg"]
    return rows[-1]["state"] if rows else ""


def test_java_driver_job_metadata_and_default_actor_lifetime(java_cluster):
    """PolyRayConfig.setJobMetadata / setDefaultActorLifetime (Ray's JobConfig) from a Java driver:
    the job table holds the metadata; when its job ends, its named actors made without a lifetime
    (in the driver and in a Java worker) live on as detached, the explicit NON_DETACHED one dies."""
    cp = ":".join([*polyray.sdk.java_classpath(), java_cluster])
    address = polyray.init(ignore_reinit_error=True)["address"]
    proc = subprocess.run(["java", "-cp", cp, "apitest.JobConfigDriver", address, java_cluster],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "RESULT ok jc-worker" in proc.stdout
    jobs = [j for j in list_jobs(detail=True) if j.get("metadata") == {"team": "x"}]
    assert len(jobs) == 1, list_jobs(detail=True)
    deadline = time.monotonic() + 30
    while _actor_state("jc-explicit") != "DEAD" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _actor_state("jc-explicit") == "DEAD"  # the job ended: its non-detached actor died
    try:
        assert _actor_state("jc-driver") == "ALIVE"
        assert _actor_state("jc-worker") == "ALIVE"
    finally:
        for name in ("jc-driver", "jc-worker"):
            try:
                polyray.kill(polyray.get_actor(name, namespace="jobcfg"))
            except ValueError:
                pass


def _gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_java_exit_actor(java_cluster):
    a = polyray.java_actor_class("apitest.Exiter").options(max_restarts=2).remote()
    pid = polyray.get(a.pid.remote(), timeout=TIMEOUT)
    with pytest.raises(ActorDiedError):
        polyray.get(a.leave.remote(), timeout=TIMEOUT)
    assert _gone(pid), "the Java actor's process is still running"
    # An intended exit: not restarted, whatever max_restarts.
    with pytest.raises(ActorDiedError):
        polyray.get(a.pid.remote(), timeout=TIMEOUT)


def test_java_exit_actor_outside_an_actor_is_the_tasks_error(java_cluster):
    f = polyray.java_function("apitest.Exiter", "notAnActor")
    with pytest.raises(TaskError, match="exitActor"):
        polyray.get(f.remote(), timeout=TIMEOUT)


@pytest.mark.parametrize("prefix", ["polyray", "ray"])
def test_java_ready_and_graceful_terminate(java_cluster, prefix):
    a = polyray.java_actor_class("apitest.Exiter").options(max_restarts=1).remote()
    assert polyray.get(getattr(a, f"__{prefix}_ready__").remote(), timeout=TIMEOUT) is True
    pid = polyray.get(a.pid.remote(), timeout=TIMEOUT)
    queued = [a.slow.remote(200) for _ in range(3)]
    term = getattr(a, f"__{prefix}_terminate__").remote()
    assert polyray.get(queued, timeout=TIMEOUT) == [1, 2, 3]
    with pytest.raises(ActorDiedError):
        polyray.get(term, timeout=TIMEOUT)
    assert _gone(pid), "the Java actor's process is still running"
    with pytest.raises(ActorDiedError):
        polyray.get(a.pid.remote(), timeout=TIMEOUT)
    with pytest.raises(TypeError, match="takes the function to run with the actor first"):
        a.__polyray_call__.remote(5)  # a Java actor runs a polyray.java_function (test_java_parity.py)
