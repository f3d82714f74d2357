"""`polyray logs` across nodes: a file on another node is listed and read through that node's
raylet (ListLogs / ReadLog), and a dead node's files are named as gone, not waited for (issue 16).

Two node daemons on this machine (tests/cluster/cluster_util.py): a head and a joining node
with its own session folder. A task pinned to the joining node prints a line; the CLI (real
subprocesses) lists that node's files and prints the worker's file found by pid alone and by
file name alone (the node found by asking every raylet). Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from xlang_support import polyray_cli

import polyray
from polyray.util import state

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cluster"))
from cluster_util import Cluster  # noqa: E402

pytestmark = pytest.mark.timeout(180)
TIMEOUT = 60


@pytest.fixture(scope="module")
def two_nodes():
    c = Cluster()
    try:
        c.start_head(num_cpus=1)
        far = c.add_node(num_cpus=1, resources={"far": 1})
        polyray.init(address=c.address, namespace="logs_nodes")
        yield c, far
    finally:
        polyray.shutdown()
        c.shutdown()


@polyray.remote(resources={"far": 1})
def speak_far(token: str) -> int:
    print(f"far-says-{token}", flush=True)
    return os.getpid()


def cli(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*polyray_cli(), *args, "--address", address], capture_output=True, text=True,
                          timeout=TIMEOUT)


def test_a_file_on_another_node_is_listed_and_read_through_its_raylet(two_nodes):
    c, far = two_nodes
    head = c.nodes[0]
    token = uuid.uuid4().hex[:12]
    pid = polyray.get(speak_far.remote(token), timeout=TIMEOUT)

    # Listed under the far node only, with the writer's pid (polyray logs --node-id).
    listed = json.loads(cli(c.address, "logs", "--node-id", far.node_id, "--format", "json").stdout)
    mine = [f for f in listed if f["pid"] == pid and f["filename"].endswith(".out")]
    assert len(mine) == 1 and mine[0]["node_id"] == far.node_id, listed
    on_head = json.loads(cli(c.address, "logs", "--node-id", head.node_id, "--format", "json").stdout)
    assert all(f["node_id"] == head.node_id for f in on_head)
    assert mine[0]["filename"] not in {f["filename"] for f in on_head}

    # Printed by pid and by file name alone: the node is found by asking every raylet.
    deadline = time.monotonic() + 30
    while True:  # the worker's pipe reader writes the file a moment after the print
        by_pid = cli(c.address, "logs", "--pid", str(pid))
        if f"far-says-{token}" in by_pid.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert by_pid.returncode == 0 and f"far-says-{token}" in by_pid.stdout, by_pid
    by_name = cli(c.address, "logs", mine[0]["filename"])
    assert by_name.returncode == 0 and f"far-says-{token}" in by_name.stdout, by_name
    text = "".join(state.get_log(c.address, filename=mine[0]["filename"], node_id=far.node_id, tail=1))
    assert text.strip() == f"far-says-{token}", text
    # The same file name asked of the head's raylet is not there.
    wrong = cli(c.address, "logs", mine[0]["filename"], "--node-id", head.node_id)
    assert wrong.returncode == 1 and "no log file" in wrong.stderr, wrong

    # The far node dies: its files are not reachable (they stay on that machine); the CLI says so
    # at once instead of waiting on a dead raylet.
    far.kill()
    c.wait_alive(1, timeout=30)
    started = time.monotonic()
    gone = cli(c.address, "logs", "--pid", str(pid))
    assert gone.returncode == 1 and "no log file" in gone.stderr, gone
    assert time.monotonic() - started < 20
    assert far.node_id not in {f["node_id"] for f in state.list_logs(c.address)}
