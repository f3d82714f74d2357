"""exit() / sys.exit() in user code ends the worker, as in Ray: a task's caller gets
WorkerCrashedError (retried as a crash), an actor's caller ActorDiedError (no restart)."""

from __future__ import annotations

import os
import sys
import tempfile
import time

import pytest

import polyray
from polyray.exceptions import ActorDiedError, WorkerCrashedError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@polyray.remote(max_retries=0)
def exits(path, how):
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    if how == "builtin":
        exit(3)
    sys.exit(0)


@polyray.remote(max_retries=2)
def exits_counted(path):
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    sys.exit(1)


@polyray.remote
class Quitter:
    def pid(self):
        return os.getpid()

    def quit(self):
        sys.exit(0)


@pytest.mark.parametrize("how", ["sys", "builtin"])
def test_exit_in_task_is_a_worker_crash(cluster, how):
    with tempfile.NamedTemporaryFile("r", suffix=".pids") as f:
        with pytest.raises(WorkerCrashedError):
            polyray.get(exits.remote(f.name, how), timeout=60)
        pids = [int(x) for x in f.read().split()]
    assert len(pids) == 1
    assert _wait_gone(pids[0]), "the worker that called exit() is still running"


def test_exit_in_task_is_retried_like_a_crash(cluster):
    with tempfile.NamedTemporaryFile("r", suffix=".pids") as f:
        with pytest.raises(WorkerCrashedError):
            polyray.get(exits_counted.remote(f.name), timeout=60)
        pids = [int(x) for x in f.read().split()]
    assert len(pids) == 3, f"expected 1 run + 2 retries, got {len(pids)}"


def test_exit_in_actor_method_kills_the_actor_without_restart(cluster):
    a = Quitter.options(max_restarts=2).remote()
    pid = polyray.get(a.pid.remote(), timeout=60)
    with pytest.raises(ActorDiedError):
        polyray.get(a.quit.remote(), timeout=60)
    assert _wait_gone(pid), "the actor's process is still running"
    # An intended exit is not restarted (max_restarts is for failures).
    with pytest.raises(ActorDiedError):
        polyray.get(a.pid.remote(), timeout=60)
