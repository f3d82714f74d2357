"""Put a large numpy array once; chunk tasks read it from shared memory without copies.

The array goes into the node's shared-memory store once; every task gets
a read-only view of the same memory, so passing the ref costs nothing
whatever the array's size.
"""

import time

import numpy as np

import polyray


@polyray.remote
def chunk_sum(array: np.ndarray, start: int, stop: int) -> float:
    # `array` is a view of shared memory: no copy was made for this task.
    assert not array.flags.writeable
    return float(array[start:stop].sum())


def main() -> None:
    polyray.init()
    n = 50_000_000  # 400 MB of float64
    data = np.ones(n, dtype=np.float64)
    start = time.time()
    ref = polyray.put(data)
    put_s = time.time() - start
    chunks = 8
    bounds = np.linspace(0, n, chunks + 1, dtype=np.int64)
    start = time.time()
    total = sum(polyray.get([chunk_sum.remote(ref, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]))
    view = polyray.get(ref)
    print(f"put {data.nbytes / 1e6:.0f} MB in {put_s:.2f} s; {chunks} chunk tasks summed {total:,.0f} "
          f"in {time.time() - start:.2f} s; driver view is read-only: {not view.flags.writeable}")
    assert total == n
    polyray.shutdown()


if __name__ == "__main__":
    main()
