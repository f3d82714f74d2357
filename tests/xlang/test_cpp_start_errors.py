"""C++ workers that cannot start or cannot load user code: the caller's get() says why.

Each test starts its own head (``python -m polyray.node --head``), possibly
with a crippled environment, and runs a Python driver against it in a
subprocess with its own code search path (the search path is part of the
job); the head is always stopped and waited for.
"""

from __future__ import annotations

import json
import os

import pytest
from xlang_support import driver_env, run_driver_with_head

pytestmark = pytest.mark.timeout(1200)  # the first test may compile the library

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


def _call_cpp(tmp_path, head_env: dict, search_path: list[str], function: str, args: list) -> dict:
    return run_driver_with_head(tmp_path, head_env, DRIVER, [json.dumps(search_path), function, json.dumps(args)])


def test_cpp_sdk_not_built(tmp_path, cpp_lib):
    missing = str(tmp_path / "no-such-dir" / "polyray_cpp_worker")
    result = _call_cpp(tmp_path, driver_env(POLYRAY_CPP_WORKER=missing), [cpp_lib], "Plus1", [1])
    assert not result["ok"], result
    message = result["message"]
    assert "C++ SDK is not built" in message and missing in message and "make setup" in message, message


def test_library_that_does_not_load(tmp_path, cpp_broken_lib):
    result = _call_cpp(tmp_path, driver_env(), [cpp_broken_lib], "Plus1", [1])
    assert not result["ok"], result
    message = result["message"]
    assert "libxlang_broken.so" in message, message
    assert "polyray_test_symbol_nobody_defines" in message, message  # dlerror() says why


def test_search_path_directory_and_unknown_function(tmp_path, cpp_lib):
    folder = os.path.dirname(cpp_lib)  # a directory entry: every library in it is loaded
    ok = _call_cpp(tmp_path, driver_env(), [folder], "Plus1", [41])
    assert ok == {"ok": True, "value": 42}, ok
    (tmp_path / "again").mkdir()
    missing = _call_cpp(tmp_path / "again", driver_env(), [folder], "NotRegisteredAnywhere", [])
    assert not missing["ok"], missing
    assert "NotRegisteredAnywhere" in missing["message"] and folder in missing["message"], missing
