"""Ray's concurrency groups on a real local cluster (issue 17): ``concurrency_groups=`` on an
actor class, ``@polyray.method(concurrency_group=)`` and a call's ``.options(concurrency_group=)``.
Each group has its own threads (threaded actors) or semaphore (async actors): a call that
waits in a full group does not hold up the others; Java and C++ actors refuse the options."""

from __future__ import annotations

import asyncio
import threading

import pytest

import polyray

WAIT = 30.0


@polyray.remote(concurrency_groups={"io": 1, "control": 1})
class Threaded:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.log: list[str] = []

    @polyray.method(concurrency_group="io")
    def wait_released(self, tag: str) -> bool:
        self.log.append(tag)
        return self.event.wait(WAIT)

    @polyray.method(concurrency_group="control")
    def release(self) -> None:
        self.event.set()

    def get_log(self) -> list[str]:
        return list(self.log)


@polyray.remote(concurrency_groups={"io": 2})
class Async:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.active = 0
        self.peak = 0

    @polyray.method(concurrency_group="io")
    async def wait_released(self) -> bool:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.wait_for(self.event.wait(), WAIT)
            return True
        finally:
            self.active -= 1

    async def release(self) -> None:
        self.event.set()

    async def get_peak(self) -> int:
        return self.peak


def test_threaded_groups_run_apart_and_keep_order(cluster):
    a = Threaded.remote()
    first = a.wait_released.remote("a")
    second = a.wait_released.remote("b")
    # The io group (1 thread) is busy with the first call; without a group of its own release()
    # would queue behind it for good (a plain actor runs one call at a time).
    polyray.get(a.release.remote(), timeout=WAIT)
    assert polyray.get([first, second], timeout=WAIT) == [True, True]
    assert polyray.get(a.get_log.remote(), timeout=WAIT) == ["a", "b"]
    # A call's option puts a method into another group: release in "io" waits behind nothing now.
    assert polyray.get(a.release.options(concurrency_group="io").remote(), timeout=WAIT) is None
    with pytest.raises(ValueError, match="nope"):
        a.get_log.options(concurrency_group="nope").remote()
    polyray.kill(a)


def test_async_group_limits_and_default_group_stays_free(cluster):
    a = Async.remote()
    waiting = [a.wait_released.remote() for _ in range(3)]
    # The default group (1000 for async actors) is not held up by the full io group.
    polyray.get(a.get_peak.remote(), timeout=WAIT)
    polyray.get(a.release.remote(), timeout=WAIT)
    assert polyray.get(waiting, timeout=WAIT) == [True, True, True]
    assert polyray.get(a.get_peak.remote(), timeout=WAIT) == 2   # io allows 2 at a time
    polyray.kill(a)


def test_undeclared_group_and_other_languages_are_refused(cluster):
    with pytest.raises(ValueError, match="concurrency group 'io'"):
        @polyray.remote(concurrency_groups={"other": 1})
        class Bad:
            @polyray.method(concurrency_group="io")
            def m(self) -> None:
                pass
        Bad.remote()
    # Java and C++ actors honour them (tests/api/test_java_parity.py, tests/api/test_cpp_cancel_parity.py).
