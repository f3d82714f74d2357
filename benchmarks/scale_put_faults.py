"""What a 100 KiB put or get costs below polyray: page faults (issue 14, the put bound).

    .venv/bin/python benchmarks/scale_put_faults.py [--n 1000] [--kib 100]

No cluster: a /dev/shm file mapped like the store. Prints, per 100 KiB (µs):
a memcpy into memory already mapped; a write into fresh shared pages (what a
put into an unused part of the store pays: page allocation, zeroing, one
fault per 4 KiB); into pages another process allocated (a store the raylet
prefaulted, not yet mapped here); into pages populated in this mapping
(MADV_POPULATE_WRITE); and a copy into a new ``bytes`` kept alive (what a get
of many values pays for its results), against one freed at once.
"""

from __future__ import annotations

import argparse
import mmap
import os
import time

POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)


def _writes(n: int, size: int, prepare: str) -> float:
    path = f"/dev/shm/polyray-fault-bench-{os.getpid()}"
    total = n * size + 4096
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, total)
        m = mmap.mmap(fd, total)
        view = memoryview(m)
        if prepare == "other":  # another mapping (another process) allocates the pages
            other = mmap.mmap(fd, total)
            ov = memoryview(other)
            for off in range(0, total, 4096):
                ov[off] = 0
            ov.release()
            other.close()
        elif prepare == "populated":
            m.madvise(POPULATE_WRITE, 0, total)
        value = b"x" * size
        start = time.perf_counter()
        for i in range(n):
            view[i * size:(i + 1) * size] = value
        took = time.perf_counter() - start
        view.release()
        m.close()
        return took / n * 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--kib", type=int, default=100)
    args = ap.parse_args()
    n, size = args.n, args.kib * 1024
    src = bytearray(os.urandom(size))
    buf = bytearray(size)
    start = time.perf_counter()
    for _ in range(n):
        buf[:] = src
    print(f"memcpy into mapped memory          {(time.perf_counter() - start) / n * 1e6:8.1f} us")
    print(f"write into fresh shared pages      {_writes(n, size, 'fresh'):8.1f} us")
    print(f"write into pages allocated by another mapping {_writes(n, size, 'other'):8.1f} us")
    try:
        print(f"write into populated pages         {_writes(n, size, 'populated'):8.1f} us")
    except OSError as e:
        print(f"write into populated pages: MADV_POPULATE_WRITE unavailable ({e})")
    start = time.perf_counter()
    held = [bytes(src) for _ in range(n)]
    print(f"copy into a new bytes, kept        {(time.perf_counter() - start) / n * 1e6:8.1f} us")
    del held
    start = time.perf_counter()
    for _ in range(n):
        bytes(src)
    print(f"copy into a new bytes, freed       {(time.perf_counter() - start) / n * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
