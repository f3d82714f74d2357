"""An actor call whose argument is not ready does not hold up other callers (issue 17), on a real cluster.

As Ray, a caller resolves its calls' argument refs (owned or borrowed) before
they enter the actor's stream: the actor never blocks waiting for one, so
another caller's calls run meanwhile; one caller's calls still start in
submission order (a call waits for this caller's earlier ones).
"""

from __future__ import annotations

import time

import polyray

SLOW_S = 3.0


@polyray.remote
def slow_value(seconds: float) -> str:
    time.sleep(seconds)
    return "slow"


@polyray.remote
class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []

    def take(self, value: str) -> str:
        self.log.append(f"take:{value}")
        return value

    def mark(self, tag: str) -> str:
        self.log.append(tag)
        return tag

    def get_log(self) -> list[str]:
        return list(self.log)


@polyray.remote
def call_mark(actor, tag: str) -> str:
    """Another caller (a task, its own stream to the actor)."""
    return polyray.get(actor.mark.remote(tag), timeout=20)


@polyray.remote
def call_take_then_mark(actor, box: list) -> list:
    """A caller passing a borrowed ref (owned by the driver) to the actor, then another call;
    returns the two calls' refs once both are submitted."""
    return [actor.take.remote(box[0]), actor.mark.remote("after-borrowed")]


def test_a_pending_argument_does_not_hold_up_another_callers_calls(cluster):
    actor = Recorder.remote()
    assert polyray.get(actor.get_log.remote(), timeout=30) == []
    slow = slow_value.remote(SLOW_S)
    taking = actor.take.remote(slow)          # caller A (the driver): its argument is 3 s away
    mine = actor.mark.remote("driver-after")  # caller A again: must wait for its own earlier call
    other = call_mark.remote(actor, "other-caller")  # caller B (a task)
    assert polyray.get(other, timeout=SLOW_S + 20) == "other-caller"
    ready, _ = polyray.wait([slow], timeout=0)
    assert not ready, "caller B's call returned while caller A's argument was still being computed"
    assert polyray.get([taking, mine], timeout=30) == ["slow", "driver-after"]
    log = polyray.get(actor.get_log.remote(), timeout=20)
    assert log == ["other-caller", "take:slow", "driver-after"], log


def test_a_borrowed_pending_argument_is_resolved_by_the_caller(cluster):
    actor = Recorder.remote()
    assert polyray.get(actor.get_log.remote(), timeout=30) == []
    slow = slow_value.remote(SLOW_S)
    first, second = polyray.get(call_take_then_mark.remote(actor, [slow]), timeout=30)
    # The borrower's calls are submitted; the driver's call made now overtakes them.
    assert polyray.get(actor.mark.remote("driver"), timeout=SLOW_S + 20) == "driver"
    ready, _ = polyray.wait([slow], timeout=0)
    assert not ready, "the driver's call returned while the borrower's argument was still being computed"
    assert polyray.get([first, second], timeout=30) == ["slow", "after-borrowed"]
    log = polyray.get(actor.get_log.remote(), timeout=20)
    assert log == ["driver", "take:slow", "after-borrowed"], log
