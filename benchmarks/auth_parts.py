"""What token auth costs per row, as the sum of its parts (issue 15).

    .venv/bin/python benchmarks/auth_parts.py counts [--ops 2000] [--rows tasks-sync,...] [--json F]
    .venv/bin/python benchmarks/auth_parts.py checks [--repeat 15] [--json F]
    .venv/bin/python benchmarks/auth_parts.py table COUNTS.json... --per-call-us US --hello-us US [--cpu ROW=US,...]

End-to-end CPU per call on a loaded 2-core machine spreads by +-15-30%, more
than the 5% to be shown; the work auth adds is small and countable instead:

* ``counts``: one fresh embedded cluster per row (the sync and async rows of
  ``polyray microbenchmark``, set up by ``polyray.bench`` itself, Python ->
  Java and Python -> C++ included), ``POLYRAY_AUTH_COUNT_DIR`` set so that
  every process (Python, Java, C++) writes its auth counters
  (``auth.COUNTS``: gRPC calls served through the server check, calls made
  through the client interceptor, PushHellos sent and checked) every 100 ms.
  After a warm-up, the counters of all processes are summed before and after
  ``--ops`` operations: printed per operation. Background calls made in the
  window (heartbeats, event flushes) count too.
* ``checks``: the Python parts timed in process, in tight loops (min and
  median of ``--repeat`` repeats): the server interceptor on a fake
  ``HandlerCallDetails``, run through the same chain grpc.aio's server runs
  (an iterator, a ``functools.partial`` continuation, one more coroutine),
  against that chain without the interceptor; the client interceptor's
  metadata (aio and blocking); one PushHello made and checked. And CPU time
  (``CLOCK_PROCESS_CPUTIME_ID``) of a real grpc.aio unary call over loopback
  to a server in another process: client process CPU with and without the
  client interceptor, server process CPU with and without the server
  interceptor (interleaved repeats). Java's and C++'s checks are timed by
  benchmarks/auth_parts/ (see docs/security.md, "Cost by parts").
* ``table``: calls per op x cost per call + hellos per op x hello cost,
  over the row's CPU us per op with auth disabled (``--cpu``, default the
  medians of benchmarks/auth_overhead.py in docs/security.md).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from typing import Any

#: Row key -> ``polyray microbenchmark`` row name.
ROWS = {
    "tasks-sync": "single client tasks sync",
    "tasks-async": "single client tasks async",
    "actor-sync": "1:1 actor calls sync",
    "actor-async": "1:1 actor calls async",
    "java-tasks-sync": "Python -> Java tasks sync",
    "java-tasks-async": "Python -> Java tasks async",
    "java-actor-sync": "Python -> Java actor calls sync",
    "java-actor-async": "Python -> Java actor calls async",
    "cpp-tasks-sync": "Python -> C++ tasks sync",
    "cpp-tasks-async": "Python -> C++ tasks async",
    "cpp-actor-sync": "Python -> C++ actor calls sync",
    "cpp-actor-async": "Python -> C++ actor calls async",
}
KEYS = ("served", "made", "hello_sent", "hello_checked")


# ----------------------------------------------------------------- counts

def read_counts(folder: str) -> dict[str, dict[str, int]]:
    """Each language's counters summed over its processes' files in ``folder``."""
    out: dict[str, dict[str, int]] = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        lang = os.path.basename(path).split("-", 1)[0]
        try:
            with open(path) as f:
                c = json.load(f)
        except (OSError, ValueError):
            continue
        tot = out.setdefault(lang, dict.fromkeys(KEYS + ("procs",), 0))
        tot["procs"] += 1
        for k in KEYS:
            tot[k] += int(c.get(k, 0))
    return out


def _settle(folder: str, timeout: float = 5.0) -> dict[str, dict[str, int]]:
    """The counters once two reads 0.3 s apart agree (every process has written its latest)."""
    deadline = time.monotonic() + timeout
    prev = read_counts(folder)
    while True:
        time.sleep(0.3)
        cur = read_counts(folder)
        if cur == prev or time.monotonic() > deadline:
            return cur
        prev = cur


def _procs() -> list:
    """This process and every process it started (the embedded head, the workers)."""
    import psutil
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def _cpu(procs: list) -> float:
    """CPU seconds (user + system) of ``procs`` (a process that left counts nothing)."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except Exception:  # noqa: BLE001
            continue
        total += t.user + t.system
    return total


