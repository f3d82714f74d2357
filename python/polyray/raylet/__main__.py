"""``python -m polyray.raylet``: run one raylet until SIGTERM/SIGINT or Shutdown.

Prints ``RAYLET_PORT=<port>`` on stdout once it serves, for whoever started it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from polyray.raylet.config import NodeConfig, parse_warm_workers
from polyray.raylet.server import RayletServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m polyray.raylet", description=__doc__)
    p.add_argument("--gcs-address", required=True, help="HOST:PORT of the GCS")
    p.add_argument("--host", default="127.0.0.1", help="address to bind and advertise")
    p.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    p.add_argument("--num-cpus", type=float, default=None, help="CPUs (default: the machine's)")
    p.add_argument("--num-gpus", type=float, default=None, help="GPUs (default: detected; gpus.py)")
    p.add_argument("--labels", default="{}", help='node labels as JSON: {"zone": "a"}')
    p.add_argument("--memory", type=float, default=0.0, help="bytes of memory for tasks")
    p.add_argument("--resources", default="{}", help='custom resources as JSON: {"disk": 4}')
    p.add_argument("--object-store-memory", type=int, default=256 * 1024 * 1024)
    p.add_argument("--node-id", default=None, help="hex node id (default: random)")
    p.add_argument("--store-name", default="", help="shared-memory segment name")
    p.add_argument("--session-dir", default=None, help="folder for worker logs")
    p.add_argument("--worker-start-timeout", type=float, default=30.0)
    p.add_argument("--idle-worker-timeout", "--idle-worker-timeout-s", dest="idle_worker_timeout",
                   type=float, default=10.0)
    p.add_argument("--warm-workers", default="auto",
                   help='idle workers kept warm per language: N, "java=2,python=1" or auto (num_cpus each)')
    p.add_argument("--prestart-workers", type=int, default=0)
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> NodeConfig:
    """A NodeConfig from the parsed command line (ValueError on bad values)."""
    try:
        custom = json.loads(args.resources)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--resources is not JSON: {exc}") from None
    if not isinstance(custom, dict):
        raise ValueError("--resources must be a JSON object")
    try:
        labels = json.loads(args.labels)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--labels is not JSON: {exc}") from None
    extra: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "object_store_memory": args.object_store_memory,
        "store_name": args.store_name,
        "worker_start_timeout_s": args.worker_start_timeout,
        "idle_worker_timeout_s": args.idle_worker_timeout,
        "prestart_workers": args.prestart_workers,
        "warm_workers": parse_warm_workers(args.warm_workers),
        "labels": labels,
    }
    if args.node_id:
        extra["node_id"] = bytes.fromhex(args.node_id)
    if args.session_dir:
        extra["session_dir"] = args.session_dir
    return NodeConfig.build(
        args.gcs_address,
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        memory=args.memory,
        custom_resources=custom,
        **extra,
    )


async def _run(config: NodeConfig) -> None:
    server = RayletServer(config)
    port = await server.start()
    print(f"RAYLET_PORT={port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop, f"signal {sig.name}")
    await server.wait_stopped()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s raylet[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = build_config(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(config))
    except ConnectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
