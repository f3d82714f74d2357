"""Failures: task errors keep their class, crashed workers are retried, timeouts, cancel, wait."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from core_util import PYTHON, driver_env, stop_process, wait_for_file, write_script

import polyray
from polyray.exceptions import GetTimeoutError, PolyrayError, TaskCancelledError, TaskError

pytestmark = pytest.mark.usefixtures("cluster")

T = 60


class MyAppError(Exception):
    """A user-defined exception class (module level: workers import it by name)."""


@polyray.remote
def divide_by_zero():
    return 1 / 0


@polyray.remote
def raise_value_error(msg):
    raise ValueError(msg)


@polyray.remote
def raise_my_error(code):
    raise MyAppError(f"application failed with code {code}")


@polyray.remote
def calls_failing_task():
    return polyray.get(raise_value_error.remote("inner failure"), timeout=30)


def test_zero_division_is_task_error_and_original_class():
    with pytest.raises(ZeroDivisionError) as e:
        polyray.get(divide_by_zero.remote(), timeout=T)
    err = e.value
    assert isinstance(err, TaskError)
    assert isinstance(err, PolyrayError)
    assert isinstance(err, ZeroDivisionError)
    text = str(err)
    assert "divide_by_zero" in text, f"the remote traceback (function name) is missing: {text}"
    assert "ZeroDivisionError" in text


def test_value_error_keeps_class_and_message():
    with pytest.raises(TaskError) as e:
        polyray.get(raise_value_error.remote("the bad value"), timeout=T)
    assert isinstance(e.value, ValueError)
    assert "the bad value" in str(e.value)
    assert "raise_value_error" in str(e.value)


def test_user_defined_exception_class():
    try:
        polyray.get(raise_my_error.remote(7), timeout=T)
    except MyAppError as err:  # `except OriginalClass` still works
        assert isinstance(err, TaskError)
        assert "application failed with code 7" in str(err)
        assert "raise_my_error" in str(err)
    else:
        pytest.fail("get() did not raise")


def test_locally_defined_exception_class():
    class LocalError(RuntimeError):
        pass

    @polyray.remote
    def raise_local():
        raise LocalError("local")

    with pytest.raises(LocalError) as e:
        polyray.get(raise_local.remote(), timeout=T)
    assert isinstance(e.value, TaskError) and "raise_local" in str(e.value)


def test_error_propagates_through_nested_tasks():
    with pytest.raises(ValueError) as e:
        polyray.get(calls_failing_task.remote(), timeout=T)
    text = str(e.value)
    assert "inner failure" in text
    assert "raise_value_error" in text


def test_error_in_every_return_and_dependents():
    @polyray.remote(num_returns=2)
    def fails_two():
        raise KeyError("k")

    @polyray.remote
    def consume(x):
        return x

    a, b = fails_two.remote()
    for ref in (a, b, consume.remote(a)):
        with pytest.raises(KeyError):
            polyray.get(ref, timeout=T)


def test_get_of_list_raises_first_error():
    @polyray.remote
    def ok():
        return 1

    with pytest.raises(ZeroDivisionError):
        polyray.get([ok.remote(), divide_by_zero.remote()], timeout=T)


def test_application_errors_are_not_retried_by_default(tmp_path):
    @polyray.remote
    def fail_once(path):
        n = 1 + (int(open(path).read()) if os.path.exists(path) else 0)
        open(path, "w").write(str(n))
        raise ValueError(f"attempt {n}")

    path = str(tmp_path / "n")
    with pytest.raises(ValueError):
        polyray.get(fail_once.remote(path), timeout=T)
    assert open(path).read() == "1"


@polyray.remote
def block_until(release_path, started_path=None, limit=60.0):
    """Runs until release_path exists (at most `limit` s); returns its pid."""
    if started_path:
        open(started_path, "w").close()
    deadline = time.monotonic() + limit
    while not os.path.exists(release_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    return os.getpid()


def test_get_timeout(tmp_path):
    release = str(tmp_path / "release")
    ref = block_until.remote(release)
    start = time.monotonic()
    with pytest.raises(GetTimeoutError) as e:
        polyray.get(ref, timeout=0.5)
    elapsed = time.monotonic() - start
    assert isinstance(e.value, TimeoutError)
    assert 0.4 <= elapsed < 5, f"get(timeout=0.5) returned after {elapsed:.2f} s"
    with pytest.raises(TimeoutError):
        polyray.get([ref], timeout=0)
    open(release, "w").close()
    assert isinstance(polyray.get(ref, timeout=T), int)


def _let_leases_expire():
    """Wait until the driver returned its idle leases (they linger 0.5 s), so new tasks get new workers."""
    time.sleep(1.0)


@polyray.remote
def rendezvous(mine, other, limit):
    """Marks itself started, then waits (at most `limit` s) for its partner: True if they met."""
    open(mine, "w").close()
    deadline = time.monotonic() + limit
    while not os.path.exists(other):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@polyray.remote
def quick(i):
    return i


def test_two_tasks_run_in_parallel_on_two_cpus(tmp_path):
    _let_leases_expire()
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert polyray.get([rendezvous.remote(a, b, 8), rendezvous.remote(b, a, 8)], timeout=T) == [True, True]


def test_two_tasks_run_in_parallel_right_after_many_quick_tasks(tmp_path):
    """Quick tasks must not make the next, slow tasks queue behind each other on one worker
    while the other CPU is idle (a task may wait for another one running at the same time)."""
    assert polyray.get([quick.remote(i) for i in range(200)], timeout=T) == list(range(200))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert polyray.get([rendezvous.remote(a, b, 8), rendezvous.remote(b, a, 8)], timeout=T) == [True, True]


def test_cancel_queued_task(tmp_path):
    _let_leases_expire()
    release = str(tmp_path / "release")
    started = [str(tmp_path / f"started{i}") for i in range(3)]
    # two CPUs: the first two run and block, the third waits for a CPU
    running = [block_until.remote(release, started[i]) for i in range(2)]
    for s in started[:2]:
        wait_for_file(s, T)
    queued = block_until.remote(release, started[2])
    time.sleep(0.3)
    assert not os.path.exists(started[2])
    polyray.cancel(queued)
    with pytest.raises(TaskCancelledError):
        polyray.get(queued, timeout=10)
    open(release, "w").close()
    assert len(polyray.get(running, timeout=T)) == 2
    time.sleep(0.5)
    assert not os.path.exists(started[2]), "a cancelled queued task ran anyway"


def test_cancel_force_stops_running_task(tmp_path):
    release = str(tmp_path / "never")
    started = str(tmp_path / "started")
    ref = block_until.remote(release, started)
    wait_for_file(started, T)
    start = time.monotonic()
    polyray.cancel(ref, force=True)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=20)
    assert time.monotonic() - start < 20
    # the cluster still runs tasks afterwards
    done = str(tmp_path / "done")
    open(done, "w").close()
    assert isinstance(polyray.get(block_until.remote(done), timeout=T), int)


def test_cancel_finished_task_keeps_its_value():
    @polyray.remote
    def quick():
        return "value"

    ref = quick.remote()
    assert polyray.get(ref, timeout=T) == "value"
    polyray.cancel(ref)
    assert polyray.get(ref, timeout=T) == "value"


@polyray.remote
def sleep_for(seconds):
    time.sleep(seconds)
    return seconds


def test_wait_num_returns_and_timeout(tmp_path):
    fast = [sleep_for.remote(0) for _ in range(3)]
    release = str(tmp_path / "release")
    slow = block_until.remote(release)
    refs = fast + [slow]
    ready, not_ready = polyray.wait(refs, num_returns=3, timeout=T)
    assert len(ready) == 3 and set(ready) == set(fast)
    assert not_ready == [slow]
    start = time.monotonic()
    ready, not_ready = polyray.wait([slow], num_returns=1, timeout=0.5)
    elapsed = time.monotonic() - start
    assert ready == [] and not_ready == [slow]
    assert 0.4 <= elapsed < 5
    # num_returns=1 (default) returns as soon as one is ready
    ready, not_ready = polyray.wait(refs, timeout=T)
    assert len(ready) == 1 and len(not_ready) == 3
    # all of them
    open(release, "w").close()
    ready, not_ready = polyray.wait(refs, num_returns=4, timeout=T)
    assert set(ready) == set(refs) and not_ready == []


def test_wait_bad_arguments():
    ref = polyray.put(1)
    with pytest.raises(ValueError):
        polyray.wait([ref], num_returns=2, timeout=1)
    with pytest.raises(TypeError):
        polyray.wait(ref)
    with pytest.raises(TypeError):
        polyray.wait([ref, 3])


LONG_QUEUE_DRIVER = """
import os, sys, time
import polyray

