"""The node daemon: ``python -m polyray.node --head`` runs a GCS and a raylet.

``--head`` starts the cluster's GCS and this node's raylet in one process and
prints the address drivers connect to (``polyray.init(address=...)``).
``--address HOST:PORT`` (the multi-node issue) starts a raylet that joins.
``polyray.init()`` with no address runs this module as a child process (the
embedded head) and stops it at ``shutdown()``; the child also stops by
itself when its parent dies, so no process or segment outlives the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

DEFAULT_STORE_BYTES = 2 * 1024 ** 3
#: Where the head puts its dashboard's URL in the GCS KV store ("" when it serves none).
DASHBOARD_KV = ("cluster", b"dashboard_url")


def default_object_store_memory() -> int:
    """Like Ray: 30% of the machine's memory, here capped at 2 GiB (shm is sparse)."""
    try:
        import psutil
        total = psutil.virtual_memory().total
    except Exception:  # pragma: no cover
        total = 8 * 1024 ** 3
    return int(min(DEFAULT_STORE_BYTES, 0.3 * total))


def default_memory(object_store_bytes: int) -> int:
    """The ``memory`` resource a node offers by default, as Ray: the machine's available
    memory less the object store's bytes (at least 0). Tasks and actors reserve it with
    ``memory=`` (bytes); nothing enforces what they really use."""
    try:
        import psutil
        available = int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover
        return 0
    return max(0, available - int(object_store_bytes))


#: Environment knob: "0" turns the head's dashboard off where it would start by
#: default (``polyray.node --head`` without --include-dashboard, ``polyray.init()``);
#: the test lanes use it for clusters no test looks at through the dashboard.
ENV_INCLUDE_DASHBOARD = "POLYRAY_INCLUDE_DASHBOARD"


