"""Large puts into a fresh node (issue 20, Deliver 3): polyray beside Ray and beside memcpy.

    .venv/bin/python benchmarks/large_puts.py [--rounds 3] [--mb 100] [--no-ray] [--java] [--cpp]

Each measurement runs in a fresh process that starts a fresh node (polyray:
``polyray.init``; Ray: ``ray.init``), so every put lands in store memory no
put has used before. Sides alternate within a round (the order rotates), so
drifting load from other users of the machine hits every side alike; the
table gives the median of the rounds and the load average. Sides:

* ``memcpy``: ``np.copyto`` of the array into a buffer written before (the
  copy's speed limit) and into a fresh anonymous buffer (a copy that faults);
* ``polyray``: the node started, then the driver waits until the store's
  prefault is done (at most ``--wait`` s), then puts: first and second put,
  and ``get`` of the first (a zero-copy view; median of 20, first excluded);
* ``polyray-early``: the put right after ``init`` returns (prefault still
  running): the worst case;
* ``polyray-noprefault``: ``POLYRAY_STORE_PREFAULT=0``;
* ``ray``: Ray (``build/ray-venv``, as ``compare_ray.py`` installs it) after
  the same wait: first and second put, and get;
* ``java`` / ``cpp``: a Java / C++ driver joins a node started by this
  script (after its prefault) and times its first two puts of a byte array.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RAY_PY = os.path.join(ROOT, "build", "ray-venv", "bin", "python")
GB = 1e9


def _array(nbytes: int):  # noqa: ANN202 - numpy is imported lazily (the Ray side has its own)
    import numpy as np
    arr = np.empty(nbytes // 8, dtype=np.float64)
    arr.fill(1.0)  # written: the source is never what faults
    return arr


def _timed(fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def side_memcpy(nbytes: int) -> dict:
    import numpy as np
    arr = _array(nbytes)
    hot = np.empty_like(arr)
    hot.fill(2.0)
    hot_s = min(_timed(lambda: np.copyto(hot, arr)) for _ in range(3))
    fresh_s = _timed(lambda: np.copyto(np.empty_like(arr), arr))
    return {"memcpy_hot": nbytes / hot_s / GB, "memcpy_fresh": nbytes / fresh_s / GB}


def _get_us(get, ref) -> tuple[float, float]:  # noqa: ANN001
    times = []
    for _ in range(21):
        t = time.perf_counter()
        v = get(ref)
        times.append(time.perf_counter() - t)
        del v
    return times[0] * 1e6, statistics.median(times[1:]) * 1e6


def _wait_prefault(core, timeout: float) -> float:  # noqa: ANN001
    """Wait until the node's and this driver's prefault are done; seconds waited."""
    from polyray.store.prefault import prefault_bytes_from_env
    t0 = time.monotonic()
    path = "/dev/shm/" + core.store_name.lstrip("/")
    capacity = core.node_store.store.stats().capacity
    want = min(prefault_bytes_from_env(), capacity)
    while time.monotonic() - t0 < timeout:
        p = getattr(core.node_store, "_prefaulter", None)
        mine = p is None or p.done.is_set()
        if mine and os.stat(path).st_blocks * 512 >= want:
            break
        time.sleep(0.01)
    return time.monotonic() - t0


def _memcpy_here(arr) -> float:  # noqa: ANN001
    """GB/s of np.copyto of ``arr`` into a buffer written before, in this process (best of 3)."""
    import numpy as np
    hot = np.empty_like(arr)
    hot.fill(2.0)
    return arr.nbytes / min(_timed(lambda: np.copyto(hot, arr)) for _ in range(3)) / GB


def side_polyray(nbytes: int, wait: float, early: bool) -> dict:
    import polyray
    from polyray import api
    arr = _array(nbytes)
    memcpy = _memcpy_here(arr)
    t0 = time.perf_counter()
    polyray.init(num_cpus=1, log_to_driver=False)
    init_s = time.perf_counter() - t0
    try:
        core = api._core()
        waited = 0.0 if early else _wait_prefault(core, wait)
        refs = []
        puts = [_timed(lambda: refs.append(polyray.put(arr))) for _ in range(2)]
        first_us, get_us = _get_us(polyray.get, refs[0])
        ok = bool(polyray.get(refs[1])[-1] == 1.0)
        return {"put1": nbytes / puts[0] / GB, "put2": nbytes / puts[1] / GB, "get_us": get_us,
                "get_first_us": first_us, "init_s": init_s, "waited_s": waited, "ok": ok,
                "memcpy_here": memcpy, "put1_per_memcpy": nbytes / puts[0] / GB / memcpy}
    finally:
        polyray.shutdown()


def side_ray(nbytes: int, wait: float) -> dict:
    import ray
    arr = _array(nbytes)
    memcpy = _memcpy_here(arr)
    t0 = time.perf_counter()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - t0
    try:
        time.sleep(wait)  # the same pause polyray gets for its prefault
        refs = []
        puts = [_timed(lambda: refs.append(ray.put(arr))) for _ in range(2)]
        first_us, get_us = _get_us(ray.get, refs[0])
        return {"put1": nbytes / puts[0] / GB, "put2": nbytes / puts[1] / GB, "get_us": get_us,
                "get_first_us": first_us, "init_s": init_s, "ray_version": ray.__version__,
                "memcpy_here": memcpy, "put1_per_memcpy": nbytes / puts[0] / GB / memcpy}
    finally:
        ray.shutdown()


def side_driver(lang: str, nbytes: int, wait: float) -> dict:
    """A Java or C++ driver's two puts, into a node this process starts (and lets prefault)."""
    import polyray
    from polyray import api, sdk
    from polyray.bench_build import _cpp_build
    here = os.path.join(ROOT, "benchmarks", "large_put")
    out = os.path.join(ROOT, "build", "bench", "large_put")
    if lang == "cpp":
        prog = _cpp_build([os.path.join(here, "large_put.cc")], os.path.join(out, "large_put"), shared=False)
        cmd_of = lambda addr: [prog, addr, str(nbytes)]  # noqa: E731
    else:
        os.makedirs(out, exist_ok=True)
        subprocess.run(["javac", "--release", "11", "-cp", os.pathsep.join(sdk.java_classpath()), "-d", out,
                        os.path.join(here, "LargePut.java")], check=True, capture_output=True, timeout=300)
        cp = os.pathsep.join([out, *sdk.java_classpath()])
        cmd_of = lambda addr: ["java", "-cp", cp, "LargePut", addr, str(nbytes)]  # noqa: E731
    info = polyray.init(num_cpus=1, log_to_driver=False)
    try:
        _wait_prefault(api._core(), wait)
        proc = subprocess.run(cmd_of(str(info["address"])), capture_output=True, text=True, timeout=300)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("puts ")), None)
        if proc.returncode != 0 or line is None:
            return {"error": f"{lang} driver exited {proc.returncode}: {proc.stderr.strip()[-400:]}"}
        secs = [float(x) for x in line.split()[1:]]
        return {"put1": nbytes / secs[0] / GB, "put2": nbytes / secs[1] / GB}
    finally:
        polyray.shutdown()


