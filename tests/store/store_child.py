"""Child process of the shared-store tests (run as a script, one mode per call).

    store_child.py worker NAME INDEX NPROCS COUNT
        put COUNT objects of its own, then read and check every other
        worker's; prints "ok <objects read>".
    store_child.py holder NAME PINNED_ID_HEX UNSEALED_ID_HEX SIZE
        pin an object, leave one unsealed, take the store lock and hang
        (the parent kills it); prints "locked" once it holds the lock.
    store_child.py sealer NAME ID_HEX SIZE DELAY
        create an object, sleep DELAY s, then seal it; prints "sealed".
"""

from __future__ import annotations

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from store_util import oid, payload  # noqa: E402

from polyray.store import Store  # noqa: E402


def worker(name: str, index: int, nprocs: int, count: int) -> None:
    """Writers and readers at once: every process creates and reads."""
    rng = random.Random(index)
    store = Store.open(name)
    sizes = {}
    for k in range(count):
        object_id = oid(k, b"w%d" % index)
        size = rng.choice((0, 1, 100, 1000, 4096, 10000))
        data = payload(object_id, size)
        meta = b"m%d" % k
        if k % 2:
            store.put(object_id, data, metadata=meta)
        else:  # the builder path: data and metadata written in place
            with store.create_object(object_id, size, len(meta)) as b:
                b.data[:] = data
                b.metadata[:] = meta
        sizes[object_id] = size
    read = 0
    for other in range(nprocs):
        if other == index:
            continue
        orng = random.Random(other)
        ids = []
        for k in range(count):
            ids.append((oid(k, b"w%d" % other), orng.choice((0, 1, 100, 1000, 4096, 10000)), k))
        # Batches of gets, waiting for objects the other worker has not made yet.
        for start in range(0, len(ids), 50):
            batch = ids[start:start + 50]
            views = store.get([i for i, _, _ in batch], timeout=60)
            for view, (object_id, size, k) in zip(views, batch):
                if view is None:
                    raise SystemExit(f"object {object_id.hex()} not sealed within 60 s")
                if bytes(view.data) != payload(object_id, size):
                    raise SystemExit(f"object {object_id.hex()}: wrong data")
                meta, want = bytes(view.metadata), b"m%d" % k
                if meta != want:
                    raise SystemExit(f"object {object_id.hex()}: metadata {meta!r} != {want!r}")
                view.release()
                read += 1
    # Own objects must all still be there (nothing may be evicted here).
    for object_id, size in sizes.items():
        with store.get_one(object_id, timeout=0) as view:
            assert bytes(view.data) == payload(object_id, size)
    store.close()
    print("ok", read, flush=True)


def holder(name: str, pinned: bytes, unsealed: bytes, size: int) -> None:
    """Die (by the parent's SIGKILL) holding the lock, a pin and an unsealed object."""
    store = Store.open(name)
    view = store.get_one(pinned, timeout=10)
    b = store.create_object(unsealed, size)
    b.data[:4] = b"half"
    store._test_hold_lock()
    print("locked", flush=True)
    time.sleep(120)
    print("not killed", view, b, flush=True)


def sealer(name: str, object_id: bytes, size: int, delay: float) -> None:
    """Seal an object DELAY seconds after creating it."""
    store = Store.open(name)
    b = store.create_object(object_id, size)
    b.data[:] = payload(object_id, size)
    print("created", flush=True)
    time.sleep(delay)
    b.seal()
    print("sealed", flush=True)
    store.close()


def main(argv: list[str]) -> None:
    mode, name = argv[0], argv[1]
    if mode == "worker":
        worker(name, int(argv[2]), int(argv[3]), int(argv[4]))
    elif mode == "holder":
        holder(name, bytes.fromhex(argv[2]), bytes.fromhex(argv[3]), int(argv[4]))
    elif mode == "sealer":
        sealer(name, bytes.fromhex(argv[2]), int(argv[3]), float(argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
