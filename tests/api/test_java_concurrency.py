"""Issue 19, Deliver 2: Java actors honour max_concurrency and async methods (real JVM workers,
Python caller). Two actors shared by the module: one with max_concurrency=4, one with the default 1."""

from __future__ import annotations

import os
import subprocess
import time

import java_support
import pytest

import polyray
import polyray.sdk
from polyray.exceptions import TaskError

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA_SRC = os.path.join(HERE, "java_src")
TIMEOUT = 90
_CLUSTER: dict[str, str] = {}  # the module cluster's GCS address and the compiled classes


@pytest.fixture(scope="module")
def nappers(tmp_path_factory):
    out = java_support.compiled_java("api_java", JAVA_SRC)
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2, code_search_path=[out])
    cls = polyray.java_actor_class("apitest.Napper")
    four, one = cls.options(max_concurrency=4).remote(), cls.remote()
    polyray.get([four.__polyray_ready__.remote(), one.__polyray_ready__.remote()], timeout=TIMEOUT)
    _CLUSTER.update(address=info["address"], classes=out)
    yield four, one
    polyray.shutdown()


def _timed(refs: list) -> tuple[list, float]:
    t0 = time.monotonic()
    values = polyray.get(refs, timeout=TIMEOUT)
    return values, time.monotonic() - t0


def test_four_naps_run_together_with_max_concurrency_4(nappers):
    four, _ = nappers
    values, took = _timed([four.nap.remote(i, 1000) for i in range(4)])
    assert values == [0, 1, 2, 3]
    assert took < 1.9, f"4 naps of 1 s on max_concurrency=4 took {took:.2f} s"
    assert polyray.get(four.mostInFlight.remote(), timeout=TIMEOUT) == 4


def test_calls_of_one_caller_start_in_order(nappers):
    """The worker hands calls to its 4 threads in submission order, each after the ones before it
    (strictly checked in process by ActorCallPoolTest). Seen from inside the methods, a thread can
    still be overtaken between that hand-over and the method's first line (a first call's class
    loading, a JIT or GC pause), so here: no call starts more than 3 places from its turn."""
    four, _ = nappers
    polyray.get([four.nap.remote(i, 0) for i in range(20)], timeout=TIMEOUT)  # past the first calls
    polyray.get([four.nap.remote(100 + i, i % 3) for i in range(60)], timeout=TIMEOUT)
    started = [i for i in polyray.get(four.started.remote(), timeout=TIMEOUT) if i >= 100]
    assert sorted(started) == list(range(100, 160)), started
    displaced = [(pos, i) for pos, i in enumerate(started) if abs((i - 100) - pos) >= 4]
    assert not displaced, f"calls started far from their turn: {displaced} in {started}"


def test_default_runs_calls_one_after_another(nappers):
    _, one = nappers
    values, took = _timed([one.nap.remote(i, 400) for i in range(4)])
    assert values == [0, 1, 2, 3]
    assert took >= 1.55, f"4 naps of 0.4 s on the default max_concurrency=1 took only {took:.2f} s"
    assert polyray.get(one.mostInFlight.remote(), timeout=TIMEOUT) == 1


def test_async_methods_complete_with_the_futures_value_n_in_flight(nappers):
    four, one = nappers
    values, took = _timed([four.asyncNap.remote(200 + i, 1000) for i in range(4)])
    assert values == [200, 201, 202, 203]
    assert took < 1.9, f"4 async naps of 1 s on max_concurrency=4 took {took:.2f} s"
    # max_concurrency=1: one async call in flight at a time.
    values, took = _timed([one.asyncNap.remote(300 + i, 300) for i in range(3)])
    assert values == [300, 301, 302]
    assert took >= 0.85, f"3 async naps of 0.3 s with max_concurrency=1 took only {took:.2f} s"


def test_async_method_failure_is_the_calls_error(nappers):
    four, _ = nappers
    with pytest.raises(TaskError, match="async failure: boom") as e:
        polyray.get(four.asyncFail.remote("boom", 50), timeout=TIMEOUT)
    assert "IllegalStateException" in str(e.value)
    # The actor goes on.
    assert polyray.get(four.asyncNap.remote(7, 10), timeout=TIMEOUT) == 7


def test_java_caller_set_max_concurrency(nappers):
    """ActorCreator.setMaxConcurrency from a Java driver (its own JVM, joined to this cluster)."""
    classes = _CLUSTER["classes"]
    cp = ":".join([*polyray.sdk.java_classpath(), classes])
    proc = subprocess.run(["java", "-cp", cp, "apitest.ConcurrencyDriver", _CLUSTER["address"], classes],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r = dict(line[len("RESULT "):].split("=", 1) for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    assert int(r["four_ms"]) < 1900, r
    assert int(r["one_ms"]) >= 1150, r
    assert r["async"] == "42", r

