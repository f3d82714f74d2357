"""A task whose executor is SIGKILLed while running it: the caller keeps the
task's arguments two borrowers.death_watch_ms rounds (2 s) past the failure,
then lets go of them (issue 14; docs/ownership.md, "The reference protocol",
Deaths: the executor may have handed an argument on whose new holder's
"added" is still on its way to the owner).

A daemon head (2 CPUs); the test process is the Python driver and owns a
1 MB object in the node's store, passed as the only argument of a task that
writes its pid and sleeps. The driver drops its own ref; the worker is
SIGKILLed; the task fails with WorkerCrashedError (max_retries=0). The
object is still in the store 1 s after the failure and leaves it within the
bound. With the grace set to 0 in the driver, the same object leaves the
store at once (well under 1 s): the first test would fail.
"""

from __future__ import annotations

import gc
import os
import signal
import time

import pytest
from chaos_util import SIZE, Head, driving_head
from core_util import wait_until

import polyray
import polyray.core.task_submitter as task_submitter
from polyray.exceptions import WorkerCrashedError

pytestmark = pytest.mark.timeout(120)

#: From the failure to the free: the 2 s grace, with slack for the loaded machine.
BOUND_S = 10.0


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    with driving_head(tmp_path_factory.mktemp("executor_death_args")) as h:
        yield h


@polyray.remote(max_retries=0)
def hold(arg, pid_file):
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pid_file + ".tmp", pid_file)
    time.sleep(60)
    return len(arg)


def _fail_a_task_holding_an_object(head: Head, tmp_path) -> tuple[tuple[int, int], float]:
    """Returns the store before, and the time the task's failure was seen."""
    before = head.store()
    ref = polyray.put(b"x" * SIZE)
    pid_file = str(tmp_path / "pid")
    out = hold.remote(ref, pid_file)
    del ref
    gc.collect()
    assert wait_until(lambda: os.path.exists(pid_file), 60, interval=0.05), "the task did not start"
    assert head.store()[0] == before[0] + 1, "the argument is not in the store"
    with open(pid_file) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    with pytest.raises(WorkerCrashedError):
        polyray.get(out, timeout=60)
    return before, time.monotonic()


def test_a_task_failed_by_a_sigkilled_executor_keeps_its_argument_for_the_grace(head, tmp_path):
    before, failed_at = _fail_a_task_holding_an_object(head, tmp_path)
    time.sleep(max(0.0, failed_at + 1.0 - time.monotonic()))
    assert head.store()[0] == before[0] + 1, "the argument was freed within 1 s of the failure"
    assert wait_until(lambda: head.store() == before, BOUND_S, interval=0.05), (
        f"the store holds {head.store()} {BOUND_S} s after the failure, not {before}")
    print(f"argument freed {time.monotonic() - failed_at:.2f} s after the task's failure")


def test_without_the_grace_the_argument_goes_at_once(head, tmp_path, monkeypatch):
    monkeypatch.setattr(task_submitter, "ARGS_GRACE_S", 0.0)
    before, failed_at = _fail_a_task_holding_an_object(head, tmp_path)
    assert wait_until(lambda: head.store() == before, 5.0, interval=0.02)
    took = time.monotonic() - failed_at
    print(f"without the grace: freed {took:.2f} s after the failure")
    assert took < 1.0, f"freed {took:.2f} s after the failure even without the grace"
