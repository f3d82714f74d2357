"""p99 of `polyray list` and of every dashboard page and endpoint with a full GCS (issue 16).

    .venv/bin/python benchmarks/dashboard_p99.py [--actors 10000] [--tasks 100000] [--runs 40]

A child process runs a real GCS, one real raylet and the dashboard in one
event loop (as ``python -m polyray.node --head`` does), then fills the GCS:
``--actors`` actor entries put straight into its actor table (ALIVE and DEAD,
Python, Java and C++ classes; no processes behind them) and ``--tasks`` task
events sent through the real AddTaskEvents RPC (one FINISHED or FAILED row
each, over 10 jobs). This process then times, one request after another,
``polyray list`` through the state API (``polyray.util.state``, as the CLI
does, default limit 100) and every page and REST endpoint over HTTP with the
token, and prints median, p99 and max per target (the target is < 300 ms p99).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request


async def serve(args: argparse.Namespace) -> None:
    from polyray.dashboard import DashboardServer
    from polyray.gcs.actor_directory import _Actor
    from polyray.gcs.config import GcsConfig
    from polyray.gcs.server import GcsServer
    from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc
    from polyray.raylet.config import NodeConfig
    from polyray.raylet.server import RayletServer

    auth.ensure_head_token()
    gcs = GcsServer(GcsConfig())
    port = await gcs.start(port=0)
    address = f"127.0.0.1:{port}"
    raylet = RayletServer(NodeConfig.build(address, num_cpus=2, object_store_memory=64 << 20))
    await raylet.start()
    langs = (common_pb2.PYTHON, common_pb2.JAVA, common_pb2.CPP)
    for i in range(args.actors):
        info = gcs_pb2.ActorInfo(actor_id=i.to_bytes(16, "big"), job_id=(i % 10 + 1).to_bytes(4, "big"),
                                 class_name=f"Bench{i % 50}",
                                 state=gcs_pb2.ALIVE if i % 4 else gcs_pb2.DEAD, pid=10_000 + i)
        info.handle.language = langs[i % 3]
        info.handle.name = f"bench-actor-{i}" if i % 10 == 0 else ""
        gcs.actors._actors[info.actor_id] = _Actor(info=info, spec=common_pb2.TaskSpec())
    channel = auth.aio_channel(address)
    stub = gcs_pb2_grpc.GcsServiceStub(channel)
    now = time.time_ns()
    batch = []
    for i in range(args.tasks):
        failed = i % 20 == 0
        batch.append(gcs_pb2.TaskEvent(
            task_id=i.to_bytes(24, "big"), job_id=(i % 10 + 1).to_bytes(4, "big"), attempt=0,
            state=gcs_pb2.FAILED if failed else gcs_pb2.FINISHED, language=langs[i % 3],
            type=common_pb2.NORMAL_TASK, name=f"bench_task_{i % 100}", node_id=raylet.config.node_id,
            worker_id=(i % 64).to_bytes(28, "big"), timestamp_ns=now + i * 1000, worker_pid=20_000 + i % 64,
            prior_state=gcs_pb2.RUNNING, prior_timestamp_ns=now + i * 1000 - 500_000,
            error_kind=common_pb2.TASK_ERROR if failed else 0, error_message="boom" if failed else ""))
        if len(batch) == 5000:
            await stub.AddTaskEvents(gcs_pb2.AddTaskEventsRequest(events=batch))
            batch = []
    if batch:
        await stub.AddTaskEvents(gcs_pb2.AddTaskEventsRequest(events=batch))
    await channel.close()
    dash = DashboardServer(address, port=0, task_events=gcs.task_events)  # as the head wires it
    await dash.start()
    print(json.dumps({"gcs": address, "dashboard": dash.url}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await dash.stop()
    await raylet.stop()
    await gcs.stop()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--actors", type=int, default=10_000)
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return
    from polyray.protocol import auth
    from polyray.util import state
    auth.ensure_head_token()
    t0 = time.monotonic()
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--actors", str(args.actors), "--tasks",
                              str(args.tasks)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    urls = json.loads(child.stdout.readline())
    print(f"filled: {args.actors} actors, {args.tasks} task events in {time.monotonic() - t0:.1f} s "
          f"(shared 2-core machine: figures vary with the others' load)")
    token = auth.current_token()
    gcs, base = urls["gcs"], urls["dashboard"]

    def http(path: str) -> None:
        req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            assert r.status == 200

    targets = {
        "list actors (state API)": lambda: state.list_actors(gcs),
        "list tasks (state API)": lambda: state.list_tasks(gcs),
        "list tasks state=FAILED": lambda: state.list_tasks(gcs, filters=[("state", "=", "FAILED")]),
        "list nodes (state API)": lambda: state.list_nodes(gcs),
        "list workers (state API)": lambda: state.list_workers(gcs),
        "summary actors (state API)": lambda: state.summarize_actors(gcs),
        "summary tasks (state API)": lambda: state.summarize_tasks(gcs),
    }
    for path in ("/api/v0/nodes", "/api/v0/actors", "/api/v0/actors?limit=10000", "/api/v0/tasks",
                 "/api/v0/tasks?filter=language=JAVA&limit=1000", "/api/v0/tasks?limit=100&offset=5000",
                 "/api/v0/tasks/summarize", "/api/v0/jobs", "/api/v0/workers", "/api/v0/placement_groups",
                 "/", "/jobs", "/actors", "/tasks", "/tasks?state=FAILED&language=CPP", "/logs",
                 "/metrics-charts", "/metrics"):
        targets[f"GET {path}"] = (lambda p: lambda: http(p))(path)
    print(f"{'target':48} {'median ms':>10} {'p99 ms':>9} {'max ms':>9}")
    try:
        for name, fn in targets.items():
            fn()  # warm
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
            flag = "" if pct(times, 0.99) < 300 else "  > 300 ms"
            print(f"{name:48} {pct(times, 0.5):10.1f} {pct(times, 0.99):9.1f} {max(times):9.1f}{flag}", flush=True)
    finally:
        child.stdin.close()
        child.wait(30)


if __name__ == "__main__":
    os.environ.setdefault("POLYRAY_GCS_RPC_METRICS", "1")
    main()
