"""Local and early reads of borrowed values (issue 14, the get 100 KiB row).

A get of a borrowed ref whose borrow is registered and whose owner is not
known dead takes the copy sealed in this node's store without asking the
owner (local reads, docs/ownership.md); other borrowed refs are asked of
their owners, their plain values copied early while the owners answer.
Checked on a real cluster: values equal what a get without early reads
returns (plain ones, ndarrays, refs inside), a ref listed twice gets two
separate values, a get of local copies returns while the owner is SIGSTOPped
(no round trip), and a dead owner's objects raise OwnerDiedError once its
death is known: from the GCS (the OwnerWatch), or from a call that found
nothing listening, even while its copies are still in the store.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import polyray
import polyray.api
from polyray.core import object_getter
from polyray.core.object_ref import get_core
from polyray.store import Store

pytestmark = pytest.mark.timeout(120)
T = 60
KIB = 1024


@polyray.remote
class Owner:
    def pid(self) -> int:
        return os.getpid()

    def put_small(self) -> list:
        self.small = [polyray.put(b"small")]  # inline: only the owner can answer for it
        return self.small

    def put_many(self, n: int, size: int) -> list:
        self.refs = [polyray.put(bytes([i % 251]) * size) for i in range(n)]
        return self.refs

    def put_mixed(self) -> list:
        inner = polyray.put(b"inner" * 30_000)
        self.refs = [
            polyray.put([b"a" * 60_000, b"b" * 60_000, 7]),          # plain: read early
            polyray.put(np.arange(40_000, dtype=np.int64)),          # ndarray: after the answer
            polyray.put([inner, b"x" * 200_000]),                     # a ref inside: after the answer
            polyray.put({"k": b"v" * 150_000, "n": None}),            # plain
        ]
        return self.refs


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_early_values_equal_late_ones_and_a_ref_listed_twice_gets_two(cluster, monkeypatch):
    owner = Owner.remote()
    many = polyray.get(owner.put_many.remote(40, 100 * KIB), timeout=T)
    mixed = polyray.get(owner.put_mixed.remote(), timeout=T)
    refs = [*many, *mixed, mixed[0], many[3]]
    got = polyray.get(refs, timeout=T)
    assert got[:40] == [bytes([i % 251]) * 100 * KIB for i in range(40)]
    plain_list, array, with_ref, plain_map = got[40:44]
    assert plain_list == [b"a" * 60_000, b"b" * 60_000, 7]
    assert np.array_equal(array, np.arange(40_000, dtype=np.int64))
    assert isinstance(with_ref[0], polyray.ObjectRef) and with_ref[1] == b"x" * 200_000
    assert polyray.get(with_ref[0], timeout=T) == b"inner" * 30_000
    assert plain_map == {"k": b"v" * 150_000, "n": None}
    assert got[44] == plain_list and got[44] is not plain_list, "a ref listed twice shares one list"
    assert got[45] == got[3]
    # The same get without early reads returns the same values (fresh borrowers: new refs).
    monkeypatch.setattr(object_getter, "EARLY_READ_MIN", 1 << 30)
    again = polyray.get([*polyray.get(owner.put_many.remote(40, 100 * KIB), timeout=T),
                         *polyray.get(owner.put_mixed.remote(), timeout=T)], timeout=T)
    assert again[:40] == got[:40] and again[40] == plain_list and again[43] == plain_map


def test_a_local_get_returns_while_the_owner_is_stopped(cluster):
    """No round trip: the owner is SIGSTOPped (it cannot answer, as the inline
    object shows), yet a get of its objects sealed in this node's store returns."""
    owner = Owner.remote()
    pid = polyray.get(owner.pid.remote(), timeout=T)
    refs = polyray.get(owner.put_many.remote(12, 100 * KIB), timeout=T)
    (small,) = polyray.get(owner.put_small.remote(), timeout=T)
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(polyray.exceptions.GetTimeoutError):
            polyray.get(small, timeout=0.5)  # the owner really does not answer
        assert polyray.get(refs, timeout=5) == [bytes([i % 251]) * 100 * KIB for i in range(12)]
        assert polyray.get(refs[4], timeout=5) == bytes([4]) * 100 * KIB  # one ref alone, too
    finally:
        os.kill(pid, signal.SIGCONT)
    assert polyray.get(small, timeout=T) == b"small"


def test_a_dead_owner_s_objects_raise_once_the_gcs_reports_its_death(cluster):
    owner = Owner.remote()
    pid = polyray.get(owner.pid.remote(), timeout=T)
    refs = polyray.get(owner.put_many.remote(10, 100 * KIB), timeout=T)
    assert len(polyray.get(refs, timeout=T)) == 10  # read locally: the owner is watched from now on
    watch = get_core().owner_watch
    worker_id = refs[0].owner_address().worker_id
    assert worker_id in watch.watched()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not watch.is_dead(worker_id):  # no call to the owner made: the GCS told
        assert time.monotonic() < deadline, "the owner's death was not learnt from the GCS"
        time.sleep(0.05)
    with pytest.raises(polyray.exceptions.OwnerDiedError):
        polyray.get(refs, timeout=T)


def test_a_dead_owner_s_copies_still_in_the_store_are_not_returned_once_its_death_is_known(cluster):
    """The head (GCS and raylet) is SIGSTOPped, so the SIGKILLed owner's copies
    cannot be freed and the GCS cannot report the death. Until this process
    knows of it, its copies are read (the window docs/ownership.md states, as
    in Ray); once a call to the owner found nothing listening, the same get
    raises even though the copies are still there."""
    owner = Owner.remote()
    pid = polyray.get(owner.pid.remote(), timeout=T)
    refs = polyray.get(owner.put_many.remote(30, 100 * KIB), timeout=T)
    (small,) = polyray.get(owner.put_small.remote(), timeout=T)
    ids = [r.binary() for r in refs]
    store = Store.open(polyray.nodes()[0]["ObjectStoreName"])
    head = polyray.api._state["head"].process.pid  # the embedded head: GCS and raylet
    os.kill(head, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while _alive(pid):
            assert time.monotonic() < deadline, "the SIGKILLed owner did not go"
            time.sleep(0.02)
        views = store.get(ids, timeout=0)
        try:
            assert all(v is not None for v in views), "the dead owner's copies are not in the store"
        finally:
            for v in views:
                if v is not None:
                    v.release()
        assert len(polyray.get(refs, timeout=25)) == 30  # the window: the death is not known here yet
        with pytest.raises(polyray.exceptions.OwnerDiedError):
            polyray.get(small, timeout=25)  # a call to the owner: nothing listens
        assert get_core().owner_watch.is_dead(refs[0].owner_address().worker_id)
        with pytest.raises(polyray.exceptions.OwnerDiedError):
            polyray.get(refs, timeout=25)
    finally:
        os.kill(head, signal.SIGCONT)
        store.close()
