"""Helpers of the core-runtime integration tests: bounded waits, processes, drivers."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable

import psutil

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = sys.executable
POLYRAY_CLI = os.path.join(os.path.dirname(sys.executable), "polyray")


def wait_until(pred: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll pred until it is true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_for_file(path: str, timeout: float = 30.0) -> None:
    """Wait until path exists (a task's "I started" marker)."""
    assert wait_until(lambda: os.path.exists(path), timeout), f"{path} did not appear within {timeout} s"


def pid_alive(pid: int) -> bool:
    """True if a process pid runs (a zombie counts as gone: it holds nothing but its exit code)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def alive_pids(pids: Iterable[int]) -> list[int]:
    return [p for p in pids if pid_alive(p)]


def wait_pids_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until every pid is gone; returns those still alive at the deadline."""
    pids = list(pids)
    wait_until(lambda: not alive_pids(pids), timeout, 0.1)
    return alive_pids(pids)


def shm_path(store_name: str) -> str:
    """The /dev/shm file of a store segment named '/polyray-...'."""
    return os.path.join("/dev/shm", store_name.lstrip("/"))


def describe(pids: Iterable[int]) -> str:
    out = []
    for p in pids:
        try:
            proc = psutil.Process(p)
            out.append(f"{p}: {' '.join(proc.cmdline())[:200]} ({proc.status()})")
        except psutil.NoSuchProcess:
            out.append(f"{p}: gone")
    return "; ".join(out)


def driver_env(extra: dict | None = None) -> dict:
    """Environment of a subprocess driver: polyray importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.join(REPO, "python"), env.get("PYTHONPATH", "")] if p)
    env.pop("POLYRAY_ADDRESS", None)
    if extra:
        env.update(extra)
    return env


def write_script(directory, name: str, source: str) -> str:
    path = os.path.join(str(directory), name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(source))
    return path


def run_driver(directory, source: str, *, args: Iterable[str] = (), timeout: float = 90.0,
               name: str = "driver.py", env: dict | None = None) -> subprocess.CompletedProcess:
    """Run source as a __main__ script in a fresh interpreter; returns the finished process."""
    path = write_script(directory, name, source)
    return subprocess.run([PYTHON, path, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(directory), env=driver_env(env))


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """One line of proc's stdout (a text pipe), or AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        ch = os.read(fd, 1)
        if not ch:
            break
        if ch == b"\n":
            return buf.decode()
        buf += ch
    raise AssertionError(f"no line from pid {proc.pid} within {timeout} s (got {buf!r}, exit {proc.poll()})")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Kill a process this test started (by its own Popen), if it still runs."""
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


def wait_stable(pred: Callable[[], bool], timeout: float, hold: float, interval: float = 0.1) -> bool:
    """Wait until pred has been true continuously for `hold` seconds (views that lag, like
    resources reported by heartbeat, can show an old value first); False at the deadline."""
    deadline = time.monotonic() + timeout
    since: float | None = None
    while time.monotonic() < deadline:
        if pred():
            now = time.monotonic()
            since = now if since is None else since
            if now - since >= hold:
                return True
        else:
            since = None
        time.sleep(interval)
    return False


def terminate_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop a daemon this test started: SIGTERM (it cleans up its workers and store), then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)


def terminate_pid(pid: int, timeout: float = 20.0) -> None:
    """The same for a daemon known by pid only (started by `polyray start`)."""
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    if wait_until(lambda: not pid_alive(pid), timeout, 0.1):
        return
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