def child(row_key: str, ops: int) -> None:
    import polyray
    from polyray import bench
    folder = os.environ["POLYRAY_AUTH_COUNT_DIR"]
    row = next(r for r in bench.ROWS if r.name == ROWS[row_key])
    init: dict[str, Any] = {"num_cpus": 2, "log_to_driver": False, "include_dashboard": False}
    path = bench._xlang_code_search_path([row])
    if row.xlang and not path:
        raise RuntimeError(bench._BUILD_ERRORS.get(row.xlang, "no callee"))
    if path:
        init["code_search_path"] = path
    polyray.init(**init)
    try:
        w = row.setup(dict(bench.SIZES["default"]))
        per = max(1, int(w.multiplier))
        n = max(1, ops // per)
        for _ in range(max(3, n // 4)):  # warm: leases, connections, imports
            w.fn()
        before = _settle(folder)
        procs = _procs()
        cpu0 = _cpu(procs)
        t0 = time.perf_counter()
        for _ in range(n):
            w.fn()
        elapsed = time.perf_counter() - t0
        cpu1 = _cpu(procs)
        after = _settle(folder)
        done = n * per
        langs = sorted(set(before) | set(after))
        delta = {lang: {k: after.get(lang, {}).get(k, 0) - before.get(lang, {}).get(k, 0) for k in KEYS}
                 for lang in langs}
        per_op = {lang: {k: v / done for k, v in d.items()} for lang, d in delta.items()}
        nprocs = {lang: after.get(lang, {}).get("procs", 0) for lang in langs}
        print(json.dumps({"row": row_key, "procs": nprocs, "cpu_us_per_op": (cpu1 - cpu0) / done * 1e6,
                           "ops": done, "window_s": elapsed, "delta": delta, "per_op": per_op}),
              flush=True)
    finally:
        polyray.shutdown()


def run_counts(rows: list[str], ops: int, timeout: float, mode: str = "token") -> dict:
    """Counters per op of each row (``mode``: POLYRAY_AUTH_MODE; ``disabled`` for the CPU baseline)."""
    out = {}
    for key in rows:
        with tempfile.TemporaryDirectory(prefix="polyray-auth-counts-") as folder:
            env = dict(os.environ, POLYRAY_AUTH_COUNT_DIR=folder, POLYRAY_AUTH_MODE=mode, POLYRAY_USE_TLS="0",
                       POLYRAY_SPIN_US="0")
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "child", key, "--ops", str(ops)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        got = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        if not got:
            print(f"{key}: failed: {proc.stderr[-1500:]}", file=sys.stderr)
            continue
        r = got[0]
        tot = {k: sum(d[k] for d in r["delta"].values()) / r["ops"] for k in KEYS}
        r["total_per_op"] = tot
        out[key] = r
        langs = " ".join(f"{lang}:{d['served']}/{d['made']}/{d['hello_sent']}/{d['hello_checked']}"
                         for lang, d in r["delta"].items())
        print(f"{key:17} processes {r['procs']}, CPU {r['cpu_us_per_op']:.1f} us/op, "
              f"{r['ops'] / r['window_s']:.0f} ops/s", flush=True)
        print(f"{key:17} ops {r['ops']:6}  per op: served {tot['served']:.4f} made {tot['made']:.4f} "
              f"hellos {tot['hello_sent']:.5f}/{tot['hello_checked']:.5f}   (served/made/hello sent/checked: {langs})",
              flush=True)
    return out


# ----------------------------------------------------------------- checks

class _Details:
    """A grpc.HandlerCallDetails as the server sees one (grpc adds a few entries of its own)."""

    def __init__(self, method: str, metadata: tuple) -> None:
        self.method = method
        self.invocation_metadata = metadata


async def _run_chain(interceptors: Any, query: Any, details: Any) -> Any:
    # grpc/_cython/_cygrpc/aio/server.pyx.pxi's _run_interceptor, in Python.
    interceptor = next(interceptors, None)
    if interceptor:
        return await interceptor.intercept_service(functools.partial(_run_chain, interceptors, query), details)
    return query(details)


async def _find_handler(details: Any, interceptors: tuple, query: Any) -> Any:
    if interceptors:
        return await _run_chain(iter(interceptors), query, details)
    return query(details)


def _drive(coro: Any) -> Any:
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    raise RuntimeError("the chain awaited something")


def _best(stmt: Any, number: int, repeat: int) -> dict[str, float]:
    runs = [t / number * 1e6 for t in timeit.repeat(stmt, number=number, repeat=repeat)]
    return {"min_us": min(runs), "median_us": statistics.median(runs)}


def time_functions(repeat: int) -> dict[str, Any]:
    import grpc

    from polyray.protocol import auth
    token = "ab" * 32
    md = auth.call_metadata(token)
    server = auth.AuthServerInterceptor(token)
    handler = object()

    def query(details: Any) -> Any:
        return handler

    details = _Details("/polyray.CoreWorkerService/PushTask",
                       (("user-agent", "grpc-python-asyncio/1.60 grpc-c/37.0.0 (linux; chttp2)"),
                        ("authorization", "Bearer " + token)))
    with_i, without = (server,), ()
    n = 20000
    out: dict[str, Any] = {}
    out["server_chain_with"] = _best(lambda: _drive(_find_handler(details, with_i, query)), n, repeat)
    out["server_chain_without"] = _best(lambda: _drive(_find_handler(details, without, query)), n, repeat)
    out["server_added_us"] = {k: out["server_chain_with"][k] - out["server_chain_without"][k]
                              for k in ("min_us", "median_us")}
    aio = auth._AioUU(md)
    cd = grpc.aio.ClientCallDetails("/polyray.CoreWorkerService/PushTask", 10.0, None, None, None)
    out["client_aio_details"] = _best(lambda: aio._details(cd), n, repeat)

    class SyncCD:
        method, timeout, metadata, credentials, wait_for_ready, compression = "/m", 10.0, None, None, None, None
    scd = SyncCD()
    out["client_sync_details"] = _best(lambda: auth._SyncDetails(scd, md), n, repeat)
    body = auth.hello_body(token)
    out["hello_make"] = _best(lambda: auth.hello_body(token), n, repeat)
    out["hello_check"] = _best(lambda: auth.hello_ok(body, token), n, repeat)
    return out


_SERVER = r"""
import asyncio, os, sys, time
import grpc
from polyray.protocol import auth
async def main():
    use = sys.argv[1] == "1"
    async def echo(req, ctx):
        return req
    h = grpc.method_handlers_generic_handler("b.B", {"E": grpc.unary_unary_rpc_method_handler(echo)})
    server = grpc.aio.server(interceptors=[auth.AuthServerInterceptor("ab" * 32)] if use else None)
    server.add_generic_rpc_handlers((h,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        print(time.process_time(), flush=True)
    await server.stop(0)
asyncio.run(main())
"""


def _server(with_check: bool) -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen([sys.executable, "-c", _SERVER, "1" if with_check else "0"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    return p, int(p.stdout.readline())


def _server_cpu(p: subprocess.Popen) -> float:
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write("x\n")
    p.stdin.flush()
    return float(p.stdout.readline())


def time_calls(repeat: int, calls: int = 1000) -> dict[str, Any]:
    """CPU per real unary call over loopback: client with/without its interceptor, server with/without."""
    import grpc

    from polyray.protocol import auth
    md = auth.call_metadata("ab" * 32)
    servers = {True: _server(True), False: _server(False)}
    res: dict[str, list[float]] = {"client_with": [], "client_without": [], "server_with": [], "server_without": []}

    async def client_run(port: int, intercept: bool, send: bool) -> float:
        # intercept: the client interceptors add the token; send: the call passes it itself.
        ics = [cls(md) for cls in (auth._AioUU, auth._AioUS, auth._AioSU, auth._AioSS)] if intercept else None
        extra = md if send else None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=ics) as ch:
            call: Any = ch.unary_unary("/b.B/E")
            for _ in range(100):
                await call(b"x" * 64, metadata=extra)
            t0 = time.process_time()
            for _ in range(calls):
                await call(b"x" * 64, metadata=extra)
            return (time.process_time() - t0) / calls * 1e6

    try:
        for _ in range(repeat):
            # Client: token by the interceptors vs no token, to the server without the check.
            for intercept in (True, False):
                res["client_with" if intercept else "client_without"].append(
                    asyncio.run(client_run(servers[False][1], intercept, False)))
            # Server: the check on a call with the token vs no check on a call without it.
            for check in (True, False):
                p, port = servers[check]
                a = _server_cpu(p)
                asyncio.run(client_run(port, False, check))
                res["server_with" if check else "server_without"].append((_server_cpu(p) - a) / calls * 1e6)
    finally:
        for p, _ in servers.values():
            assert p.stdin is not None
            p.stdin.close()
            p.wait(timeout=30)
    out: dict[str, Any] = {k: {"min_us": min(v), "median_us": statistics.median(v), "runs": v} for k, v in res.items()}
    for side in ("client", "server"):
        out[f"{side}_added_us"] = {k: out[f"{side}_with"][k] - out[f"{side}_without"][k]
                                   for k in ("min_us", "median_us")}
    return out


# ----------------------------------------------------------------- table

#: CPU us per op with auth disabled: medians of benchmarks/auth_overhead.py (docs/security.md, "Cost").
DEFAULT_CPU = {"tasks-sync": 397.0, "tasks-async": 165.0, "actor-sync": 402.0, "actor-async": 117.0}


def table(counts: dict, per_call_us: float, hello_us: float, cpu: dict[str, float]) -> list[dict]:
    rows = []
    for key, r in counts.items():
        t = r["total_per_op"]
        calls = max(t["served"], t["made"])
        cost = calls * per_call_us + max(t["hello_sent"], t["hello_checked"]) * hello_us
        base = cpu.get(key)
        rows.append({"row": key, "calls_per_op": calls, "hellos_per_op": max(t["hello_sent"], t["hello_checked"]),
                     "auth_us_per_op": cost, "cpu_us_per_op": base,
                     "percent": 100 * cost / base if base else None})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("counts")
    c.add_argument("--ops", type=int, default=2000)
    c.add_argument("--rows", default=",".join(ROWS))
    c.add_argument("--json")
    c.add_argument("--timeout", type=float, default=300)
    c.add_argument("--mode", default="token", choices=("token", "disabled"),
                   help="POLYRAY_AUTH_MODE (disabled: for the CPU per op without auth; counters stay 0)")
    ch = sub.add_parser("child")
    ch.add_argument("row")
    ch.add_argument("--ops", type=int, default=2000)
    k = sub.add_parser("checks")
    k.add_argument("--repeat", type=int, default=15)
    k.add_argument("--calls-repeat", type=int, default=6, help="repeats of the real-call CPU runs (0: skip)")
    k.add_argument("--json")
    t = sub.add_parser("table")
    t.add_argument("counts", nargs="+", help="JSON files written by `counts --json`")
    t.add_argument("--per-call-us", type=float, required=True, help="client + server cost of one gRPC call, us")
    t.add_argument("--hello-us", type=float, required=True, help="one PushHello made and checked, us")
    t.add_argument("--cpu", default="", help="row=us,... CPU us per op with auth disabled")
    t.add_argument("--json")
    args = p.parse_args(argv)
    if args.cmd == "child":
        child(args.row, args.ops)
        return 0
    if args.cmd == "counts":
        rows = [r for r in args.rows.split(",") if r]
        bad = [r for r in rows if r not in ROWS]
        if bad:
            p.error(f"unknown rows {bad}; rows: {', '.join(ROWS)}")
        data = run_counts(rows, args.ops, args.timeout, args.mode)
    elif args.cmd == "checks":
        data = time_functions(args.repeat)
        if args.calls_repeat:
            data["calls"] = time_calls(args.calls_repeat)
        for name, v in data.items():
            if name != "calls":
                print(f"{name:22} min {v['min_us']:8.3f} us  median {v['median_us']:8.3f} us")
        for name, v in data.get("calls", {}).items():
            print(f"call {name:17} min {v['min_us']:8.2f} us  median {v['median_us']:8.2f} us")
    else:
        counts = {}
        for name in args.counts:
            with open(name) as f:
                counts.update(json.load(f))
        cpu = dict(DEFAULT_CPU)
        for item in filter(None, args.cpu.split(",")):
            name, _, us = item.partition("=")
            cpu[name] = float(us)
        data = {"rows": table(counts, args.per_call_us, args.hello_us, cpu)}
        for r in data["rows"]:
            pct = f"{r['percent']:.2f}%" if r["percent"] is not None else "-"
            base = f"{r['cpu_us_per_op']:.0f}" if r["cpu_us_per_op"] else "-"
            print(f"{r['row']:17} calls/op {r['calls_per_op']:.4f} hellos/op {r['hellos_per_op']:.5f} "
                  f"auth {r['auth_us_per_op']:.2f} us/op of {base} us/op: {pct}")
    if getattr(args, "json", None):
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
