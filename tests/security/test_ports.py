"""Safe defaults for the network: a second head on a used port fails with "port
in use", and an embedded cluster listens on 127.0.0.1 only (docs/security.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

import polyray

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_second_head_on_a_used_port_fails_with_port_in_use(tmp_path):
    port = _free_port()
    address_file = tmp_path / "gcs_address"
    cmd = [sys.executable, "-m", "polyray.node", "--head", "--port", str(port), "--num-cpus", "1",
           "--session-dir", str(tmp_path / "logs")]
    first = subprocess.Popen(cmd + ["--address-file", str(address_file), "--parent-pid", str(os.getpid())],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert first.poll() is None, "the first head did not start"
            assert time.monotonic() < deadline, "the first head did not serve within 60 s"
            time.sleep(0.05)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "port in use" in second.stderr, second.stderr[-2000:]
        assert "Traceback" not in second.stderr
        assert first.poll() is None, "the first head died"
    finally:
        first.terminate()
        first.wait(30)


def test_the_embedded_cluster_listens_on_loopback_only():
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=1)
    try:
        @polyray.remote
        def pid() -> int:
            return os.getpid()

        worker = polyray.get(pid.remote(), timeout=60)
        head = [p for p in psutil.Process(os.getpid()).children() if "polyray.node" in " ".join(p.cmdline())]
        assert head, "no embedded head"
        listening = []
        for proc in head + [psutil.Process(worker), psutil.Process(os.getpid())]:
            listening += [(proc.pid, c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="tcp")
                          if c.status == psutil.CONN_LISTEN]
        assert len(listening) >= 4, listening  # GCS, raylet, the worker's gRPC and push ports, the driver's
        assert all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for _, ip, _ in listening), listening
    finally:
        polyray.shutdown()
