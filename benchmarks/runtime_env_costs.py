"""What a runtime env costs: upload, the first task in an env, and reuse (issue 18).

    .venv/bin/python benchmarks/runtime_env_costs.py [--files 200] [--file-kib 10]

One embedded cluster (2 CPUs). A working_dir of ``--files`` Python files of
``--file-kib`` KiB each is uploaded twice (the second time the package is
known: only zipped and hashed), then tasks run: plain, in the working_dir env
(fetch, check, unpack, worker start), again (a warm worker), with other
env_vars over the same package (a new worker, the unpacked folder reused), and
with a pip requirement (a new venv; ``tomli==2.0.1`` from pip's cache) and
the same list in another env (the venv reused). docs/jobs.md, "Runtime
environments", has the figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import polyray
from polyray.runtime_env import upload_packages


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--file-kib", type=int, default=10)
    args = ap.parse_args()
    wd = tempfile.mkdtemp(prefix="rtenv-bench-")
    for i in range(args.files):
        with open(os.path.join(wd, f"m{i}.py"), "w") as f:
            f.write(f"X = {i}\n" + "#" * (args.file_kib * 1024))
    info = polyray.init(num_cpus=2)

    @polyray.remote
    def ping() -> int:
        return os.getpid()

    env: dict[str, Any] = {}

    def upload() -> None:
        env.update(upload_packages({"working_dir": wd}, info["address"]))

    rows = [
        ("plain first task (a worker starts)", lambda: polyray.get(ping.remote(), timeout=120)),
        (f"upload {args.files} files, {args.files * args.file_kib} KiB", upload),
        ("upload the same folder again", upload),
        ("first task in the working_dir env", lambda: polyray.get(ping.options(runtime_env=env).remote(), timeout=120)),
        ("next task, same env (warm worker)", lambda: polyray.get(ping.options(runtime_env=env).remote(), timeout=120)),
        ("same package, other env_vars (new worker)",
         lambda: polyray.get(ping.options(runtime_env=dict(env, env_vars={"A": "2"})).remote(), timeout=120)),
        ("first task with pip [tomli] (new venv)",
         lambda: polyray.get(ping.options(runtime_env={"pip": ["tomli==2.0.1"]}).remote(), timeout=300)),
        ("same pip list, other env_vars (venv reused)",
         lambda: polyray.get(ping.options(runtime_env={"pip": ["tomli==2.0.1"], "env_vars": {"B": "1"}}).remote(),
                             timeout=300)),
    ]
    try:
        for name, fn in rows:
            print(f"{name:<46} {_timed(fn):8.0f} ms")
    finally:
        polyray.shutdown()


if __name__ == "__main__":
    main()
