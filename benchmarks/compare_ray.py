"""polyray beside Ray: the microbenchmark rows on both, in one run, as ratios.

    .venv/bin/python benchmarks/compare_ray.py [--filter S] [--rounds N] [--repeat N]
        [--duration S] [--ray-sizes] [--out DIR] [--ray-version V] [--load N]
        [--polyray-env K=V ...]

Ray is installed from PyPI (pinned, default ``ray==2.40.0``, whose wheel
carries its Java jar) into its own virtual environment under
``build/ray-venv``; it is never a dependency of polyray. Both sides run the
*same* workload code, ``python/polyray/bench.py``: on the Ray side a
stand-in package named ``polyray`` (written to ``build/ray-bench/``) maps the
handful of API calls the rows use onto ``ray`` (``remote``, ``get``, ``put``,
``wait``, ``kill``, ``init``, and ``ray.cross_language`` for the Java rows).
Rows alternate between the two systems (polyray first in odd rounds, Ray first
in even ones), each in a fresh cluster, so drifting machine load hits both.

``--load N`` runs every row on a loaded machine: N busy processes (pure CPU
loops, one thread each) start before the first row and are killed after the
last, for polyray and Ray alike; the 1-minute load average before and after is
printed and kept in the JSON. ``--polyray-env K=V`` sets a variable for the
polyray side only (e.g. ``POLYRAY_SPIN_ADAPTIVE=0``: the old fixed spin).

Prints ``row | polyray | Ray | ratio`` (ratio = polyray / Ray; higher is
better for every row), and writes ``compare_ray.json`` and a bar chart
``compare_ray.png`` (log scale ratios) to ``--out`` (default build/compare_ray).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from polyray import bench  # noqa: E402  (after the path setup above)

DEFAULT_RAY_VERSION = "2.40.0"
ROW_TIMEOUT_S = 900

SHIM = '''"""Stand-in for polyray inside Ray's venv (written by benchmarks/compare_ray.py).

