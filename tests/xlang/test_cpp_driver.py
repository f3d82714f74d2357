"""C++ driver -> Python, Java and C++: a real C++ program as the driver of a job.

cpp_src/xlang_driver.cc is compiled with ``polyray cpp-flags`` into an
executable and run (a) with an embedded cluster (``polyray::Init()`` starts
a head) and (b) against a head started with ``python -m polyray.node --head``.
It calls Python functions and actors (py_src/cpp_callees.py), Java classes
(java_src/, compiled by the xlang_java_classes fixture) and C++ functions by
registered name (the cpp_src library), and prints results the tests check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest
from xlang_support import PY_SRC, results, run_checked

pytestmark = pytest.mark.timeout(1200)  # the first test may compile the driver
TIMEOUT = 300


def run_driver(driver: str, address: str, mode: str, *search_path: str) -> dict[str, str]:
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable  # the embedded head runs with this interpreter
    env.pop("POLYRAY_ADDRESS", None)
    proc = run_checked([driver, address, mode, *search_path], env=env, timeout=TIMEOUT)
    assert "DONE" in proc.stdout, proc.stdout
    return results(proc.stdout)


def check_python_results(r: dict[str, str]) -> None:
    assert r["square"] == "49"
    assert r["describe"] == "3,6"
    assert r["put_get"] == "from c++"
    assert r["python_echo"] == "from c++"
    assert r["acc"] == "15"
    assert r["named_acc"] == "101"
    assert r["py_error_language"] == "PYTHON"
    assert r["py_error_type"] == "ValueError"
    assert "py said no" in r["py_error_message"]
    assert r["py_error_is_cross_language"] == "true"
    assert r["wait_ready"] == "4"
    assert r["squares_total"] == "14"


def check_cpp_results(r: dict[str, str]) -> None:
    assert r["cpp_plus1"] == "42"
    assert r["cpp_counter"] == "15"
    assert r["cpp_error_language"] == "CPP"
    assert r["cpp_error_type"] == "std::invalid_argument"
    assert "c++ said no" in r["cpp_error_message"]


def test_cpp_driver_calls_python(cpp_driver):
    check_python_results(run_driver(cpp_driver, "embedded", "python", PY_SRC))


def test_cpp_driver_calls_java(cpp_driver, xlang_java_classes):
    r = run_driver(cpp_driver, "embedded", "java", xlang_java_classes)
    assert r["java_add"] == "42"
    assert r["java_greet"] == "hello c++"
    assert r["java_counter"] == "16"
    assert r["java_error_language"] == "JAVA"
    assert r["java_error_type"] == "java.lang.IllegalStateException"
    assert "java said no" in r["java_error_message"]
    assert r["java_error_is_cross_language"] == "true"


def test_cpp_driver_calls_cpp_by_name(cpp_driver, cpp_lib):
    check_cpp_results(run_driver(cpp_driver, "embedded", "cpp", cpp_lib))


@pytest.fixture()
def head():
    """A head started like a user would: python -m polyray.node --head --port 0."""
    session = tempfile.mkdtemp(prefix="polyray-cppd-")
    address_file = os.path.join(session, "address")
    log_path = os.path.join(session, "head.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "2",
                                 "--address-file", address_file], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(address_file):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log_path, errors="replace") as f:
                    pytest.fail(f"the head did not start within 60 s:\n{f.read()[-3000:]}", pytrace=False)
            time.sleep(0.05)
        time.sleep(0.1)
        with open(address_file) as f:
            yield f.read().strip()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_cpp_driver_against_a_running_head(cpp_driver, cpp_lib, head):
    check_python_results(run_driver(cpp_driver, head, "python", PY_SRC))
    # a second job on the same cluster, with another code search path
    check_cpp_results(run_driver(cpp_driver, head, "cpp", cpp_lib))
