"""A Java worker does not outlive its node: when the node daemon is SIGKILLed,
its JVM workers (a task worker and an actor's) exit on their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

DRIVER = """
import sys
import polyray
polyray.init(address=sys.argv[1])
# JDK classes need no code search path: one task worker, one actor worker.
assert polyray.get(polyray.java_function("java.lang.Integer", "toHexString").remote(255), timeout=90) == "ff"
lst = polyray.java_actor_class("java.util.ArrayList").remote()
assert polyray.get(lst.size.remote(), timeout=90) == 0
print("READY", flush=True)
sys.stdin.readline()  # keep the driver (and its actor) alive until told
"""


def _java_children(pid: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in kids:
        try:
            if "io.polyray.runtime.WorkerMain" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_java_workers_exit_when_their_node_is_killed(tmp_path):
    address_file = tmp_path / "address"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    head = subprocess.Popen(
        [sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "2",
         "--address-file", str(address_file)],
        stdout=open(tmp_path / "head.log", "wb"), stderr=subprocess.STDOUT, env=env)
    driver = None
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert head.poll() is None and time.monotonic() < deadline, (tmp_path / "head.log").read_text()
            time.sleep(0.05)
        address = address_file.read_text().strip()
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, address], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        # The driver's own notices (e.g. where the workers' log files are) come
        # first on the merged stream; READY is the line that counts. The
        # driver's gets are bounded, so it prints READY or ends (EOF).
        seen = []
        for line in driver.stdout:
            seen.append(line)
            if line.strip() == "READY":
                break
        assert seen and seen[-1].strip() == "READY", "".join(seen)
        jvms = _java_children(head.pid)
        assert len(jvms) >= 2, f"expected a task JVM and an actor JVM under the head, got {jvms}"
        head.send_signal(signal.SIGKILL)
        head.wait(10)
        gone, alive = psutil.wait_procs(jvms, timeout=15)
        assert not alive, f"Java workers still running 15 s after their node died: {[p.pid for p in alive]}"
    finally:
        if driver is not None:
            driver.kill()
            driver.wait(10)
        if head.poll() is None:
            head.kill()
            head.wait(10)
        for p in _java_children(head.pid):
            p.kill()
        # The SIGKILLed head could not unlink its segment (named /polyray-<node>-<pid>).
        for name in os.listdir("/dev/shm"):
            if name.startswith("polyray-") and name.endswith(f"-{head.pid}"):
                os.unlink(os.path.join("/dev/shm", name))
