"""Helpers the chaos tests share: Java drivers compiled from source, driver
processes started and ended, and a two-node cluster (a head and node B with
custom resource ``b``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
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
