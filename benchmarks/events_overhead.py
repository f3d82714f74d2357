"""What task events cost per call: CPU of every cluster process, events on vs off (issue 16).

    .venv/bin/python benchmarks/events_overhead.py [--calls 3000] [--rounds 3] [--rows tasks-sync,...]

For each round and each row, one fresh embedded cluster per setting
(``POLYRAY_TASK_EVENTS=1`` then ``=0``, interleaved, so the others' load hits
both alike), ``POLYRAY_SPIN_US=0`` (a spinning thread burns CPU that is not
the work). In the child: init, warm the row up, then run ``--calls`` calls of
the row and read the CPU time (user + system) of the driver, the head (GCS +
raylet, one process) and the workers before and after. Printed per row and
setting: the median over rounds of CPU us per call per process kind and of
ops/s, and the on/off ratios. Rows are the sync and async rows of
``polyray microbenchmark``:

* ``tasks-sync``: ``get(f.remote())``; ``tasks-async``: batches of 1000;
* ``actor-sync``: ``get(a.m.remote())``; ``actor-async``: batches of 1000.

``--callee java`` or ``--callee cpp`` calls the same rows' Java or C++
callee (``polyray microbenchmark``'s Python -> Java / C++ rows: the
benchmarks/xlang targets, compiled once) from the Python driver.

CPU per call is less disturbed by the machine's load than ops/s (a process
that waits for a core does not use CPU meanwhile), so it is the figure to
compare; ops/s is printed as well, for what it is worth on a shared machine.
Under a drifting load the ratio of each round's pair (on/off measured one
after the other) is steadier than the ratio of medians: both are printed,
the paired one with its spread (min-max over rounds).

``--settings '{"name": {ENV: value}, ...}'`` compares other settings (the
last one is the baseline of the ratios), e.g. two versions of the code
(``PYTHONPATH`` of a copy of ``python/``) with events on and off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROWS = ("tasks-sync", "tasks-async", "actor-sync", "actor-async")


def _cpu(procs: dict) -> dict[str, float]:
    """CPU seconds (user + system) per kind of the processes in ``procs`` (pid -> (Process, kind))."""
    out = {"driver": 0.0, "head": 0.0, "workers": 0.0}
    for p, kind in procs.values():
        try:
            t = p.cpu_times()
        except Exception:  # noqa: BLE001 - a process that left counts what we read before
            continue
        out[kind] += t.user + t.system
    return out


def child(row: str, calls: int) -> None:
    import psutil

    import polyray

    @polyray.remote
    def small_value() -> bytes:
        return b"ok"

    @polyray.remote(num_cpus=0)
    class Actor:
        def small_value(self) -> bytes:
            return b"ok"

    callee = os.environ.get(CALLEE_ENV, "python")
    path = [os.environ[PATH_ENV]] if os.environ.get(PATH_ENV) else []
    polyray.init(num_cpus=2, include_dashboard=False, **({"code_search_path": path} if path else {}))
    try:
        from polyray import bench
        if callee == "java":
            if row.startswith("actor"):
                a = polyray.java_actor_class(bench.JAVA_ACTOR).remote()
                polyray.get(a.smallValue.remote(), timeout=120)
                call = a.smallValue.remote
            else:
                call = polyray.java_function(bench.JAVA_CLASS, "smallValue").remote
        elif callee == "cpp":
            if row.startswith("actor"):
                a = polyray.cpp_actor_class(*bench.CPP_ACTOR).remote()
                polyray.get(a.SmallValue.remote(), timeout=120)
                call = a.SmallValue.remote
            else:
                call = polyray.cpp_function("SmallValue").remote
        elif row.startswith("actor"):
            a = Actor.remote()
            polyray.get(a.small_value.remote(), timeout=120)
            call = a.small_value.remote
        else:
            call = small_value.remote
        batch = 1000 if row.endswith("async") else 1
        calls = max(batch, calls - calls % batch)

        def run(n: int) -> None:
            if batch == 1:
                for _ in range(n):
                    polyray.get(call(), timeout=120)
            else:
                for _ in range(n // batch):
                    polyray.get([call() for _ in range(batch)], timeout=120)

        run(min(calls, 2000) if batch == 1 else batch * 2)  # warm: leases, imports, caches
        time.sleep(1.2)  # a flush interval: the warm-up's events are sent before the count starts
        me = psutil.Process()
        procs = {me.pid: (me, "driver")}
        for p in me.children(recursive=True):
            try:
                kind = "head" if "polyray.node" in " ".join(p.cmdline()) else "workers"
            except psutil.Error:
                continue
            procs[p.pid] = (p, kind)
        before = _cpu(procs)
        t0 = time.perf_counter()
        run(calls)
        elapsed = time.perf_counter() - t0
        time.sleep(1.2)  # the events of the calls are sent and folded within a flush interval
        after = _cpu(procs)
        per_call = {k: (after[k] - before[k]) / calls * 1e6 for k in before}
        per_call["total"] = sum(per_call.values())
        print(json.dumps({"row": row, "calls": calls, "ops_s": calls / elapsed, "cpu_us": per_call}), flush=True)
    finally:
        polyray.shutdown()


#: The callee's language and the code search path of its compiled target (set by ``--callee``).
CALLEE_ENV = "POLYRAY_EVENTS_BENCH_CALLEE"
PATH_ENV = "POLYRAY_EVENTS_BENCH_PATH"

#: The settings compared by default: task events on, then off.
EVENTS = {"on": {"POLYRAY_TASK_EVENTS": "1"}, "off": {"POLYRAY_TASK_EVENTS": "0"}}


def run_child(row: str, calls: int, env: dict[str, str], timeout: float = 600) -> dict:
    """One run of ``row`` in a fresh embedded cluster with ``env`` over this process's environment
    (``POLYRAY_SPIN_US=0`` unless ``env`` says otherwise): ``{"row", "calls", "ops_s", "cpu_us":
    {"driver", "head", "workers", "total"}}``."""
    full = dict(os.environ, POLYRAY_SPIN_US="0")
    full.update(env)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", row, "--calls", str(calls)],
                          env=full, capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{row} ({env}) failed: {proc.stderr[-2000:]}")


def compare(rows: list[str], calls: int, rounds: int, settings: dict[str, dict[str, str]] | None = None,
            timeout: float = 600, out=sys.stdout) -> dict:
    """CPU per call per process kind and ops/s of each row under each setting (name -> the env to set;
    default ``EVENTS``: task events on, off), rounds interleaved so the machine's load hits every
    setting alike. Prints a table and returns ``{"summary": {row: {setting: medians, "cpu_ratio",
    "ops_ratio", "<setting>/<last>": {"cpu_ratio", "ops_ratio", "cpu_paired", "ops_paired"}}},
    "runs": {"row/setting": [run, ...]}, "load_average"}``; ``cpu_ratio``/``ops_ratio`` are the first
    setting's medians over the last's, the ``*_paired`` lists each round's ratio, sorted. Reusable for
    another switch (e.g. authentication on/off)."""
    settings = settings or EVENTS
    names = list(settings)
    runs: dict[tuple[str, str], list[dict]] = {}
    load = os.getloadavg()[0]
    for _ in range(rounds):
        for row in rows:
            for name in names:
                runs.setdefault((row, name), []).append(run_child(row, calls, settings[name], timeout))
                load = max(load, os.getloadavg()[0])
    kinds = ("driver", "head", "workers", "total")
    print(f"CPU us per call (median of {rounds} round(s), {calls} calls each; POLYRAY_SPIN_US=0; "
          f"load average up to {load:.1f} on {os.cpu_count()} cores)", file=out)
    print(f"{'row':12} {'setting':7} " + " ".join(f"{k:>8}" for k in kinds) + f" {'ops/s':>9}", file=out)
    summary: dict[str, dict] = {}
    for row in rows:
        med: dict[str, dict] = {}
        for name in names:
            rs = runs[(row, name)]
            med[name] = {k: statistics.median(r["cpu_us"][k] for r in rs) for k in kinds}
            med[name]["ops_s"] = statistics.median(r["ops_s"] for r in rs)
            print(f"{row:12} {name:7} " + " ".join(f"{med[name][k]:8.1f}" for k in kinds)
                  + f" {med[name]['ops_s']:9.0f}", file=out)
        base = runs[(row, names[-1])]
        for name in names[:-1]:
            a, b = med[name], med[names[-1]]
            cpu_ratio = a["total"] / b["total"] if b["total"] else float("nan")
            ops_ratio = a["ops_s"] / b["ops_s"] if b["ops_s"] else float("nan")
            # Each round's pair: the runs of one round ran one after the other, under about the same load.
            paired = sorted(r["cpu_us"]["total"] / o["cpu_us"]["total"] for r, o in zip(runs[(row, name)], base)
                            if o["cpu_us"]["total"])
            paired_ops = sorted(r["ops_s"] / o["ops_s"] for r, o in zip(runs[(row, name)], base) if o["ops_s"])
            print(f"{row:12} {name}/{names[-1]}: CPU per call x{cpu_ratio:.3f} (medians), paired x"
                  f"{statistics.median(paired):.3f} [{paired[0]:.3f}-{paired[-1]:.3f}]; ops/s x{ops_ratio:.3f} "
                  f"(medians), paired x{statistics.median(paired_ops):.3f} [{paired_ops[0]:.3f}-{paired_ops[-1]:.3f}]",
                  file=out)
            entry = summary.setdefault(row, dict(med))
            entry[f"{name}/{names[-1]}"] = {"cpu_ratio": cpu_ratio, "ops_ratio": ops_ratio, "cpu_paired": paired,
                                            "ops_paired": paired_ops}
            if name == names[0]:  # the first setting over the last, as before
                entry["cpu_ratio"], entry["ops_ratio"] = cpu_ratio, ops_ratio
        summary.setdefault(row, dict(med))
    return {"summary": summary, "runs": {f"{r}/{n}": v for (r, n), v in runs.items()}, "load_average": load}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=3000, help="calls per row and setting (async rows: whole batches)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--json", help="write every run's figures here")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--settings", help="JSON: setting name -> env to set (default: events on, off)")
    p.add_argument("--callee", choices=("python", "java", "cpp"), default="python",
                   help="the language of the called function or actor")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.calls)
        return 0
    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            p.error(f"unknown row {r!r}; rows: {', '.join(ROWS)}")
    settings = json.loads(args.settings) if args.settings else EVENTS
    if args.callee != "python":
        from polyray import sdk
        from polyray.bench_build import build_cpp_target, build_java_target
        build = build_java_target if args.callee == "java" else build_cpp_target
        path = build(os.path.join(sdk.repo_root(), "build", "bench", args.callee))
        settings = {name: {**env, CALLEE_ENV: args.callee, PATH_ENV: path} for name, env in settings.items()}
    data = compare(rows, args.calls, args.rounds, settings, args.timeout)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
