"""MemoryStore (python/polyray/core/memory_store.py): values, waits and callbacks.

The first writer of an object wins and a ready entry never changes; a
blocked wait wakes when enough of its objects are set, returns positions in
the order asked, and ends at its timeout with what is ready; ``on_ready``
callbacks run once, at once when the object is ready or when it becomes
so; ``delete`` drops ready or unwatched entries but keeps one that a
callback still waits for. Waits that block use a real thread and short real
timeouts (tens of milliseconds).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from polyray.core.memory_store import MemoryStore
from polyray.protocol import common_pb2 as pb


def env(body: bytes) -> pb.Envelope:
    return pb.Envelope(body=body)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_first_writer_wins(store):
    assert store.set(b"a", envelope=env(b"first"), size=5) is True
    assert store.set(b"a", error=pb.ErrorRecord(kind=pb.WORKER_CRASHED)) is False
    assert store.set(b"a", in_store_node=b"n") is False
    e = store.get_if_ready(b"a")
    assert e is not None and e.envelope.body == b"first" and e.size == 5
    assert e.error is None and e.in_store_node == b"", "the losing writes changed nothing"


def test_an_entry_holds_one_kind_of_value(store):
    store.set(b"big", in_store_node=b"node-1", size=1 << 20)
    store.set(b"err", error=pb.ErrorRecord(kind=pb.OBJECT_LOST, message="gone"))
    big, err = store.get_if_ready(b"big"), store.get_if_ready(b"err")
    assert big.in_store_node == b"node-1" and big.envelope is None and big.error is None
    assert err.error.kind == pb.OBJECT_LOST and err.envelope is None
    assert store.get_if_ready(b"unknown") is None


def test_wait_indices_gives_positions_in_the_order_asked(store):
    for oid in (b"c", b"a"):
        store.set(oid, envelope=env(oid))
    oids = [b"a", b"b", b"c", b"d"]
    assert store.wait_indices(oids, 1, timeout=0) == [0]
    assert store.wait_indices(oids, 2, timeout=0) == [0, 2]
    assert store.wait(oids, 2, timeout=0) == [b"a", b"c"]
    assert store.wait_indices(oids, 0, timeout=0) == []


def test_wait_returns_what_is_ready_at_its_timeout(store):
    store.set(b"b", envelope=env(b"b"))
    t = time.monotonic()
    assert store.wait_indices([b"a", b"b", b"c"], 2, timeout=0.03) == [1]
    took = time.monotonic() - t
    assert 0.025 <= took < 1.0, f"waited {took:.3f}s for a 0.03s timeout"
    assert not store.has_waiters, "the waiter is gone after its timeout"


def test_a_blocked_wait_is_woken_by_the_set_it_waits_for(store):
    result: list = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        result.append(store.wait([b"x", b"y"], 2, timeout=10))

    th = threading.Thread(target=waiter)
    th.start()
    started.wait()
    deadline = time.monotonic() + 2
    while not store.has_waiters and time.monotonic() < deadline:
        time.sleep(0.001)
    assert store.has_waiters
    store.set(b"y", envelope=env(b"y"))
    store.set(b"unrelated", envelope=env(b"u"))
    time.sleep(0.01)
    assert th.is_alive(), "one of two is not enough"
    t = time.monotonic()
    store.set(b"x", envelope=env(b"x"))
    th.join(5)
    assert not th.is_alive() and time.monotonic() - t < 0.5, "woken by the set, not by its 1 s re-check"
    assert result == [[b"x", b"y"]]
    assert not store.has_waiters


def test_on_ready_runs_now_for_a_ready_object_and_later_for_a_pending_one(store):
    calls: list[tuple[str, bytes]] = []
    store.set(b"ready", envelope=env(b"r"))
    store.on_ready(b"ready", lambda e: calls.append(("ready", e.envelope.body)))
    assert calls == [("ready", b"r")], "at once"
    store.on_ready(b"later", lambda e: calls.append(("later-1", e.envelope.body)))
    store.on_ready(b"later", lambda e: calls.append(("later-2", e.envelope.body)))
    assert len(calls) == 1 and store.get_if_ready(b"later") is None
    store.set(b"later", envelope=env(b"L"))
    assert calls[1:] == [("later-1", b"L"), ("later-2", b"L")], "each once, in registration order"
    store.set(b"later", envelope=env(b"again"))  # a losing write runs nothing
    assert len(calls) == 3


def test_future_resolves_on_its_loop(store):
    loop = asyncio.new_event_loop()
    try:
        fut = store.future(b"f", loop)
        loop.run_until_complete(asyncio.sleep(0))
        assert not fut.done()
        store.set(b"f", envelope=env(b"v"))
        entry = loop.run_until_complete(asyncio.wait_for(fut, 1))
        assert entry.envelope.body == b"v"
    finally:
        loop.close()


def test_delete_drops_ready_and_unwatched_entries(store):
    store.set(b"a", envelope=env(b"a"))
    store.delete(b"a")
    assert not store.contains(b"a") and store.get_if_ready(b"a") is None
    assert store.set(b"a", envelope=env(b"new")) is True, "a deleted id can be written again"
    store.delete(b"never-set")  # deleting an unknown id is no error
    assert len(store) == 1


def test_delete_keeps_an_entry_a_callback_waits_for(store):
    seen: list[bytes] = []
    store.on_ready(b"p", lambda e: seen.append(e.envelope.body))
    store.delete(b"p")
    assert store.contains(b"p"), "a pending entry with a waiter stays"
    store.set(b"p", envelope=env(b"v"))
    assert seen == [b"v"], "the callback still runs"
    store.delete(b"p")
    assert not store.contains(b"p")
