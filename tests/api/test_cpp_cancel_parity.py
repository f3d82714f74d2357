"""Issue 17, C++ SDK parity (real C++ workers, one cluster for the module): a Python caller's
cancel reaches C++ tasks as Ray's does — IsCanceled() in the running task, TaskCancelledError
for its caller, recursive to the normal tasks a C++ task submitted, and a ref a C++ worker owns
cancelled through that owner (forwarded to the worker running it, or dropped when queued);
GetCurrentActor() inside a C++ actor; the job's namespace and named actors inside a C++ task."""

from __future__ import annotations

import os
import sys
import time

import pytest

import polyray
from polyray.exceptions import TaskCancelledError, TaskError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from parity_support import check_groups, wait_file  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

TIMEOUT = 60
LONG_MS = 60_000  # a Spin that is not cancelled outlives the test's waits
pytestmark = pytest.mark.timeout(600)  # the first run compiles the library


@pytest.fixture(scope="module")
def cpp_cluster():
    lib = build_cpp("cancel_funcs", [os.path.join(HERE, "cpp_src", "cancel_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=3, namespace="cppns", code_search_path=[lib])
    yield
    polyray.shutdown()


def test_running_cpp_task_sees_is_canceled_and_its_caller_gets_task_cancelled(cpp_cluster, tmp_path):
    path = str(tmp_path / "spin")
    ref = polyray.cpp_function("Spin").remote(path, LONG_MS)
    wait_file(path + ".started")
    t0 = time.monotonic()
    polyray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=TIMEOUT)
    assert wait_file(path) == "cancelled"
    assert time.monotonic() - t0 < 20
    assert polyray.get(polyray.cpp_function("NotCancelled").remote(), timeout=TIMEOUT) is True


def test_cancel_is_recursive_at_a_cpp_worker(cpp_cluster, tmp_path):
    path = str(tmp_path / "child")
    parent = polyray.cpp_function("Parent").remote(path, LONG_MS)
    wait_file(path + ".started")  # the child runs: the parent waits in Get
    polyray.cancel(parent)  # recursive=True, Ray's default
    with pytest.raises(TaskCancelledError):
        polyray.get(parent, timeout=TIMEOUT)
    assert wait_file(path) == "cancelled"  # the C++ worker cancelled the task its task submitted


def test_non_recursive_cancel_leaves_the_child_running(cpp_cluster, tmp_path):
    path = str(tmp_path / "child")
    parent = polyray.cpp_function("Parent").remote(path, 1500)
    wait_file(path + ".started")
    polyray.cancel(parent, recursive=False)
    with pytest.raises(TaskCancelledError):
        polyray.get(parent, timeout=TIMEOUT)
    assert wait_file(path) == "finished"


def test_borrowed_ref_is_cancelled_through_its_cpp_owner(cpp_cluster, tmp_path):
    path = str(tmp_path / "owned")
    inner = polyray.get(polyray.cpp_function("Owner").remote(path, LONG_MS, 1.0), timeout=TIMEOUT)
    assert isinstance(inner, polyray.ObjectRef)
    wait_file(path + ".started")
    polyray.cancel(inner)  # this driver only borrows it: the C++ worker that owns it forwards the cancel
    with pytest.raises(TaskCancelledError):
        polyray.get(inner, timeout=TIMEOUT)
    assert wait_file(path) == "cancelled"


def test_queued_task_of_a_cpp_owner_is_dropped(cpp_cluster, tmp_path):
    path = str(tmp_path / "queued")
    # 9 CPUs on a 3-CPU node: the C++ owner's task waits in its queue for a lease.
    inner = polyray.get(polyray.cpp_function("Owner").remote(path, 10, 9.0), timeout=TIMEOUT)
    polyray.cancel(inner)
    with pytest.raises(TaskCancelledError, match="before it ran"):
        polyray.get(inner, timeout=TIMEOUT)
    assert not os.path.exists(path + ".started")


def test_current_actor_in_a_cpp_actor(cpp_cluster):
    a = polyray.cpp_actor_class("Selfie::Create", "Selfie").options(max_concurrency=2).remote()
    assert polyray.get(a.SelfId.remote(), timeout=TIMEOUT) == a._actor_id.hex()
    assert polyray.get(a.CallSelf.remote(), timeout=TIMEOUT) == 7
    assert polyray.get(a.NotCancelled.remote(), timeout=TIMEOUT) is True
    assert "only available inside an actor" in polyray.get(
        polyray.cpp_function("CurrentActorOutsideActor").remote(), timeout=TIMEOUT)


def test_job_namespace_and_named_actors_inside_a_cpp_task(cpp_cluster):
    @polyray.remote
    class Named:
        def ping(self):
            return "pong"

    keep = Named.options(name="cpp-visible").remote()
    polyray.get(keep.ping.remote(), timeout=TIMEOUT)
    out = polyray.get(polyray.cpp_function("NamespaceAndLookup").remote("cpp-visible"), timeout=TIMEOUT)
    assert out == "cppns|found"


def test_cpp_actor_concurrency_groups(cpp_cluster):
    """Ray's concurrency groups on a C++ actor from a Python caller: the "slow" group (1 thread)
    is full while a call of "quick" and of the default group answer at once; an undeclared
    group is the call's error naming it."""
    check_groups(polyray.cpp_actor_class("Grouped::Create", "Grouped"), "cpp-grouped", "Fast", "Block", "Most")


def test_cpp_caller_sets_concurrency_groups(cpp_cluster):
    """A C++ caller (a C++ task) creates an actor with SetConcurrencyGroups and calls in a group
    with SetConcurrencyGroup: the default group answers while 'slow' (1 thread) is busy."""
    out = polyray.get(polyray.cpp_function("GroupsFromCpp").remote(1000), timeout=TIMEOUT)
    assert out["fast_ms"] < 800, out
    assert out["slow_ms"] >= 1950, out
    assert out["most"] == 1 and out["bad_size"] == 1, out


def test_cancel_from_a_cpp_caller(cpp_cluster, tmp_path):
    """polyray::Cancel in a C++ task (issue 19): a running Spin it submitted sees IsCanceled()
    and its Get throws TaskCancelledError; a queued one is dropped before it runs; force on an
    actor call is std::invalid_argument and leaves the call alone; force on a running task ends
    its worker before it sees the cancel, and its Get throws TaskCancelledError."""
    path = str(tmp_path / "fromcpp")
    out = polyray.get(polyray.cpp_function("CancelFromCpp").remote(path, 9.0), timeout=TIMEOUT)
    assert out["running"].startswith("TaskCancelledError"), out
    assert wait_file(path) == "cancelled"
    assert out["queued"].startswith("TaskCancelledError") and "before it ran" in out["queued"], out
    assert not os.path.exists(path + ".q.started")
    assert out["actor_force"].startswith("invalid_argument: force=True is not supported"), out
    assert out["actor_after"] == "7", out
    assert out["actor_held"].startswith("TaskCancelledError") and "before it ran" in out["actor_held"], out
    assert out["actor_behind"] == "1", out
    assert out["forced"].startswith("TaskCancelledError"), out["forced"]
    assert not os.path.exists(path + ".f"), "the forced Spin's worker lived on to see IsCanceled()"


def test_cpp_caller_cancels_a_borrowed_ref_through_its_owner(cpp_cluster, tmp_path):
    """polyray::Cancel in a C++ task of a ref the Python driver owns: CancelTask goes to the owner,
    which forwards it to the C++ worker running the task."""
    path = str(tmp_path / "borrowed")
    ref = polyray.cpp_function("Spin").remote(path, LONG_MS)
    wait_file(path + ".started")
    assert polyray.get(polyray.cpp_function("CancelBorrowed").remote([ref]), timeout=TIMEOUT) is True
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=TIMEOUT)
    assert wait_file(path) == "cancelled"


def test_cpp_methods_declare_groups_and_call_runs_functions(cpp_cluster):
    """Issues 17/19: POLYRAY_REMOTE_IN_GROUP("io", &Declared::Where) puts the method's calls in
    that group (from Python and C++ callers; an actor created without the group fails, naming
    both), and __polyray_call__ / handle.Call run a registered actor function with the actor."""
    cls = polyray.cpp_actor_class("Declared::Create", "Declared")
    a = cls.options(concurrency_groups={"io": 1}).remote()
    assert polyray.get(a.Where.remote(), timeout=TIMEOUT).startswith("polyray-group-")
    assert not polyray.get(a.PlainWhere.remote(), timeout=TIMEOUT).startswith("polyray-group-")
    bump = polyray.cpp_function("BumpDeclared")
    assert polyray.get(a.__polyray_call__.remote(bump, 5), timeout=TIMEOUT) == 5
    assert polyray.get(a.__ray_call__.remote(bump, 2), timeout=TIMEOUT) == 7
    assert polyray.get(a.Total.remote(), timeout=TIMEOUT) == 7
    with pytest.raises(TaskError, match="SelfieSeven is not a function of actor class Declared"):
        polyray.get(a.__polyray_call__.remote(polyray.cpp_function("SelfieSeven")), timeout=TIMEOUT)
    with pytest.raises(TypeError, match="takes the function to run with the actor first"):
        a.__polyray_call__.remote("BumpDeclared", 1)
    bare = cls.remote()
    with pytest.raises(Exception, match="Declared::Where is registered in concurrency group 'io'"):
        polyray.get(bare.PlainWhere.remote(), timeout=TIMEOUT)
    out = polyray.get(polyray.cpp_function("DeclaredFromCpp").remote(), timeout=TIMEOUT)
    assert out["where"].startswith("polyray-group-") and not out["plain"].startswith("polyray-group-"), out
    assert out["total"] == "7", out
