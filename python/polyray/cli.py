"""The ``polyray`` command: start and stop node daemons, show cluster status.

    polyray start --head [--port N] [--num-cpus N] ...   start a head in the background
    polyray stop                                          stop the daemons started here
    polyray status [--address HOST:PORT]                  nodes, resources, actors, workers
    polyray java-classpath                                the Java SDK's classpath
    polyray cpp-flags                                     compiler/linker flags for the C++ SDK
    polyray microbenchmark [--filter S] [--json OUT]      the rows of `ray microbenchmark`
    polyray list actors|tasks|objects|nodes|workers|jobs|placement-groups [--filter k=v|k!=v]... [--limit N]
                 [--detail] [--format table|json|yaml]    the state API (polyray.util.state)
    polyray get <kind> <id>                               one row, every column
    polyray summary tasks|actors|objects                  counts by name and state (objects: Ray's shape)
    polyray memory [--group-by node|owner] [--sort-by object_size|reference_type] [--stats-only]
                                                          object references, sizes and kinds (as `ray memory`)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

STATE_DIR = os.path.join(os.environ.get("TMPDIR", "/tmp"), "polyray")
STATE_FILE = os.path.join(STATE_DIR, "daemons.json")


def _load_state() -> list[dict]:
    try:
        with open(STATE_FILE) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _save_state(entries: list[dict]) -> None:
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(STATE_FILE, "w") as f:
        json.dump(entries, f)


def cmd_start(args: argparse.Namespace) -> int:
    """Start a node daemon in the background and print how to connect."""
    if not args.head and not args.address:
        print("polyray start: give --head, or --address HOST:PORT to join a cluster", file=sys.stderr)
        return 2
    os.makedirs(STATE_DIR, exist_ok=True)
    stamp = f"{int(time.time())}-{os.getpid()}"
    address_file = os.path.join(STATE_DIR, f"address-{stamp}")
    log_path = os.path.join(STATE_DIR, f"node-{stamp}.log")
    cmd = [sys.executable, "-m", "polyray.node"]
    cmd += ["--head", "--port", str(args.port)] if args.head else ["--address", args.address]
    cmd += ["--host", args.host, "--address-file", address_file]
    if args.num_cpus is not None:
        cmd += ["--num-cpus", str(args.num_cpus)]
    if args.num_gpus is not None:
        cmd += ["--num-gpus", str(args.num_gpus)]
    if args.resources:
        cmd += ["--resources", args.resources]
    if args.labels:
        cmd += ["--labels", args.labels]
    if args.object_store_memory:
        cmd += ["--object-store-memory", str(args.object_store_memory)]
    if args.head:
        cmd += ["--include-dashboard" if args.include_dashboard else "--no-include-dashboard",
                "--dashboard-host", args.dashboard_host, "--dashboard-port", str(args.dashboard_port)]
    if args.metrics_export_port is not None:
        cmd += ["--metrics-export-port", str(args.metrics_export_port)]
    if args.idle_worker_timeout_s is not None:
        cmd += ["--idle-worker-timeout-s", str(args.idle_worker_timeout_s)]
    if args.warm_workers is not None:
        cmd += ["--warm-workers", args.warm_workers]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(address_file):
            with open(address_file) as f:
                address = f.read().strip()
            os.unlink(address_file)
            entries = _load_state()
            entries.append({"pid": proc.pid, "address": address, "head": bool(args.head), "log": log_path})
            _save_state(entries)
            if args.head and args.include_dashboard:
                _print_dashboard(log_path)
            if args.head:
                print(f"polyray head started (pid {proc.pid}).\n"
                      f"  Connect a driver: polyray.init(address=\"{address}\") (here: address=\"auto\")\n"
                      f"  Join a node:      polyray start --address {address}\n"
                      f"  Auth token:       polyray get-auth-token (other machines: set POLYRAY_AUTH_TOKEN)\n"
                      f"  Stop:             polyray stop")
            else:
                print(f"polyray node started (pid {proc.pid}) and joined {address}")
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(log_path, errors="replace") as f:
        print(f"polyray start: the node daemon did not start; its log ({log_path}):\n{f.read()[-3000:]}",
              file=sys.stderr)
    if proc.poll() is None:
        proc.kill()
    return 1


def _print_dashboard(log_path: str, timeout: float = 10.0) -> None:
    """Print the dashboard's URL (with the token, as Jupyter does) once the head's log shows it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, errors="replace") as f:
            for line in f:
                if line.startswith("dashboard: "):
                    print(f"  Dashboard:        {line[len('dashboard: '):].strip()}")
                    return
        time.sleep(0.05)
    print(f"  Dashboard:        not serving yet (see {log_path})")


