"""Prefault of the store's data region (prs_prefault, polyray.store.prefault).

Residency is read from the segment's tmpfs file: st_blocks counts the pages
the kernel has allocated to it, whichever process touched them. The C test
(bridge/tests/test_prefault.c) checks the same with mincore.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from polyray.core.node_store import NodeStore
from polyray.raylet.object_manager import ObjectManager
from polyray.store import InvalidArgumentError, Store
from polyray.store.prefault import ENV_PREFAULT, Prefaulter, parse_bytes, prefault_bytes_from_env

MIB = 1 << 20


def _resident(name: str) -> int:
    """Bytes the kernel has allocated to segment ``name``."""
    return os.stat("/dev/shm/" + name.lstrip("/")).st_blocks * 512


def test_prefaulter_makes_exactly_its_window_resident(store_name):
    with Store.create(store_name, 64 * MIB) as s:
        base = _resident(store_name)
        assert base < 4 * MIB  # only the header and tables: the data region costs nothing yet
        p = Prefaulter(s, 24 * MIB, chunk=4 * MIB).start()
        assert p.wait(20), "prefault of 24 MiB did not finish in 20 s"
        assert p.error is None and p.covered == 24 * MIB
        assert 24 * MIB <= _resident(store_name) - base < 25 * MIB


def test_knob_off_leaves_the_pages_alone(store_name):
    with Store.create(store_name, 64 * MIB) as s:
        p = Prefaulter(s, 0).start()
        assert p.wait(0)
        assert p.covered == 0 and _resident(store_name) < 4 * MIB


def test_prefault_keeps_every_byte_and_is_clamped(store_name):
    with Store.create(store_name, 16 * MIB) as s:
        oid = b"p" * 28
        data = np.arange(MIB, dtype=np.uint8)
        s.put(oid, data)
        assert s.prefault(0, 1 << 40) == 16 * MIB  # clamped to the region
        assert s.prefault(16 * MIB, MIB) == 0       # past the end
        with pytest.raises(InvalidArgumentError):
            s.prefault(-1, 10)
        with s.get_one(oid, timeout=0) as v:
            assert np.array_equal(np.frombuffer(v.data, dtype=np.uint8), data)


def test_stop_ends_a_prefault_early(store_name):
    with Store.create(store_name, 256 * MIB) as s:
        p = Prefaulter(s, 256 * MIB, chunk=64 * 1024, pause=0.01).start()
        p.stop(timeout=10)
        assert p.done.is_set() and p.covered < 256 * MIB


def test_parse_bytes_and_env(monkeypatch):
    assert parse_bytes("512M") == 512 * MIB and parse_bytes("2G") == 2 << 30 and parse_bytes("4KiB") == 4096
    assert parse_bytes("0") == 0 and parse_bytes("off") == 0 and parse_bytes("100") == 100
    for bad in ("", "x", "-1", "M", "1T"):
        with pytest.raises(ValueError):
            parse_bytes(bad)
    monkeypatch.delenv(ENV_PREFAULT, raising=False)
    assert prefault_bytes_from_env(7) == 7
    monkeypatch.setenv(ENV_PREFAULT, "3M")
    assert prefault_bytes_from_env() == 3 * MIB


@pytest.mark.parametrize("knob", ["16M", "0"])
def test_node_store_manager_prefaults_at_start_as_the_knob_says(knob, store_name, monkeypatch):
    monkeypatch.setenv(ENV_PREFAULT, knob)
    om = ObjectManager(store_name, 64 * MIB)
    om.start()
    try:
        assert om.prefaulter is not None and om.prefaulter.wait(20)
        want = parse_bytes(knob)
        assert want <= _resident(store_name) < want + 4 * MIB  # + header and tables
    finally:
        om.stop()


def test_a_driver_store_prefaults_its_own_mapping_and_closes_cleanly(store_name, monkeypatch):
    monkeypatch.setenv(ENV_PREFAULT, "8M")
    with Store.create(store_name, 32 * MIB):
        ns = NodeStore(store_name)
        ns.prefault_in_background()
        for t in threading.enumerate():
            if t.name == "polyray-store-prefault":
                t.join(20)
        assert ns.is_open and 8 * MIB <= _resident(store_name) < 12 * MIB
        ns.close()
    # No segment (a fake name): nothing raised, nothing opened.
    missing = NodeStore(store_name + "-missing")
    missing.prefault_in_background()
    missing.close()
    assert not missing.is_open


def test_node_stop_during_prefault_ends_it_and_removes_the_segment(store_name, monkeypatch):
    monkeypatch.setenv(ENV_PREFAULT, "1G")
    om = ObjectManager(store_name, 1 << 30)
    om.start()
    assert om.prefaulter is not None
    om.stop()
    assert om.prefaulter.done.is_set() and om.prefaulter.covered < 1 << 30
    assert not os.path.exists("/dev/shm/" + store_name.lstrip("/"))