polyray/bench.py runs unchanged on top of it: every call it makes maps to Ray.
"""
import ray
from ray import get, kill, put, remote, shutdown, wait  # noqa: F401
from ray.cross_language import java_actor_class, java_function  # noqa: F401

__version__ = "ray " + ray.__version__


def init(num_cpus=None, log_to_driver=True, code_search_path=None):
    kwargs = {}
    if code_search_path:
        from ray.job_config import JobConfig
        kwargs["job_config"] = JobConfig(code_search_path=list(code_search_path))
    return ray.init(num_cpus=num_cpus, log_to_driver=log_to_driver, include_dashboard=False, **kwargs)
'''

SHIM_SDK = '''"""repo_root() for polyray/bench.py on the Ray side (written by compare_ray.py)."""


def repo_root():
    return {root!r}
'''

PLOT = r'''
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
rows = [r for r in data["rows"] if r.get("ratio")]
names = [r["name"] for r in rows][::-1]
ratios = [r["ratio"] for r in rows][::-1]
fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.5))
colors = ["#2b8a3e" if x >= 1 else "#c92a2a" for x in ratios]
ax.barh(names, ratios, color=colors)
ax.axvline(1.0, color="black", linewidth=1)
ax.set_xscale("log")
ax.set_xlabel("polyray / Ray (higher is better; log scale)")
ax.set_title(f"polyray vs Ray {data['ray_version']} on {data['machine']['cpus']} CPUs")
for y, x in enumerate(ratios):
    ax.text(x, y, f" {x:.2f}x", va="center", fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
'''


def ray_python(version: str) -> str:
    """The Ray venv's interpreter, creating the venv (pinned Ray) when needed."""
    venv = os.path.join(ROOT, "build", "ray-venv")
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(py):
        probe = subprocess.run([py, "-c", "import ray, matplotlib; print(ray.__version__)"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return py
    print(f"installing ray=={version} into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", f"ray=={version}", "numpy", "matplotlib"], check=True)
    return py


def write_shim() -> str:
    """build/ray-bench/polyray/: the stand-in package plus copies of bench.py and bench_build.py."""
    d = os.path.join(ROOT, "build", "ray-bench")
    pkg = os.path.join(d, "polyray")
    os.makedirs(pkg, exist_ok=True)
    files = {
        "__init__.py": SHIM,
        "sdk.py": SHIM_SDK.format(root=ROOT),
    }
    for module in ("bench.py", "bench_build.py"):
        with open(os.path.join(ROOT, "python", "polyray", module)) as f:
            files[module] = f.read()
    for name, text in files.items():
        with open(os.path.join(pkg, name), "w") as f:
            f.write(text)
    return d


def run_side(side: str, python: str, row: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """One row on one system, in a fresh process and cluster; its result dict."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    cmd = [python, "-m", "polyray.bench", "--filter", row, "--exact", "--repeat", str(args.repeat),
           "--duration", str(args.duration), "--json", out]
    if args.ray_sizes:
        cmd.append("--ray-sizes")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=ROW_TIMEOUT_S)
        try:
            with open(out) as f:
                result = json.load(f)["results"][0]
        except (OSError, ValueError, IndexError, KeyError):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"error": f"{side} exited {proc.returncode}: " + " | ".join(tail)}
        return result
    except subprocess.TimeoutExpired:
        return {"error": f"{side} did not finish in {ROW_TIMEOUT_S} s"}
    finally:
        try:
            os.unlink(out)
        except OSError:
            pass


BUSY = "while True:\n    pass\n"


def start_load(n: int) -> list[subprocess.Popen]:
    """N busy processes (a pure CPU loop each), as the background load of --load."""
    return [subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.DEVNULL) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait(10)


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}" if x >= 1 else f"{x:.4f}"


def run_rows(rows: list, args: argparse.Namespace, sides: dict, width: int) -> list[dict[str, Any]]:
    """Every row on both sides, alternating; the table."""
    table = []
    for row in rows:
        runs: dict[str, list[float]] = {"polyray": [], "ray": []}
        errors: dict[str, str] = {}
        order = ["polyray", "ray"] if row.ray else ["polyray"]
        for rnd in range(args.rounds):
            for side in (order if rnd % 2 == 0 else order[::-1]):
                python, env = sides[side]
                res = run_side(side, python, row.name, args, env)
                if res.get("error"):
                    errors[side] = res["error"]
                else:
                    runs[side].extend(res["runs"])
        means = {k: (statistics.fmean(v) if v else None) for k, v in runs.items()}
        ratio = means["polyray"] / means["ray"] if means["polyray"] and means["ray"] else None
        entry = {"name": row.name, "unit": row.unit, "polyray": means["polyray"], "ray": means["ray"],
                 "polyray_runs": runs["polyray"], "ray_runs": runs["ray"], "ratio": ratio,
                 "ray_counterpart": row.ray, "errors": errors}
        table.append(entry)
        note = "; ".join(f"{k}: {v}" for k, v in errors.items()) if errors else (
            "" if row.ray else "(no Ray counterpart)")
        print(f"{row.name:<{width}}  {_fmt(means['polyray']):>12}  {_fmt(means['ray']):>12}  "
              f"{(f'{ratio:.2f}x' if ratio else '-'):>7}  {row.unit} {note}", flush=True)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--filter", default="", help="rows whose name contains this substring")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds per row (default 1)")
    p.add_argument("--repeat", type=int, default=4, help="timed runs per row and round (default 4)")
    p.add_argument("--duration", type=float, default=1.0, help="seconds per timed run (default 1)")
    p.add_argument("--ray-sizes", action="store_true", help="ray_perf.py's workload sizes")
    p.add_argument("--ray-version", default=DEFAULT_RAY_VERSION)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "compare_ray"))
    p.add_argument("--load", type=int, default=0, help="busy processes running during every row (default 0)")
    p.add_argument("--polyray-env", action="append", default=[], metavar="K=V",
                   help="an environment variable for the polyray side only")
    args = p.parse_args(argv)

    rows = [r for r in bench.ROWS if args.filter in r.name]
    if not rows:
        print(f"no row matches {args.filter!r}", file=sys.stderr)
        return 2
    ray_py = ray_python(args.ray_version)
    shim = write_shim()
    polyray_env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    for kv in args.polyray_env:
        k, _, v = kv.partition("=")
        polyray_env[k] = v
    ray_env = dict(os.environ, PYTHONPATH=shim, RAY_USAGE_STATS_ENABLED="0")
    ray_env.pop("POLYRAY_ADDRESS", None)
    sides = {"polyray": (sys.executable, polyray_env), "ray": (ray_py, ray_env)}

    info = bench.machine_info()
    print(f"polyray vs Ray {args.ray_version}: {len(rows)} row(s), {args.rounds} round(s) x {args.repeat} run(s) "
          f"x {args.duration:g} s; {info['cpus']} CPU(s) ({info['cpu_model']})", flush=True)
    width = max(len(r.name) for r in rows)
    print(f"{'row':<{width}}  {'polyray':>12}  {'Ray':>12}  {'ratio':>7}  unit", flush=True)
    load_before = loadavg()
    busy = start_load(args.load)
    print(f"load: {args.load} busy process(es); /proc/loadavg before: {load_before}", flush=True)
    try:
        t0 = time.perf_counter()
        table = run_rows(rows, args, sides, width)
        elapsed = time.perf_counter() - t0
    finally:
        stop_load(busy)
    load_after = loadavg()
    print(f"total {elapsed:.0f} s; /proc/loadavg after: {load_after}")

    os.makedirs(args.out, exist_ok=True)

    out_json = os.path.join(args.out, "compare_ray.json")
    with open(out_json, "w") as f:
        json.dump({"ray_version": args.ray_version, "machine": info, "elapsed_s": elapsed,
                   "config": {"rounds": args.rounds, "repeat": args.repeat, "duration": args.duration,
                              "sizes": "ray" if args.ray_sizes else "default",
                              "load": args.load, "polyray_env": args.polyray_env,
                              "loadavg_before": load_before, "loadavg_after": load_after},
                   "rows": table}, f, indent=2)
    out_png = os.path.join(args.out, "compare_ray.png")
    plot = subprocess.run([ray_py, "-c", PLOT, out_json, out_png], capture_output=True, text=True)
    if plot.returncode != 0:
        print(f"chart not written: {plot.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    print(f"wrote {out_json} and {out_png}")
    return 1 if any(e["errors"] for e in table) else 0


if __name__ == "__main__":
    sys.exit(main())
