"""A Java driver reads borrowed values that sit in its node's store without asking
their owner (issue 14): the Python worker that put them is SIGSTOPped and the
driver's get still returns them, within its 10 s timeout."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys

from polyray import sdk

HERE = os.path.dirname(os.path.abspath(__file__))


def test_java_driver_reads_stored_values_while_their_owner_is_stopped(tmp_path):
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup` (it installs a JDK)"
    classes = str(tmp_path / "classes")
    sources = glob.glob(os.path.join(HERE, "java_driver", "**", "*.java"), recursive=True)
    subprocess.run([javac, "-cp", ":".join(sdk.java_classpath()), "-d", classes, *sources], check=True,
                   capture_output=True, timeout=120)
    pid_file = tmp_path / "owner.pid"
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    env.pop("POLYRAY_ADDRESS", None)
    cp = ":".join([classes, *sdk.java_classpath()])
    args = ["java", "-cp", cp, "scaledrv.GetStored", "40", str(pid_file), os.path.join(HERE, "py_src")]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    owner = 0
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", line
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