def dashboard_by_default() -> bool:
    """Whether a head serves its dashboard unless told: not when ``$POLYRAY_INCLUDE_DASHBOARD`` is "0"."""
    return os.environ.get(ENV_INCLUDE_DASHBOARD, "1").strip() != "0"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the node daemon."""
    p = argparse.ArgumentParser(prog="python -m polyray.node", description="Run a polyray node.")
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("--head", action="store_true", help="start the GCS and this node's raylet")
    role.add_argument("--address", help="HOST:PORT of the head's GCS, to join a cluster")
    p.add_argument("--host", "--node-ip-address", dest="host", default="127.0.0.1",
                   help="address to bind and advertise (default 127.0.0.1; never all interfaces unless given)")
    p.add_argument("--port", type=int, default=6380, help="GCS port for --head (0: any free port)")
    p.add_argument("--num-cpus", type=float, default=None, help="CPUs of this node (default: all)")
    p.add_argument("--num-gpus", type=float, default=None,
                   help="GPUs of this node (default: detected with nvidia-smi, or $CUDA_VISIBLE_DEVICES; else 0)")
    p.add_argument("--labels", default="{}",
                   help='node labels as JSON, e.g. {"zone": "a"}, matched by label_selector (Ray\'s --labels)')
    p.add_argument("--memory", type=float, default=None,
                   help="bytes of memory offered to tasks (default: available memory less the object store)")
    p.add_argument("--resources", default="{}", help='custom resources as JSON, e.g. {"disk": 4}')
    p.add_argument("--object-store-memory", type=int, default=None, help="bytes of the node's shared store")
    p.add_argument("--store-prefault", default=None, metavar="BYTES",
                   help="bytes of the store to populate in the background at start, e.g. 512M; 0 or off: none "
                        "(default: $POLYRAY_STORE_PREFAULT, else 256M; docs/performance.md, Large puts)")
    p.add_argument("--address-file", default=None, help="write the GCS address here once serving")
    p.add_argument("--parent-pid", type=int, default=None, help="stop when this process exits")
    # Defaults from the environment: how a C++ driver's embedded head (and any
    # other starter) sets them without flags.
    p.add_argument("--idle-worker-timeout", "--idle-worker-timeout-s", dest="idle_worker_timeout",
                   type=float, default=float(os.environ.get("POLYRAY_IDLE_WORKER_TIMEOUT_S") or 10.0),
                   help="seconds an idle worker outside the warm pool lives ($POLYRAY_IDLE_WORKER_TIMEOUT_S, "
                        "default 10)")
    p.add_argument("--warm-workers", default=os.environ.get("POLYRAY_WARM_WORKERS") or "auto",
                   help='idle workers per language kept past the idle timeout while their job is live: '
                        'N, "java=2,python=1,cpp=0", or auto (num_cpus each, the default)')
    p.add_argument("--prestart-workers", type=int, default=0)
    p.add_argument("--prestart-python-workers", type=int,
                   default=int(os.environ.get("POLYRAY_PRESTART_PYTHON_WORKERS") or -1),
                   help="Python workers prestarted for a Python driver, started with the node as standbys "
                        "($POLYRAY_PRESTART_PYTHON_WORKERS; default min(2, num_cpus); 0: none)")
    p.add_argument("--prestart-java-workers", type=int,
                   default=int(os.environ.get("POLYRAY_PRESTART_JAVA_WORKERS") or 1),
                   help="Java workers started for a Java driver's job when it registers, so its first Java "
                        "task finds a JVM starting or up ($POLYRAY_PRESTART_JAVA_WORKERS; default 1; 0: none)")
    p.add_argument("--prestart-cpp-workers", type=int,
                   default=int(os.environ.get("POLYRAY_PRESTART_CPP_WORKERS") or 0),
                   help="C++ workers started for a C++ driver's job when it registers "
                        "($POLYRAY_PRESTART_CPP_WORKERS; default 0)")
    p.add_argument("--prestart-standby", action=argparse.BooleanOptionalAction,
                   default=os.environ.get("POLYRAY_PRESTART_STANDBY", "1") != "0",
                   help="start the prestarted Python workers with the node, before any driver "
                        "($POLYRAY_PRESTART_STANDBY; default: yes)")
    p.add_argument("--node-timeout", type=float, default=10.0, help="seconds without heartbeat before a node is dead")
    p.add_argument("--session-dir", default=None,
                   help="folder of the workers' logs (default /tmp/polyray/session_<time>_<pid>/logs)")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--record-cluster", action=argparse.BooleanOptionalAction, default=True,
                   help="a head without --parent-pid records itself in $TMPDIR/polyray/current_cluster "
                        "for init(address='auto') (default: yes)")
    # The dashboard (docs/observability.md): with the head, 127.0.0.1:8265 unless told.
    p.add_argument("--include-dashboard", action=argparse.BooleanOptionalAction, default=dashboard_by_default(),
                   help="serve the dashboard, REST API and /metrics with the head "
                        f"(${ENV_INCLUDE_DASHBOARD}; default: yes)")
    p.add_argument("--dashboard-host", default="127.0.0.1", help="the dashboard's interface")
    p.add_argument("--dashboard-port", type=int, default=8265, help="the dashboard's port (0: any free port)")
    p.add_argument("--dashboard-url-file", default=None, help="write the dashboard's URL here")
    p.add_argument("--metrics-export-port", type=int, default=None,
                   help="serve this node's Prometheus /metrics on this port (0: any; default: not served)")
    return p.parse_args(argv)


#: Store segments of raylets: /dev/shm/polyray-<12 hex of the node id>-<pid of the creating node>.
_SEGMENT = re.compile(r"polyray-[0-9a-f]{12}-(\d+)")
_SHM = "/dev/shm"


def _process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if it does not run."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            return None  # a zombie holds nothing but its exit code
        with open("/proc/stat") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def segment_is_stale(name: str, shm_dir: str = _SHM) -> bool:
    """True for a node's segment (``polyray-<node>-<pid>``) whose creator is gone:
    its pid does not run, or the process with that pid started after the segment
    was created (the pid was reused). Segments of other names are never stale."""
    m = _SEGMENT.fullmatch(name)
    if m is None:
        return False
    try:
        changed = os.stat(os.path.join(shm_dir, name)).st_mtime
    except FileNotFoundError:
        return False
    started = _process_start_time(int(m.group(1)))
    # A segment is created (and written) by its process after that process
    # started, so a process that started after the segment's last change is
    # another one with a reused pid. 1 s of slack for the clock tick granularity.
    return started is None or started > changed + 1.0


def remove_stale_segments(shm_dir: str = _SHM) -> list[str]:
    """Unlink the store segments of dead polyray nodes on this machine; their names."""
    removed = []
    try:
        names = os.listdir(shm_dir)
    except OSError:
        return removed
    for name in sorted(names):
        if segment_is_stale(name, shm_dir):
            try:
                os.unlink(os.path.join(shm_dir, name))
            except OSError:
                continue
            removed.append(name)
    if removed:
        logging.getLogger(__name__).warning("removed store segments of dead nodes: %s", ", ".join(removed))
    return removed


def _json_object(text: str, flag: str, shape: str) -> dict:
    """A node flag that takes a JSON object (``--labels``, ``--resources``): the dict, or
    SystemExit naming the flag and what it must be."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"{flag} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"{flag} must be a JSON object of {shape}")
    return value


