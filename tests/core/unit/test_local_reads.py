"""Local reads of borrowed objects (issue 14, the get 100 KiB row), in process.

A get of a borrowed ref whose object is sealed in this node's store, whose
borrow is registered and whose owner is not known dead, takes the local copy
and asks no owner; every other ref is asked of its owner as before. The
OwnerWatch learns deaths from the GCS (GetDeadWorkers) and from calls that
found nothing listening. Fakes: the node's store, the reference counter, the
GCS.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import grpc
import pytest

from polyray import exceptions as exc
from polyray.core.memory_store import MemoryStore
from polyray.core.object_getter import ObjectGetter
from polyray.core.object_ref import ObjectRef
from polyray.core.owner_watch import OwnerWatch, reads_locally
from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb
from polyray.protocol import envelope, gcs_pb2
from polyray.protocol import runtime_spec as rspec

from .fakes import rpc_error


def oid(n: int) -> bytes:
    return n.to_bytes(8, "big") + bytes(rspec.IDS_OBJECT_BYTES - 8)


def owner(n: int) -> pb.Address:
    return pb.Address(worker_id=n.to_bytes(4, "big") + bytes(rspec.IDS_WORKER_BYTES - 4), host="h", port=n)


class View:
    """A store view of an encoded value (metadata and data), counting releases."""

    def __init__(self, value: Any) -> None:
        layout = envelope.store_layout(envelope.encode(value, pb.PYTHON))
        data = bytearray(layout.data_size)
        layout.write(data)
        self.metadata, self.data = memoryview(layout.metadata), memoryview(data)


class FakeStore:
    """This node's store: the sealed objects it holds, and the reads made."""

    def __init__(self, values: dict[bytes, Any]) -> None:
        self.values = values
        self.reads: list[bytes] = []

    def get(self, ids: list[bytes], timeout: float = 0) -> list[View | None]:
        self.reads += ids
        return [View(self.values[i]) if i in self.values else None for i in ids]

    def get_one(self, i: bytes, timeout: float = 0) -> View:
        self.reads.append(i)
        return View(self.values[i])


class Codec:
    def decode_parts(self, fmt: int, body: Any, buffers: Any) -> Any:
        return envelope.decode(fmt, body, buffers)


class Io:
    """Records what the getter schedules on the loop (the owners' fetches)."""

    def __init__(self) -> None:
        self.scheduled: list[list[bytes]] = []

    def call_soon(self, fn: Any, refs: list[ObjectRef]) -> None:
        self.scheduled.append([r.binary() for r in refs])

    def on_io_thread(self) -> bool:
        return False


class Harness:
    def __init__(self, in_store: dict[bytes, Any], *, registered: set[bytes], owned: set[bytes] = frozenset()
                 ) -> None:
        self.io = Io()
        self.store = FakeStore(in_store)
        ctx = types.SimpleNamespace(shutting_down=False, is_driver=True, node_id=b"n")
        self.getter = ObjectGetter(
            ctx=ctx, io=self.io, connections=None, memory_store=MemoryStore(),  # type: ignore[arg-type]
            codec=Codec(), node_store=types.SimpleNamespace(store=self.store),  # type: ignore[arg-type]
            puller=None, owned=types.SimpleNamespace(is_owned=lambda i: i in owned))  # type: ignore[arg-type]
        self.watch = OwnerWatch(gcs=lambda: None)
        self.getter.references = types.SimpleNamespace(is_borrow_registered=lambda i: i in registered)
        self.getter.owner_watch = self.watch


def refs_of(*pairs: tuple[int, int]) -> list[ObjectRef]:
    return [ObjectRef(oid(o), owner(w), _counted=False) for o, w in pairs]


@pytest.mark.parametrize("has_owner,owned,registered,dead,expected", [
    (True, False, True, False, True),
    (False, False, True, False, False),   # no owner known: not a borrowed ref
    (True, True, True, False, False),     # owned here: the memory store decides
    (True, False, False, False, False),   # borrow not registered: the owner may free it
    (True, False, True, True, False),     # owner known dead: OwnerDiedError via the owner path
])
def test_the_decision(has_owner, owned, registered, dead, expected):
    assert reads_locally(has_owner=has_owner, owned=owned, registered=registered, owner_dead=dead) is expected


def test_a_registered_borrow_in_the_store_is_read_without_asking_the_owner():
    h = Harness({oid(1): b"a" * 1000, oid(2): [b"b", 2]}, registered={oid(1), oid(2)})
    refs = refs_of((1, 7), (2, 7), (1, 7))
    got = h.getter.get(refs, timeout=0)
    assert got == [b"a" * 1000, [b"b", 2], b"a" * 1000]
    assert h.io.scheduled == [], "an owner was asked"
    assert h.watch.watched() == [owner(7).worker_id], "the owner is not watched for its death"
    # A ref listed twice gets two reads, hence separate values.
    assert h.store.reads.count(oid(1)) == 2


