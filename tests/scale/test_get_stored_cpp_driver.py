"""A C++ driver reads borrowed values that sit in its node's store without asking
their owner (issue 14): the Python worker that put them is SIGSTOPped and the
driver's Get still returns them, within its 10 s timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the driver


def test_cpp_driver_reads_stored_values_while_their_owner_is_stopped(tmp_path):
    exe = build_cpp("get_stored_driver", [os.path.join(HERE, "cpp_src", "get_stored_driver.cc")], "exe")
    pid_file = tmp_path / "owner.pid"
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    env.pop("POLYRAY_ADDRESS", None)
    proc = subprocess.Popen([exe, "40", str(pid_file), os.path.join(HERE, "py_src")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    owner = 0
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", line + proc.stderr.read() if proc.stderr else line
        owner = int(pid_file.read_text())
        os.kill(owner, signal.SIGSTOP)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    finally:
        if owner:
            try:
                os.kill(owner, signal.SIGCONT)
            except ProcessLookupError:
                pass  # gone with the driver's cluster
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "RESULT n=40 ok=1" in out, out[-3000:] + err[-3000:]
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
