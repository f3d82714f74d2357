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

    async def long(self) -> str:
        try:
            await asyncio.sleep(120)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "not cancelled"

    async def count(self) -> int:
        return self.cancelled


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
