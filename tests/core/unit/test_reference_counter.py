"""ReferenceCounter (python/polyray/core/reference_counter.py): when objects are freed.

An owned object is freed (``on_free(oid, store_node)``, once) exactly when
its last holder goes: local ObjectRefs, tasks that take it as an argument
(submitted), borrowers, returns lending it to a caller, and owned objects
whose value contains it. A borrowed object's first local ref registers the
borrow with its owner (``on_borrow_change(owner, [oid], [])``, once) and its
last one returns it. A seeded random walk over those operations checks the
rule against a model of the counts.
"""

from __future__ import annotations

import random

import pytest

from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb

OWNER = pb.Address(host="owner", port=9000, worker_id=b"o" * 28)
NODE = b"N" * 28


class Recorder:
    """The counter's two callbacks, recorded."""

    def __init__(self) -> None:
        self.freed: list[tuple[bytes, bytes]] = []
        self.borrows: list[tuple[str, bytes, list[bytes], list[bytes]]] = []

    def on_free(self, oid: bytes, node: bytes) -> None:
        self.freed.append((oid, node))

    def on_borrow_change(self, owner: pb.Address, added: list, removed: list) -> None:
        self.borrows.append((owner.host, owner.worker_id, list(added), list(removed)))

    def freed_ids(self) -> list[bytes]:
        return [oid for oid, _ in self.freed]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def rc(rec: Recorder) -> ReferenceCounter:
    return ReferenceCounter(rec.on_free, rec.on_borrow_change)


# -- owned objects -----------------------------------------------------------------

def test_last_local_ref_frees_an_owned_object_once_with_its_store_node(rc, rec):
    rc.add_owned(b"a")
    rc.set_in_store(b"a", NODE)
    rc.add_local(b"a", None)
    rc.add_local(b"a", None)
    rc.remove_local(b"a")
    assert rec.freed == [], "one ref left"
    rc.remove_local(b"a")
    assert rec.freed == [(b"a", NODE)]
    assert rc.num_tracked() == 0
    rc.remove_local(b"a")  # a stray release after the free is ignored
    assert rec.freed == [(b"a", NODE)]
    assert rec.borrows == [], "owned objects never register borrows"


def test_task_returns_are_owned_with_one_local_ref(rc, rec):
    rc.add_owned_local([b"r1", b"r2"])
    assert rc.is_owned(b"r1") and rc.snapshot(b"r1")["local"] == 1
    rc.remove_local(b"r2")
    assert rec.freed_ids() == [b"r2"]


def test_a_submitted_task_keeps_its_argument_until_it_ends(rc, rec):
    rc.add_local(b"arg", None)
    rc.add_submitted([b"arg"])
    rc.add_submitted([b"arg"])  # two tasks take it
    rc.remove_local(b"arg")
    rc.remove_submitted([b"arg"])
    assert rec.freed == [], "the second task still needs it"
    rc.remove_submitted([b"arg"])
    assert rec.freed_ids() == [b"arg"]


def test_borrowers_keep_an_object_until_each_returns_it(rc, rec):
    rc.add_local(b"a", None)
    rc.update_borrowers(b"w1", [b"a"], [])
    rc.update_borrowers(b"w2", [b"a"], [])
    rc.update_borrowers(b"w2", [b"a"], [])  # a borrower is counted once
    rc.remove_local(b"a")
    assert rc.snapshot(b"a")["borrowers"] == 2
    rc.update_borrowers(b"w1", [], [b"a"])
    assert rec.freed == []
    rc.update_borrowers(b"w2", [], [b"a"])
    assert rec.freed_ids() == [b"a"]


def test_drop_borrower_frees_what_only_it_held(rc, rec):
    for oid in (b"a", b"b", b"c"):
        rc.add_local(oid, None)
        rc.update_borrowers(b"dead", [oid], [])
    rc.update_borrowers(b"alive", [b"c"], [])
    rc.remove_local(b"a")
    rc.remove_local(b"c")
    rc.drop_borrower(b"dead")
    assert rec.freed_ids() == [b"a"], "b has a local ref, c another borrower"
    rc.remove_local(b"b")
    rc.drop_borrower(b"alive")
    assert sorted(rec.freed_ids()) == [b"a", b"b", b"c"]


