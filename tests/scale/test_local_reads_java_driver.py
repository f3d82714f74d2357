"""A Java driver's get of objects a Python worker owns (issues 14, 19; docs/ownership.md,
"Local reads"): borrowed objects sealed in this node's store are returned while their owner is
SIGSTOPped (no call to it), an inline one waits for the owner (the get times out), and once the
owner is SIGKILLed the get raises OwnerDiedException (the GCS or a failed call tells)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import java_support
import pytest

from polyray import sdk

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def driver_classes(tmp_path_factory) -> str:
    return java_support.compiled_java("scale_java_driver", os.path.join(HERE, "java_driver"))


def _line(proc: subprocess.Popen, prefix: str, timeout: float) -> str:
    """The driver's next stdout line starting with ``prefix`` (bounded)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {prefix!r} line from the Java driver within {timeout} s"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        line = proc.stdout.readline()
        assert line, f"the Java driver exited before {prefix!r}: rc={proc.poll()}"
        if line.startswith(prefix):
            return line.strip()


def _say(proc: subprocess.Popen, word: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(word + "\n")
    proc.stdin.flush()


def test_java_driver_reads_a_stopped_owner_s_stored_objects_locally_and_raises_once_it_died(driver_classes, tmp_path):
    env = dict(os.environ, POLYRAY_PYTHON=sys.executable)
    cp = ":".join([driver_classes, *sdk.java_classpath()])
    err = tmp_path / "driver.err"
    with open(err, "w") as err_file:
        proc = subprocess.Popen(["java", "-cp", cp, "scaledrv.LocalReads", os.path.join(HERE, "py_src")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_file, text=True, env=env)
    pid = 0
    try:
        pid = int(_line(proc, "PID ", 90).split()[1])
        os.kill(pid, signal.SIGSTOP)
        _say(proc, "stopped")
        local = _line(proc, "LOCAL ", 30)
        assert "n=12 ok=true" in local, local
        assert "asked_timed_out=true" in local, local  # the owner really did not answer
        local_ms = int(local.split("ms=")[1].split()[0])
        assert local_ms < 4_000, local
        os.kill(pid, signal.SIGKILL)
        _say(proc, "killed")
        dead = _line(proc, "DEAD ", 30)
        assert "error=OwnerDiedException" in dead, dead
        assert proc.wait(timeout=30) == 0
        print(f"Java driver: {local}; {dead}")
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.returncode:
            print(err.read_text()[-3000:])