def run_side(side: str, args: argparse.Namespace) -> dict:
    py = RAY_PY if side == "ray" else sys.executable
    env = dict(os.environ)
    if side == "polyray-noprefault":
        env["POLYRAY_STORE_PREFAULT"] = "0"
    cmd = [py, os.path.abspath(__file__), "--side", side, "--mb", str(args.mb), "--wait", str(args.wait)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    return json.loads(line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mb", type=float, default=100.0, help="size of the array in MB (10^6 bytes)")
    ap.add_argument("--wait", type=float, default=10.0, help="longest wait for the prefault (s)")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--java", action="store_true")
    ap.add_argument("--cpp", action="store_true")
    ap.add_argument("--side", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    nbytes = int(args.mb * 1e6) // 8 * 8
    if args.side:
        if args.side == "memcpy":
            out = side_memcpy(nbytes)
        elif args.side == "ray":
            out = side_ray(nbytes, min(args.wait, 2.0))
        elif args.side in ("java", "cpp"):
            out = side_driver(args.side, nbytes, args.wait)
        else:
            out = side_polyray(nbytes, args.wait, early=args.side == "polyray-early")
        print(json.dumps(out), flush=True)
        return 0
    sides = ["memcpy", "polyray", "polyray-early", "polyray-noprefault"]
    if not args.no_ray and os.path.exists(RAY_PY):
        sides.append("ray")
    sides += [s for s, on in (("java", args.java), ("cpp", args.cpp)) if on]
    results: dict[str, list[dict]] = {s: [] for s in sides}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        order = sides[r % len(sides):] + sides[: r % len(sides)]
        for side in order:
            res = run_side(side, args)
            results[side].append(res)
            print(f"round {r + 1} {side}: {res}", flush=True)
        loads.append(os.getloadavg()[0])

    def med(side: str, key: str) -> float | None:
        vals = [x[key] for x in results.get(side, []) if key in x]
        return statistics.median(vals) if vals else None

    print(f"\n{args.mb:g} MB, {args.rounds} rounds, medians; load average (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs")
    memcpy = med("memcpy", "memcpy_hot")
    ray1 = med("ray", "put1")
    print(f"memcpy into a written buffer {memcpy or 0:.2f} GB/s; into a fresh buffer "
          f"{med('memcpy', 'memcpy_fresh') or 0:.2f} GB/s")
    print("/memcpy: put 1 over a memcpy of the same array timed in the same process just before "
          "(median of the rounds' ratios); else over the memcpy side's median")
    print(f"{'side':<20} {'put 1 GB/s':>10} {'put 2 GB/s':>10} {'get µs':>8} {'/memcpy':>8} {'/Ray':>6}")
    for side in sides[1:]:
        p1, p2, g = med(side, "put1"), med(side, "put2"), med(side, "get_us")
        if p1 is None:
            print(f"{side:<20} failed: {results[side][-1].get('error', '?')}")
            continue
        ratio = med(side, "put1_per_memcpy") or (p1 / memcpy if memcpy else float("nan"))
        print(f"{side:<20} {p1:>10.2f} {p2:>10.2f} {g if g is not None else float('nan'):>8.1f} "
              f"{ratio:>8.2f} {p1 / ray1 if ray1 else float('nan'):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