@pytest.mark.parametrize("case", ["not in the store", "not registered", "owner dead", "owned here"])
def test_every_other_ref_waits_for_its_owner(case):
    registered = {oid(1), oid(2)} if case != "not registered" else {oid(2)}
    in_store = {oid(1): b"x", oid(2): b"y"} if case != "not in the store" else {oid(2): b"y"}
    h = Harness(in_store, registered=registered, owned={oid(1)} if case == "owned here" else set())
    if case == "owner dead":
        h.watch.mark_dead(owner(5).worker_id)
    refs = refs_of((1, 5), (2, 6))
    with pytest.raises(exc.GetTimeoutError):
        h.getter.get(refs, timeout=0)  # ref 1 waits for its owner's answer
    assert h.io.scheduled == [[oid(1)]], "only the ref that cannot be read locally goes to its owner"
    if case in ("not registered", "owner dead", "owned here"):
        assert oid(1) not in h.store.reads, "the copy was read though the rule forbids it"


def test_an_owner_found_unavailable_is_dead_and_others_are_not():
    h = Harness({}, registered=set())
    h.getter._owner_unavailable(owner(3), grpc.StatusCode.DEADLINE_EXCEEDED)
    assert not h.watch.is_dead(owner(3).worker_id), "a slow owner is not a dead one"
    h.getter._owner_unavailable(owner(3), grpc.StatusCode.UNAVAILABLE)
    assert h.watch.is_dead(owner(3).worker_id)


def test_local_reads_off_when_the_core_worker_leaves_them_unset():
    h = Harness({oid(1): b"x"}, registered={oid(1)})
    h.getter.owner_watch = None
    with pytest.raises(exc.GetTimeoutError):
        h.getter.get(refs_of((1, 5)), timeout=0)
    assert h.io.scheduled == [[oid(1)]] and h.store.reads == []


class FakeGcs:
    def __init__(self, dead: set[bytes], fail: bool = False) -> None:
        self.dead, self.fail, self.asked = dead, fail, []

    async def GetDeadWorkers(self, request: gcs_pb2.GetDeadWorkersRequest, timeout: float):
        self.asked.append([a.worker_id for a in request.workers])
        if self.fail:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE)
        return gcs_pb2.GetDeadWorkersReply(dead_worker_ids=[w for w in self.asked[-1] if w in self.dead])


def test_the_watch_learns_deaths_from_the_gcs_and_forgets_idle_owners(monkeypatch):
    gcs = FakeGcs({owner(2).worker_id})
    woken = []
    watch = OwnerWatch(gcs=lambda: gcs, wake=lambda: woken.append(1), idle_s=10)
    assert asyncio.run(watch.round()) is False and gcs.asked == [], "asked the GCS with nothing watched"
    watch.note(owner(1))
    watch.note(owner(2))
    assert woken, "noting an owner did not wake the loop"
    assert asyncio.run(watch.round()) is True
    assert gcs.asked == [[owner(1).worker_id, owner(2).worker_id]]
    assert watch.is_dead(owner(2).worker_id) and not watch.is_dead(owner(1).worker_id)
    assert watch.watched() == [owner(1).worker_id]
    watch.note(owner(2))  # a dead owner is not watched again
    assert watch.watched() == [owner(1).worker_id]
    gcs.fail = True
    assert asyncio.run(watch.round()) is True and not watch.is_dead(owner(1).worker_id), "a GCS error is no death"
    import polyray.core.owner_watch as ow
    now = ow.time.monotonic() + 11
    monkeypatch.setattr(ow.time, "monotonic", lambda: now)
    assert asyncio.run(watch.round()) is False and watch.watched() == [], "an idle owner is still watched"


def test_the_counter_says_registered_only_for_borrows_held_here():
    changes: list = []
    counter = ReferenceCounter(lambda *a: None, lambda *a, **k: changes.append(a))
    counter.add_local(oid(1), owner(4))
    assert counter.is_borrow_registered(oid(1)) and changes, "the add was not decided"
    counter.add_owned(oid(2))
    counter.add_local(oid(2), None)
    assert not counter.is_borrow_registered(oid(2)), "an owned object counted as a borrow"
    counter.remove_local(oid(1))
    assert not counter.is_borrow_registered(oid(1)), "a released borrow still counts"
    assert not counter.is_borrow_registered(oid(3))


def test_a_stored_value_that_does_not_decode_is_left_to_the_owner():
    h = Harness({oid(1): b"x", oid(2): b"y"}, registered={oid(1), oid(2)})

    class Failing(Codec):
        def decode_parts(self, fmt, body, buffers):
            value = super().decode_parts(fmt, body, buffers)
            if value == b"x":
                raise ValueError("an error value")
            return value
    h.getter._codec = Failing()
    with pytest.raises(exc.GetTimeoutError):
        h.getter.get(refs_of((1, 5), (2, 5)), timeout=0)
    assert h.io.scheduled == [[oid(1)]], "the value that did not decode was not asked of its owner"
