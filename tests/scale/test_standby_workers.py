"""Python workers prestarted with the node (issue 14: the first worker start).

A head started by ``polyray.node`` starts ``min(2, num_cpus)`` standby Python
workers at once: interpreters that import the runtime and wait for a job
(``POLYRAY_STANDBY=1``). The first Python driver adopts them as its
prestarted workers, so its first tasks run in processes that were up before
it connected. A standby that dies before it is adopted is replaced by an
ordinary start; a raylet that dies takes its standbys with it (their stdin
closes).
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import polyray

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

pytestmark = [pytest.mark.timeout(120), pytest.mark.product_node_defaults]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(task) as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _standbys(head_pid: int) -> set[int]:
    """Live children of the head started as standby workers (their start-up environment says so)."""
    found = set()
    for pid in _children(head_pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"POLYRAY_STANDBY=1" in env and _alive(pid):
            found.add(pid)
    return found


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:g} s")
        time.sleep(0.05)


@polyray.remote
def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_standbys_start_with_the_node_and_become_the_drivers_workers():
    session = tempfile.mkdtemp(prefix="polyray-standby-")
    address_file = os.path.join(session, "gcs_address")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "python"), HERE]))
    env.pop("POLYRAY_PRESTART_STANDBY", None)
    env.pop("POLYRAY_PRESTART_PYTHON_WORKERS", None)
    with open(os.path.join(session, "head.log"), "wb") as log:
        head = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0",
                                 "--address-file", address_file, "--num-cpus", "2", "--no-include-dashboard"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    try:
        # Before any driver: two standbys, children of the head.
        _wait(lambda: len(_standbys(head.pid)) == 2, 30, "two standby workers")
        _wait(lambda: os.path.exists(address_file) and os.path.getsize(address_file) > 0, 30, "the head")
        killed, kept = sorted(_standbys(head.pid))
        os.kill(killed, signal.SIGKILL)  # one dies unadopted: an ordinary start replaces it
        _wait(lambda: not _alive(killed), 10, "the killed standby gone")
        with open(address_file) as f:
            address = f.read().strip()
        if polyray.is_initialized():
            polyray.shutdown()
        polyray.init(address=address)
        try:
            seen: set[int] = set()
            for _ in range(10):  # two tasks at once use both prestarted workers once both are up
                seen.update(polyray.get([pid_after.remote(0.3) for _ in range(2)], timeout=60))
                if kept in seen and len(seen) >= 2:
                    break
            assert kept in seen, f"the standby {kept} ran no task (tasks ran in {seen})"
            assert killed not in seen
            assert len(seen) == 2, f"two workers for two CPUs, got {seen}"
            workers = set(_children(head.pid))
            assert seen <= workers
        finally:
            polyray.shutdown()
        # The raylet dies: every worker it started, adopted standbys included, goes with it.
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(10)
        _wait(lambda: not any(_alive(p) for p in workers), 15, "the workers of the killed head gone")
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)
