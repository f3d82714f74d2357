"""Scale curves of polyray beside Ray (issue 14, Deliver 7): one run, alternating, ratios.

    .venv/bin/python benchmarks/scale_compare.py [--quick] [--polyray-only] [--curves a,b]
        [--out DIR] [--doc docs/scale.md] [--ray-version V] [--timeout-scale F]

Each point of each curve (tasks 1k-300k, actors 10-200, held puts 10k-1M,
trees of nested refs of depth 8-12 kept and dropped, nested blocking-get trees
of depth 4-6, wait on 1k-100k refs, get of 100-5,000 objects of 100 KiB,
1,000 puts of 100 KiB beside their bound (1,000 memcpys of 100 KiB + 1,000 puts
of 1 KB), cold start) runs in a fresh driver process with its own
local cluster (``init(num_cpus=2)``), once on polyray and once on Ray, the
order alternating from point to point so drifting load hits both. Every point
has a timeout; a point that fails or times out is reported as such, and the
process group it started is killed.

Both sides run the same workload code, the functions of this file (and
``tree``/``walk``/``walk_dropping`` of benchmarks/scale_get_fanout.py): on the
Ray side the stand-in package ``polyray`` of benchmarks/compare_ray.py (in
``build/ray-bench``) maps ``remote``, ``get``, ``put``, ``wait``, ``init`` onto
``ray``. Ray is installed into ``build/ray-venv`` as compare_ray.py does
(never a dependency of polyray).

Output: a markdown table, ``scale.csv``, ``scale.json`` and ``scale.svg`` (the
speed-up per point, drawn by hand: no matplotlib needed in either venv) in
``--out`` (default ``docs/figures`` for a full run beside Ray, else
``build/scale_compare``); ``--doc FILE`` replaces the table between the
``<!-- scale-table -->`` markers of FILE. Speed-up = Ray time / polyray time
(> 1: polyray faster).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    # The editable install (polyray side) or the Ray stand-in (Ray side).
    import polyray
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import polyray

DEFAULT_RAY_VERSION = "2.60.0"
KIB = 1024

# -- workloads (module level: both systems' workers find them by name) --------


@polyray.remote
def small_value() -> bytes:
    return b"ok"


@polyray.remote
def put_many(n: int, size: int) -> list:
    return [polyray.put(bytes([i % 251]) * size) for i in range(n)]


@polyray.remote
def blocking_tree(depth: int, timeout: float) -> list:
    """A task that submits two children and blocks in get() on them; returns the pids that ran the tree."""
    if depth == 0:
        return [os.getpid()]
    a, b = polyray.get([blocking_tree.remote(depth - 1, timeout), blocking_tree.remote(depth - 1, timeout)],
                       timeout=timeout)
    return sorted(set(a) | set(b) | {os.getpid()})


@polyray.remote(num_cpus=0)
class Actor:
    def small_value(self) -> bytes:
        return b"ok"


# -- measurements ---------------------------------------------------------------

def rss_bytes() -> int:
    """This process's anonymous resident memory (RssAnon): its heap, not the
    shared store pages it has mapped (a store prefault populates those in the
    driver's mapping while it runs, which would count as memory per ref)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    with open("/proc/self/statm") as f:  # no RssAnon (not Linux 4.5+): resident minus shared
        resident, shared = (int(x) for x in f.read().split()[1:3])
        return (resident - shared) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def descendants(pid: int) -> list[int]:
    """Every live process below pid (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, pending = [], [pid]
    while pending:
        for c in children.get(pending.pop(), []):
            out.append(c)
            pending.append(c)
    return out


def tree_pss_bytes() -> int:
    """Proportional set size of this process and all it started (shared pages split, not counted twice)."""
    total = 0
    for pid in [os.getpid(), *descendants(os.getpid())]:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def _one_line(text: str, limit: int = 400) -> str:
    """An error for a table cell: its lines joined, cut to limit characters."""
    return " | ".join(ln.strip() for ln in text.strip().splitlines() if ln.strip())[:limit]


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


# Each point function runs after init() (except cold start) and returns
# {"time_s": seconds of the timed part, plus its curve's extra figures}.

def p_tasks(n: int, t: float) -> dict:
    start = time.perf_counter()
    out = polyray.get([small_value.remote() for _ in range(n)], timeout=t)
    elapsed = time.perf_counter() - start
    _check(len(out) == n and out[-1] == b"ok", "wrong task results")
    return {"time_s": elapsed}


def p_actors(n: int, t: float) -> dict:
    polyray.get([small_value.remote() for _ in range(4)], timeout=t)  # workers up before the baseline
    time.sleep(1.0)
    before = tree_pss_bytes()
    start = time.perf_counter()
    actors = [Actor.remote() for _ in range(n)]
    out = polyray.get([a.small_value.remote() for a in actors], timeout=t)
    elapsed = time.perf_counter() - start
    _check(out == [b"ok"] * n, "wrong actor results")
    per_actor = (tree_pss_bytes() - before) / n
    return {"time_s": elapsed, "mib_per_actor": per_actor / (1 << 20)}


def p_puts(n: int, t: float) -> dict:
    warm = [polyray.put(i) for i in range(1000)]  # first-use allocations out of the measurement
    del warm
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    refs = [polyray.put(i) for i in range(n)]
    elapsed = time.perf_counter() - start
    per_ref = (rss_bytes() - before) / n
    _check(polyray.get(refs[-1], timeout=t) == n - 1, "wrong value")
    return {"time_s": elapsed, "bytes_per_ref": per_ref}


def _tree(depth: int, t: float, dropping: bool) -> dict:
    import scale_get_fanout as fanout
    start = time.perf_counter()
    root = fanout.tree.remote(depth)
    leaves = fanout.walk_dropping(root, depth) if dropping else fanout.walk(root, depth)
    elapsed = time.perf_counter() - start
    _check(leaves == 2 ** depth, f"{leaves} leaves, expected {2 ** depth}")
    return {"time_s": elapsed}


def p_tree_kept(depth: int, t: float) -> dict:
    return _tree(depth, t, dropping=False)


def p_tree_dropped(depth: int, t: float) -> dict:
    return _tree(depth, t, dropping=True)


class ProcessWatch:
    """Counts the processes this driver's cluster starts while it runs (polls /proc every 50 ms)."""

    def __init__(self) -> None:
        self.baseline = set(descendants(os.getpid()))
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.seen.update(descendants(os.getpid()))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.seen.update(descendants(os.getpid()))
        return len(self.seen - self.baseline)


def p_blocking_tree(depth: int, t: float) -> dict:
    """workers_started: processes started while the tree ran (after a warm-up that brings up 2 workers);
    worker_pids: the distinct processes that ran a task of the tree."""
    polyray.get([small_value.remote() for _ in range(2)], timeout=t)
    time.sleep(0.5)
    watch = ProcessWatch()
    start = time.perf_counter()
    pids = polyray.get(blocking_tree.remote(depth, t), timeout=t)
    elapsed = time.perf_counter() - start
    return {"time_s": elapsed, "workers_started": watch.stop(), "worker_pids": len(pids)}


def p_wait(n: int, t: float) -> dict:
    """n task refs, waited on in tenths (each wait scans what is not ready yet) until all are ready."""
    start = time.perf_counter()
    not_ready = [small_value.remote() for _ in range(n)]
    step = max(1, n // 10)
    while not_ready:
        ready, not_ready = polyray.wait(not_ready, num_returns=min(step, len(not_ready)), timeout=t)
        _check(bool(ready), f"wait() found no ready ref in {t} s")
    return {"time_s": time.perf_counter() - start}


def p_get_100k(n: int, t: float) -> dict:
    """get of n objects of 100 KiB put (and owned) by one worker."""
    refs = polyray.get(put_many.remote(n, 100 * KIB), timeout=t)
    start = time.perf_counter()
    values = polyray.get(refs, timeout=t)
    elapsed = time.perf_counter() - start
    _check(len(values) == n and len(values[-1]) == 100 * KIB, "wrong values")
    return {"time_s": elapsed}


def p_put_100k(n: int, t: float) -> dict:
    value = b"x" * (100 * KIB)
    polyray.put(b"warm")
    start = time.perf_counter()
    refs = [polyray.put(value) for _ in range(n)]
    elapsed = time.perf_counter() - start
    _check(len(polyray.get(refs[-1], timeout=t)) == 100 * KIB, "wrong value")
    return {"time_s": elapsed, "us_per_put": elapsed / n * 1e6}


def p_put_bound(n: int, t: float) -> dict:
    """The bound of issue 14's put target, in this process: n copies of 100 KiB into a buffer
    (memcpy) plus n puts of 1 KB (time_s); then n puts of 100 KiB, and their time over the bound
    (target: at most 2)."""
    value, small = b"x" * (100 * KIB), b"y" * KIB
    buf = bytearray(len(value))
    polyray.put(small)
    polyray.put(value)
    start = time.perf_counter()
    for _ in range(n):
        buf[:] = value  # one memcpy of 100 KiB
    memcpy_s = time.perf_counter() - start
    start = time.perf_counter()
    small_refs = [polyray.put(small) for _ in range(n)]
    small_s = time.perf_counter() - start
    start = time.perf_counter()
    refs = [polyray.put(value) for _ in range(n)]
    put_s = time.perf_counter() - start
    _check(len(polyray.get(refs[-1], timeout=t)) == 100 * KIB and len(small_refs) == n, "wrong value")
    bound = memcpy_s + small_s
    return {"time_s": bound, "put_over_bound": put_s / bound, "us_memcpy": memcpy_s / n * 1e6,
            "us_put_1k": small_s / n * 1e6, "us_put_100k": put_s / n * 1e6}


def p_cold_start(n: int, t: float) -> dict:
    """init() to the first task's result (n is unused: one point)."""
    start = time.perf_counter()
    polyray.init(num_cpus=2, log_to_driver=False)
    init_s = time.perf_counter() - start
    _check(polyray.get(small_value.remote(), timeout=t) == b"ok", "wrong result")
    return {"time_s": time.perf_counter() - start, "init_s": init_s}


# -- curves ---------------------------------------------------------------------

@dataclass
class Curve:
    name: str
    fn: Callable[[int, float], dict]
    points: list[int]
    quick: int
    label: str                       # what a point's number counts
    timeout: Callable[[int], float]  # seconds for one point on one side (init and shutdown included)
    extra: str = ""                  # the extra figure the table shows
    inits: bool = True               # False: the point calls init() itself
    what: str = ""


CURVES = [
    Curve("tasks", p_tasks, [1_000, 10_000, 100_000, 300_000], 1_000, "tasks",
          lambda n: 120 + n / 400, what="submit n no-op tasks, get all"),
    Curve("actors", p_actors, [10, 50, 200], 10, "actors",
          lambda n: 120 + 3 * n, "mib_per_actor", what="create n actors + one call each; PSS growth per actor"),
    Curve("puts held", p_puts, [10_000, 100_000, 1_000_000], 10_000, "refs",
          lambda n: min(60 + n / 1_500, 240), "bytes_per_ref",
          what="n puts of an int, all refs held; driver RSS per ref"),
    Curve("tree kept", p_tree_kept, [8, 10, 12], 8, "depth",
          lambda d: 90 + 2 ** d / 50, what="nested tasks returning refs to 2 children; driver walks all levels"),
    Curve("tree dropped", p_tree_dropped, [8, 10, 12], 8, "depth",
          lambda d: 90 + 2 ** d / 50, what="the same walk, each level's refs dropped once read"),
    Curve("blocking tree", p_blocking_tree, [4, 5, 6], 4, "depth",
          lambda d: 120 + 2 ** d * 2, "workers_started",
          what="tasks blocking in get() on 2 children; processes started while it ran"),
    Curve("wait", p_wait, [1_000, 10_000, 100_000], 1_000, "refs",
          lambda n: 90 + n / 200, what="n task refs waited on in tenths until all ready"),
    Curve("get 100 KiB", p_get_100k, [100, 1_000, 5_000], 100, "objects",
          lambda n: 90 + n / 20, what="get of n 100 KiB objects owned by one worker"),
    Curve("put 100 KiB", p_put_100k, [1_000], 100, "puts",
          lambda n: 90 + n / 20, "us_per_put", what="n driver puts of 100 KiB, refs held"),
    Curve("memcpy 100 KiB + put 1 KB", p_put_bound, [1_000], 100, "times",
          lambda n: 90 + n / 20, "put_over_bound",
          what="n memcpys of 100 KiB + n puts of 1 KB (the bound); extra: n 100 KiB puts over it (target <= 2)"),
    Curve("cold start", p_cold_start, [1], 1, "",
          lambda n: 90, "init_s", inits=False, what="init() to the first task's result"),
]
CURVE_BY_NAME = {c.name: c for c in CURVES}


# -- one point, in its own process ------------------------------------------------

def run_point(curve_name: str, n_arg: str, timeout_arg: str, out: str) -> int:
    """The body of one point's driver process (argv strings in; the result JSON written to out)."""
    curve = CURVE_BY_NAME[curve_name]
    n, timeout = int(n_arg), float(timeout_arg)
    result: dict[str, Any] = {"curve": curve_name, "n": n}
    try:
        if curve.inits:
            polyray.init(num_cpus=2, log_to_driver=False)
        result.update(curve.fn(n, timeout))
        result["status"] = "ok"
    except Exception as e:  # noqa: BLE001 — reported in the table, not raised
        result["status"] = "failed"
        result["error"] = _one_line(f"{type(e).__name__}: {e}")
    result["driver_peak_rss_bytes"] = peak_rss_bytes()
    with open(out, "w") as f:
        json.dump(result, f)
    try:
        polyray.shutdown()
    except Exception:  # noqa: BLE001
        pass
    return 0


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the point process and everything it started (its clusters too)."""
    for pid in [*descendants(proc.pid)[::-1], proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def point_label(curve: Curve, n: int) -> str:
    if not curve.label:
        return ""
    return f"depth {n}" if curve.label == "depth" else f"{n:,} {curve.label}"


def measure(side: str, python: str, env: dict, curve: Curve, n: int, timeout_scale: float = 1.0,
            grace: float = 30.0) -> dict:
    """One point on one side in a fresh driver process; its result dict (never raises, never hangs).

    The point's own gets and waits use its timeout; the process gets ``grace``
    seconds more (init and shutdown) before it and all it started are killed.
    """
    timeout = curve.timeout(n) * timeout_scale
    fd, out = tempfile.mkstemp(suffix=".json", prefix="scale-point-")
    os.close(fd)
    cmd = [python, "-c", "import sys, scale_compare as m; sys.exit(m.run_point(*sys.argv[1:]))",
           curve.name, str(n), str(timeout), out]
    # Quiet both systems' drivers; the point's own log goes to a file for failures.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=tempfile.gettempdir())
        start = time.perf_counter()
        try:
            proc.wait(timeout=timeout + grace)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        wall = time.perf_counter() - start
        # The process is done (or is killed now): nothing it started may outlive it.
        _kill_tree(proc)
        try:
            with open(out) as f:
                result = json.load(f) if os.path.getsize(out) else {}
        except (OSError, ValueError):
            result = {}
        finally:
            os.unlink(out)
        if timed_out and result.get("status") != "ok":
            result = {"status": "timeout", "error": f"no result in {timeout + grace:.1f} s"}
        elif not result:
            log.seek(0)
            tail = _one_line("\n".join(log.read().strip().splitlines()[-3:]))
            result = {"status": "failed", "error": f"exited {proc.returncode}: {tail}"}
    result["wall_s"] = wall
    result["timeout_s"] = timeout
    return result


# -- report ----------------------------------------------------------------------

def _t(r: dict | None) -> str:
    if r is None:
        return "—"
    if r.get("status") != "ok":
        return r.get("status", "?").upper()
    x = r["time_s"]
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def _extra(curve: Curve, r: dict | None) -> str:
    if r is None or r.get("status") != "ok" or not curve.extra:
        return ""
    v = r.get(curve.extra)
    if v is None:
        return ""
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if isinstance(v, float) else str(v)


def _mib(r: dict | None) -> str:
    if r is None or not r.get("driver_peak_rss_bytes"):
        return ""
    return f"{r['driver_peak_rss_bytes'] / (1 << 20):,.0f}"


def speedup(row: dict) -> float | None:
    p, r = row.get("polyray"), row.get("ray")
    if p and r and p.get("status") == "ok" and r.get("status") == "ok" and p["time_s"] > 0:
        return float(r["time_s"] / p["time_s"])
    return None


def markdown(rows: list[dict], header: str) -> str:
    lines = [header, "",
             "| curve | point | polyray | Ray | speed-up (Ray / polyray) | extra | polyray extra | Ray extra "
             "| driver peak MiB polyray / Ray |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for row in rows:
        curve = CURVE_BY_NAME[row["curve"]]
        s = speedup(row)
        sp = f"**{s:.2f}×**" if s is not None else "—"
        point = point_label(curve, row["n"]) or "—"
        lines.append(f"| {curve.name} | {point} | {_t(row.get('polyray'))} | {_t(row.get('ray'))} | {sp} | "
                     f"{curve.extra.replace('_', ' ')} | {_extra(curve, row.get('polyray'))} | "
                     f"{_extra(curve, row.get('ray'))} | {_mib(row.get('polyray'))} / {_mib(row.get('ray'))} |")
    errors = [(row, side) for row in rows for side in ("polyray", "ray")
              if row.get(side) and row[side].get("status") != "ok"]
    if errors:
        lines += ["", "Failures and timeouts:", ""]
        for row, side in errors:
            lines.append(f"- {row['curve']} {point_label(CURVE_BY_NAME[row['curve']], row['n'])} on {side}: "
                         f"{row[side].get('error', '')}")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict], path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["curve", "n", "label", "speedup_ray_over_polyray", "polyray_status", "polyray_s", "ray_status",
                    "ray_s", "extra", "polyray_extra", "ray_extra", "polyray_driver_peak_rss_bytes",
                    "ray_driver_peak_rss_bytes", "polyray_error", "ray_error"])
        for row in rows:
            curve = CURVE_BY_NAME[row["curve"]]
            p, r = row.get("polyray") or {}, row.get("ray") or {}
            s = speedup(row)
            w.writerow([curve.name, row["n"], curve.label, f"{s:.4f}" if s else "", p.get("status", ""),
                        p.get("time_s", ""), r.get("status", ""), r.get("time_s", ""), curve.extra,
                        p.get(curve.extra, "") if curve.extra else "", r.get(curve.extra, "") if curve.extra else "",
                        p.get("driver_peak_rss_bytes", ""), r.get("driver_peak_rss_bytes", ""),
                        p.get("error", ""), r.get("error", "")])


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_chart(rows: list[dict], title: str) -> str:
    """Horizontal bars of the speed-up per point on a log axis (green: polyray faster, red: slower).

    A point without a ratio (a failure, a timeout, or no Ray run) gets a text note instead of a bar.
    """
    bar_h, gap, left, width, top = 16, 6, 230, 460, 48
    lo, hi = 0.1, 100.0
    ratios = [s for s in (speedup(r) for r in rows) if s]
    if ratios:
        lo = min(lo, 10 ** math.floor(math.log10(min(ratios))))
        hi = max(hi, 10 ** math.ceil(math.log10(max(ratios))))

    def x(v: float) -> float:
        return left + width * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    height = top + len(rows) * (bar_h + gap) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 170}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{_esc(title)}</text>',
           '<text x="10" y="36" fill="#555">speed-up = Ray time / polyray time, log scale; '
           '&gt; 1: polyray faster</text>']
    decade = lo
    while decade <= hi * 1.0001:
        out.append(f'<line x1="{x(decade):.1f}" y1="{top - 4}" x2="{x(decade):.1f}" y2="{height - 30}" '
                   f'stroke="{"black" if abs(decade - 1) < 1e-9 else "#ddd"}"/>')
        out.append(f'<text x="{x(decade):.1f}" y="{height - 16}" text-anchor="middle">{decade:g}×</text>')
        decade *= 10
    for i, row in enumerate(rows):
        curve = CURVE_BY_NAME[row["curve"]]
        y = top + i * (bar_h + gap)
        label = f"{curve.name} {point_label(curve, row['n'])}".strip()
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 4}" text-anchor="end">{_esc(label)}</text>')
        s = speedup(row)
        if s is not None:
            x0, x1 = sorted((x(1.0), x(s)))
            color = "#2b8a3e" if s >= 1 else "#c92a2a"
            out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar_h}" fill="{color}"/>')
            out.append(f'<text x="{max(x(s), x(1.0)) + 4:.1f}" y="{y + bar_h - 4}">{s:.2f}×</text>')
        else:
            notes = [f"{side} {(row.get(side) or {}).get('status', 'not run')}" for side in ("polyray", "ray")
                     if (row.get(side) or {}).get("status") != "ok"]
            out.append(f'<text x="{x(1.0) + 4:.1f}" y="{y + bar_h - 4}" fill="#888">{_esc(", ".join(notes))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def update_doc(path: str, table: str) -> None:
    start, end = "<!-- scale-table -->", "<!-- /scale-table -->"
    with open(path) as f:
        text = f.read()
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{start}\n{table}{end}{tail}")


def write_outputs(data: dict, out_dir: str, doc: str | None) -> str:
    """scale.{md,csv,json,svg} in out_dir (and the table into doc's markers) from a run's data; the table."""
    machine, rows = data["machine"], data["rows"]
    ray_name = f"Ray {data['ray_version']}" if data.get("ray_version") else "no Ray"
    kind = data.get("kind", "quick run" if data.get("quick") else "full run")
    header = (f"polyray beside {ray_name}, {kind}, {data.get('date', '')}, {machine['cpus']} CPUs "
              f"({machine['cpu_model']}), load at start {machine['loadavg'][0]:.1f}, {data['elapsed_s']:.0f} s in all.")
    table = markdown(rows, header)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "scale.md"), "w") as f:
        f.write(table)
    write_csv(rows, os.path.join(out_dir, "scale.csv"))
    with open(os.path.join(out_dir, "scale.json"), "w") as f:
        json.dump(data, f, indent=2)
    with open(os.path.join(out_dir, "scale.svg"), "w") as f:
        f.write(svg_chart(rows, f"polyray beside {ray_name}: scale curves, {kind}, {machine['cpus']} CPUs"))
    if doc:
        update_doc(doc, table)
    return table


def _machine() -> dict:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one small point per curve (a smoke run)")
    p.add_argument("--polyray-only", action="store_true", help="do not run (or install) Ray")
    p.add_argument("--curves", default="", help="comma-separated curve names (default: all): "
                   + ", ".join(c.name for c in CURVES))
    p.add_argument("--points", default="", help="comma-separated point sizes to keep (e.g. 300000,12; default: all)")
    p.add_argument("--list", action="store_true", help="print the points, their timeouts and the worst case; exit")
    p.add_argument("--ray-version", default=DEFAULT_RAY_VERSION)
    p.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every point's timeout")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds a point's process gets beyond its timeout (init, shutdown) before it is killed")
    p.add_argument("--out", default=None, help="output folder (default docs/figures for a full run beside Ray, "
                   "else build/scale_compare)")
    p.add_argument("--render", metavar="JSON", default=None,
                   help="run nothing: rewrite the outputs (and --doc) from a scale.json of an earlier run")
    p.add_argument("--doc", default=None, help="markdown file whose <!-- scale-table --> section gets the table")
    args = p.parse_args(argv)

    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        out = args.out or os.path.dirname(os.path.abspath(args.render))
        print(write_outputs(data, out, args.doc))
        return 0

    names = [s.strip() for s in args.curves.split(",") if s.strip()]
    unknown = [n for n in names if n not in CURVE_BY_NAME]
    if unknown:
        print(f"unknown curve(s) {unknown}; curves: {', '.join(CURVE_BY_NAME)}", file=sys.stderr)
        return 2
    curves = [c for c in CURVES if not names or c.name in names]
    keep = {int(x) for x in args.points.split(",") if x.strip()}
    full = not args.quick and not args.polyray_only and not names and not keep
    out_dir = args.out or os.path.join(ROOT, *(("docs", "figures") if full else ("build", "scale_compare")))

    sides: dict[str, tuple[str, dict]] = {
        "polyray": (sys.executable, dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.path.join(ROOT, "python")]))),
    }
    if not args.polyray_only:
        sys.path.insert(0, HERE)
        import compare_ray  # the Ray venv and the stand-in package, as the microbenchmark comparison makes them
        ray_py = compare_ray.ray_python(args.ray_version)
        shim = compare_ray.write_shim()
        ray_env = dict(os.environ, PYTHONPATH=os.pathsep.join([shim, HERE]), RAY_USAGE_STATS_ENABLED="0")
        ray_env.pop("POLYRAY_ADDRESS", None)
        sides["ray"] = (ray_py, ray_env)

    points = [(c, n) for c in curves for n in ([c.quick] if args.quick else c.points) if not keep or n in keep]
    if args.list:
        worst = 0.0
        for c, n in points:
            t = c.timeout(n) * args.timeout_scale
            worst += 2 * (t + args.grace)
            print(f"{c.name:>14} {point_label(c, n) or '-':>14}  timeout {t:5.0f} s  ({c.what})")
        print(f"{len(points)} point(s); worst case (every point on both sides timing out): {worst / 60:.0f} min")
        return 0
    machine = _machine()
    print(f"scale curves: {len(points)} point(s) on {' and '.join(sides)}; {machine['cpus']} CPU(s) "
          f"({machine['cpu_model']}), load {machine['loadavg'][0]:.1f}", flush=True)
    t0 = time.perf_counter()
    rows: list[dict] = []
    for i, (curve, n) in enumerate(points):
        order = list(sides)
        if i % 2:
            order.reverse()
        row: dict[str, Any] = {"curve": curve.name, "n": n}
        for side in order:
            python, env = sides[side]
            row[side] = measure(side, python, env, curve, n, args.timeout_scale, args.grace)
        rows.append(row)
        s = speedup(row)
        print(f"{curve.name:>14} {n:>9,}  polyray {_t(row.get('polyray')):>10}  ray {_t(row.get('ray')):>10}  "
              f"{(f'{s:.2f}x' if s else '-'):>7}  "
              + "  ".join(f"{side}: {row[side]['error']}" for side in sides if row[side].get("error")), flush=True)
    elapsed = time.perf_counter() - t0

    kind = "quick run" if args.quick else "full run" if full else "partial run"
    data = {"ray_version": args.ray_version if "ray" in sides else None, "machine": machine, "quick": args.quick,
            "kind": kind, "date": time.strftime("%Y-%m-%d"), "elapsed_s": elapsed,
            "curves": {c.name: {"points": c.points, "what": c.what, "extra": c.extra} for c in curves},
            "rows": rows}
    table = write_outputs(data, out_dir, args.doc)
    print()
    print(table)
    print(f"wrote scale.md, scale.csv, scale.json, scale.svg to {out_dir}")
    return 1 if any((row.get(s) or {}).get("status") != "ok" for row in rows for s in sides) else 0


if __name__ == "__main__":
    # Run under the module's importable name (as polyray.bench does) so workers
    # find the remote functions above by reference.
    import scale_compare as _self
    sys.exit(_self.main())
