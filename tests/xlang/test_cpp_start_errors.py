"""C++ workers that cannot start or cannot load user code: the caller's get() says why.

Each test starts its own head (``python -m polyray.node --head``), possibly
with a crippled environment, and runs a Python driver against it in a
subprocess with its own code search path (the search path is part of the
job); the head is always stopped and waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from xlang_support import REPO

pytestmark = pytest.mark.timeout(1200)  # the first test may compile the library
PYTHON = sys.executable

DRIVER = """
import json, sys
import polyray
polyray.init(address=sys.argv[1], code_search_path=json.loads(sys.argv[2]))
f = polyray.cpp_function(sys.argv[3])
try:
    value = polyray.get(f.remote(*json.loads(sys.argv[4])), timeout=90)
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


def _call_cpp(tmp_path, head_env: dict, search_path: list[str], function: str, args: list) -> dict:
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
        time.sleep(0.1)
        with open(address_file) as f:
            address = f.read().strip()
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        out = subprocess.run([PYTHON, str(script), address, json.dumps(search_path), function, json.dumps(args)],
                             capture_output=True, text=True, timeout=180, cwd=str(tmp_path), env=_env())
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        _stop(head)
        assert head.returncode is not None


def test_cpp_sdk_not_built(tmp_path, cpp_lib):
    missing = str(tmp_path / "no-such-dir" / "polyray_cpp_worker")
    result = _call_cpp(tmp_path, _env(POLYRAY_CPP_WORKER=missing), [cpp_lib], "Plus1", [1])
    assert not result["ok"], result
    message = result["message"]
    assert "C++ SDK is not built" in message and missing in message and "make setup" in message, message


def test_library_that_does_not_load(tmp_path, cpp_broken_lib):
    result = _call_cpp(tmp_path, _env(), [cpp_broken_lib], "Plus1", [1])
    assert not result["ok"], result
    message = result["message"]
    assert "libxlang_broken.so" in message, message
    assert "polyray_test_symbol_nobody_defines" in message, message  # dlerror() says why


def test_search_path_directory_and_unknown_function(tmp_path, cpp_lib):
    folder = os.path.dirname(cpp_lib)  # a directory entry: every library in it is loaded
    ok = _call_cpp(tmp_path, _env(), [folder], "Plus1", [41])
    assert ok == {"ok": True, "value": 42}, ok
    (tmp_path / "again").mkdir()
    missing = _call_cpp(tmp_path / "again", _env(), [folder], "NotRegisteredAnywhere", [])
    assert not missing["ok"], missing
    assert "NotRegisteredAnywhere" in missing["message"] and folder in missing["message"], missing