def cmd_stop(args: argparse.Namespace) -> int:
    """SIGTERM every daemon started by `polyray start` on this machine."""
    from polyray.node import remove_stale_segments

    entries = _load_state()
    if not entries:
        print("polyray stop: no node daemons were started here")
        _report_removed(remove_stale_segments())
        return 0
    for e in entries:
        try:
            os.kill(e["pid"], signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 20
    for e in entries:
        while time.monotonic() < deadline:
            try:
                os.kill(e["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(e["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    _save_state([])
    from polyray.cluster_record import remove_record
    for e in entries:  # a head SIGKILLed above could not remove its own record
        remove_record(e["pid"])
    print(f"stopped {len(entries)} node daemon(s)")
    _report_removed(remove_stale_segments())
    return 0


def _report_removed(segments: list[str]) -> None:
    if segments:
        print(f"removed {len(segments)} store segment(s) of dead nodes: {', '.join(segments)}")


def cmd_status(args: argparse.Namespace) -> int:
    """Print nodes, resources used and total, actors and workers."""
    import grpc

    from polyray.protocol import auth, common_pb2
    from polyray.protocol import gcs_pb2 as gcs
    from polyray.protocol import gcs_pb2_grpc as gcs_grpc
    from polyray.protocol import raylet_pb2 as rl
    from polyray.protocol import raylet_pb2_grpc as rl_grpc

    address = args.address or os.environ.get("POLYRAY_ADDRESS")
    if not address:
        heads = [e for e in _load_state() if e.get("head")]
        if not heads:
            print("polyray status: no --address given and no head started here (polyray start --head)",
                  file=sys.stderr)
            return 2
        address = heads[-1]["address"]
    with auth.channel(address) as channel:
        stub = gcs_grpc.GcsServiceStub(channel)
        try:
            nodes = stub.GetAllNodes(gcs.GetAllNodesRequest(), timeout=5).nodes
            actors = stub.ListActors(gcs.ListActorsRequest(), timeout=5).actors
        except grpc.RpcError as e:
            print(f"polyray status: cannot reach the GCS at {address}: {e.code().name}", file=sys.stderr)
            return 1
        print(f"cluster at {address}: {sum(n.alive for n in nodes)} alive node(s)")
        for n in nodes:
            state = "ALIVE" if n.alive else f"DEAD ({n.death_reason})"
            print(f"\nnode {n.node_id.hex()[:16]} {state} raylet {n.raylet_address.host}:{n.raylet_address.port}")
            for k in sorted(n.resources_total):
                total = n.resources_total[k]
                used = total - n.resources_available.get(k, 0.0)
                print(f"  {k}: {used:g}/{total:g} used")
            if not n.alive:
                continue
            with auth.channel(f"{n.raylet_address.host}:{n.raylet_address.port}") as rch:
                try:
                    stats = rl_grpc.RayletServiceStub(rch).GetNodeStats(rl.GetNodeStatsRequest(), timeout=5)
                except grpc.RpcError:
                    print("  (raylet not reachable)")
                    continue
            print(f"  store: {stats.store_bytes_used}/{stats.store_capacity} bytes in {stats.store_objects} objects")
            langs = {0: "python", 1: "java", 2: "cpp"}
            print(f"  workers: {len(stats.workers)} ({stats.pending_leases} lease(s) pending)")
            for w in stats.workers:
                role = "actor " + w.actor_id.hex()[:12] if w.actor_id else ("leased" if w.leased else "idle")
                print(f"    pid {w.pid} {langs.get(w.language, '?')} {role}")
        names = {0: "DEPENDENCIES_UNREADY", 1: "PENDING_CREATION", 2: "ALIVE", 3: "RESTARTING", 4: "DEAD"}
        print(f"\nactors: {len(actors)}")
        for a in actors:
            label = f" name={a.handle.name!r}" if a.handle.name else ""
            print(f"  {a.actor_id.hex()[:16]} {a.class_name} {names.get(a.state, a.state)}{label} pid={a.pid}")
            if a.num_restarts or a.HasField("last_death_cause"):
                last = a.last_death_cause
                why = common_pb2.ErrorReason.Name(last.reason) if last.reason else "unknown"
                code = f" exit_code={last.exit_code}" if last.reason == common_pb2.REASON_PROCESS_EXITED else ""
                first = last.message.splitlines()[0] if last.message else ""
                print(f"    restarts={a.num_restarts} last death: {why}{code}: {first}")
    return 0


def cmd_get_auth_token(args: argparse.Namespace) -> int:
    """Print the cluster token this machine's processes use (env, token path, default file)."""
    from polyray.protocol import auth

    try:
        token = auth.current_token()
    except auth.AuthError as e:
        print(f"polyray get-auth-token: {e}", file=sys.stderr)
        return 1
    if token is None:
        print(f"polyray get-auth-token: authentication is disabled ({auth.ENV_MODE}=disabled)", file=sys.stderr)
        return 1
    print(token)
    return 0


def cmd_tls_generate(args: argparse.Namespace) -> int:
    """Write a throwaway CA and one node certificate and key (mutual TLS) into DIR, with openssl."""
    import shutil
    import subprocess
    import tempfile

    openssl = shutil.which("openssl")
    if openssl is None:
        print("polyray tls generate: the openssl command is not installed", file=sys.stderr)
        return 1
    out = os.path.abspath(args.dir)
    os.makedirs(out, mode=0o700, exist_ok=True)
    hosts = ["127.0.0.1", "localhost", *args.host]
    san = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts)
    ca_key, ca_crt = os.path.join(out, "ca.key"), os.path.join(out, "ca.crt")
    key, csr, crt = os.path.join(out, "node.key"), os.path.join(out, "node.csr"), os.path.join(out, "node.crt")
    days = str(args.days)
    with tempfile.NamedTemporaryFile("w", suffix=".cnf", delete=False) as ext:
        ext.write(f"subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n")
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
         "-days", days, "-subj", "/CN=polyray throwaway CA"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=polyray node"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
         "-days", days, "-extfile", ext.name],
    ]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"polyray tls generate: {' '.join(step[:3])} failed:\n{done.stderr}", file=sys.stderr)
                return 1
    finally:
        os.unlink(ext.name)
        if os.path.exists(csr):
            os.unlink(csr)
    for path in (ca_key, key):
        os.chmod(path, 0o600)
    print(f"export POLYRAY_USE_TLS=1\n"
          f"export POLYRAY_TLS_CA_CERT={ca_crt}\n"
          f"export POLYRAY_TLS_SERVER_CERT={crt}\n"
          f"export POLYRAY_TLS_SERVER_KEY={key}")
    return 0