polyray.init(num_cpus=1)

@polyray.remote
def hold(seconds):
    time.sleep(seconds)
    return "held"

@polyray.remote
def after():
    return "ran"

first = hold.remote(float(sys.argv[1]))
time.sleep(1.0)
queued = after.remote()  # waits for the only CPU, i.e. for a lease, LONG_QUEUE_S
start = time.monotonic()
try:
    print("queued:", polyray.get(queued, timeout=150), flush=True)
except Exception as e:
    print("queued failed after %.1f s: %s: %s" % (time.monotonic() - start, type(e).__name__, str(e)[:300]), flush=True)
print("first:", polyray.get(first, timeout=60), flush=True)
polyray.shutdown()
"""

#: How long the second task waits for the CPU: longer than the driver's control-plane
#: deadline (set to RPC_DEADLINE_S for it; the spec's is 30 s) and than the servers'
#: keepalive ping allowance (5 s), so a lease request that had either would fail.
LONG_QUEUE_S = 15
RPC_DEADLINE_S = 8


@pytest.fixture(scope="module", autouse=True)
def long_queue_driver(tmp_path_factory):
    """A driver with its own 1-CPU cluster whose second task waits LONG_QUEUE_S for a lease.

    It runs in the background while the other tests of this module run (it
    mostly sleeps), so the suite does not pay the wait twice.
    """
    directory = tmp_path_factory.mktemp("long-queue")
    path = write_script(directory, "long_queue.py", LONG_QUEUE_DRIVER)
    proc = subprocess.Popen([PYTHON, path, str(LONG_QUEUE_S)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(directory),
                            env=driver_env({"POLYRAY_RPC_TIMEOUT_S": str(RPC_DEADLINE_S)}))
    yield proc
    stop_process(proc)


def test_task_queued_longer_than_the_deadlines_still_runs(long_queue_driver):
    """A lease request that waits longer than the gRPC keepalive allowance must not fail.

    docs/architecture.md: every wait ends in a value or a typed error; a task merely
    waiting for a busy CPU must end in its value.
    """
    try:
        out, err = long_queue_driver.communicate(timeout=LONG_QUEUE_S + 90)
    except subprocess.TimeoutExpired:
        pytest.fail("the long-queue driver did not finish in time")
    assert "queued: ran" in out, f"stdout:\n{out}\nstderr (tail):\n{err[-3000:]}"
    assert "first: held" in out
    assert long_queue_driver.returncode == 0
