"""Bounded fan-out (issue 14, Deliver 2) in process: the ObjectGetter's fetches
of borrowed objects and the BorrowTracker's updates, over fake owners.

Fetches: ids queued for one owner go out in GetObjects of at most
MAX_IDS_PER_FETCH ids, at most MAX_FETCHES_PER_OWNER calls open per owner;
ids the owner did not answer are asked again (with new ones); when every
slot only waits on slow objects, one such call is cancelled so new ids go out;
an owner that does not know GetObjects gets GetObject per id; an owner that
does not answer fails every id it was asked for. Borrow updates: one call open
per owner (in order), MAX_UPDATES_IN_FLIGHT across owners, and flush waits
for all of them.
"""

from __future__ import annotations

import types

import grpc

from polyray.core import borrow_tracker, object_getter
from polyray.core.borrow_tracker import BorrowTracker
from polyray.core.memory_store import MemoryStore
from polyray.core.object_getter import ObjectGetter
from polyray.core.object_ref import ObjectRef
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import runtime_spec as rspec

from .fakes import FakeOwnerStub, ManualLoop

CAP = rspec.FANOUT_MAX_FETCHES_IN_FLIGHT_PER_OWNER
BATCH = rspec.FANOUT_MAX_IDS_PER_FETCH


def oid(n: int) -> bytes:
    return n.to_bytes(8, "big") + bytes(rspec.IDS_OBJECT_BYTES - 8)


def owner_address(port: int) -> pb.Address:
    return pb.Address(worker_id=port.to_bytes(4, "big") + bytes(rspec.IDS_WORKER_BYTES - 4), host="h", port=port)


class Owners:
    """Connections whose workers are FakeOwnerStubs, by port."""

    def __init__(self, loop: ManualLoop) -> None:
        self.loop = loop
        self.stubs: dict[int, FakeOwnerStub] = {}

    def worker(self, address: pb.Address) -> FakeOwnerStub:
        return self.stubs.setdefault(address.port, FakeOwnerStub(self.loop))


class Harness:
    def __init__(self) -> None:
        self.loop = ManualLoop()
        self.owners = Owners(self.loop)
        self.store = MemoryStore()
        self.ctx = types.SimpleNamespace(shutting_down=False)
        self.getter = ObjectGetter(ctx=self.ctx, io=None, connections=self.owners,  # type: ignore[arg-type]
                                   memory_store=self.store, codec=None, node_store=None,  # type: ignore[arg-type]
                                   puller=None, owned=None)  # type: ignore[arg-type]

    def fetch(self, ids: list[bytes], port: int = 1) -> None:
        owner = owner_address(port)
        refs = [ObjectRef(i, owner, _counted=False) for i in ids]
        self.loop.call(self.getter._start_fetches, refs)

    def answer(self, call, ids: list[bytes]) -> None:
        call.answer(cw.GetObjectsReply(object_ids=ids, objects=[FakeOwnerStub.inline_reply(i) for i in ids]))
        self.loop.settle()

    def ready(self, ids: list[bytes]) -> bool:
        return all(self.store.get_if_ready(i) is not None for i in ids)

    def close(self) -> None:
        self.ctx.shutting_down = True
        self.loop.shut()


def test_10000_ids_go_in_batches_with_a_cap_in_flight():
    h = Harness()
    ids = [oid(i) for i in range(10_000)]
    h.fetch(ids)
    stub = h.owners.stubs[1]
    assert len(stub.open_calls) == CAP
    assert all(len(c.request.object_ids) == BATCH for c in stub.calls)
    most = 0
    while stub.open_calls:
        most = max(most, len(stub.open_calls))
        call = stub.open_calls[0]
        h.answer(call, list(call.request.object_ids))
    assert most == CAP
    assert len(stub.calls) == 10_000 // BATCH  # each id asked once
    assert sorted(i for c in stub.calls for i in c.request.object_ids) == ids
    assert h.ready(ids) and not h.getter._fetching and not h.getter._owner_fetches
    h.close()


def test_ids_not_answered_are_asked_again_with_new_ones():
    h = Harness()
    a, b, c = oid(1), oid(2), oid(3)
    h.fetch([a, b])
    stub = h.owners.stubs[1]
    first = stub.calls[0]
    assert list(first.request.object_ids) == [a, b]
    h.fetch([c])  # a second call: a free slot
    assert list(stub.calls[1].request.object_ids) == [c]
    h.answer(first, [a])  # b is not ready yet
    assert h.ready([a]) and not h.ready([b])
    again = stub.calls[-1]
    assert list(again.request.object_ids) == [b] and again.open
    h.answer(stub.calls[1], [c])
    h.answer(again, [b])
    assert h.ready([a, b, c]) and len(stub.calls) == 3
    h.close()


def test_slow_objects_do_not_hold_back_new_ones():
    h = Harness()
    slow = [oid(i) for i in range(CAP)]
    stub = None
    for s in slow:  # each slot: one object the owner found not ready
        h.fetch([s])
        stub = h.owners.stubs[1]
        h.answer(stub.calls[-1], [])
    assert stub is not None and len(stub.open_calls) == CAP
    assert all(len(c.request.object_ids) == 1 for c in stub.open_calls)
    fresh = oid(100)
    h.fetch([fresh])
    # One waiting call was cancelled; its id went out again beside the new one.
    assert sum(c.cancelled for c in stub.calls) == 1
    assert len(stub.open_calls) == CAP
    newest = stub.calls[-1]
    assert fresh in newest.request.object_ids and len(newest.request.object_ids) == 2
    h.answer(newest, [fresh])
    assert h.ready([fresh]) and not any(h.ready([s]) for s in slow)
    for call in list(stub.open_calls):
        h.answer(call, list(call.request.object_ids))
    while stub.open_calls:
        call = stub.open_calls[0]
        h.answer(call, list(call.request.object_ids))
    assert h.ready(slow) and not h.getter._fetching
    h.close()