def cmd_java_classpath(args: argparse.Namespace) -> int:
    """Print the Java SDK's classpath: ``javac -cp "$(polyray java-classpath)" Driver.java``."""
    from polyray import sdk

    entries = sdk.java_classpath()
    if not entries:
        print(f"polyray java-classpath: the Java SDK is not built (nothing under "
              f"{os.path.join(sdk.repo_root(), 'java')}); run `make setup`", file=sys.stderr)
        return 1
    print(":".join(entries))
    return 0


def cmd_cpp_flags(args: argparse.Namespace) -> int:
    """Print the flags to build against the C++ SDK:
    ``g++ -std=c++17 -shared -fPIC f.cc $(polyray cpp-flags) -o libf.so``."""
    from polyray import sdk

    try:
        flags = sdk.cpp_flags()
    except sdk.CppSdkMissing as e:
        print(f"polyray cpp-flags: {e}", file=sys.stderr)
        return 1
    print(" ".join(flags))
    return 0


# ----------------------------------------------------------------- the state API (docs/observability.md)

def _parse_filter(text: str) -> tuple[str, str, str]:
    if "!=" in text:
        key, value = text.split("!=", 1)
        return key.strip(), "!=", value.strip()
    if "=" in text:
        key, value = text.split("=", 1)
        return key.strip(), "=", value.strip()
    raise ValueError(f"--filter {text!r}: write key=value or key!=value")


