"""Early reads of borrowed values (issue 14, the get 100 KiB row).

A get of borrowed refs copies the plain values already in this node's store
while their owner is asked; the owner's answer still decides: a value is
returned only for an object the owner answered as stored. Checked on a real
cluster: values equal what a get without early reads returns (plain ones and
the ones not read early: refs inside, ndarrays), a ref listed twice gets two
separate values, and a SIGKILLed owner's copies that are still in the store
(pinned here, so its death cannot free them) are never returned.
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
from polyray.store import Store

pytestmark = pytest.mark.timeout(120)
T = 60
KIB = 1024


@polyray.remote
class Owner:
    def pid(self) -> int:
        return os.getpid()

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


def test_a_dead_owner_s_copies_still_in_the_store_are_not_returned(cluster):
    """The head (GCS and raylet) is SIGSTOPped, so the SIGKILLed owner's copies
    cannot be freed: the get reads them early, and must still raise."""
    owner = Owner.remote()
    pid = polyray.get(owner.pid.remote(), timeout=T)
    refs = polyray.get(owner.put_many.remote(30, 100 * KIB), timeout=T)
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
        with pytest.raises(polyray.exceptions.ObjectLostError):
            polyray.get(refs, timeout=25)
    finally:
        os.kill(head, signal.SIGCONT)
        store.close()
