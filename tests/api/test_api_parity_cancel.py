"""``cancel`` as Ray's ``ray.cancel`` on a real local cluster (issue 17): KeyboardInterrupt
inside the running task (even one blocked in a sleep), recursive to the tasks it submitted,
a borrowed ref cancelled through its owner, async actor calls cancelled as asyncio tasks,
force=True refused for actor calls."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

import polyray
from polyray.exceptions import TaskCancelledError

WAIT = 30.0


def _wait_file(path: str, timeout: float = WAIT) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            if text:
                return text
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written in {timeout}s")


@polyray.remote
def sleeper(marker: str, started: str = "") -> str:
    if started:
        with open(started, "w") as f:
            f.write("started")
    try:
        time.sleep(120)  # blocked in a system call: SIGINT wakes it
    except KeyboardInterrupt as e:
        with open(marker, "w") as f:
            f.write(type(e).__name__)
        raise
    return "not cancelled"


@polyray.remote
def parent(marker: str, started: str) -> str:
    child = sleeper.remote(marker, started)
    return polyray.get(child)


@polyray.remote
class Owner:
    def start(self, marker: str, started: str) -> list:
        return [sleeper.remote(marker, started)]   # the caller borrows the ref; this actor owns it


@polyray.remote
class AsyncActor:
    def __init__(self) -> None:
        self.cancelled = 0
        self.started = 0

    async def long(self) -> str:
        self.started += 1
        try:
            await asyncio.sleep(120)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "not cancelled"

    async def count(self) -> int:
        return self.cancelled

    async def starts(self) -> int:
        return self.started


def _wait_starts(a, n: int) -> None:
    deadline = time.monotonic() + WAIT
    while polyray.get(a.starts.remote(), timeout=WAIT) < n:
        assert time.monotonic() < deadline, f"long() did not start {n} times"
        time.sleep(0.05)


@polyray.remote
def calls_actor(a, started: str) -> str:
    ref = a.long.remote()
    polyray.get(a.count.remote())   # long() runs (it started before count())
    with open(started, "w") as f:
        f.write("started")
    return polyray.get(ref)


@polyray.remote
class SyncActor:
    def __init__(self) -> None:
        self.seen = 0

    def until_cancelled(self, started: str) -> str:
        with open(started, "w") as f:
            f.write("started")
        deadline = time.monotonic() + WAIT
        while not polyray.get_runtime_context().is_canceled():   # not interrupted: it looks
            assert time.monotonic() < deadline, "the cancel did not reach the method"
            time.sleep(0.02)
        self.seen += 1
        return "saw the cancel"

    def count(self) -> int:
        return self.seen


@polyray.remote
def calls_sync_actor(a, started: str) -> str:
    return polyray.get(a.until_cancelled.remote(started))


@polyray.remote
class Relay:
    async def run(self, a) -> str:
        return await a.long.remote()


def test_running_task_gets_keyboard_interrupt(cluster, tmp_path):
    marker, started = str(tmp_path / "m"), str(tmp_path / "s")
    ref = sleeper.remote(marker, started)
    _wait_file(started)
    t0 = time.monotonic()
    polyray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=WAIT)
    assert time.monotonic() - t0 < 10
    assert _wait_file(marker) == "TaskCancelled"   # polyray's TaskCancelled, a KeyboardInterrupt


def test_cancel_is_recursive_to_child_tasks(cluster, tmp_path):
    marker, started = str(tmp_path / "m"), str(tmp_path / "s")
    ref = parent.remote(marker, started)
    _wait_file(started)    # the child runs
    polyray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=WAIT)
    assert _wait_file(marker) == "TaskCancelled"   # the child was interrupted too


def test_borrowed_ref_is_cancelled_through_its_owner(cluster, tmp_path):
    marker, started = str(tmp_path / "m"), str(tmp_path / "s")
    owner = Owner.remote()
    [ref] = polyray.get(owner.start.remote(marker, started), timeout=WAIT)
    assert ref.owner_address() is not None   # not ours
    _wait_file(started)
    polyray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=WAIT)
    assert _wait_file(marker) == "TaskCancelled"
    polyray.kill(owner)


def test_async_actor_call_is_cancelled_and_force_is_refused(cluster):
    a = AsyncActor.remote()
    ref = a.long.remote()
    polyray.get(a.count.remote(), timeout=WAIT)   # the actor is up; long() has started before count()
    polyray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=WAIT)
    assert polyray.get(a.count.remote(), timeout=WAIT) == 1   # its CancelledError, and the actor lives on
    with pytest.raises(ValueError, match="force"):
        polyray.cancel(a.long.remote(), force=True)
    polyray.kill(a)


def test_recursive_cancel_reaches_the_actor_calls_a_task_made(cluster, tmp_path):
    """As Ray's CancelChildren: a cancelled task's actor calls are cancelled (a running async
    method's asyncio task), through a chain of actor calls too; recursive=False leaves them."""
    a = AsyncActor.remote()
    started = str(tmp_path / "s")
    ref = calls_actor.remote(a, started)
    _wait_file(started)
    polyray.cancel(ref)    # recursive=True, Ray's default
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while polyray.get(a.count.remote(), timeout=WAIT) != 1:
        assert time.monotonic() < deadline, "the actor call made by the cancelled task was not cancelled"
        time.sleep(0.05)
    relay = Relay.remote()
    chained = relay.run.remote(a)
    _wait_starts(a, 2)
    polyray.cancel(chained)    # an actor call's own actor calls are its children too
    with pytest.raises(TaskCancelledError):
        polyray.get(chained, timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while polyray.get(a.count.remote(), timeout=WAIT) != 2:
        assert time.monotonic() < deadline, "the chained actor call was not cancelled"
        time.sleep(0.05)
    kept = relay.run.remote(a)
    _wait_starts(a, 3)
    polyray.cancel(kept, recursive=False)
    with pytest.raises(TaskCancelledError):
        polyray.get(kept, timeout=WAIT)
    time.sleep(0.5)
    assert polyray.get(a.count.remote(), timeout=WAIT) == 2, "recursive=False cancelled the child"
    polyray.kill(a)
    polyray.kill(relay)


def test_a_sync_actor_method_sees_the_cancel_and_its_caller_gets_task_cancelled(cluster, tmp_path):
    """As Ray: a running sync method is not interrupted, it sees is_canceled(), and its caller gets
    TaskCancelledError for what it returns; a task's recursive cancel reaches such a call too."""
    a = SyncActor.remote()
    started = str(tmp_path / "s1")
    ref = a.until_cancelled.remote(started)
    _wait_file(started)
    polyray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(ref, timeout=WAIT)
    assert polyray.get(a.count.remote(), timeout=WAIT) == 1
    started = str(tmp_path / "s2")
    parent_ref = calls_sync_actor.remote(a, started)
    _wait_file(started)
    polyray.cancel(parent_ref)
    with pytest.raises(TaskCancelledError):
        polyray.get(parent_ref, timeout=WAIT)
    assert polyray.get(a.count.remote(), timeout=WAIT) == 2, "the child call saw the cancel"
    polyray.kill(a)
