"""A real multi-node cluster on one machine: a head and joining node daemons,
each its own process with its own shared store and ports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from polyray.protocol import auth

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MB = 1024 * 1024
#: Small stores: three nodes and a 500 MB object fit on a test machine.
STORE_BYTES = 700 * MB
#: Seconds without heartbeat before the GCS declares a node dead (short, for tests).
NODE_TIMEOUT_S = 3.0

_JOINED = re.compile(r"polyray node ([0-9a-f]{56}) joined")


@dataclass
class NodeProcess:
    """One node daemon."""

    process: subprocess.Popen
    log_path: str
    node_id: str = ""
    head: bool = False
    #: The node's shared-memory segment ("/polyray-..."), from the GCS.
    store_name: str = ""

    def alive(self) -> bool:
        """True while the daemon runs."""
        return self.process.poll() is None

    def log(self) -> str:
        """The daemon's output so far."""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the daemon (SIGKILL: no clean-up, as a machine that dies)."""
        if self.alive():
            self.process.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@dataclass
class Cluster:
    """A head plus joining nodes started with ``python -m polyray.node``."""

    session: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="polyray-cluster-"))
    address: str = ""
    nodes: list[NodeProcess] = field(default_factory=list)

    def _spawn(self, args: list[str], name: str, extra_env: dict | None = None) -> NodeProcess:
        log_path = os.path.join(self.session, f"{name}.log")
        env = dict(os.environ)
        env.update(extra_env or {})
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "python"), os.path.dirname(__file__),
                                             env.get("PYTHONPATH", "")])
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "polyray.node", *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        return NodeProcess(proc, log_path)

    def start_head(self, num_cpus: float = 2, resources: dict | None = None,
                   store_bytes: int = STORE_BYTES, timeout: float = 60.0) -> NodeProcess:
        """Start the head (GCS + raylet) and wait for its address."""
        address_file = os.path.join(self.session, "gcs_address")
        args = ["--head", "--port", "0", "--address-file", address_file, "--num-cpus", str(num_cpus),
                "--object-store-memory", str(store_bytes), "--node-timeout", str(NODE_TIMEOUT_S),
                "--idle-worker-timeout", "30"]
        if resources:
            args += ["--resources", json.dumps(resources)]
        node = self._spawn(args, "head")
        node.head = True
        deadline = time.monotonic() + timeout
        while not os.path.exists(address_file):
            if not node.alive() or time.monotonic() > deadline:
                node.stop()
                raise RuntimeError(f"the head did not start:\n{node.log()[-3000:]}")
            time.sleep(0.05)
        with open(address_file) as f:
            self.address = f.read().strip()
        node.node_id = self._wait_joined(node, timeout, head=True)
        node.store_name = self._store_name(node.node_id)
        self.nodes.append(node)
        return node

    def add_node(self, num_cpus: float = 2, resources: dict | None = None, num_gpus: float | None = 0,
                 store_bytes: int = STORE_BYTES, timeout: float = 60.0,
                 labels: dict | None = None, env: dict | None = None) -> NodeProcess:
        """Start a node that joins the head; returns once it registered
        (``num_gpus=None``: detected; ``env``: more environment variables of the node daemon).

        The node starts no standby Python workers (``POLYRAY_PRESTART_STANDBY=0`` unless ``env``
        or pytest's own environment says otherwise): only a driver that registers with a node
        adopts its standbys, and a driver registers with the first alive node, the head, so a
        joining node's standbys would only cost CPU (tests/conftest.py)."""
        args = ["--address", self.address, "--num-cpus", str(num_cpus), "--object-store-memory",
                str(store_bytes), "--idle-worker-timeout", "30"]
        if num_gpus is not None:
            args += ["--num-gpus", str(num_gpus)]
        if labels:
            args += ["--labels", json.dumps(labels)]
        if resources:
            args += ["--resources", json.dumps(resources)]
        standby = os.environ.get("POLYRAY_PRESTART_STANDBY", "0")  # set for pytest: that value
        node = self._spawn(args, f"node{len(self.nodes)}", {"POLYRAY_PRESTART_STANDBY": standby, **(env or {})})
        node.node_id = self._wait_joined(node, timeout)
        node.store_name = self._store_name(node.node_id)
        self.nodes.append(node)
        return node

    def _wait_joined(self, node: NodeProcess, timeout: float, head: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if head:
                ids = self._alive_ids()
                known = {n.node_id for n in self.nodes}
                fresh = [i for i in ids if i not in known]
                if fresh:
                    return fresh[0]
            else:
                m = _JOINED.search(node.log())
                if m:
                    return m.group(1)
            if not node.alive():
                break
            time.sleep(0.05)
        node.stop()
        raise RuntimeError(f"the node did not join within {timeout:.0f} s:\n{node.log()[-3000:]}")

    def _all_nodes(self) -> list:
        import grpc

        from polyray.protocol import gcs_pb2, gcs_pb2_grpc
        with auth.channel(self.address) as ch:
            try:
                return list(gcs_pb2_grpc.GcsServiceStub(ch).GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=5).nodes)
            except grpc.RpcError:
                return []

    def _alive_ids(self) -> list[str]:
        return [n.node_id.hex() for n in self._all_nodes() if n.alive]

    def _store_name(self, node_id: str) -> str:
        return next((n.store_name for n in self._all_nodes() if n.node_id.hex() == node_id), "")

    def wait_alive(self, count: int, timeout: float = 30.0) -> None:
        """Wait until the GCS counts ``count`` alive nodes."""
        deadline = time.monotonic() + timeout
        while len(self._alive_ids()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} alive nodes, the GCS has {self._alive_ids()}")
            time.sleep(0.1)

    def shutdown(self) -> None:
        """Stop every node (joining ones first, then the head); remove the store
        segments of nodes that were killed (a SIGKILLed raylet cannot)."""
        for node in reversed(self.nodes):
            node.stop()
        for node in self.nodes:
            if node.store_name:
                try:
                    os.unlink(os.path.join("/dev/shm", node.store_name.lstrip("/")))
                except FileNotFoundError:
                    pass
        self.nodes.clear()
        shutil.rmtree(self.session, ignore_errors=True)
