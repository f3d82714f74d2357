"""The node daemon (python -m polyray.node --head) with separate drivers, and the polyray CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import psutil
import pytest
from core_util import (
    POLYRAY_CLI,
    PYTHON,
    describe,
    driver_env,
    pid_alive,
    read_line,
    run_driver,
    shm_path,
    stop_process,
    terminate_pid,
    terminate_process,
    wait_pids_gone,
    wait_until,
    write_script,
)

CLIENT_DRIVER = """
import json, os, sys
import polyray

info = polyray.init(address=sys.argv[1])

@polyray.remote
def square(x):
    return x * x, os.getpid()

@polyray.remote
class Acc:
    def __init__(self):
        self.total = 0
    def add(self, x):
        self.total += x
        return self.total, os.getpid()

squares = polyray.get([square.remote(i) for i in range(10)], timeout=20)
a = Acc.remote()
for i in range(1, 5):
    a.add.remote(i)
total, apid = polyray.get(a.add.remote(100), timeout=20)
print(json.dumps({
    "squares": [s for s, _ in squares],
    "total": total,
    "pids": sorted({p for _, p in squares} | {apid}),
    "store": polyray.nodes()[0]["ObjectStoreName"],
    "cpus": polyray.cluster_resources()["CPU"],
    "address": info["address"],
}))
polyray.shutdown()
"""


def _start_daemon(tmp_path, *extra):
    address_file = str(tmp_path / "gcs_address")
    log = open(tmp_path / "node.log", "wb")
    proc = subprocess.Popen([PYTHON, "-m", "polyray.node", "--head", "--port", "0", "--address-file", address_file,
                             "--num-cpus", "2", *extra], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=driver_env(), start_new_session=True)
    log.close()
    ok = wait_until(lambda: os.path.exists(address_file) or proc.poll() is not None, 60)
    if not ok or proc.poll() is not None:
        terminate_process(proc)
        pytest.fail(f"the node daemon did not start: {(tmp_path / 'node.log').read_text()[-3000:]}")
    with open(address_file) as f:
        return proc, f.read().strip()


def test_node_daemon_with_separate_drivers_and_sigterm(tmp_path):
    daemon, address = _start_daemon(tmp_path)
    try:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", address), address
        out = run_driver(tmp_path, CLIENT_DRIVER, args=[address], timeout=90)
        assert out.returncode == 0, out.stderr[-3000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["squares"] == [i * i for i in range(10)]
        assert result["total"] == 110
        assert result["cpus"] == 2
        assert result["address"] == address
        store = result["store"]
        assert os.path.exists(shm_path(store))
        # the daemon outlives its drivers: later drivers (new jobs) run as well as the first
        assert daemon.poll() is None
        pids = set(result["pids"])
        for n in range(2, 5):
            out_n = run_driver(tmp_path, CLIENT_DRIVER, args=[address], timeout=90, name=f"driver{n}.py")
            assert out_n.returncode == 0, f"driver {n} of the same daemon failed:\n{out_n.stderr[-3000:]}"
            result_n = json.loads(out_n.stdout.strip().splitlines()[-1])
            assert result_n["squares"] == [i * i for i in range(10)] and result_n["total"] == 110
            pids |= set(result_n["pids"])
        pids |= {p.pid for p in psutil.Process(daemon.pid).children(recursive=True)}
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail("the node daemon did not stop within 20 s of SIGTERM")
        assert code == 0, f"exit code {code}: {(tmp_path / 'node.log').read_text()[-3000:]}"
        left = wait_pids_gone(pids, 10)
        assert not left, f"worker processes still run after the daemon stopped: {describe(left)}"
        assert not os.path.exists(shm_path(store)), f"{shm_path(store)} remains after the daemon stopped"
    finally:
        terminate_process(daemon)


STATUS_DRIVER = """
import os, sys
import polyray

polyray.init(address=sys.argv[1])

@polyray.remote
class StatusProbe:
    def pid(self):
        return os.getpid()

