"""A JVM that cannot start: the caller's get() says why (no `java`, broken classpath).

Each test starts its own head (python -m polyray.node --head) with a crippled
environment and runs a driver against it in a subprocess; the head is always
stopped with SIGTERM and waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYTHON = sys.executable

DRIVER = """
import json, sys
import polyray
polyray.init(address=sys.argv[1])
f = polyray.java_function("xlangtest.Calc", "add")
try:
    value = polyray.get(f.remote(1, 2), timeout=60)
    print(json.dumps({"ok": True, "value": value}))
except Exception as exc:
    print(json.dumps({"ok": False, "type": type(exc).__name__, "message": str(exc)}))
polyray.shutdown()
"""


def _env(**changes) -> dict:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.join(REPO, "python"), env.get("PYTHONPATH", "")] if p)
    env.pop("POLYRAY_ADDRESS", None)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _call_java_with_head(tmp_path, head_env: dict) -> dict:
    address_file = str(tmp_path / "address")
    log_path = tmp_path / "head.log"
    with open(log_path, "wb") as log:
        head = subprocess.Popen([PYTHON, "-m", "polyray.node", "--head", "--port", "0", "--address-file",
                                 address_file, "--num-cpus", "1"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=head_env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(address_file) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if head.poll() is not None or not os.path.exists(address_file):
            pytest.fail(f"the head did not start: {log_path.read_text()[-3000:]}")
        time.sleep(0.1)  # the file is written whole, but give the writer a moment
        with open(address_file) as f:
            address = f.read().strip()
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        out = subprocess.run([PYTHON, str(script), address], capture_output=True, text=True, timeout=120,
                             cwd=str(tmp_path), env=_env())
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        _stop(head)
        assert head.returncode is not None


def test_no_java_on_path(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = _call_java_with_head(tmp_path, _env(PATH=str(empty_bin), JAVA_HOME=None))
    assert not result["ok"], result
    message = result["message"]
    assert "java" in message and "PATH" in message, message


def test_broken_classpath(tmp_path):
    result = _call_java_with_head(tmp_path, _env(POLYRAY_JAVA_CLASSPATH="/nonexistent.jar"))
    assert not result["ok"], result
    message = result["message"]
    assert "failed to start" in message and "exit" in message, message  # "... exited with code 1 ..."
    assert "WorkerMain" in message or "ClassNotFound" in message, message