async def _run(args: argparse.Namespace) -> None:
    from polyray.gcs.config import GcsConfig
    from polyray.gcs.server import GcsServer
    from polyray.protocol import auth, common_pb2, gcs_pb2
    from polyray.raylet.config import NodeConfig, parse_warm_workers
    from polyray.raylet.server import RayletServer

    # The head creates the cluster token if none is given; a joining node must
    # find one. Either way it goes into this process's environment, so every
    # worker the raylet starts inherits it (docs/security.md).
    try:
        token = auth.ensure_head_token() if args.head else auth.current_token()
    except auth.AuthError as e:
        raise SystemExit(f"polyray.node: {e}") from None
    if token is not None:
        os.environ[auth.ENV_TOKEN] = token
    if args.store_prefault is not None:
        from polyray.store.prefault import ENV_PREFAULT, parse_bytes
        try:
            parse_bytes(args.store_prefault)
        except ValueError as e:
            raise SystemExit(f"polyray.node: --store-prefault: {e}") from None
        os.environ[ENV_PREFAULT] = args.store_prefault  # read by the raylet's ObjectManager
    remove_stale_segments()
    gcs_server = None
    if args.head:
        gcs_server = GcsServer(GcsConfig(node_timeout_s=args.node_timeout))
        try:
            gcs_port = await gcs_server.start(host=args.host, port=args.port)
        except OSError as e:  # a second head on a used port: say so, no traceback
            raise SystemExit(f"polyray.node: {e}") from None
        gcs_address = f"{args.host}:{gcs_port}"
    else:
        gcs_address = args.address
    store_bytes = args.object_store_memory or default_object_store_memory()
    # As Ray: the node offers "memory" and "object_store_memory" (bytes) as resources.
    custom = _json_object(args.resources, "--resources", "name -> amount")
    labels = _json_object(args.labels, "--labels", "key -> value")
    custom.setdefault("object_store_memory", float(store_bytes))
    memory = args.memory if args.memory is not None else float(default_memory(store_bytes))
    try:
        config = NodeConfig.build(
            gcs_address, num_cpus=args.num_cpus, num_gpus=args.num_gpus, memory=memory, labels=labels,
            custom_resources=custom, host=args.host,
            object_store_memory=store_bytes,
            idle_worker_timeout_s=args.idle_worker_timeout, prestart_workers=args.prestart_workers,
            warm_workers=parse_warm_workers(args.warm_workers),
            prestart_on_driver=(args.prestart_python_workers if args.prestart_python_workers >= 0 else
                                min(2, int(args.num_cpus if args.num_cpus is not None else (os.cpu_count() or 1)))),
            prestart_standby=args.prestart_standby,
            prestart_on_driver_by_language={common_pb2.JAVA: args.prestart_java_workers,
                                            common_pb2.CPP: args.prestart_cpp_workers},
            **({"session_dir": args.session_dir} if args.session_dir else {}))
    except ValueError as e:
        raise SystemExit(f"polyray.node: {e}") from None
    raylet = RayletServer(config)
    try:
        await raylet.start()
    except BaseException as e:
        if gcs_server is not None:
            await gcs_server.stop()
        if isinstance(e, OSError):
            raise SystemExit(f"polyray.node: {e}") from None
        raise
    if args.address_file:
        # Before the dashboard starts: importing aiohttp costs ~0.4 s that a
        # driver waiting for its embedded head should not wait for.
        tmp = args.address_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(gcs_address)
        os.replace(tmp, args.address_file)
    dashboard = exporter = None
    try:
        if args.head and args.include_dashboard:
            from polyray.dashboard import DashboardServer
            dashboard = DashboardServer(gcs_address, args.dashboard_host, args.dashboard_port,
                                        session_dirs=(config.session_dir,),
                                        task_events=gcs_server.task_events if gcs_server is not None else None)
            await dashboard.start()
        if args.metrics_export_port is not None:
            from polyray.raylet.metrics_export import MetricsExporter
            exporter = MetricsExporter(raylet, args.host, args.metrics_export_port)
            await exporter.start()
    except OSError as e:
        await raylet.stop("the dashboard could not start")
        if gcs_server is not None:
            await gcs_server.stop()
        raise SystemExit(f"polyray.node: {e}") from None
    if args.head:
        print(f"polyray head started; connect with polyray.init(address=\"{gcs_address}\")", flush=True)
        print(f"GCS_ADDRESS={gcs_address}", flush=True)
    if gcs_server is not None:
        # Drivers of every language read it at init (namespace "cluster", key "dashboard_url"; "" for none).
        await gcs_server.kv.KVPut(gcs_pb2.KVPutRequest(namespace=DASHBOARD_KV[0], key=DASHBOARD_KV[1],
                                                       value=(dashboard.url if dashboard else "").encode(),
                                                       overwrite=True), None)
    if dashboard is not None:
        print(f"dashboard: {dashboard.login_url}", flush=True)
        print(f"DASHBOARD_URL={dashboard.url}", flush=True)
        if args.dashboard_url_file:
            with open(args.dashboard_url_file + ".tmp", "w") as f:
                f.write(dashboard.url)
            os.replace(args.dashboard_url_file + ".tmp", args.dashboard_url_file)
    if exporter is not None:
        print(f"METRICS_EXPORT_URL=http://{args.host}:{exporter.port}/metrics", flush=True)
    else:
        print(f"polyray node {config.node_id.hex()} joined the cluster at {gcs_address}", flush=True)
    recorded = args.head and args.parent_pid is None and args.record_cluster  # not an embedded head
    if recorded:  # init(address="auto") finds it (polyray.cluster_record)
        from polyray.cluster_record import ClusterRecord, write_record
        try:
            write_record(ClusterRecord(gcs_address, os.getpid(), dashboard.url if dashboard else "",
                                       os.path.dirname(os.path.abspath(config.session_dir))))
        except OSError as e:  # an unwritable temp root costs "auto", not the head
            logging.getLogger(__name__).warning("cannot record the cluster for init(address='auto'): %s", e)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def watch_parent() -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                os.kill(args.parent_pid, 0)
            except ProcessLookupError:
                stop.set()
                return
            except PermissionError:
                pass

    async def watch_raylet() -> None:
        await raylet.wait_stopped()
        stop.set()

    tasks = [asyncio.ensure_future(watch_raylet())]
    if args.parent_pid:
        tasks.append(asyncio.ensure_future(watch_parent()))
    await stop.wait()
    for t in tasks:
        t.cancel()
    if dashboard is not None:
        await dashboard.stop()
    if exporter is not None:
        await exporter.stop()
    await raylet.stop("node daemon stopping")
    if gcs_server is not None:
        await gcs_server.stop()
    if recorded:
        from polyray.cluster_record import remove_record
        remove_record(os.getpid())


