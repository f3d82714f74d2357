"""Owners are not reaped (issue 14, finding 3 and Deliver 3).

A worker that owns an object the driver still holds is not stopped as idle:
the raylet asks it to Exit (force=False) and it refuses while its reference
counter tracks the object. Before, the raylet SIGTERMed every worker idle for
longer than the timeout and a ref returned from a task raised
``ObjectLostError (UNAVAILABLE)`` once the owner had been reaped.

The head runs with a 2 s idle timeout. Workers are found as child processes
of the head (``/proc``), by language, so the same check works for Python,
Java and C++ owners.
"""

from __future__ import annotations

import gc
import glob
import os
import subprocess
import sys
import tempfile
import time

import java_support
import pytest

import polyray
import polyray.sdk

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the C++ library
IDLE_S = 2.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(task) as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _workers(head_pid: int, marker: str) -> set[int]:
    """Live worker processes of the head whose command line contains marker."""
    found = set()
    stack = _children(head_pid)
    while stack:
        pid = stack.pop()
        cmd = _cmdline(pid)
        if marker in cmd:
            found.add(pid)
        stack += _children(pid)
    return {p for p in found if _alive(p)}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait(cond, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not cond():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout:g} s")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A head with a 2 s idle timeout; the driver connects to it."""
    java_out = java_support.compiled_java("scale_java", os.path.join(HERE, "java_src"))
    lib = build_cpp("scale_funcs", [os.path.join(HERE, "cpp_src", "scale_funcs.cc")], "shared")
    session = tempfile.mkdtemp(prefix="polyray-owner-")
    address_file = os.path.join(session, "gcs_address")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "python"), HERE]))
    log = open(os.path.join(session, "head.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0",
                             "--address-file", address_file, "--num-cpus", "2",
                             "--idle-worker-timeout", str(IDLE_S), "--warm-workers", "0"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        _wait(lambda: os.path.exists(address_file) and os.path.getsize(address_file) > 0, 60, "the head")
        with open(address_file) as f:
            address = f.read().strip()
        if polyray.is_initialized():
            polyray.shutdown()
        polyray.init(address=address, code_search_path=[java_out, os.path.dirname(lib)])
        yield proc.pid
    finally:
        if polyray.is_initialized():
            polyray.shutdown()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@polyray.remote
def own_one(size: int) -> tuple:
    """Puts a value (owned by this worker) and returns its ref inside a list."""
    return os.getpid(), [polyray.put(b"v" * size)]


def _check_owner_kept_then_reaped(owners: set[int], holder: list, expect) -> None:
    """holder: the only list holding the driver's refs (cleared here to drop them)."""
    assert owners, "no owner process found"
    # Three idle periods and more: the owner stays, the value stays readable.
    deadline = time.monotonic() + 4 * IDLE_S
    while time.monotonic() < deadline:
        assert all(_alive(p) for p in owners), "an owner of a held object was reaped as idle"
        time.sleep(0.2)
    assert polyray.get(holder, timeout=30) == expect
    assert all(_alive(p) for p in owners)
    # Dropped: freed at the owner, which is then reaped within a bound
    # (idle timeout + reaper period + exit).
    holder.clear()
    gc.collect()
    took = _wait(lambda: not any(_alive(p) for p in owners), 6 * IDLE_S + 10, "the owner reaped")
    print(f"owner reaped {took:.1f} s after the driver dropped its ref")


def test_python_owner_not_reaped_while_ref_held(head):
    started = time.monotonic()
    pid, refs = polyray.get(own_one.remote(200_000), timeout=60)
    assert polyray.get(refs, timeout=30) == [b"v" * 200_000]
    _check_owner_kept_then_reaped({pid}, refs, [b"v" * 200_000])
    assert not refs
    assert time.monotonic() - started > 8


def test_python_worker_without_objects_is_reaped(head):
    pid, refs = polyray.get(own_one.remote(10), timeout=60)
    del refs
    gc.collect()
    _wait(lambda: not _alive(pid), 6 * IDLE_S + 10, "the idle worker (no objects) reaped")


def test_java_owner_not_reaped_while_ref_held(head):
    before = _workers(head, "java")
    refs = polyray.get(polyray.java_function("scaletest.Owners", "putMany").remote(3), timeout=90)
    owners = _workers(head, "java") - before
    _check_owner_kept_then_reaped(owners, refs, [0, 1, 2])


def test_cpp_owner_not_reaped_while_ref_held(head):
    marker = "polyray_cpp_worker"
    before = _workers(head, marker)
    refs = polyray.get(polyray.cpp_function("ScalePutMany").remote(3), timeout=90)
    owners = _workers(head, marker) - before
    _check_owner_kept_then_reaped(owners, refs, [0, 1, 2])
