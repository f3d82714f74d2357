"""A dead lease holder whose port another process took (issue 13, Deliver 1).

The raylet watches the holders of its leases that are not its own registered
workers (raylet/lease_holders.py). A connectivity probe alone would take any
process listening on a dead holder's port for the holder; the holder is also
identified by its worker id, which the node it names must still list.

Real daemons: a head and node C (resource ``c``). A driver on the head holds
a lease on C (a task that sleeps). It stays leased while the driver lives and
is idle (C's raylet finds it listed by the head). The driver is SIGKILLed and
a gRPC server of the test takes its CoreWorker port at once: the lease must
come back within the holder bound all the same.
"""

from __future__ import annotations

import signal
import subprocess
import time
from concurrent import futures

import grpc
import pytest
from chaos_util import available, raylet_of
from cluster_util import Cluster
from core_util import PYTHON, driver_env, read_line, stop_process, write_script

from polyray.protocol import auth
from polyray.protocol import runtime_spec as rspec

pytestmark = pytest.mark.timeout(300)

#: From the holder's death to its lease's return (spec bound + slack for a loaded machine).
BOUND_S = (rspec.LEASE_HOLDER_TIMEOUT_MS + 2 * rspec.LEASE_HOLDER_CHECK_MS) / 1000 + 4.0

HOLDER_DRIVER = """
import os, sys, time
import polyray
from polyray.core.object_ref import get_core

polyray.init(address=sys.argv[1])

@polyray.remote(resources={"c": 1}, max_retries=0)
def nap(marker):
    open(marker, "w").close()
    time.sleep(600)

marker = sys.argv[2] + "/running"
ref = nap.remote(marker)
while not os.path.exists(marker):   # the lease's reply reached us and the task runs
    time.sleep(0.05)
print("running", get_core().ctx.address.port, flush=True)
sys.stdin.readline()    # stay up until SIGKILLed
"""


def _take_port(port: int, timeout: float = 10.0) -> grpc.Server:
    """A gRPC server on ``port`` (freed by the SIGKILL a moment ago)."""
    deadline = time.monotonic() + timeout
    while True:
        server = grpc.server(futures.ThreadPoolExecutor(2))
        try:
            if server.add_insecure_port(f"127.0.0.1:{port}") == port:
                server.start()
                return server
        except RuntimeError:
            pass
        server.stop(None)
        if time.monotonic() > deadline:
            raise AssertionError(f"port {port} did not become free within {timeout:.0f} s")
        time.sleep(0.05)


def test_a_lease_returns_when_another_process_serves_its_dead_holder_s_port(tmp_path):
    c = Cluster()
    driver = None
    squatter = None
    try:
        c.start_head(num_cpus=1)
        node = c.add_node(num_cpus=1, resources={"c": 1})
        c.wait_alive(2)
        raylet = raylet_of(c.address, node.node_id)
        script = write_script(tmp_path, "holder.py", HOLDER_DRIVER)
        driver = subprocess.Popen([PYTHON, script, c.address, str(tmp_path)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(tmp_path),
                                  env=driver_env())
        words = read_line(driver, 120).split()
        assert words[0] == "running", words
        port = int(words[1])
        # A live, idle holder keeps its lease past the holder timeout: its node lists it.
        time.sleep(rspec.LEASE_HOLDER_TIMEOUT_MS / 1000 + 2 * rspec.LEASE_HOLDER_CHECK_MS / 1000)
        assert available(raylet).get("c", 0.0) == 0.0, "a live holder's lease was returned"
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        killed = time.monotonic()
        squatter = _take_port(port)   # another process serves gRPC on the dead holder's port
        with auth.channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=5)   # the connectivity probe would say "alive"
        took = None
        while time.monotonic() - killed < BOUND_S + 20:
            if available(raylet).get("c", 0.0) == 1.0:
                took = time.monotonic() - killed
                break
            time.sleep(0.1)
        assert took is not None, f"the lease of the dead holder never came back (port {port} answers for another)"
        print(f"\nlease back {took:.2f} s after its holder's SIGKILL, its port served by another process "
              f"(bound {BOUND_S - 4:g} s + 4 s slack)")
        assert took < BOUND_S
    finally:
        if squatter is not None:
            squatter.stop(None)
        if driver is not None:
            stop_process(driver)
        c.shutdown()
