"""`python -m polyray.gcs` runs a standalone GCS until SIGTERM."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import pytest

from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc

pytestmark = pytest.mark.timeout(30)

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[2] / "python"


def test_module_entry_point_serves_until_sigterm() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyray.gcs", "--port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("GCS listening on 127.0.0.1:"), line
        address = line.rsplit(" ", 1)[1]
        with auth.channel(address) as channel:
            stub = gcs_pb2_grpc.GcsServiceStub(channel)
            reply = stub.AddJob(gcs_pb2.AddJobRequest(job=gcs_pb2.JobInfo()), timeout=10)
            assert reply.job_id == b"\1\0\0\0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