def test_a_lent_return_stays_until_the_caller_registers_as_borrower(rc, rec):
    rc.add_local(b"inner", None)
    rc.add_lent([b"inner"])  # a return value carries it to a caller
    rc.remove_local(b"inner")
    assert rec.freed == [], "in transit to the caller"
    rc.update_borrowers(b"caller", [b"inner"], [])  # the lent count becomes a borrower
    assert rc.snapshot(b"inner")["lent"] == 0 and rc.snapshot(b"inner")["borrowers"] == 1
    rc.update_borrowers(b"caller", [], [b"inner"])
    assert rec.freed_ids() == [b"inner"]


def test_lent_is_only_counted_for_owned_objects(rc, rec):
    rc.add_local(b"b", OWNER)
    rc.add_lent([b"b"])
    assert rc.snapshot(b"b")["lent"] == 0
    rc.remove_local(b"b")
    assert rec.borrows[-1] == ("owner", OWNER.worker_id, [], [b"b"])


# -- nested objects ----------------------------------------------------------------

def test_an_inner_object_lives_until_the_outer_one_is_freed(rc, rec):
    rc.add_local(b"inner", None)
    rc.add_owned(b"outer", contains=[b"inner"])
    rc.add_local(b"outer", None)
    rc.remove_local(b"inner")
    assert rec.freed == [], "the outer value still contains it"
    assert rc.snapshot(b"inner")["contained_in"] == 1
    rc.remove_local(b"outer")
    assert rec.freed_ids() == [b"outer", b"inner"], "outer first, then what it held"


def test_nesting_chains_free_from_the_outside_in(rc, rec):
    rc.add_local(b"c", None)
    rc.add_owned(b"b", contains=[b"c"])
    rc.add_owned(b"a")
    rc.set_contains(b"a", [b"b"])
    rc.add_local(b"a", None)
    rc.add_local(b"b", None)  # b also has a ref of its own
    rc.remove_local(b"c")
    rc.remove_local(b"a")
    assert rec.freed_ids() == [b"a"], "b is still referenced, so c stays too"
    rc.remove_local(b"b")
    assert rec.freed_ids() == [b"a", b"b", b"c"]


def test_an_inner_object_in_two_outers_waits_for_both(rc, rec):
    rc.add_local(b"inner", None)
    rc.add_owned(b"o1", contains=[b"inner"])
    rc.add_owned(b"o2", contains=[b"inner"])
    rc.add_local(b"o1", None)
    rc.add_local(b"o2", None)
    rc.remove_local(b"inner")
    rc.remove_local(b"o1")
    assert rec.freed_ids() == [b"o1"]
    rc.remove_local(b"o2")
    assert rec.freed_ids() == [b"o1", b"o2", b"inner"]


# -- borrowed objects --------------------------------------------------------------

def test_a_borrow_is_registered_on_the_first_ref_and_returned_with_the_last(rc, rec):
    rc.add_local(b"b", OWNER)
    rc.add_local(b"b", OWNER)
    rc.add_local(b"b", OWNER)
    assert rec.borrows == [("owner", OWNER.worker_id, [b"b"], [])], "registered once"
    assert not rc.is_owned(b"b")
    rc.remove_local(b"b")
    rc.remove_local(b"b")
    assert len(rec.borrows) == 1
    rc.remove_local(b"b")
    assert rec.borrows[1] == ("owner", OWNER.worker_id, [], [b"b"])
    assert rec.freed == [], "a borrowed object is never freed here"
    # Borrowed again later: a new registration.
    rc.add_local(b"b", OWNER)
    assert rec.borrows[2] == ("owner", OWNER.worker_id, [b"b"], [])


def test_a_borrowed_argument_keeps_the_borrow_while_a_task_needs_it(rc, rec):
    rc.add_local(b"b", OWNER)
    rc.add_submitted([b"b"])
    rc.remove_local(b"b")
    assert len(rec.borrows) == 1, "not returned: a submitted task still reads it"
    rc.remove_submitted([b"b"])
    assert rec.borrows[-1][3] == [b"b"]


# -- the rule, at random -----------------------------------------------------------

