"""Several real processes on one segment, including one killed mid-operation."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
from store_util import child_cmd, oid, payload

from polyray.store import Store, StoreTimeoutError


def _run_with_deadline(fn, seconds):
    """fn() in a daemon thread; fails the test instead of hanging on a dead lock."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"store call still blocked after {seconds} s (lock not recovered?)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_many_processes_create_and_read(store_name):
    nprocs, count = 4, 2500
    with Store.create(store_name, 128 << 20) as store:
        procs = [
            subprocess.Popen(child_cmd("worker", store_name, i, nprocs, count),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(nprocs)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert out.split() == ["ok", str((nprocs - 1) * count)], (out, err)
        s = store.stats()
        assert s.sealed_objects == nprocs * count
        assert s.objects == nprocs * count
        assert s.pinned_objects == 0
        assert s.evictions == 0
        # The parent sees every object with its content.
        for i in range(nprocs):
            for k in range(0, count, 97):
                with store.get_one(oid(k, b"w%d" % i), timeout=0) as v:
                    assert bytes(v.data[:64]) == payload(oid(k, b"w%d" % i), 64)[:v.data_size]


def test_get_waits_for_an_object_sealed_by_another_process(store_name):
    with Store.create(store_name, 8 << 20) as store:
        target = oid(1)
        child = subprocess.Popen(child_cmd("sealer", store_name, target.hex(), 100000, 0.5),
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "created"
            assert store.get([target], timeout=0) == [None]  # created, not yet visible
            t0 = time.monotonic()
            views = store.get([oid(0), target], timeout=0.05)
            assert views == [None, None]
            view = store.get_one(target, timeout=20)
            waited = time.monotonic() - t0
            assert 0.2 < waited < 15, waited
            assert bytes(view.data) == payload(target, 100000)
            view.release()
        finally:
            child.wait(timeout=20)
        assert child.returncode == 0
        with pytest.raises(StoreTimeoutError):
            store.get_one(oid(2), timeout=0.05)


def test_process_killed_holding_lock_pins_and_unsealed_object(store_name):
    size = 3 << 20
    with Store.create(store_name, 8 << 20) as store:
        pinned, unsealed = oid(1), oid(2)
        store.put(pinned, b"p" * 1000)
        used_before = store.stats().bytes_used
        child = subprocess.Popen(
            child_cmd("holder", store_name, pinned.hex(), unsealed.hex(), size),
            stdout=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline().strip()
            assert line == "locked", line
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=20)
        assert child.returncode == -signal.SIGKILL

        # The next locker repairs the state the dead holder left.
        _run_with_deadline(lambda: store.put(oid(3), b"after"), 20)
        s = store.stats()
        assert s.recoveries >= 1
        assert s.pinned_objects == 1  # the dead child's pin is still counted
        infos = {i.object_id: i for i in store.list()}
        assert infos[pinned].pins == 1
        assert infos[unsealed].sealed is False
        assert infos[unsealed].creator_pid == child.pid
        store.evict(10**9)
        assert store.contains(pinned)  # the dead child's pin still protects it

        r = store.reclaim(child.pid)
        assert r.pins_dropped == 1
        assert r.objects_aborted == 1
        assert r.bytes_freed >= size
        s = store.stats()
        assert s.pinned_objects == 0
        assert unsealed not in {i.object_id for i in store.list()}
        assert s.bytes_used <= used_before + 1024
        # The store is fully usable: the aborted id can be made again, the
        # freed memory reused, and a second reclaim finds nothing.
        store.put(unsealed, b"u" * size)
        with store.get_one(unsealed, timeout=0) as v:
            assert bytes(v.data[:3]) == b"uuu"
        assert store.reclaim(child.pid).pins_dropped == 0
        # Another process can still open and use the segment.
        with Store.open(store_name) as other:
            with other.get_one(pinned, timeout=0) as v:
                assert bytes(v.data) == b"p" * 1000


def test_store_survives_killed_readers(store_name):
    """Processes killed at random points never corrupt the store."""
    with Store.create(store_name, 128 << 20) as store:
        procs = [
            subprocess.Popen(child_cmd("worker", store_name, i, 2, 8000),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i in range(2)
        ]
        for p, delay in zip(procs, (0.5, 0.3)):
            time.sleep(delay)
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=20)
        _run_with_deadline(lambda: store.put(oid(1, b"parent"), b"ok"), 20)
        for p in procs:
            store.reclaim(p.pid)
        s = store.stats()
        assert s.pinned_objects == 0
        infos = store.list()
        assert all(i.sealed for i in infos)  # unsealed leftovers were aborted
        for i in infos[::50]:
            with store.get_one(i.object_id, timeout=0) as v:
                if i.object_id.startswith(b"w"):
                    assert bytes(v.data) == payload(i.object_id, i.data_size)
