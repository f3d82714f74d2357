"""A ``num_cpus=0`` task runs while actors or a placement group hold every CPU (issue 17), on a 1-CPU cluster.

As Ray: a task that asks for no CPU needs none (the raylet adds its default
1 CPU only when a task names no CPU amount), so it does not wait for one.
A default task (1 CPU) still waits: the CPU really is held.
"""

from __future__ import annotations

import gc

import pytest

import polyray
from polyray.util.placement_group import placement_group, remove_placement_group


@pytest.fixture(scope="module")
def one_cpu():
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=1)
    try:
        yield info
    finally:
        gc.collect()
        polyray.shutdown()


@polyray.remote
def where() -> dict:
    return polyray.get_runtime_context().get_assigned_resources()


@polyray.remote(num_cpus=1)
class Holder:
    def ping(self) -> str:
        return "held"


def _zero_cpu_runs_and_one_cpu_waits() -> None:
    assert polyray.get(where.options(num_cpus=0).remote(), timeout=30) == {}
    one = where.remote()
    ready, _ = polyray.wait([one], timeout=1.0)
    assert not ready, "a 1-CPU task waits: the CPU is held"
    polyray.cancel(one)


def test_zero_cpu_task_runs_while_an_actor_holds_every_cpu(one_cpu):
    holder = Holder.remote()
    assert polyray.get(holder.ping.remote(), timeout=30) == "held"
    assert polyray.available_resources().get("CPU", 0) == 0
    _zero_cpu_runs_and_one_cpu_waits()
    polyray.kill(holder)


def test_zero_cpu_task_runs_while_a_placement_group_holds_every_cpu(one_cpu):
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(timeout_seconds=30)
    try:
        _zero_cpu_runs_and_one_cpu_waits()
    finally:
        remove_placement_group(pg)
