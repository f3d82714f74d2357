"""A dead borrower's borrows and the lends made to it are released
(ReferenceCounter holders + drop_borrower, BorrowerWatch; docs/ownership.md,
"The reference protocol", Deaths). The watch runs on a manual-clock loop
against a fake GCS that answers GetDeadWorkers from a set of dead ids."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from polyray.core.borrower_watch import BorrowerWatch
from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2

from .fakes import ManualLoop, rpc_error

SELF = b"s" * 28
DEAD = b"d" * 28
ALIVE = b"a" * 28
CALLER = b"c" * 28
NODE = b"N" * 28


def addr(worker_id: bytes) -> pb.Address:
    return pb.Address(host="h", port=1, worker_id=worker_id, node_id=NODE)


class FakeGcs:
    """GetDeadWorkers from a set; records what it was asked; can fail."""

    def __init__(self) -> None:
        self.dead: set[bytes] = set()
        self.asked: list[list[bytes]] = []
        self.fail = False

    async def GetDeadWorkers(self, request: gcs_pb2.GetDeadWorkersRequest,
                             timeout: float) -> gcs_pb2.GetDeadWorkersReply:
        self.asked.append([w.worker_id for w in request.workers])
        if self.fail:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE)
        return gcs_pb2.GetDeadWorkersReply(dead_worker_ids=[w.worker_id for w in request.workers
                                                            if w.worker_id in self.dead])


class Owner:
    """A ReferenceCounter wired to a BorrowerWatch as the CoreWorker wires them."""

    def __init__(self, loop: ManualLoop) -> None:
        self.freed: list[bytes] = []
        self.gcs = FakeGcs()
        self.rc = ReferenceCounter(lambda oid, node: self.freed.append(oid), lambda *a, **k: None,
                                   on_first_holder=lambda: loop.call_soon(self.watch.start))
        self.watch = BorrowerWatch(references=self.rc, gcs=lambda: self.gcs, self_id=SELF, interval_s=1.0)


@pytest.fixture
def loop():
    lp = ManualLoop()
    asyncio.set_event_loop(lp)
    yield lp
    lp.shut()
    asyncio.set_event_loop(None)


def test_counter_tracks_holders_of_borrows_and_lends():
    rc = ReferenceCounter(lambda oid, node: None, lambda *a, **k: None)
    rc.add_owned(b"x")
    rc.add_owned(b"y")
    rc.update_borrowers(DEAD, [b"x", b"y"], [], address=addr(DEAD))
    rc.lend([pb.ObjectRef(object_id=b"x", owner=addr(SELF))], addr(CALLER), SELF, True)
    assert {w for w, _ in rc.holders()} == {DEAD, CALLER}
    assert dict(rc.holders())[DEAD].node_id == NODE
    rc.update_borrowers(DEAD, [], [b"x", b"y"])
    rc.update_borrowers(DEAD, [], [b"x"])  # a stale removal changes nothing
    rc.update_borrowers(CALLER, [], [], acked=[b"x"])
    assert rc.holders() == []


def test_dead_borrower_and_dead_caller_released_live_borrower_kept(loop):
    o = Owner(loop)
    rc = o.rc
    for oid in (b"only-dead", b"shared", b"lent"):
        rc.add_owned(oid)
    loop.call(rc.update_borrowers, DEAD, [b"only-dead", b"shared"], [], (), (), addr(DEAD))
    loop.call(rc.update_borrowers, ALIVE, [b"shared"], [], (), (), addr(ALIVE))
    # A return carrying "lent" is in flight to DEAD (lent on its behalf by its executor).
    loop.call(rc.update_borrowers, DEAD, [], [], [b"lent"], (), addr(DEAD))
    loop.advance(s=1.0)
    assert o.gcs.asked == [[DEAD, ALIVE]] and o.freed == []
    o.gcs.dead.add(DEAD)
    loop.advance(s=1.0)
    assert o.freed == [], "dead in one round: a grace of one more for updates in flight"
    loop.advance(s=1.0)
    assert sorted(o.freed) == [b"lent", b"only-dead"], "the live borrower keeps 'shared'"
    assert rc.snapshot(b"shared")["borrowers"] == 1
    assert [w for w, _ in rc.holders()] == [ALIVE]
    # The live one lets go: the object goes, the watch stops asking.
    loop.call(rc.update_borrowers, ALIVE, [], [b"shared"], (), (), addr(ALIVE))
    assert sorted(o.freed) == [b"lent", b"only-dead", b"shared"]
    calls = len(o.gcs.asked)
    loop.advance(s=5.0)
    assert len(o.gcs.asked) == calls, "no holders: no calls"
    # A new borrower wakes it again.
    rc.add_owned(b"again")
    loop.call(rc.update_borrowers, DEAD, [b"again"], [], (), (), addr(DEAD))  # a late update of the dead one
    loop.advance(s=2.0)
    assert b"again" in o.freed


def test_gcs_away_keeps_everything_and_asks_again(loop):
    o = Owner(loop)
    o.rc.add_owned(b"x")
    loop.call(o.rc.update_borrowers, DEAD, [b"x"], [], (), (), addr(DEAD))
    o.gcs.dead.add(DEAD)
    o.gcs.fail = True
    loop.advance(s=3.0)
    assert len(o.gcs.asked) == 3 and o.freed == []
    o.gcs.fail = False
    loop.advance(s=2.0)
    assert o.freed == [b"x"]


def test_own_lends_are_not_asked_about(loop):
    o = Owner(loop)
    o.rc.add_owned(b"x")
    o.rc.add_local(b"x", None)
    loop.call(o.rc.lend, [pb.ObjectRef(object_id=b"x", owner=addr(SELF))], addr(SELF), SELF, True)
    loop.advance(s=2.0)
    assert o.gcs.asked == [], "only this process holds: nothing to ask"


def test_a_dead_lenders_unacknowledged_lends_are_released_after_the_grace(loop):
    """Two executors lend x to a live caller (a return carrying x each); the caller
    acknowledges the one whose result it got, naming its lender; the other died
    before its result left: its lend goes with it, two watch rounds later."""
    o = Owner(loop)
    rc = o.rc
    rc.add_owned(b"x")
    loop.call(lambda: rc.update_borrowers(CALLER, [], [], [b"x"], address=addr(CALLER), lender=addr(DEAD)))
    loop.call(lambda: rc.update_borrowers(CALLER, [], [], [b"x"], address=addr(CALLER), lender=addr(ALIVE)))
    assert {w for w, _ in rc.holders()} == {CALLER, DEAD, ALIVE}, "the caller and both lenders are watched"
    # The result that arrived is acknowledged, naming its lender.
    loop.call(lambda: rc.update_borrowers(CALLER, [], [], acked=[b"x"], acked_lenders=[ALIVE]))
    assert {w for w, _ in rc.holders()} == {CALLER, DEAD}
    assert rc.snapshot(b"x")["lent"] == 1
    loop.advance(s=1.0)
    o.gcs.dead.add(DEAD)
    loop.advance(s=1.0)
    assert o.freed == [], "dead in one round: a grace of one more for an acknowledgement in flight"
    loop.advance(s=1.0)
    assert o.freed == [b"x"]
    assert rc.holders() == []


def test_an_acknowledgement_releases_the_lend_of_the_lender_it_names():
    rc = ReferenceCounter(lambda oid, node: None, lambda *a, **k: None)
    rc.add_owned(b"g")
    rc.add_local(b"g", None)
    rc.update_borrowers(CALLER, [], [], [b"g"], lender=addr(DEAD))   # the first attempt's executor
    rc.update_borrowers(CALLER, [], [], [b"g"], lender=addr(ALIVE))  # the retry's
    rc.remove_local(b"g")
    rc.update_borrowers(CALLER, [], [], acked=[b"g"], acked_lenders=[ALIVE])
    rc.update_borrowers(CALLER, [], [], acked=[b"g"], acked_lenders=[ALIVE])  # a duplicate: nothing of ALIVE's left
    rc.drop_borrower(ALIVE)  # it dies after its result was acknowledged: nothing to release
    assert rc.snapshot(b"g")["lent"] == 1
    rc.drop_borrower(DEAD)
    assert rc.snapshot(b"g") is None and rc.holders() == []


def test_an_own_lend_is_acknowledged_by_the_executors_name():
    freed: list[bytes] = []
    rc = ReferenceCounter(lambda oid, node: freed.append(oid), lambda *a, **k: None)
    rc.add_owned(b"g")
    rc.add_local(b"g", None)
    rc.lend([pb.ObjectRef(object_id=b"g", owner=addr(SELF))], addr(CALLER), SELF, True)
    rc.remove_local(b"g")
    rc.update_borrowers(CALLER, [], [], acked=[b"g"], acked_lenders=[SELF])
    assert freed == [b"g"] and rc.holders() == []


def test_a_lend_naming_no_lender_is_kept_when_an_executor_dies():
    """An older executor's lend (no lender): kept until the caller acknowledges or dies."""
    rc = ReferenceCounter(lambda oid, node: None, lambda *a, **k: None)
    rc.add_owned(b"x")
    rc.update_borrowers(CALLER, [], [], [b"x"], address=addr(CALLER))
    rc.drop_borrower(DEAD)
    assert rc.snapshot(b"x")["lent"] == 1
    rc.update_borrowers(CALLER, [], [], acked=[b"x"], acked_lenders=[DEAD])
    assert rc.snapshot(b"x") is None


def test_the_tracker_names_the_lender_of_lends_and_of_acknowledgements():
    from polyray.core.borrow_tracker import ACKED, LENDERS, BorrowQueue
    q = BorrowQueue()
    q.decide((b"o", b""), acked=[b"a"], lender=CALLER)
    q.decide((b"o", b""), removed=[b"r"], acked=[b"b"], lender=DEAD)
    call = q.take((b"o", b""))
    assert call is not None
    kinds, _ = call
    assert kinds[ACKED] == [b"a", b"b"] and kinds[LENDERS] == [CALLER, DEAD] and kinds["removed"] == [b"r"]