def main(argv: list[str] | None = None) -> None:
    """Run the node daemon in the foreground until SIGTERM/SIGINT."""
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_run(args))


@dataclass
class EmbeddedHead:
    """A head node run as a child process of the driver."""

    process: subprocess.Popen
    address: str
    log_path: str
    #: The temporary folder of this head (address file, its log, the workers' logs).
    session_dir: str = ""
    #: Where the head writes its dashboard's URL once it serves ("" when not started).
    dashboard_url_file: str = ""

    def dashboard_url(self, timeout: float = 10.0) -> str:
        """The dashboard's URL, waiting up to ``timeout`` for it to serve; "" if it does not."""
        deadline = time.monotonic() + timeout
        while self.dashboard_url_file:
            try:
                with open(self.dashboard_url_file) as f:
                    return f.read().strip()
            except FileNotFoundError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    return ""
                time.sleep(0.02)
        return ""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the head (it stops its workers and removes its store), wait,
        then remove its temporary folder."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.session_dir:
            shutil.rmtree(self.session_dir, ignore_errors=True)
            self.session_dir = ""


def head_flags_from_system_config(system_config: dict) -> list[str]:
    """Node flags for init(_system_config=...): Ray's
    ``idle_worker_killing_time_threshold_ms``, or ``idle_worker_timeout_s``, and
    ``warm_workers`` (an int for every language, or {"java": 2, ...}),
    ``prestart_python_workers`` (0: none) and ``prestart_standby`` (False:
    prestart them when the driver registers, not with the node).
    ValueError naming an unknown key or a bad value."""
    flags: list[str] = []
    for key, value in system_config.items():
        if key in ("idle_worker_killing_time_threshold_ms", "idle_worker_timeout_s"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"_system_config[{key!r}] must be a positive number, got {value!r}")
            seconds = value / 1000.0 if key.endswith("_ms") else float(value)
            flags += ["--idle-worker-timeout-s", repr(seconds)]
        elif key == "warm_workers":
            if isinstance(value, dict):
                text = ",".join(f"{k}={int(v)}" for k, v in value.items())
            elif isinstance(value, int) and not isinstance(value, bool):
                text = str(value)
            else:
                raise ValueError(f"_system_config['warm_workers'] must be an int or a dict, got {value!r}")
            from polyray.raylet.config import parse_warm_workers
            parse_warm_workers(text)  # refused here, not by the head's start
            flags += ["--warm-workers", text]
        elif key == "prestart_python_workers":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"_system_config['prestart_python_workers'] must be an int >= 0, got {value!r}")
            flags += ["--prestart-python-workers", str(value)]
        elif key == "prestart_standby":
            if not isinstance(value, bool):
                raise ValueError(f"_system_config['prestart_standby'] must be a bool, got {value!r}")
            flags += ["--prestart-standby" if value else "--no-prestart-standby"]
        else:
            raise ValueError(f"_system_config key {key!r} is not known (known: "
                             "idle_worker_killing_time_threshold_ms, idle_worker_timeout_s, warm_workers, "
                             "prestart_python_workers, prestart_standby)")
    return flags


