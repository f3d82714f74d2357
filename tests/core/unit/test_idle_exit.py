"""The worker's side of an idle Exit (issue 14, owners not reaped): the
ReferenceCounter says why the worker must stay while it owns objects still
referenced anywhere or holds borrowed ones."""

from __future__ import annotations

from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb


def _counter():
    freed: list[bytes] = []
    borrows: list[tuple] = []
    rc = ReferenceCounter(lambda oid, node: freed.append(oid),
                          lambda owner, added, removed: borrows.append((added, removed)))
    return rc, freed, borrows


def test_nothing_tracked_may_exit():
    rc, _, _ = _counter()
    assert rc.why_not_exit() == ""


def test_owned_object_lent_then_borrowed_keeps_worker_until_released():
    rc, freed, _ = _counter()
    oid = b"o" * 28
    rc.add_owned(oid)
    rc.add_local(oid, None)
    rc.add_lent([oid])          # returned inside a value to a caller
    rc.remove_local(oid)        # the task ended: no local ref left
    assert "owns 1 object" in rc.why_not_exit()
    rc.update_borrowers(b"driver", [oid], [])
    assert "owns 1 object" in rc.why_not_exit()
    rc.update_borrowers(b"driver", [], [oid])
    assert freed == [oid]
    assert rc.why_not_exit() == ""


def test_owned_object_nested_in_owned_object_counts_both():
    rc, _, _ = _counter()
    inner, outer = b"i" * 28, b"u" * 28
    rc.add_owned(inner)
    rc.add_owned(outer, contains=[inner])
    rc.add_local(outer, None)
    assert "owns 2 object" in rc.why_not_exit()
    rc.remove_local(outer)
    assert rc.why_not_exit() == ""


def test_borrowed_object_held_keeps_worker():
    rc, _, borrows = _counter()
    oid = b"b" * 28
    owner = pb.Address(worker_id=b"w" * 28)
    rc.add_local(oid, owner)
    assert rc.why_not_exit() == "borrows 1 object(s)"
    rc.remove_local(oid)
    assert borrows == [([oid], []), ([], [oid])]
    assert rc.why_not_exit() == ""


def test_dead_borrower_releases_owner():
    rc, _, _ = _counter()
    oid = b"d" * 28
    rc.add_owned(oid)
    rc.update_borrowers(b"driver", [oid], [])
    assert rc.why_not_exit()
    rc.drop_borrower(b"driver")
    assert rc.why_not_exit() == ""