def _yaml(value: object, indent: int = 0) -> str:
    """A small YAML writer for the state API's rows (scalars as JSON, which YAML reads)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}"
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{json.dumps(str(k))}:")
                lines.append(_yaml(v, indent + 1))
            else:
                lines.append(f"{pad}{json.dumps(str(k))}: {_yaml(v).strip()}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return pad + "[]"
        lines = []
        for v in value:
            inner = _yaml(v, indent + 1).lstrip()
            lines.append(f"{pad}- {inner}")
        return "\n".join(lines)
    return pad + json.dumps(value)


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    head = "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join([head.rstrip(), *body])


def _emit(value: object, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(value, indent=2))
    elif fmt == "yaml":
        print(_yaml(value))
    elif isinstance(value, list):
        print(_table(value))
    elif isinstance(value, dict):
        width = max((len(k) for k in value), default=0)
        for k, v in value.items():
            print(f"{k.ljust(width)}  {_cell(v)}")


def cmd_list(args: argparse.Namespace) -> int:
    """polyray list <kind>: rows of the state API."""
    import warnings

    from polyray.util import state
    try:
        filters = [_parse_filter(f) for f in args.filter]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = state.LISTS[args.kind](args.address, filters=filters, limit=args.limit, detail=args.detail,
                                          timeout=args.timeout)
    except (ValueError, state.StateApiError) as e:
        print(f"polyray list {args.kind}: {e}", file=sys.stderr)
        return 1
    for w in caught:  # a partial listing (objects: a process that did not answer in time)
        print(f"warning: {w.message}", file=sys.stderr)
    _emit(rows, args.format)
    if args.format == "table" and len(rows) == args.limit:
        print(f"({len(rows)} rows shown: the limit; --limit N for more)", file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    """polyray get <kind> <id>: one row, every column."""
    from polyray.util import state
    try:
        row = state.GETS[args.kind](args.id, args.address, timeout=args.timeout)
    except (ValueError, state.StateApiError) as e:
        print(f"polyray get {args.kind}: {e}", file=sys.stderr)
        return 1
    if row is None:
        print(f"polyray get {args.kind}: no {args.kind.rstrip('s')} {args.id}", file=sys.stderr)
        return 1
    _emit(row, "yaml" if args.format == "table" else args.format)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """polyray summary tasks|actors: counts by name and state."""
    from polyray.util import state
    try:
        filters = [_parse_filter(f) for f in args.filter]
        result = state.SUMMARIES[args.kind](args.address, filters=filters, timeout=args.timeout)
    except (ValueError, state.StateApiError) as e:
        print(f"polyray summary {args.kind}: {e}", file=sys.stderr)
        return 1
    if args.format != "table":
        _emit(result, args.format)
        return 0
    if args.kind == "objects":
        _print_object_summary(result)
        return 0
    key = "name" if args.kind == "tasks" else "class_name"
    rows = []
    for entry in result["summary"].values():
        row = {key: entry[key], "language": entry["language"]}
        if "type" in entry:
            row["type"] = entry["type"]
        row["total"] = sum(entry["state_counts"].values())
        row["state_counts"] = entry["state_counts"]
        rows.append(row)
    print(f"{result['total']} {args.kind} in {len(rows)} group(s)")
    print(_table(rows))
    return 0


def _print_object_summary(result: dict) -> None:
    rows = [{"call_site": site, "total_objects": e["total_objects"], "total_size_mb": f"{e['total_size_mb']:.3f}",
             "total_num_workers": e["total_num_workers"], "total_num_nodes": e["total_num_nodes"],
             "task_state_counts": e["task_state_counts"], "ref_type_counts": e["ref_type_counts"]}
            for site, e in result["summary"].items()]
    print(f"{result['total_objects']} objects, {result['total_size_mb']:.3f} MiB known, in {len(rows)} group(s)"
          + ("" if result["callsite_enabled"] else " (call sites are not recorded)"))
    print(_table(rows))
    if result.get("partial_failure_warning"):
        print(f"warning: {result['partial_failure_warning']}", file=sys.stderr)


def _size(n: int) -> str:
    if n < 0:
        return "?"
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GiB"


def cmd_memory(args: argparse.Namespace) -> int:
    """polyray memory: object references by node or owner, with sizes and kinds (Ray's `ray memory`)."""
    from polyray.util import state
    try:
        filters = [_parse_filter(f) for f in args.filter]
        result = state.memory_summary(args.address, filters=filters, group_by=args.group_by, sort_by=args.sort_by,
                                      limit=args.limit, timeout=args.timeout)
    except (ValueError, state.StateApiError) as e:
        print(f"polyray memory: {e}", file=sys.stderr)
        return 1
    if args.stats_only:
        result = {k: result[k] for k in ("stats", "stores", "partial_failure_warning", "unanswered")}
    if args.format != "table":
        _emit(result, args.format)
        return 0
    st = result["stats"]
    if not args.stats_only:
        print(f"======== Object references, grouped by {args.group_by}, sorted by {args.sort_by} ========")
        for key, g in result["groups"].items():
            if args.group_by == "node":
                print(f"\n--- node {key[:16]} ({g['ip']}) ---")
            else:
                print(f"\n--- owner {key[:16]} (pid {g['owner_pid'] or '?'}, {g['owner_language'] or '?'}) ---")
            kinds = ", ".join(f"{k}={v}" for k, v in g["reference_types"].items() if v)
            print(f"{g['objects']} object(s), {g['references']} reference(s), {_size(g['total_size_bytes'])}"
                  f" known; {kinds}")
            rows = [{"object_id": r["object_id"], "size": _size(r["object_size"]), "status": r["task_status"],
                     "reference_type": r["reference_type"], "type": r["type"], "pid": r["pid"],
                     "language": r["language"], "ip": r["ip"], "owner_pid": r["owner_pid"],
                     "call_site": r["call_site"]} for r in g["rows"]]
            print(_table(rows))
    print("\n--- Aggregate object stats across all nodes ---")
    print(f"{st['objects']} object(s), {st['references']} reference(s) in {st['processes']} process(es); "
          f"{_size(st['total_size_bytes'])} known ({st['unknown_size_objects']} of unknown size)")
    print("by reference type: " + ", ".join(f"{k}={v}" for k, v in st["reference_types"].items()))
    print("by language: " + (", ".join(f"{k}={v}" for k, v in st["languages"].items()) or "-"))
    cap = st["store_capacity_bytes"]
    print(f"store memory usage {_size(st['store_used_bytes'])} of {_size(cap)}, {st['store_objects']} object(s), "
          f"{100 * st['store_used_bytes'] / cap if cap else 0:.1f}% full")
    if result["partial_failure_warning"]:
        print(f"warning: {result['partial_failure_warning']}", file=sys.stderr)
    return 0


def _add_memory_command(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("memory", help="object references by node or owner: sizes, kinds, totals (as `ray memory`)")
    m.add_argument("--address", help="the GCS (host:port); default POLYRAY_ADDRESS or the head started here")
    m.add_argument("--group-by", choices=("node", "owner"), default="node")
    m.add_argument("--sort-by", choices=("object_size", "reference_type", "pid"), default="object_size")
    m.add_argument("--stats-only", action="store_true", help="only the totals")
    m.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="keep references whose KEY equals VALUE (KEY!=VALUE: differs); repeatable, ANDed")
    m.add_argument("--limit", type=int, default=100, help="rows shown per group (default 100, at most 10000)")
    m.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    m.add_argument("--timeout", type=float, default=30.0, help="seconds per call to the cluster")
    m.set_defaults(fn=cmd_memory)


def _add_state_commands(sub: argparse._SubParsersAction) -> None:
    from polyray.util.state import GETS, LISTS, SUMMARIES

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--address", help="the GCS (host:port); default POLYRAY_ADDRESS or the head started here")
        p.add_argument("--format", choices=("table", "json", "yaml"), default="table")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds per call to the cluster")

    ls = sub.add_parser("list", help="list actors, tasks, objects, nodes, workers, jobs or placement groups")
    ls.add_argument("kind", choices=sorted(LISTS))
    ls.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="keep rows whose KEY equals VALUE (KEY!=VALUE: differs); repeatable, ANDed")
    ls.add_argument("--limit", type=int, default=100, help="rows at most (default 100, at most 10000)")
    ls.add_argument("--detail", action="store_true", help="every column")
    common(ls)
    ls.set_defaults(fn=cmd_list)
    gt = sub.add_parser("get", help="one actor, task, object, node, worker, job or placement group, every column")
    gt.add_argument("kind", choices=sorted(GETS))
    gt.add_argument("id", help="its id in hex")
    common(gt)
    gt.set_defaults(fn=cmd_get)
    sm = sub.add_parser("summary", help="tasks or actors counted by name and state; objects by call site")
    sm.add_argument("kind", choices=sorted(SUMMARIES))
    sm.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE")
    common(sm)
    sm.set_defaults(fn=cmd_summary)


