"""A JVM that cannot start: the caller's get() says why (no `java`, broken classpath).

Each test starts its own head (python -m polyray.node --head) with a crippled
environment and runs a driver against it in a subprocess; the head is always
stopped with SIGTERM and waited for.
"""

from __future__ import annotations

from xlang_support import driver_env, run_driver_with_head

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


def _call_java_with_head(tmp_path, head_env: dict) -> dict:
    return run_driver_with_head(tmp_path, head_env, DRIVER, [], timeout=120)


def test_no_java_on_path(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = _call_java_with_head(tmp_path, driver_env(PATH=str(empty_bin), JAVA_HOME=None))
    assert not result["ok"], result
    message = result["message"]
    assert "java" in message and "PATH" in message, message


def test_broken_classpath(tmp_path):
    result = _call_java_with_head(tmp_path, driver_env(POLYRAY_JAVA_CLASSPATH="/nonexistent.jar"))
    assert not result["ok"], result
    message = result["message"]
    assert "failed to start" in message and "exit" in message, message  # "... exited with code 1 ..."
    assert "WorkerMain" in message or "ClassNotFound" in message, message
