"""Helpers the chaos tests share: Java drivers compiled from source, driver
processes started and ended (and driven through the death of a node), a daemon
head this process drives (with the chaos tests' Java classes and C++ library on
its code search path), and a two-node cluster (a head and node B with custom
resource ``b``)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import polyray
from polyray import sdk
from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc

for _folder in ("core", "xlang"):  # core_util, xlang_support: also when imported from another folder's tests
    _path = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", _folder))
    if _path not in sys.path:
        sys.path.insert(0, _path)

from core_util import PYTHON, driver_env, terminate_process, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: The size of the object the borrower-, lender- and executor-death tests put.
SIZE = 1 << 20


def compile_java_driver(tmp: Path, qualified_class: str, source: str) -> tuple[list[str], str]:
    """Compile one Java driver class; returns (the command that runs it, its classes folder)."""
    if shutil.which("javac") is None or not sdk.java_classpath():
        pytest.fail("no JDK or the Java SDK is not built (make setup)", pytrace=False)
    package, name = qualified_class.rsplit(".", 1)
    src = tmp / package / f"{name}.java"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(source)
    out = tmp / "classes"
    subprocess.run(["javac", "-cp", ":".join(sdk.java_classpath()), "-d", str(out), str(src)], check=True,
                   capture_output=True, timeout=300)
    return ["java", "-cp", ":".join(sdk.java_classpath() + [str(out)]), qualified_class], str(out)


def start_driver(cmd: list[str]) -> subprocess.Popen:
    """A driver process in its own session, lines on stdin/stdout, joining the
    cluster its arguments name (never one the environment names)."""
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    env.pop("POLYRAY_ADDRESS", None)
    env.pop("POLYRAY_LINEAGE_MAX_BYTES", None)
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def end_driver(proc: subprocess.Popen, answer: object) -> str:
    """Wait (bounded) for a driver to exit, killing it if it does not; asserts it
    exited 0 and returns its stderr. ``answer`` is shown when it did not."""
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    err = proc.stderr.read() if proc.stderr else ""
    assert rc == 0, f"driver failed ({rc}): {answer}\n{err[-4000:]}"
    return err


def drive_through_node_death(cmd: list[str], cluster, node, replacement: dict,
                             arg_lines: list[str] | None = None) -> tuple[str, float, str]:
    """Runs a driver that prints READY once what it needs lives on ``node``: SIGKILLs
    ``node``, starts ``cluster.add_node(**replacement)`` and writes a line to the driver.
    Collects its ARG lines into ``arg_lines``; returns its VALUE or LOST line, the seconds
    from the kill to that line, and the end of its stderr."""
    proc = start_driver(cmd)
    assert proc.stdin is not None and proc.stdout is not None
    answer = ""
    args = arg_lines if arg_lines is not None else []
    killed = took = 0.0
    try:
        for line in proc.stdout:
            if line.startswith("READY"):
                killed = time.monotonic()
                node.kill(signal.SIGKILL)
                cluster.add_node(**replacement)
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif line.startswith("ARG"):
                args.append(line.strip())
            elif line.startswith(("VALUE", "LOST")):
                answer = line.strip()
                took = time.monotonic() - killed
            elif line.startswith("DONE"):
                break
    finally:
        err = end_driver(proc, answer)
    assert killed, f"the driver never got ready:\n{err[-4000:]}"
    assert answer, f"no answer:\n{err[-4000:]}"
    return answer, took, err[-3000:]


def raylet_of(gcs_address: str, node_id: str) -> str:
    """"host:port" of the raylet of node ``node_id`` (hex), from the GCS."""
    from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc

    with auth.channel(gcs_address) as ch:
        nodes = gcs_pb2_grpc.GcsServiceStub(ch).GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=10).nodes
    node = next(n for n in nodes if n.node_id.hex() == node_id)
    return f"{node.raylet_address.host}:{node.raylet_address.port}"


def available(raylet: str) -> dict[str, float]:
    """The free resources of the node whose raylet is at ``raylet``."""
    from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc

    with auth.channel(raylet) as ch:
        stats = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=10)
    return dict(stats.resources_available)


class Head:
    """A daemon head, gRPC views of its GCS and raylet, and this process as its driver."""

    def __init__(self, tmp) -> None:
        address_file = str(tmp / "gcs_address")
        self.log_path = tmp / "node.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "polyray.node", "--head", "--port", "0", "--address-file", address_file,
                 "--num-cpus", "2"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=driver_env(), start_new_session=True)
        if not wait_until(lambda: os.path.exists(address_file) and os.path.getsize(address_file) > 0
                          or self.proc.poll() is not None, 60):
            terminate_process(self.proc)
            pytest.fail("the head did not start within 60 s")
        if self.proc.poll() is not None:
            pytest.fail(f"the head exited: {self.log_path.read_text()[-3000:]}")
        with open(address_file) as f:
            self.address = f.read().strip()
        self.channel = auth.channel(self.address)
        gcs = gcs_pb2_grpc.GcsServiceStub(self.channel)
        node = gcs.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=10).nodes[0]
        self.raylet_channel = auth.channel(f"{node.raylet_address.host}:{node.raylet_address.port}")
        self.raylet = raylet_pb2_grpc.RayletServiceStub(self.raylet_channel)

    def store(self) -> tuple[int, int]:
        """(objects, bytes) in the node's store."""
        s = self.raylet.GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=10)
        return s.store_objects, s.store_bytes_used

    def stop(self) -> None:
        self.channel.close()
        self.raylet_channel.close()
        terminate_process(self.proc)


@contextlib.contextmanager
def driving_head(tmp: Path, java_sources: list[str] | None = None, cpp: tuple[str, str] | None = None,
                 worker_env: dict[str, str] | None = None) -> Iterator[Head]:
    """A daemon head (2 CPUs) with this process connected as its driver (namespace ``chaos``).
    ``java_sources``: files of java_src/chaostest compiled onto the code search path; ``cpp``:
    (library name, file of cpp_src) built onto it; ``worker_env``: variables the head and its
    workers get and this process does not."""
    paths = []
    if java_sources:
        import java_support

        sources = [f for name in java_sources for f in glob.glob(os.path.join(HERE, "java_src", "chaostest", name))]
        paths.append(java_support.compiled_java("chaos_java", *sources))
    if cpp:
        from xlang_support import build_cpp

        paths.append(os.path.dirname(build_cpp(cpp[0], [os.path.join(HERE, "cpp_src", cpp[1])], "shared")))
    saved = {k: os.environ.get(k) for k in worker_env or {}}
    os.environ.update(worker_env or {})
    try:
        h = Head(tmp)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        if polyray.is_initialized():
            polyray.shutdown()
        polyray.init(address=h.address, code_search_path=paths or None, namespace="chaos")
        yield h
    finally:
        if polyray.is_initialized():
            polyray.shutdown()
        h.stop()
