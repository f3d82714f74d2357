"""Issue 17, Java SDK parity (real JVM workers, one cluster for the module, Python caller):
RuntimeContext.isCanceled() in a cancelled Java task, getCurrentActor() in a Java actor, Ray's
concurrency groups on a Java actor (one pool per group), and the job's namespace and named
actors inside a Java task."""

from __future__ import annotations

import os
import sys

import java_support
import pytest

import polyray
import polyray.sdk

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from parity_support import check_groups, wait_file  # noqa: E402

JAVA_SRC = os.path.join(HERE, "java_parity_src")
TIMEOUT = 60
LONG_MS = 60_000


@pytest.fixture(scope="module")
def java_cluster(tmp_path_factory):
    out = java_support.compiled_java("api_java_parity", JAVA_SRC)
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=3, namespace="javans", code_search_path=[out])
    yield
    polyray.shutdown()


def test_cancelled_java_task_sees_is_canceled(java_cluster, tmp_path):
    path = str(tmp_path / "spin")
    ref = polyray.java_function("parity.Tasks", "spin").remote(path, LONG_MS)
    wait_file(path + ".started")
    polyray.cancel(ref)
    # The interrupt woke it, isCanceled() told it why; a task that returns after catching the
    # interrupt returns its value (as a Python task that catches KeyboardInterrupt).
    assert polyray.get(ref, timeout=TIMEOUT) == -1
    assert wait_file(path) == "cancelled"
    assert polyray.get(polyray.java_function("parity.Tasks", "notCancelled").remote(), timeout=TIMEOUT) is True


def test_current_actor_in_a_java_actor(java_cluster):
    a = polyray.java_actor_class("parity.Grouped").remote()
    assert polyray.get(a.selfId.remote(), timeout=TIMEOUT) == a._actor_id.hex()
    msg = polyray.get(polyray.java_function("parity.Tasks", "currentActorOutsideActor").remote(), timeout=TIMEOUT)
    assert "only available inside an actor" in msg


def test_java_actor_concurrency_groups(java_cluster):
    check_groups(polyray.java_actor_class("parity.Grouped"), "java-grouped", "fast", "block", "most")


def test_java_caller_sets_concurrency_groups(java_cluster):
    """A Java caller (a Java task): setConcurrencyGroups(slow=1) on the creator and
    setConcurrencyGroup("slow") on calls; the default group answers while the one-thread
    group's second nap has not finished, the group runs one nap at a time, an undeclared group
    is the call's error and a size below 1 is refused at the setter."""
    out = polyray.get(polyray.java_function("parity.Tasks", "groupsFromJava").remote(800), timeout=TIMEOUT)
    assert out == "true|1|refused|true", out


def test_job_namespace_and_named_actors_inside_a_java_task(java_cluster):
    @polyray.remote
    class Named:
        def ping(self):
            return "pong"

    keep = Named.options(name="java-visible").remote()
    polyray.get(keep.ping.remote(), timeout=TIMEOUT)
    out = polyray.get(polyray.java_function("parity.Tasks", "namespaceAndLookup").remote("java-visible"),
                      timeout=TIMEOUT)
    assert out == "javans|found"