a = StatusProbe.options(name="probe").remote()
print("ready", polyray.get(a.pid.remote(), timeout=60), flush=True)
sys.stdin.readline()   # stay connected until the test is done with `polyray status`
polyray.shutdown()
"""


def _cli(args, env, timeout=60):
    return subprocess.run([POLYRAY_CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_start_status_stop(tmp_path):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = driver_env({"TMPDIR": str(tmpdir)})
    assert os.access(POLYRAY_CLI, os.X_OK), f"no console script at {POLYRAY_CLI}"
    start = _cli(["start", "--head", "--port", "0", "--num-cpus", "2"], env)
    state_file = tmpdir / "polyray" / "daemons.json"
    daemon_pid = None
    driver = None
    try:
        assert start.returncode == 0, f"{start.stdout}\n{start.stderr}"
        if state_file.exists():
            daemon_pid = json.loads(state_file.read_text())[0]["pid"]
        m = re.search(r'polyray\.init\(address="([^"]+)"\)', start.stdout)
        assert m, start.stdout
        address = m.group(1)
        assert state_file.exists(), "polyray start did not record its daemon under $TMPDIR/polyray"
        entries = json.loads(state_file.read_text())
        assert len(entries) == 1 and entries[0]["address"] == address
        assert psutil.pid_exists(daemon_pid)

        script = write_script(tmp_path, "status_driver.py", STATUS_DRIVER)
        driver = subprocess.Popen([PYTHON, script, address], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, cwd=str(tmp_path), env=env)
        line = read_line(driver, 90)
        assert line.startswith("ready "), line
        actor_pid = int(line.split()[1])

        status = _cli(["status"], env)
        assert status.returncode == 0, f"{status.stdout}\n{status.stderr}"
        text = status.stdout
        assert address in text
        assert "1 alive node" in text
        assert "ALIVE" in text
        assert re.search(r"CPU: [\d.]+/2 used", text), text
        assert "workers:" in text and f"pid {actor_pid}" in text, text
        assert re.search(r"actors: 1\b", text), text
        assert "StatusProbe" in text and "'probe'" in text, text
        # status also takes --address
        status2 = _cli(["status", "--address", address], env)
        assert status2.returncode == 0 and "StatusProbe" in status2.stdout

        driver.stdin.write(b"\n")
        driver.stdin.flush()
        driver.wait(30)
        store = None
        nodes_out = run_driver(tmp_path, "import json, sys, polyray\n"
                                         "polyray.init(address=sys.argv[1])\n"
                                         "print(polyray.nodes()[0]['ObjectStoreName'])\n"
                                         "polyray.shutdown()\n", args=[address], name="nodes.py", env=env)
        assert nodes_out.returncode == 0, nodes_out.stderr[-2000:]
        store = nodes_out.stdout.strip().splitlines()[-1]
        children = [p.pid for p in psutil.Process(daemon_pid).children(recursive=True)]

        stop = _cli(["stop"], env)
        assert stop.returncode == 0, f"{stop.stdout}\n{stop.stderr}"
        assert "stopped 1" in stop.stdout
        left = wait_pids_gone([daemon_pid, actor_pid, *children], 15)
        assert not left, f"still running after `polyray stop`: {describe(left)}"
        assert not os.path.exists(shm_path(store)), f"{shm_path(store)} remains after `polyray stop`"
        assert json.loads(state_file.read_text()) == []

        after = _cli(["status"], env)
        assert after.returncode != 0
        again = _cli(["stop"], env)
        assert again.returncode == 0 and "no node daemons" in again.stdout
    finally:
        if driver is not None:
            stop_process(driver)
        if daemon_pid is not None:
            terminate_pid(daemon_pid)  # the daemon this test started


def test_cli_start_needs_head_or_address(tmp_path):
    env = driver_env({"TMPDIR": str(tmp_path)})
    out = _cli(["start"], env)
    assert out.returncode != 0
    assert "--head" in out.stderr


def test_node_daemon_rejects_bad_arguments(tmp_path):
    out = subprocess.run([PYTHON, "-m", "polyray.node", "--head", "--port", "0", "--resources", "not json"],
                         capture_output=True, text=True, timeout=60, env=driver_env())
    assert out.returncode != 0
    assert "--resources" in out.stderr


WORKERS_DRIVER = """
import os, sys, time
import polyray

polyray.init(address=sys.argv[1])

@polyray.remote
def pid():
    time.sleep(0.2)
    return os.getpid()

@polyray.remote
class A:
    def pid(self):
        return os.getpid()

a = A.remote()
pids = set(polyray.get([pid.remote() for _ in range(4)], timeout=30)) | {polyray.get(a.pid.remote(), timeout=30)}
print(" ".join(map(str, sorted(pids))), flush=True)
sys.stdin.readline()
"""


def test_workers_exit_when_their_node_daemon_is_sigkilled(tmp_path):
    """A raylet that dies without cleaning up (SIGKILL, OOM killer) must not leave its workers
    running forever: they notice their raylet is gone and exit (as Ray's workers do)."""
    daemon, address = _start_daemon(tmp_path)
    driver = None
    workers: list[int] = []
    store = None
    try:
        script = write_script(tmp_path, "workers_driver.py", WORKERS_DRIVER)
        driver = subprocess.Popen([PYTHON, script, address], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, cwd=str(tmp_path), env=driver_env())
        workers = [int(p) for p in read_line(driver, 90).split()]
        workers += [p.pid for p in psutil.Process(daemon.pid).children(recursive=True)]
        workers = sorted(set(workers))
        for p in workers:
            try:
                env = psutil.Process(p).environ()
                store = store or env.get("POLYRAY_STORE_NAME")
            except psutil.Error:
                pass
        daemon.kill()  # the daemon this test started
        daemon.wait(10)
        left = wait_pids_gone(workers, 15)
        assert not left, f"workers still run 15 s after their raylet was SIGKILLed: {describe(left)}"
    finally:
        if driver is not None:
            stop_process(driver)
        # clean up what the SIGKILLed daemon could not: its workers (by pid) and its segment
        for p in workers:
            if pid_alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if store and os.path.exists(shm_path(store)):
            os.unlink(shm_path(store))
        terminate_process(daemon)
