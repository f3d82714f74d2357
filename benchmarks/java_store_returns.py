"""A Java task returning values above the inline limit (issue 14; docs/ownership.md,
"Pins"): each return is written into the node's store and pinned by the raylet
before the result is sent. Prints tasks/s, one task at a time ("sync") and
batches in flight ("async"), for 100 KiB returns.

    .venv/bin/python benchmarks/java_store_returns.py [--size 102400] [--tasks 300] [--runs 3]

``POLYRAY_JAVA_CLASSPATH`` (read by the head's raylet) runs the Java workers
from another build of the SDK, e.g. a copy of the jars before a change.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import polyray  # noqa: E402
import polyray.sdk  # noqa: E402

SOURCE = """
package storebench;

public final class Returns {
  private Returns() {}

  public static byte[] bytes(long n) {
    return new byte[(int) n];
  }
}
"""


def compile_class(folder: str) -> None:
    src = os.path.join(folder, "storebench", "Returns.java")
    os.makedirs(os.path.dirname(src))
    with open(src, "w") as f:
        f.write(SOURCE)
    subprocess.run([shutil.which("javac") or "javac", "-d", folder, src], check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=100 * 1024)
    ap.add_argument("--tasks", type=int, default=300)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="java_store_returns")
    compile_class(folder)
    polyray.init(num_cpus=2, code_search_path=[folder])
    try:
        f = polyray.java_function("storebench.Returns", "bytes")
        assert len(polyray.get(f.remote(args.size), timeout=120)) == args.size  # the worker is up
        polyray.get([f.remote(args.size) for _ in range(args.batch)], timeout=120)
        for mode in ("sync", "async"):
            rates = []
            for _ in range(args.runs):
                start = time.perf_counter()
                if mode == "sync":
                    for _ in range(args.tasks):
                        polyray.get(f.remote(args.size), timeout=60)
                else:
                    for _ in range(0, args.tasks, args.batch):
                        polyray.get([f.remote(args.size) for _ in range(args.batch)], timeout=60)
                rates.append(args.tasks / (time.perf_counter() - start))
            print(f"Java task returning {args.size // 1024} KiB, {mode}: "
                  + " ".join(f"{r:.0f}" for r in rates) + " tasks/s", flush=True)
    finally:
        polyray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