# ----------------------------------------------------------------- logs and timeline (docs/observability.md)

def cmd_logs(args: argparse.Namespace) -> int:
    """polyray logs: list the cluster's log files, or print one (a worker's, a pid's, an actor's, a task's)."""
    from polyray.util import state
    prog = "polyray logs"
    try:
        picks = {"filename": args.filename, "worker_id": args.worker_id, "pid": args.pid,
                 "actor_id": args.actor_id, "task_id": args.task_id}
        if all(v in (None, "") for v in picks.values()):
            rows = state.list_logs(args.address, node_id=args.node_id, detail=True, timeout=args.timeout)
            if args.format != "table":
                _emit(rows, args.format)
                return 0
            by_node: dict[str, list[dict]] = {}
            for r in rows:
                by_node.setdefault(f"{r['node_id']} ({r['node_ip']})", []).append(r)
            if not by_node:
                print("(no log files on the alive nodes)")
            for node, files in by_node.items():
                print(f"node {node}:")
                for r in files:
                    who = f"  pid={r['pid']}" + (" (running)" if r["alive"] else "") if r["pid"] else ""
                    print(f"  {r['filename']}  {r['size']} bytes{who}")
            return 0
        where = state.locate_log(args.address, node_id=args.node_id, suffix=args.suffix, timeout=args.timeout,
                                 **picks)
        notes: list[str] = []
        chunks = state.get_log(args.address, node_id=args.node_id or where["node_id"], suffix=args.suffix,
                               tail=args.tail, follow=args.follow, follow_until_exit=not args.force,
                               follow_timeout=args.follow_timeout, timeout=args.timeout, notes=notes, **picks)
        try:
            for text in chunks:
                sys.stdout.write(text)
                sys.stdout.flush()
                for note in notes:  # how a task's lines were found (after the first chunk)
                    print(f"[polyray logs] {note}", file=sys.stderr)
                notes.clear()
        except KeyboardInterrupt:
            return 0
    except (ValueError, state.StateApiError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    """polyray timeline: the task events as a Chrome trace JSON file."""
    from polyray.util import state, timeline
    out = args.output or time.strftime("timeline-%Y-%m-%d_%H-%M-%S.json")
    try:
        events = timeline.timeline(None, args.address, job_id=args.job_id, timeout=args.timeout)
    except (ValueError, state.StateApiError) as e:
        print(f"polyray timeline: {e}", file=sys.stderr)
        return 1
    assert events is not None
    timeline._write(out, events)
    spans = sum(1 for e in events if e.get("ph") == "X")
    flows = sum(1 for e in events if e.get("ph") == "s")
    print(f"wrote {out}: {spans} task span(s), {flows} flow(s); open it in chrome://tracing or "
          f"https://ui.perfetto.dev")
    return 0


def _add_log_commands(sub: argparse._SubParsersAction) -> None:
    lg = sub.add_parser("logs", help="list the cluster's log files, or print one (a worker's, an actor's, "
                                     "a task's, a pid's); --follow for what comes")
    lg.add_argument("filename", nargs="?", help="a file of `polyray logs` (with --node-id when on several nodes)")
    lg.add_argument("--node-id", help="only this node (hex id or a prefix of it)")
    lg.add_argument("--worker-id", help="the log of this worker (hex id; 16 hex digits suffice)")
    lg.add_argument("--pid", type=int, help="the log of the worker with this pid")
    lg.add_argument("--actor-id", help="the log of this actor's worker")
    lg.add_argument("--task-id", help="the lines of this task (its worker's log, cut to the task's name)")
    lg.add_argument("--err", dest="suffix", action="store_const", const="err", default="out",
                    help="the worker's stderr file (.err) instead of stdout (.out)")
    lg.add_argument("--tail", type=int, default=-1, help="only the last N lines")
    lg.add_argument("-f", "--follow", action="store_true",
                    help="keep printing what is written, until the worker exits (or Ctrl-C)")
    lg.add_argument("--force", action="store_true", help="with --follow: go on after the worker exits")
    lg.add_argument("--follow-timeout", type=float, default=None, help="with --follow: stop after S seconds")
    lg.add_argument("--address", help="the GCS (host:port); default POLYRAY_ADDRESS or the head started here")
    lg.add_argument("--format", choices=("table", "json", "yaml"), default="table", help="of the list")
    lg.add_argument("--timeout", type=float, default=30.0, help="seconds per call to the cluster")
    lg.set_defaults(fn=cmd_logs)
    tl = sub.add_parser("timeline", help="write the task events as a Chrome trace (chrome://tracing, Perfetto)")
    tl.add_argument("--output", "-o", help="the JSON file (default timeline-<date>_<time>.json)")
    tl.add_argument("--job-id", help="only this job's tasks (hex)")
    tl.add_argument("--address", help="the GCS (host:port); default POLYRAY_ADDRESS or the head started here")
    tl.add_argument("--timeout", type=float, default=30.0, help="seconds per call to the cluster")
    tl.set_defaults(fn=cmd_timeline)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``polyray`` console script."""
    p = argparse.ArgumentParser(prog="polyray", description="polyray cluster tools")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start", help="start a node daemon in the background")
    s.add_argument("--head", action="store_true")
    s.add_argument("--address")
    s.add_argument("--host", "--node-ip-address", dest="host", default="127.0.0.1",
                   help="address the node binds and advertises (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=6380)
    s.add_argument("--num-cpus", type=float)
    s.add_argument("--num-gpus", type=float)
    s.add_argument("--idle-worker-timeout-s", type=float, default=None,
                   help="seconds an idle worker outside the warm pool lives (default 10)")
    s.add_argument("--warm-workers", default=None,
                   help='idle workers kept warm per language: N, "java=2,python=1" or auto (num_cpus each)')
    s.add_argument("--resources")
    s.add_argument("--labels", help='node labels as JSON, e.g. {"zone": "a"} (Ray\'s --labels)')
    s.add_argument("--object-store-memory", type=int)
    s.add_argument("--include-dashboard", action=argparse.BooleanOptionalAction, default=True,
                   help="serve the dashboard, REST API and /metrics with the head (default: yes)")
    s.add_argument("--dashboard-host", default="127.0.0.1")
    s.add_argument("--dashboard-port", type=int, default=8265, help="0: any free port")
    s.add_argument("--metrics-export-port", type=int, default=None,
                   help="serve this node's Prometheus /metrics here (0: any free port; default: off)")
    s.set_defaults(fn=cmd_start)
    t = sub.add_parser("stop", help="stop the node daemons started here")
    t.set_defaults(fn=cmd_stop)
    st = sub.add_parser("status", help="show nodes, resources, actors and workers")
    st.add_argument("--address")
    st.set_defaults(fn=cmd_status)
    gt = sub.add_parser("get-auth-token", help="print the cluster's auth token (POLYRAY_AUTH_TOKEN, "
                                               "POLYRAY_AUTH_TOKEN_PATH or ~/.polyray/auth_token)")
    gt.set_defaults(fn=cmd_get_auth_token)
    tls = sub.add_parser("tls", help="TLS helpers").add_subparsers(dest="tls_command", required=True)
    tg = tls.add_parser("generate", help="write a throwaway CA and a node certificate and key into DIR "
                                          "(for trying POLYRAY_USE_TLS=1; not for production)")
    tg.add_argument("dir")
    tg.add_argument("--host", action="append", default=[],
                    help="another address the certificate is valid for (127.0.0.1 and localhost always are)")
    tg.add_argument("--days", type=int, default=30)
    tg.set_defaults(fn=cmd_tls_generate)
    jc = sub.add_parser("java-classpath", help="print the classpath of the Java SDK (to build and run Java drivers)")
    jc.set_defaults(fn=cmd_java_classpath)
    cf = sub.add_parser("cpp-flags", help="print the compiler and linker flags of the C++ SDK "
                                          "(g++ -std=c++17 f.cc $(polyray cpp-flags))")
    cf.set_defaults(fn=cmd_cpp_flags)
    _add_state_commands(sub)
    _add_log_commands(sub)
    _add_memory_command(sub)
    from polyray.jobs.cli import add_job_command  # `polyray job ...` (docs/jobs.md)
    add_job_command(sub)
    # Its options live in polyray.bench, imported only when asked for (it loads
    # numpy and the CoreWorker): `polyray microbenchmark -h` lists them.
    sub.add_parser("microbenchmark", add_help=False,
                   help="run the microbenchmark (the rows of `ray microbenchmark`); -h for its options")
    args, rest = p.parse_known_args(argv)
    if args.command == "microbenchmark":
        from polyray import bench
        sys.exit(bench.main(rest, prog="polyray microbenchmark"))
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
