"""StorePins with a manual loop and a fake raylet: batching, the cap in flight,
frees while a pin is queued or open, failures, and the putters' bound.

The order that matters: a put's own store pin (its view) is released only
after the raylet answered; a pin that has not gone out when its object is
freed is never sent.
"""

from __future__ import annotations

import threading

import grpc
import pytest

from polyray.core import store_pins as sp
from polyray.protocol import common_pb2 as pb
from polyray.protocol import raylet_pb2 as rl

from .fakes import FakeCall, ManualLoop

ME = pb.Address(worker_id=b"w" * 28, host="h", port=1)
OTHER = pb.Address(worker_id=b"o" * 28, host="h", port=2)


class View:
    """A store view: counts its releases."""

    def __init__(self) -> None:
        self.releases = 0

    def release(self) -> None:
        self.releases += 1


class Raylet:
    """PinObjects calls the test answers."""

    def __init__(self, loop: ManualLoop) -> None:
        self.loop = loop
        self.calls: list[FakeCall] = []

    def pin(self, ids: list[bytes], owner: pb.Address) -> FakeCall:
        call = FakeCall(self.loop, rl.PinObjectsRequest(object_ids=ids, owner=owner))
        self.calls.append(call)
        return call

    @property
    def open(self) -> list[FakeCall]:
        return [c for c in self.calls if c.open]


def oid(i: int) -> bytes:
    return i.to_bytes(28, "little")


@pytest.fixture
def env():
    loop = ManualLoop()
    raylet = Raylet(loop)
    pins = sp.StorePins(call_soon=loop.call_soon, pin=raylet.pin, max_in_flight=2, max_ids=3, max_unpinned=100)
    yield loop, raylet, pins
    loop.shut()


def answer_all(call: FakeCall, ok: bool = True) -> None:
    call.answer(rl.PinObjectsReply(pinned=[ok] * len(call.request.object_ids)))


def test_puts_made_while_a_pin_is_open_go_out_together_and_keep_their_pin_until_answered(env):
    loop, raylet, pins = env
    views = [View() for _ in range(5)]
    pins.add(oid(0), views[0], ME)
    loop.settle()
    assert [list(c.request.object_ids) for c in raylet.calls] == [[oid(0)]]
    for i in range(1, 5):  # the first call is open: these wait for its answer, without a wake-up
        pins.add(oid(i), views[i], ME)
    loop.settle()
    assert len(raylet.calls) == 1
    assert all(v.releases == 0 for v in views), "a view was released before the raylet pinned it"
    answer_all(raylet.calls[0])
    loop.settle()
    assert views[0].releases == 1 and all(v.releases == 0 for v in views[1:])
    # The four queued go out in calls of at most max_ids=3, both at once (cap 2).
    assert [len(c.request.object_ids) for c in raylet.calls[1:]] == [3, 1]
    assert [c.request.object_ids for c in raylet.calls[1:]] == [[oid(1), oid(2), oid(3)], [oid(4)]]
    for c in raylet.calls[1:]:
        answer_all(c)
    loop.settle()
    assert [v.releases for v in views] == [1] * 5
    assert pins.waiting == 0


def test_no_more_calls_open_than_the_cap(env):
    loop, raylet, pins = env
    views = [View() for _ in range(10)]
    done = [pins.add(oid(i), views[i], ME, want_done=True) for i in range(10)]  # returns: each wakes
    loop.settle()
    # One wake-up took all ten; two calls of three go out (the cap), four wait.
    assert [len(c.request.object_ids) for c in raylet.open] == [3, 3]
    for _ in range(10):
        assert len(raylet.open) <= 2
        if not raylet.open:
            break
        answer_all(raylet.open[0])
        loop.settle()
    assert all(d is not None and d.done() and d.result() is True for d in done)
    assert sum(len(c.request.object_ids) for c in raylet.calls) == 10
    assert all(v.releases == 1 for v in views)