def start_embedded_head(*, num_cpus: float | None = None, num_gpus: float | None = None,
                        resources: dict | None = None, object_store_memory: int | None = None,
                        timeout: float = 60.0, include_dashboard: bool = True,
                        extra_flags: list[str] | None = None, labels: dict[str, str] | None = None) -> EmbeddedHead:
    """Start ``python -m polyray.node --head`` for this driver and wait until it serves
    (``extra_flags``: more node flags, e.g. :func:`head_flags_from_system_config`'s)."""
    if num_cpus is not None and num_cpus < 0:
        raise ValueError(f"num_cpus must not be negative, got {num_cpus}")
    if num_gpus is not None and num_gpus < 0:
        raise ValueError(f"num_gpus must not be negative, got {num_gpus}")
    for k, v in (resources or {}).items():
        if not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"resource {k!r} must be a non-negative number, got {v!r}")
    session = tempfile.mkdtemp(prefix="polyray-")
    address_file = os.path.join(session, "gcs_address")
    log_path = os.path.join(session, "head.log")
    cmd = [sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--address-file", address_file,
           "--parent-pid", str(os.getpid()), "--session-dir", os.path.join(session, "logs")]
    if num_cpus is not None:
        cmd += ["--num-cpus", str(num_cpus)]
    if num_gpus is not None:
        cmd += ["--num-gpus", str(num_gpus)]
    if resources:
        cmd += ["--resources", json.dumps(resources)]
    if labels:
        from polyray.protocol.labels import check_labels
        cmd += ["--labels", json.dumps(check_labels(labels))]
    if object_store_memory is not None:
        cmd += ["--object-store-memory", str(int(object_store_memory))]
    cmd += list(extra_flags or [])
    dashboard_file = os.path.join(session, "dashboard_url")
    include_dashboard = include_dashboard and dashboard_by_default()
    cmd += ["--dashboard-url-file", dashboard_file] if include_dashboard else ["--no-include-dashboard"]
    log = open(log_path, "wb")
    from polyray.protocol import auth
    env = dict(os.environ)
    # The embedded head's token: the one given, or a new one in the default
    # file; the head and this driver use the same one.
    auth.ensure_head_token()
    env.update(auth.child_env())
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(address_file):
            with open(address_file) as f:
                address = f.read().strip()
            return EmbeddedHead(proc, address, log_path, session, dashboard_file if include_dashboard else "")
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    head = EmbeddedHead(proc, "", log_path)
    head.stop()
    with open(log_path, errors="replace") as f:
        tail = f.read()[-3000:]
    raise RuntimeError(f"the embedded polyray head did not start within {timeout:.0f} s "
                       f"(exit code {proc.returncode}); its log ({log_path}):\n{tail}")


if __name__ == "__main__":
    main()