def test_an_owner_without_getobjects_gets_one_getobject_per_id():
    h = Harness()
    stub = h.owners.worker(owner_address(1))
    stub.unimplemented = True
    ids = [oid(i) for i in range(100)]
    h.fetch(ids)
    assert len(stub.calls) == 1  # found out once
    open_singles = [c for c in stub.singles if c.open]
    assert len(open_singles) == object_getter.LEGACY_FETCHES_PER_CALL
    while any(c.open for c in stub.singles):
        for c in [c for c in stub.singles if c.open]:
            c.answer(FakeOwnerStub.inline_reply(c.request.object_id))
        h.loop.settle()
        assert sum(c.open for c in stub.singles) <= object_getter.LEGACY_FETCHES_PER_CALL
    assert h.ready(ids) and len(stub.singles) == 100
    h.close()


def test_an_owner_that_died_fails_every_id_asked():
    h = Harness()
    ids = [oid(i) for i in range(3 * BATCH)]
    h.fetch(ids)
    stub = h.owners.stubs[1]
    for call in list(stub.open_calls):
        call.fail(grpc.StatusCode.UNAVAILABLE, "connection refused")
    h.loop.settle()
    assert h.ready(ids)
    e = h.store.get_if_ready(ids[0])
    assert e is not None and e.error is not None and e.error.kind == pb.OWNER_DIED
    assert not h.getter._fetching and not stub.open_calls
    h.close()


def test_owners_are_capped_separately():
    h = Harness()
    for port in range(1, 11):
        h.fetch([oid(port * 100_000 + i) for i in range(5 * BATCH)], port=port)
    for port in range(1, 11):
        assert len(h.owners.stubs[port].open_calls) == CAP
    h.close()


class BorrowHarness:
    def __init__(self) -> None:
        self.loop = ManualLoop()
        self.owners = Owners(self.loop)
        io = types.SimpleNamespace(call_soon=lambda fn, *a: self.loop.call_soon(fn, *a))
        ctx = types.SimpleNamespace(shutting_down=False, address=owner_address(9999))
        self.released: list[bytes] = []
        self.tracker = BorrowTracker(ctx=ctx, io=io, connections=self.owners,  # type: ignore[arg-type]
                                     on_released=self.released.extend)


def test_a_flush_to_many_owners_is_capped_and_waits_for_all():
    h = BorrowHarness()
    n = 3 * borrow_tracker.MAX_UPDATES_IN_FLIGHT
    for port in range(1, n + 1):
        h.tracker.on_borrow_change(owner_address(port), [oid(port)], [])
    flush = h.loop.create_task(h.tracker.flush())
    h.loop.settle()
    open_calls = [c for s in h.owners.stubs.values() for c in s.borrows if c.open]
    assert len(open_calls) == borrow_tracker.MAX_UPDATES_IN_FLIGHT
    answered = 0
    while True:
        open_calls = [c for s in h.owners.stubs.values() for c in s.borrows if c.open]
        if not open_calls:
            break
        assert len(open_calls) <= borrow_tracker.MAX_UPDATES_IN_FLIGHT
        assert not flush.done()
        for c in open_calls:
            c.answer(cw.UpdateBorrowsReply())
            answered += 1
        h.loop.settle()
    assert answered == n and flush.done()
    assert h.tracker.max_in_flight == borrow_tracker.MAX_UPDATES_IN_FLIGHT
    h.loop.shut()


def test_updates_to_one_owner_go_one_at_a_time_in_order():
    h = BorrowHarness()
    owner = owner_address(1)
    h.tracker.on_borrow_change(owner, [oid(1)], [])
    h.loop.settle()
    h.tracker.on_borrow_change(owner, [], [oid(1)])
    h.loop.settle()
    stub = h.owners.stubs[1]
    assert len(stub.borrows) == 1  # the removal waits for the add's answer
    flush = h.loop.create_task(h.tracker.flush())
    h.loop.settle()
    assert not flush.done()
    stub.borrows[0].answer(cw.UpdateBorrowsReply())
    h.loop.settle()
    assert len(stub.borrows) == 2 and list(stub.borrows[1].request.removed) == [oid(1)]
    assert not flush.done()  # flush waits for the second call too
    stub.borrows[1].answer(cw.UpdateBorrowsReply())
    h.loop.settle()
    assert flush.done() and h.released == [oid(1)]
    h.loop.shut()


def test_a_lost_object_is_asked_with_getobject_lost():
    h = Harness()
    a, b = oid(1), oid(2)
    h.getter._lost.add(a)
    h.fetch([a, b])
    stub = h.owners.stubs[1]
    assert [list(c.request.object_ids) for c in stub.calls] == [[b]]
    assert len(stub.singles) == 1 and stub.singles[0].request.object_id == a and stub.singles[0].request.lost
    stub.singles[0].answer(FakeOwnerStub.inline_reply(a))
    h.answer(stub.calls[0], [b])
    assert h.ready([a, b]) and not h.getter._lost and not h.getter._fetching
    h.close()
