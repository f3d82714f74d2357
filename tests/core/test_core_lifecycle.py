"""Lifecycle of an embedded head: shutdown, driver exit, driver SIGKILL leave nothing behind;
init errors; print() in tasks reaches the driver.

No shared cluster here (``no_cluster``): each test starts its own, in this
process or in a subprocess driver.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time

import psutil
import pytest
from core_util import (
    PYTHON,
    describe,
    driver_env,
    read_line,
    run_driver,
    shm_path,
    stop_process,
    wait_pids_gone,
    wait_until,
    write_script,
)

import polyray

T = 60


def _descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@polyray.remote
def getpid_slowly(seconds):
    time.sleep(seconds)
    return os.getpid()


@polyray.remote
class PidActor:
    def pid(self):
        return os.getpid()


def test_shutdown_leaves_no_process_and_no_segment(no_cluster):
    import numpy as np
    polyray.init(num_cpus=2)
    head = polyray.api._state["head"]
    head_pid = head.process.pid
    store = polyray.nodes()[0]["ObjectStoreName"]
    assert os.path.exists(shm_path(store)), f"the store segment {store} is not in /dev/shm"
    worker_pids = set(polyray.get([getpid_slowly.remote(0.3) for _ in range(4)], timeout=T))
    actor = PidActor.remote()
    worker_pids.add(polyray.get(actor.pid.remote(), timeout=T))
    big = polyray.put(np.ones(2_000_000))  # something in the store
    all_pids = {head_pid} | worker_pids | set(_descendants(head_pid))
    assert worker_pids <= set(_descendants(head_pid)), "workers are expected to be the head's children"
    polyray.shutdown()
    assert not polyray.is_initialized()
    left = wait_pids_gone(all_pids, 15)
    assert not left, f"processes of the cluster still run after shutdown(): {describe(left)}"
    assert wait_until(lambda: not os.path.exists(shm_path(store)), 10), f"{shm_path(store)} remains after shutdown()"
    del big, actor


def test_init_again_after_shutdown(no_cluster):
    polyray.init(num_cpus=1)
    first = polyray.get_runtime_context().get_node_id()
    polyray.shutdown()
    polyray.init(num_cpus=1)
    try:
        assert polyray.get_runtime_context().get_node_id() != first
        assert polyray.get(getpid_slowly.remote(0), timeout=T) > 0
        assert polyray.cluster_resources()["CPU"] == 1
    finally:
        polyray.shutdown()


def test_shutdown_when_not_initialized_is_harmless(no_cluster, monkeypatch):
    polyray.shutdown()
    assert not polyray.is_initialized()
    # put() would start a cluster (auto-init, as Ray); with auto-connect off it is the old error
    monkeypatch.setenv("POLYRAY_ENABLE_AUTO_CONNECT", "0")
    with pytest.raises(RuntimeError):
        polyray.put(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_init_with_unreachable_address(no_cluster):
    address = f"127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(ConnectionError) as e:
        polyray.init(address=address)
    elapsed = time.monotonic() - start
    assert elapsed < 10, f"init() took {elapsed:.1f} s to fail"
    assert address in str(e.value)
    assert not polyray.is_initialized()


def test_init_with_bad_arguments(no_cluster):
    with pytest.raises(ValueError):
        polyray.init(num_cpus=-1)
    assert not polyray.is_initialized()
    with pytest.raises(ValueError):
        polyray.init(address="no-port-here")
    assert not polyray.is_initialized()


PIDS_DRIVER = """
import json, os, sys, time
import polyray

polyray.init(num_cpus=2)

@polyray.remote
def getpid(seconds):
    time.sleep(seconds)
    return os.getpid()

@polyray.remote
class A:
    def pid(self):
        return os.getpid()

head = polyray.api._state["head"].process.pid
workers = set(polyray.get([getpid.remote(0.3) for _ in range(4)], timeout=60))
a = A.remote()
workers.add(polyray.get(a.pid.remote(), timeout=60))
ref = polyray.put(b"x" * 5_000_000)
print(json.dumps({"head": head, "workers": sorted(workers), "store": polyray.nodes()[0]["ObjectStoreName"]}),
      flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)           # no shutdown(): atexit and the head's parent watch must clean up
while True:               # wait to be SIGKILLed
    time.sleep(1)
"""


def _check_cleanup(info: dict, timeout: float, what: str) -> None:
    pids = [info["head"], *info["workers"]]
    left = wait_pids_gone(pids, timeout)
    assert not left, f"{what}: processes of its cluster still run after {timeout} s: {describe(left)}"
    seg = shm_path(info["store"])
    assert wait_until(lambda: not os.path.exists(seg), 5), f"{what}: {seg} remains"


def test_driver_exiting_without_shutdown_leaves_nothing(tmp_path):
    proc = run_driver(tmp_path, PIDS_DRIVER, args=["exit"], timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[0])
    _check_cleanup(info, 15, "a driver that exited without shutdown()")


def test_sigkilled_driver_leaves_nothing(tmp_path):
    path = write_script(tmp_path, "driver.py", PIDS_DRIVER)
    proc = subprocess.Popen([PYTHON, path, "wait"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=str(tmp_path), env=driver_env())
    try:
        info = json.loads(read_line(proc, 90))
        extra = _descendants(info["head"])
        assert os.path.exists(shm_path(info["store"]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        info["workers"] = sorted(set(info["workers"]) | set(extra))
        _check_cleanup(info, 15, "a SIGKILLed driver")
    finally:
        stop_process(proc)


PRINT_DRIVER = """
import os, sys, time
import polyray

polyray.init(num_cpus=1)

@polyray.remote
def hello():
    print("hello from a task")
    print("error line from a task", file=sys.stderr)
    return os.getpid()

@polyray.remote
class Talker:
    def talk(self):
        print("hello from an actor")
        return os.getpid()

pid = polyray.get(hello.remote(), timeout=60)
apid = polyray.get(Talker.remote().talk.remote(), timeout=60)
print("PIDS", pid, apid, flush=True)
polyray.shutdown()  # drains the workers' output first (docs/observability.md, "Output")
"""


def test_print_in_task_reaches_driver_with_name_pid_and_node_prefix(tmp_path):
    proc = run_driver(tmp_path, PRINT_DRIVER, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pids_line = next(line for line in proc.stdout.splitlines() if line.startswith("PIDS"))
    pid, apid = (int(x) for x in pids_line.split()[1:])
    assert re.search(rf"^\(hello pid={pid}, node=[\d.]+\) hello from a task$", proc.stdout, re.M), proc.stdout
    assert re.search(rf"^\(hello pid={pid}, node=[\d.]+\) error line from a task$", proc.stderr, re.M), \
        proc.stderr[-3000:]
    # An actor's lines carry its class, as in Ray.
    assert re.search(rf"^\(Talker pid={apid}, node=[\d.]+\) hello from an actor$", proc.stdout, re.M), proc.stdout
