"""The ``polyray`` command: start and stop node daemons, show cluster status.

    polyray start --head [--port N] [--num-cpus N] ...   start a head in the background
    polyray stop                                          stop the daemons started here
    polyray status [--address HOST:PORT]                  nodes, resources, actors, workers
    polyray java-classpath                                the Java SDK's classpath
    polyray cpp-flags                                     compiler/linker flags for the C++ SDK
    polyray microbenchmark [--filter S] [--json OUT]      the rows of `ray microbenchmark`
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
    if args.object_store_memory:
        cmd += ["--object-store-memory", str(args.object_store_memory)]
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
            if args.head:
                print(f"polyray head started (pid {proc.pid}).\n"
                      f"  Connect a driver: polyray.init(address=\"{address}\")\n"
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
    s.add_argument("--resources")
    s.add_argument("--object-store-memory", type=int)
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
