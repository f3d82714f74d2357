"""ActorHandles (python/polyray/core/actor_handles.py): an actor goes when its last handle goes.

Handles are references to one pseudo-object per actor, counted by the real
ReferenceCounter wired as the CoreWorker wires it; a fake ``kill`` records
the GCS requests. The actor is destroyed exactly once, exactly when the last
holder goes: local handles, calls in flight (submitted), borrowers (incl. a
dead one), put values that contain a handle, and returns lending it.
"""

from __future__ import annotations

import asyncio

from polyray.core import actor_handles as ah
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.value_codec import ValueCodec
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol.ids import ActorID, JobID, ObjectID, TaskID

ME = pb.Address(host="owner", port=9000, worker_id=b"o" * 28)
BORROWER = pb.Address(host="b", port=9001, worker_id=b"b" * 28, node_id=b"n" * 28)
ACTOR = ActorID.of(JobID.from_int(7)).binary()
HID = ah.handle_object_id(ACTOR)


class Owner:
    """A ReferenceCounter whose frees go through ActorHandles first, as in CoreWorker."""

    def __init__(self) -> None:
        self.killed: list[bytes] = []
        self.freed: list[bytes] = []
        self.handles = ah.ActorHandles(kill=self.killed.append)
        self.rc = ReferenceCounter(lambda oid, node: self.handles.on_free(oid) or self.freed.append(oid),
                                   lambda *a, **k: None)


def test_ids_are_apart_from_returns_and_puts():
    assert len(HID) == 28 and ah.is_handle_object_id(HID) and ah.actor_id_of(HID) == ACTOR
    task = TaskID.for_job(JobID.from_int(7))
    for oid in (ObjectID.for_return(task, 1), ObjectID.for_put(task, 1)):
        assert not ah.is_handle_object_id(oid.binary())
    assert ah.handle_object_id(ActorID.of(JobID.from_int(7)).binary()) != HID


def test_last_local_handle_destroys_once():
    o = Owner()
    o.rc.add_local(HID, None)
    o.rc.add_local(HID, None)  # a copy of the handle
    o.rc.remove_local(HID)
    assert o.killed == []
    o.rc.remove_local(HID)
    assert o.killed == [ACTOR] and o.freed == []  # never reaches the object free path


def test_calls_in_flight_keep_it_until_they_end():
    o = Owner()
    o.rc.add_local(HID, None)
    o.rc.add_submitted([HID])  # a call made through the handle
    o.rc.remove_local(HID)     # `A.remote().f.remote()`: the handle is a temporary
    assert o.killed == []
    o.rc.remove_submitted([HID])
    assert o.killed == [ACTOR]


def test_borrower_keeps_it_until_it_returns_the_borrow():
    o = Owner()
    o.rc.add_local(HID, None)
    o.rc.add_submitted([HID])  # the handle travels as a task argument
    o.rc.update_borrowers(BORROWER.worker_id, [HID], [], address=BORROWER)
    o.rc.remove_submitted([HID])
    o.rc.remove_local(HID)
    assert o.killed == []
    assert o.rc.holders() == [(BORROWER.worker_id, pb.Address(worker_id=BORROWER.worker_id,
                                                              node_id=BORROWER.node_id))]
    o.rc.update_borrowers(BORROWER.worker_id, [], [HID])
    assert o.killed == [ACTOR]


def test_dead_borrower_releases():
    o = Owner()
    o.rc.add_local(HID, None)
    o.rc.update_borrowers(BORROWER.worker_id, [HID], [], address=BORROWER)
    o.rc.remove_local(HID)
    assert o.killed == []
    o.rc.drop_borrower(BORROWER.worker_id)  # what the BorrowerWatch does for a dead process
    assert o.killed == [ACTOR]


def test_put_value_holding_the_handle_keeps_it_while_it_lives():
    o = Owner()
    put = ObjectID.for_put(TaskID.for_job(JobID.from_int(7)), 1).binary()
    o.rc.add_local(HID, None)
    o.rc.add_owned(put, contains=[HID])
    o.rc.add_local(put, None)
    o.rc.remove_local(HID)
    assert o.killed == []
    o.rc.remove_local(put)
    assert o.freed == [put] and o.killed == [ACTOR]


def test_lent_in_a_return_until_the_caller_acknowledges():
    o = Owner()
    o.rc.add_local(HID, None)
    o.rc.add_lent([HID], BORROWER.worker_id, BORROWER)
    o.rc.remove_local(HID)
    assert o.killed == []
    o.rc.update_borrowers(BORROWER.worker_id, [HID], [], address=BORROWER)  # the caller's own hold
    o.rc.update_borrowers(BORROWER.worker_id, [], [], acked=[HID])
    assert o.killed == []
    o.rc.update_borrowers(BORROWER.worker_id, [], [HID])
    assert o.killed == [ACTOR]


def test_codec_adds_the_handle_to_nested_refs_unless_detached():
    class Handle:  # what the codec recognizes as an actor handle (the API's ActorHandle)
        def __init__(self, msg: pb.ActorHandle) -> None:
            self.msg = msg

        def _polyray_handle_proto(self) -> pb.ActorHandle:
            return self.msg

    codec = ValueCodec(worker_id=b"w" * 28)
    counted = Handle(pb.ActorHandle(actor_id=ACTOR, owner=ME, name="n"))
    detached = Handle(pb.ActorHandle(actor_id=ACTOR, owner=ME, name="n", detached=True))
    enc = codec.encode({"h": [counted, detached]}, pb.PYTHON)
    assert [r.object_id for r in enc.nested_refs] == [HID]
    assert enc.nested_refs[0].owner == ME
    assert codec.encode([detached], pb.PYTHON).nested_refs == []


def test_kill_failures_are_not_raised():
    def broken(actor_id: bytes) -> None:
        raise RuntimeError("loop closed")
    handles = ah.ActorHandles(kill=broken)
    assert handles.on_free(HID) is True and handles.destroyed == [ACTOR]
    assert handles.on_free(b"x" * 28) is False


def test_gcs_killer_sends_out_of_scope_without_restart():
    sent: list[gcs.KillActorRequest] = []

    class Gcs:
        async def KillActor(self, request, timeout=None):  # noqa: N802 - gRPC's name
            sent.append(request)
            return gcs.KillActorReply()

    class Io:
        def spawn(self, make_coro):
            asyncio.run(make_coro())

    ah.gcs_killer(Io(), Gcs)(ACTOR)
    assert sent == [gcs.KillActorRequest(actor_id=ACTOR, no_restart=True, out_of_scope=True)]
