"""Issue 13, Deliver 5: Java and C++ actors restart under SIGKILL too.

A Java actor (tests/xlang/java_src/xlangtest/Counter.java) and a C++ actor
(tests/xlang/cpp_src/xlang_funcs.cc, Counter) with max_restarts=-1 are
SIGKILLed 10 times each while a Python caller streams increment calls with
max_task_retries=-1: every call returns, and the values, in submission
order, are those of a counter whose state resets on each restart (1, 2, 3,
then 1, 2, ... after a restart; never a gap or a repeat within one
incarnation). Real JVM and polyray_cpp_worker processes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest
from core_util import wait_until

import polyray

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang"))
from xlang_support import cpp_lib, xlang_java_classes  # noqa: E402,F401  (pytest fixtures)

pytestmark = pytest.mark.timeout(1200)  # the first use may compile the C++ library
KILLS = 10


@pytest.fixture
def cluster(cpp_lib, xlang_java_classes):  # noqa: F811
    polyray.init(num_cpus=2, code_search_path=[cpp_lib, xlang_java_classes])
    try:
        yield
    finally:
        polyray.shutdown()


def check_counter_values(values: list[int], kills: int) -> int:
    """Values of increment(1) in submission order: each is the previous + 1, or 1
    (the first call on a fresh incarnation). Returns the number of resets."""
    assert values and values[0] == 1
    resets = 0
    for i in range(1, len(values)):
        if values[i] == 1:
            resets += 1
        else:
            assert values[i] == values[i - 1] + 1, f"call {i}: {values[i]} after {values[i - 1]}: lost or reordered"
    assert resets <= kills
    return resets


def kill_under_calls(pid_call, incr_call, label: str) -> None:
    pids = [int(polyray.get(pid_call(), timeout=120))]
    refs: list = []
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            refs.append(incr_call())
            time.sleep(0.003)

    caller = threading.Thread(target=stream)
    caller.start()
    restart_s = []
    try:
        for _ in range(KILLS):
            n0 = len(refs)
            assert wait_until(lambda n0=n0: len(refs) >= n0 + 20, 20)
            t0 = time.monotonic()
            os.kill(pids[-1], signal.SIGKILL)
            new = int(polyray.get(pid_call(), timeout=60))
            restart_s.append(time.monotonic() - t0)
            assert new != pids[-1]
            pids.append(new)
    finally:
        stop.set()
        caller.join(10)
    values = [int(v) for v in polyray.get(refs, timeout=120)]
    assert len(values) == len(refs)
    resets = check_counter_values(values, KILLS)
    print(f"\n{label} actor, Python caller: {len(refs)} calls sent, {len(values)} returned, 0 failed; "
          f"{KILLS} kills, {resets} state resets seen by calls; restart (kill -> next call answered) "
          f"mean {sum(restart_s) / len(restart_s) * 1000:.0f} ms, max {max(restart_s) * 1000:.0f} ms")


def test_java_actor_killed_10_times_under_calls(cluster):
    c = polyray.java_actor_class("xlangtest.Counter").options(max_restarts=-1, max_task_retries=-1).remote(0)
    kill_under_calls(lambda: c.pid.remote(), lambda: c.increment.remote(1), "Java")


def test_cpp_actor_killed_10_times_under_calls(cluster):
    c = polyray.cpp_actor_class("Counter::Create", "Counter").options(max_restarts=-1, max_task_retries=-1).remote(0)
    kill_under_calls(lambda: c.Pid.remote(), lambda: c.Add.remote(1), "C++")
