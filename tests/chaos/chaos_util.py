"""Helpers the chaos tests share: Java drivers compiled from source, driver
processes started and ended (and driven through the death of a node), and a
two-node cluster (a head and node B with custom resource ``b``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyray import sdk


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
