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
from polyray.exceptions import TaskError

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


def test_java_methods_declare_groups_and_call_runs_functions(java_cluster):
    """Issues 17/19: @ConcurrencyGroup("io") puts a Java method's calls in that group (from Python
    and Java callers; a call's group overrides it; an actor created without the group fails,
    naming both), and __polyray_call__ runs a named static Java function with the actor."""
    a = polyray.java_actor_class("parity.Declared").options(concurrency_groups={"io": 1, "other": 1}).remote()
    assert polyray.get(a.where.remote(), timeout=TIMEOUT).startswith("polyray-group-io-")
    assert polyray.get(a.where.options(concurrency_group="other").remote(), timeout=TIMEOUT).startswith(
        "polyray-group-other-")
    assert not polyray.get(a.plainWhere.remote(), timeout=TIMEOUT).startswith("polyray-group-")
    bump = polyray.java_function("parity.Declared", "bump")
    assert polyray.get(a.__polyray_call__.remote(bump, 5), timeout=TIMEOUT) == 5
    assert polyray.get(a.__ray_call__.remote(bump, 2), timeout=TIMEOUT) == 7  # serialized with the calls
    assert polyray.get(a.total.remote(), timeout=TIMEOUT) == 7
    with pytest.raises(TaskError, match=r"parity\.Declared\.other is not a function of actor class parity\.Declared"):
        polyray.get(a.__polyray_call__.remote(polyray.java_function("parity.Declared", "other")), timeout=TIMEOUT)
    with pytest.raises(TypeError, match="takes the function to run with the actor first"):
        a.__polyray_call__.remote(polyray.cpp_function("Bump"), 1)
    bare = polyray.java_actor_class("parity.Declared").remote()
    with pytest.raises(Exception, match=r'declares @ConcurrencyGroup\("io"\), which actor class parity\.Declared'):
        polyray.get(bare.plainWhere.remote(), timeout=TIMEOUT)
    out = polyray.get(polyray.java_function("parity.Declared", "fromJava").remote(a), timeout=TIMEOUT)
    where, overridden, total, refused = out.split("|")  # a Java caller: the same actor
    assert where.startswith("polyray-group-io-") and overridden.startswith("polyray-group-other-"), out
    assert total == "10" and refused == "refused", out