def test_a_free_before_the_pin_went_out_sends_no_pin_and_releases_the_view(env):
    loop, raylet, pins = env
    first, freed, kept = View(), View(), View()
    pins.add(oid(0), first, ME)
    loop.settle()
    pins.add(oid(1), freed, ME)
    pins.add(oid(2), kept, ME)
    loop.call(pins.forget, oid(1))  # the ref was dropped: OwnedObjects frees it
    answer_all(raylet.calls[0])
    loop.settle()
    assert [list(c.request.object_ids) for c in raylet.calls] == [[oid(0)], [oid(2)]]
    assert freed.releases == 1, "the view of a freed, never-pinned object was not released"
    assert kept.releases == 0
    answer_all(raylet.calls[1])
    loop.settle()
    assert kept.releases == 1


def test_a_free_while_the_pin_is_open_keeps_the_view_until_the_answer(env):
    loop, raylet, pins = env
    v = View()
    done = pins.add(oid(0), v, ME, want_done=True)
    loop.settle()
    loop.call(pins.forget, oid(0))  # already sent: the raylet answers False or True; either is safe
    assert v.releases == 0
    raylet.calls[0].answer(rl.PinObjectsReply(pinned=[False]))  # the free got there first
    loop.settle()
    assert v.releases == 1 and done is not None and done.result() is False


def test_a_failed_call_releases_every_view_and_reports_not_pinned(env):
    loop, raylet, pins = env
    views = [View(), View()]
    done = [pins.add(oid(i), views[i], ME, want_done=True) for i in range(2)]
    loop.settle()
    for c in list(raylet.open):
        c.fail(grpc.StatusCode.UNAVAILABLE, "raylet gone")
    loop.settle()
    assert [v.releases for v in views] == [1, 1]
    for d in done:
        assert d is not None
        with pytest.raises(grpc.aio.AioRpcError):
            d.result(timeout=0)


def test_one_call_carries_one_owner(env):
    loop, raylet, pins = env
    pins.add(oid(0), View(), ME)
    loop.settle()
    pins.add(oid(1), View(), OTHER)
    pins.add(oid(2), View(), ME)
    pins.add(oid(3), View(), OTHER)
    answer_all(raylet.calls[0])
    loop.settle()
    by_owner = {(c.request.owner.worker_id, tuple(c.request.object_ids)) for c in raylet.calls[1:]}
    assert by_owner == {(OTHER.worker_id, (oid(1), oid(3))), (ME.worker_id, (oid(2),))}


def test_putters_block_when_too_many_objects_wait_and_fail_bounded(monkeypatch):
    loop = ManualLoop()
    raylet = Raylet(loop)
    monkeypatch.setattr(sp, "ROOM_WAIT_S", 0.05)
    pins = sp.StorePins(call_soon=loop.call_soon, pin=raylet.pin, max_in_flight=1, max_ids=2, max_unpinned=2)
    try:
        pins.add(oid(0), View(), ME)
        pins.add(oid(1), View(), ME)
        third = View()
        with pytest.raises(TimeoutError, match="waited"):
            pins.add(oid(2), third, ME)
        assert third.releases == 1
        loop.settle()
        answer_all(raylet.calls[0])
        loop.settle()
        # Room again: a putter on another thread gets through.
        box: dict[str, object] = {}
        t = threading.Thread(target=lambda: box.setdefault("r", pins.add(oid(3), View(), ME)))
        t.start()
        t.join(5)
        assert not t.is_alive() and "r" in box
        loop.settle()
        for c in raylet.open:
            answer_all(c)
        loop.settle()
        assert pins.waiting == 0
    finally:
        loop.shut()


def test_close_releases_what_is_queued(env):
    loop, raylet, pins = env
    a, b = View(), View()
    pins.add(oid(0), a, ME)
    loop.settle()
    pins.add(oid(1), b, ME)
    pins.close()
    assert b.releases == 1
    answer_all(raylet.calls[0])
    loop.settle()
    assert a.releases == 1
