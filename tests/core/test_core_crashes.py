"""Worker crashes: a worker SIGKILLed mid-task is retried (max_retries, default 3), then
WorkerCrashedError; the resources of a dead worker come back to the node.

These tests kill workers on purpose, so they have their own cluster (the
``cluster`` fixture is per module): a leak they expose cannot spill into the
other modules' tests.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from core_util import wait_stable

import polyray
from polyray.exceptions import WorkerCrashedError

pytestmark = pytest.mark.usefixtures("cluster")

T = 60


@polyray.remote
def crash_n_times(counter_path, crashes):
    """SIGKILLs its own worker the first `crashes` attempts, then returns the attempt number."""
    attempt = 1
    if os.path.exists(counter_path):
        with open(counter_path) as f:
            attempt = int(f.read()) + 1
    with open(counter_path, "w") as f:
        f.write(str(attempt))
    if attempt <= crashes:
        os.kill(os.getpid(), signal.SIGKILL)
    return attempt


def test_worker_killed_mid_task_is_retried(tmp_path):
    counter = str(tmp_path / "attempts")
    assert polyray.get(crash_n_times.remote(counter, 1), timeout=T) == 2


def test_default_max_retries_is_three(tmp_path):
    counter = str(tmp_path / "attempts")
    assert polyray.get(crash_n_times.remote(counter, 3), timeout=T) == 4
    counter2 = str(tmp_path / "attempts2")
    with pytest.raises(WorkerCrashedError):
        polyray.get(crash_n_times.remote(counter2, 4), timeout=T)
    with open(counter2) as f:
        assert f.read() == "4"  # 1 attempt + 3 retries, no more


def test_max_retries_zero_is_worker_crashed(tmp_path):
    counter = str(tmp_path / "attempts")
    with pytest.raises(WorkerCrashedError):
        polyray.get(crash_n_times.options(max_retries=0).remote(counter, 1), timeout=T)
    with open(counter) as f:
        assert f.read() == "1"


def test_crash_with_object_ref_arguments_is_retried(tmp_path):
    counter = str(tmp_path / "attempts")
    arg = polyray.put(list(range(1000)))

    @polyray.remote
    def crash_then_sum(path, values):
        n = 1 + (int(open(path).read()) if os.path.exists(path) else 0)
        open(path, "w").write(str(n))
        if n == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return sum(values)

    assert polyray.get(crash_then_sum.remote(counter, arg), timeout=T) == sum(range(1000))


@polyray.remote
def leaf():
    return os.getpid()


@polyray.remote(max_retries=0)
def submit_then_die():
    # This worker is the caller of `leaf`: it holds a lease on another worker
    # (kept a moment for reuse) when it is SIGKILLed.
    polyray.get(leaf.remote(), timeout=30)
    os.kill(os.getpid(), signal.SIGKILL)


def _cpus_available():
    return polyray.available_resources().get("CPU", 0.0)


def test_dead_caller_gives_back_the_leases_it_held():
    assert wait_stable(lambda: _cpus_available() == 2.0, 15, 1.5), polyray.available_resources()
    with pytest.raises(WorkerCrashedError):
        polyray.get(submit_then_die.remote(), timeout=T)
    # resources are reported by heartbeat (1 s): require the full count to hold for 3 s
    ok = wait_stable(lambda: _cpus_available() == 2.0, 12, 3.0)
    assert ok, (f"12 s after a worker died, the node has {polyray.available_resources()} available of "
                f"{polyray.cluster_resources()}: the lease that worker held for its own subtask was never returned")


def test_cluster_still_has_all_cpus_after_crashes(tmp_path):
    """After every crash above, two tasks can still run at the same time on the 2 CPUs."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")

    @polyray.remote
    def rendezvous(mine, other, limit):
        open(mine, "w").close()
        deadline = time.monotonic() + limit
        while not os.path.exists(other):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    time.sleep(1.0)  # idle leases of the driver are returned after 0.5 s
    assert polyray.get([rendezvous.remote(a, b, 8), rendezvous.remote(b, a, 8)], timeout=T) == [True, True]
