"""Python callee of tests/scale/test_early_reads_cpp_driver.py."""

import os

import polyray


def put_big(n, pid_path):
    """Puts n strings too large to travel inline (owned by this worker), writes this
    worker's pid to ``pid_path`` and returns the refs."""
    with open(pid_path, "w") as f:
        f.write(str(os.getpid()))
    return [polyray.put(f"x{i}:" + "y" * 110_000) for i in range(n)]
