"""Issue 19, Deliver 4 (Java): scheduling options, placement groups, cancel, multiple returns and
first-error-wins get from a Java driver (its own JVM) on a two-node cluster (head: 4 CPUs and
resource ``slot``; node B: 2 CPUs), with Java, Python and C++ callees in real workers. One
driver run prints a RESULT line per case; each test checks one of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import java_support
import pytest
from cluster_util import Cluster

import polyray
import polyray.sdk

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA_SRC = os.path.join(HERE, "java_sched_src")
_RESULTS: dict[str, str] = {}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    classes = java_support.compile_java_sources(JAVA_SRC, str(tmp_path_factory.mktemp("java_sched")))
    shutil.copy(os.path.join(JAVA_SRC, "schedtest", "sched_mod.py"), classes)  # the Python callee
    scratch = str(tmp_path_factory.mktemp("java_sched_scratch"))
    c = Cluster()
    try:
        c.start_head(num_cpus=4, resources={"slot": 1})
        b = c.add_node(num_cpus=2, resources={"b": 2})
        c.wait_alive(2)
        cp = ":".join([*polyray.sdk.java_classpath(), classes])
        proc = subprocess.run(["java", "-cp", cp, "schedtest.SchedDriver", c.address, classes, scratch, b.node_id],
                              capture_output=True, text=True, timeout=240)
        out = dict(line[len("RESULT "):].split("=", 1) for line in proc.stdout.splitlines()
                   if line.startswith("RESULT "))
        out["_rc"] = str(proc.returncode)
        out["_address"], out["_classes"] = c.address, classes
        out["_tail"] = proc.stdout[-1500:] + proc.stderr[-2500:]
        yield out
    finally:
        c.shutdown()


def _case(results: dict[str, str], key: str) -> str:
    assert results["_rc"] == "0", results["_tail"]
    assert key in results, f"the driver printed no {key}: {results['_tail']}"
    return results[key]


def test_node_affinity_hard_and_soft(results):
    assert _case(results, "affinity_hard") == "ok"
    assert _case(results, "affinity_soft_unknown") == "ok"  # an unknown node, soft: runs elsewhere
    # Hard, on a node that does not exist: the raylet's TaskUnschedulableError naming it, not a hang.
    got = _case(results, "affinity_hard_unknown")
    assert "TaskUnschedulableError" in got and "ee" * 28 in got, got


def test_spread(results):
    assert _case(results, "spread") == "ok"


def test_bad_input_is_an_illegal_argument_naming_the_field(results):
    assert _case(results, "bad_node_id").startswith("nodeId must be"), results["bad_node_id"]
    assert _case(results, "bad_bundles").startswith("bundles must be"), results["bad_bundles"]


def test_placement_group_create_wait_get_use_remove(results):
    assert _case(results, "pg") == "ok"


def test_pending_placement_group_removed_fails_ready(results):
    assert _case(results, "pg_pending_removed") == "ok"


def test_cancel_queued_and_running(results):
    q, r, ms = _case(results, "cancel").split(",")
    assert (q, r) == ("TaskCancelledException", "TaskCancelledException"), results["cancel"]
    assert int(ms.split("=")[1]) < 10_000, results["cancel"]  # the running task sleeps 60 s


def test_cancel_force_stops_the_worker(results):
    assert _case(results, "cancel_force") == "TaskCancelledException,exited"


def test_cancel_recursive_actor_call_and_borrowed(results):
    assert _case(results, "cancel_recursive") == "TaskCancelledException,child cancelled"
    # A queued and a running call of a Java actor; force on an actor call is refused; the actor goes on.
    assert _case(results, "cancel_actor") == "TaskCancelledException,TaskCancelledException,force refused,[x, y]"
    # A Java task that borrows the ref cancels it through its owner, the driver.
    assert _case(results, "cancel_borrowed") == "asked,TaskCancelledException"


def test_multiple_returns(results):
    assert _case(results, "returns_java") == "[5, 6, s5]"
    assert _case(results, "returns_python") == "[42, py21]"
    assert _case(results, "returns_actor") == "[a, b]"
    assert "C++" in _case(results, "returns_cpp") and "numReturns" in results["returns_cpp"], results["returns_cpp"]


def test_first_error_wins(results):
    what, ms = _case(results, "first_error").split(",")
    assert what == "boom", results["first_error"]
    assert int(ms.split("=")[1]) < 6_000, results["first_error"]  # the other task takes 8 s


def test_java_native_values_between_java_ends(results):
    assert _case(results, "native") == "Pt(3,a!),2,Pt(6,300001 chars)"
    # To a Python callee it has no form: refused at the call, naming the type.
    got = _case(results, "native_to_python")
    assert "schedtest.Work$Pt" in got and "no XLANG form" in got, got


def test_python_caller_of_a_java_native_return_gets_an_error_naming_the_type(results):
    assert results["_rc"] == "0", results["_tail"]
    polyray.init(address=results["_address"], code_search_path=[results["_classes"]])
    try:
        with pytest.raises(Exception, match=re.escape("schedtest.Work$Pt")):
            polyray.get(polyray.java_function("schedtest.Work", "makePt").remote(1), timeout=60)
    finally:
        polyray.shutdown()
