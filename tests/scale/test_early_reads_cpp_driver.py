"""A C++ driver's local and early reads of borrowed values (issue 14;
docs/ownership.md, "Local reads" and "Early reads"; cpp/src/core/early_reads.h,
owner_watch.h).

A Python worker puts 20 values of 110 KB (they sit in the node's store; the
worker owns them, the C++ driver borrows them) and is then SIGSTOPped. The
driver's Get reads them locally (registered borrows, owner not known dead)
and returns at once. With POLYRAY_LOCAL_READS=0 the Get copies the values
from the store while it asks the owner (the test hook's stderr lines count
the reads and copies) but must not return them before the owner answers:
with the owner stopped the Get times out. After SIGCONT the owner answers
and the waiting Get returns the values.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the driver
N = 20


def _line(proc: subprocess.Popen, want: str, deadline: float) -> str:
    """The driver's next stdout line, which must start with ``want`` (bounded by the driver's own timeouts)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert time.monotonic() < deadline, f"waited too long for {want!r}"
    if not line.startswith(want):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        pytest.fail(f"expected {want!r}, got {line!r}\n{err[-3000:]}")
    return line


def _wait_stopped(pid: int) -> None:
    """Until ``pid`` is stopped (state T): a busy process on a loaded machine takes the SIGSTOP late."""
    deadline = time.monotonic() + 10
    while True:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(")")[-1].split()[0] in ("T", "t"):
                return
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


def test_cpp_driver_reads_locally_and_early_reads_wait_for_the_owner(tmp_path):
    exe = build_cpp("early_reads_driver", [os.path.join(HERE, "cpp_src", "early_reads_driver.cc")], "exe")
    pid_file = tmp_path / "owner.pid"
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    env["POLYRAY_TEST_EARLY_READS"] = "1"
    env.pop("POLYRAY_ADDRESS", None)
    proc = subprocess.Popen([exe, str(N), str(pid_file), os.path.join(HERE, "py_src")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    owner = 0
    stopped = False
    deadline = time.monotonic() + 90
    try:
        assert proc.stdin is not None
        _line(proc, "READY", deadline)
        owner = int(pid_file.read_text())
        os.kill(owner, signal.SIGSTOP)
        stopped = True
        _wait_stopped(owner)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        local = _line(proc, "LOCAL", deadline)
        # Local reads off: the owner cannot answer, the copies made early must not be returned.
        _line(proc, "STOPPED timeout", deadline)
        _line(proc, "WAITING", deadline)
        time.sleep(0.5)  # the second Get is waiting on the stopped owner
        os.kill(owner, signal.SIGCONT)
        stopped = False
        result = _line(proc, "RESULT", deadline)
        out, err = proc.communicate(timeout=30)
    finally:
        if owner and stopped:
            try:
                os.kill(owner, signal.SIGCONT)
            except ProcessLookupError:
                pass  # gone with the driver's cluster
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lm = re.match(r"LOCAL n=(\d+) ok=(\d) seconds=([\d.e+-]+)", local)
    assert lm and int(lm.group(1)) == N and lm.group(2) == "1", local + err[-3000:]
    assert "polyray local reads: read 20 of 20" in err, err[-3000:]
    m = re.match(r"RESULT n=(\d+) ok=(\d) seconds=([\d.e+-]+)", result)
    assert m and int(m.group(1)) == N and m.group(2) == "1", result + err[-3000:]
    assert float(m.group(3)) >= 0.4, f"the Get returned before the owner was resumed: {result}"
    # Both Gets copied every value early (the test hook's lines, cpp/src/core/object_getter.cc).
    copies = re.findall(r"polyray early reads: copied (\d+) of (\d+)", err)
    assert copies[:2] == [(str(N), str(N))] * 2, err[-3000:]
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    print(f"C++ driver, {N} borrowed 110 KB values, owner stopped: local read {float(lm.group(3)):.3f} s; "
          f"early reads, get after the owner resumed {float(m.group(3)):.3f} s")
