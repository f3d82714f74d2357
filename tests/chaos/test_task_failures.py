"""Findings 1 and 4 of issue 13: workers killed while starting, nodes killed under a task.

(a) 2,000 short tasks (max_retries=3) on ``init(num_cpus=2)`` while a worker
that is starting (younger than 1 s: not registered yet, as a rule) is
SIGKILLed every 0.5 s; every 3 s with none starting, a random registered
worker is SIGKILLed instead, so that new ones start. A worker that dies before it
registers costs only the task at the head of its class one attempt (policy
"lease_failure"), so every result comes back correct and none fails.

(b) Three daemons on one machine; a ``forever()`` task (max_retries=0) sent
by custom resource to the node with ``c``; that node's process group is
SIGKILLed: ``get`` raises NodeDiedError within the node timeout + 5 s. Then
the same with the worker frozen (SIGSTOP) first, so its connection never
closes, as when a machine vanishes: only the GCS's word (the submitter's
node watch) can end the task.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time

import psutil
import pytest

import polyray
from polyray.exceptions import NodeDiedError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from cluster_util import NODE_TIMEOUT_S, Cluster  # noqa: E402

#: What each typed error must beat after the node dies (the issue's bound).
NODE_DEATH_BOUND_S = NODE_TIMEOUT_S + 5


@polyray.remote
def square(x: int) -> int:
    time.sleep(0.005)  # short, but the run lasts long enough for a kill every 0.5 s
    return x * x


@polyray.remote
def forever() -> None:
    time.sleep(600)


@polyray.remote
def worker_pid() -> int:
    return os.getpid()


def _workers_of(pid: int) -> list[psutil.Process]:
    """The polyray worker processes under ``pid`` (the head the driver started)."""
    out = []
    try:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                if "polyray.worker" in " ".join(child.cmdline()):
                    out.append(child)
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return out


def _head_pid() -> int:
    heads = [c for c in psutil.Process().children() if "polyray.node" in " ".join(c.cmdline())]
    assert heads, "init() started no head under this process"
    return heads[0].pid


class Killer(threading.Thread):
    """SIGKILLs a starting worker every ``period`` s (a random registered one
    when none has started for ``running_every`` s, so that new ones start)."""

    def __init__(self, head: int, period: float = 0.5, running_every: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.head, self.period, self.running_every = head, period, running_every
        self.stop_event = threading.Event()
        self.starting_kills = 0
        self.running_kills = 0

    def run(self) -> None:
        rng = random.Random(13)
        last_kill = last_running_kill = time.monotonic()
        # Look often (a start is short), kill at most once a period.
        while not self.stop_event.wait(0.05):
            mono = time.monotonic()
            if mono - last_kill < self.period:
                continue
            now = time.time()
            workers = _workers_of(self.head)
            starting = [w for w in workers if now - w.create_time() < 1.0]
            victims = []
            if starting:
                victims = [rng.choice(starting)]
                self.starting_kills += 1
            elif workers and mono - last_running_kill >= self.running_every:
                victims = [rng.choice(workers)]  # so that a new one must start
                self.running_kills += 1
                last_running_kill = mono
            for victim in victims:
                last_kill = mono
                try:
                    victim.send_signal(signal.SIGKILL)
                except psutil.Error:
                    pass


@pytest.fixture
def fresh():
    if polyray.is_initialized():
        polyray.shutdown()
    yield
    if polyray.is_initialized():
        polyray.shutdown()


def test_workers_killed_while_starting_cost_retries_not_results(fresh):
    polyray.init(num_cpus=2)
    killer = Killer(_head_pid())
    killer.start()
    started = time.monotonic()
    try:
        refs = [square.options(max_retries=3).remote(i) for i in range(2000)]
        results = polyray.get(refs, timeout=120)
    finally:
        killer.stop_event.set()
        killer.join(5)
    took = time.monotonic() - started
    print(f"\n2000 tasks in {took:.1f} s; SIGKILLed {killer.starting_kills} starting and "
          f"{killer.running_kills} running workers")
    assert results == [i * i for i in range(2000)]
    assert killer.starting_kills >= 1, "the test must have killed workers while they started"


@pytest.fixture
def own_cluster():
    """A cluster of node daemons the test builds (and breaks); torn down afterwards."""
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        yield c
    finally:
        if polyray.is_initialized():
            polyray.shutdown()
        c.shutdown()


def _three_nodes(cluster: Cluster):
    cluster.start_head(num_cpus=1)
    cluster.add_node(num_cpus=1, resources={"b": 1})
    c = cluster.add_node(num_cpus=1, resources={"c": 1})
    cluster.wait_alive(3)
    polyray.init(address=cluster.address)
    return c


def _node_death_raises(ref, node_id: str) -> float:
    started = time.monotonic()
    with pytest.raises(NodeDiedError, match=node_id):
        polyray.get(ref, timeout=NODE_DEATH_BOUND_S + 30)
    return time.monotonic() - started


def test_a_node_killed_under_a_task_raises_node_died_within_the_bound(own_cluster):
    c = _three_nodes(own_cluster)
    ref = forever.options(resources={"c": 1}, max_retries=0).remote()
    time.sleep(2.0)
    os.killpg(c.process.pid, signal.SIGKILL)
    took = _node_death_raises(ref, c.node_id)
    print(f"\nNodeDiedError {took:.2f} s after the node's process group was SIGKILLed")
    assert took < NODE_DEATH_BOUND_S


def test_a_vanished_node_whose_worker_never_closes_its_connection_raises_node_died(own_cluster):
    c = _three_nodes(own_cluster)
    pid = polyray.get(worker_pid.options(resources={"c": 1}).remote(), timeout=60)
    ref = forever.options(resources={"c": 1}, max_retries=0).remote()
    time.sleep(2.0)
    # The worker (in its own process group) is frozen: its sockets stay open,
    # as a machine that vanished sends no FIN; then its node dies.
    os.kill(pid, signal.SIGSTOP)
    try:
        os.killpg(c.process.pid, signal.SIGKILL)
        took = _node_death_raises(ref, c.node_id)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print(f"\nNodeDiedError {took:.2f} s after the node died with its worker frozen "
          f"(node timeout {NODE_TIMEOUT_S:g} s)")
    assert took < NODE_DEATH_BOUND_S