OWNED_IDS = [b"o%d" % i for i in range(4)]
BORROWED_IDS = [b"b%d" % i for i in range(2)]
BORROWERS = [b"w1", b"w2", b"w3"]


class Model:
    """What the counter should hold: the counts of each live object."""

    def __init__(self) -> None:
        self.live: dict[bytes, dict] = {}

    @staticmethod
    def alive(c: dict) -> bool:
        return bool(c["local"] or c["submitted"] or c["borrowers"] or c["lent"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_free_exactly_when_every_count_reaches_zero(seed):
    rnd = random.Random(seed)
    rec = Recorder()
    rc = ReferenceCounter(rec.on_free, rec.on_borrow_change)
    model = Model()
    expected_frees: list[bytes] = []
    expected_borrow_events: list[tuple[bytes, str]] = []
    for step in range(3000):
        oid = rnd.choice(OWNED_IDS + BORROWED_IDS)
        owned = oid in OWNED_IDS
        c = model.live.get(oid)
        # Releases weigh more than adds, so counts keep falling back to zero.
        ops = {"add_local": 1}
        if c is not None:
            ops["add_submitted"] = 1
            if c["local"]:
                ops["remove_local"] = 3
            if c["submitted"]:
                ops["remove_submitted"] = 3
            if owned:
                ops["add_borrower"] = 1
                if c["lent"] < 2:  # lent copies only go by registrations: keep them few
                    ops["add_lent"] = 1
                if c["borrowers"]:
                    ops["remove_borrower"] = 2
                    ops["drop_borrower"] = 1
        op = rnd.choices(list(ops), weights=list(ops.values()))[0]
        if c is None:
            c = model.live[oid] = dict(local=0, submitted=0, borrowers=set(), lent=0)
            if not owned:
                expected_borrow_events.append((oid, "add"))
        if op == "add_local":
            rc.add_local(oid, None if owned else OWNER)
            c["local"] += 1
        elif op == "remove_local":
            rc.remove_local(oid)
            c["local"] -= 1
        elif op == "add_submitted":
            rc.add_submitted([oid])
            c["submitted"] += 1
        elif op == "remove_submitted":
            rc.remove_submitted([oid])
            c["submitted"] -= 1
        elif op == "add_borrower":
            w = rnd.choice(BORROWERS)
            rc.update_borrowers(w, [oid], [])
            c["borrowers"].add(w)
            c["lent"] = max(0, c["lent"] - 1)  # a registration settles one lent copy
        elif op == "add_lent":
            rc.add_lent([oid])
            c["lent"] += 1
        elif op == "remove_borrower":
            w = rnd.choice(sorted(c["borrowers"]))
            rc.update_borrowers(w, [], [oid])
            c["borrowers"].discard(w)
        elif op == "drop_borrower":
            w = rnd.choice(sorted(c["borrowers"]))
            rc.drop_borrower(w)
            # A dead borrower held every owned object it borrowed.
            for other, oc in list(model.live.items()):
                if w in oc["borrowers"]:
                    oc["borrowers"].discard(w)
                    if other != oid and not Model.alive(oc):
                        del model.live[other]
                        expected_frees.append(other)
        if oid in model.live and not Model.alive(c):
            del model.live[oid]
            if owned:
                expected_frees.append(oid)
            else:
                expected_borrow_events.append((oid, "remove"))
        # The decisions so far, exactly: frees only for objects whose counts all reached zero.
        assert sorted(rec.freed_ids()) == sorted(expected_frees), f"step {step}: {op} {oid!r}"
        got_borrows = [(a[0], "add") if a else (r[0], "remove") for _, _, a, r in rec.borrows]
        assert got_borrows == expected_borrow_events, f"step {step}: {op} {oid!r}"
        for live_id, lc in model.live.items():
            snap = rc.snapshot(live_id)
            assert snap is not None, f"step {step}: {live_id!r} freed while counts are {lc}"
            assert (snap["local"], snap["submitted"], snap["borrowers"], snap["lent"]) == \
                (lc["local"], lc["submitted"], len(lc["borrowers"]), lc["lent"]), f"step {step}"
        assert rc.num_tracked() == len(model.live)
    assert len(expected_frees) > 50, "the walk freed objects often enough to mean something"
