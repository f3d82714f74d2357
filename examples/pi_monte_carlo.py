"""Estimate π with Monte Carlo sampling spread over tasks.

Each task throws darts at the unit square and counts those inside the
quarter circle; the driver adds the counts up.
"""

import random
import time

import polyray


@polyray.remote
def count_inside(samples: int, seed: int) -> int:
    rng = random.Random(seed)
    inside = 0
    for _ in range(samples):
        x, y = rng.random(), rng.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def main() -> None:
    polyray.init()
    tasks, samples = 16, 200_000
    start = time.time()
    refs = [count_inside.remote(samples, seed) for seed in range(tasks)]
    inside = sum(polyray.get(refs))
    pi = 4.0 * inside / (tasks * samples)
    print(f"π ≈ {pi:.5f} from {tasks * samples:,} samples in {tasks} tasks ({time.time() - start:.2f} s)")
    assert abs(pi - 3.14159) < 0.01
    polyray.shutdown()


if __name__ == "__main__":
    main()
