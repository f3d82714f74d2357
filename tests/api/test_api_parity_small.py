"""Small Ray API rows (issue 17) on a real local cluster: ``._remote(args=, kwargs=, **options)``,
auto-``init()`` on the first call, ``max_calls``, ``OMP_NUM_THREADS`` from ``num_cpus``, and
``placement_group_capture_child_tasks``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import polyray
from polyray.exceptions import GetTimeoutError
from polyray.util.placement_group import get_placement_group, placement_group, remove_placement_group
from polyray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

T = 60


@polyray.remote
def add(a: int, b: int = 0) -> int:
    return a + b


@polyray.remote
class Box:
    def __init__(self, value: int) -> None:
        self.value = value

    def plus(self, x: int, y: int = 0) -> int:
        return self.value + x + y


def test_private_remote_spelling(cluster):
    assert polyray.get(add._remote(args=[1], kwargs={"b": 2}), timeout=T) == 3
    assert polyray.get(add._remote(args=(5,), num_cpus=0.5, name="renamed"), timeout=T) == 5
    assert polyray.get(add._remote([4]), timeout=T) == 4
    with pytest.raises(ValueError, match="bogus"):
        add._remote(args=[1], bogus=1)
    with pytest.raises(TypeError):
        add._remote(args=[1, 2, 3])  # checked against the signature, as .remote()
    box = Box._remote(args=[10], max_concurrency=1)
    assert polyray.get(box.plus._remote(args=[1], kwargs={"y": 2}), timeout=T) == 13
    a, b = box.plus._remote(args=[1], num_returns=1), box.plus._remote(kwargs={"x": 0})
    assert polyray.get([a, b], timeout=T) == [11, 10]


AUTO_INIT = textwrap.dedent("""
    import polyray
    @polyray.remote
    def f(x):
        return x * 2
    assert not polyray.is_initialized()
    print(polyray.get(f.remote(21), timeout=60), polyray.is_initialized())
    polyray.shutdown()
""")


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("POLYRAY_ADDRESS", "POLYRAY_ENABLE_AUTO_CONNECT")}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, env=clean)


def test_first_call_initializes_and_auto_connect_off_keeps_the_error():
    done = _run(AUTO_INIT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["42", "True"]
    off = _run(AUTO_INIT, POLYRAY_ENABLE_AUTO_CONNECT="0")
    assert off.returncode != 0
    assert "polyray is not initialized: call polyray.init() first" in off.stderr


@polyray.remote(max_calls=2)
def pid_limited() -> int:
    return os.getpid()


def test_max_calls_gives_a_fresh_worker_after_that_many_calls(cluster):
    pids = [polyray.get(pid_limited.remote(), timeout=T) for _ in range(4)]
    assert pids[0] == pids[1] and pids[2] == pids[3], pids
    assert pids[1] != pids[2], "the worker that ran max_calls tasks exited"
    with pytest.raises(ValueError, match="max_calls"):
        pid_limited.options(max_calls=-1)
    with pytest.raises(TypeError, match="max_calls"):
        pid_limited.options(max_calls="2")


@polyray.remote
def omp() -> str | None:
    return os.environ.get("OMP_NUM_THREADS")


@polyray.remote(num_cpus=0)
class OmpActor:
    def omp(self) -> str | None:
        return os.environ.get("OMP_NUM_THREADS")


def test_omp_num_threads_follows_num_cpus_unless_set(cluster):
    assert polyray.get(omp.remote(), timeout=T) == "1"
    assert polyray.get(omp.options(num_cpus=2).remote(), timeout=T) == "2"
    assert polyray.get(omp.options(num_cpus=0.5).remote(), timeout=T) == "1"
    a = OmpActor.remote()
    assert polyray.get(a.omp.remote(), timeout=T) == "1"
    set_by_user = omp.options(runtime_env={"env_vars": {"OMP_NUM_THREADS": "7"}}, num_cpus=2)
    assert polyray.get(set_by_user.remote(), timeout=T) == "7"


@polyray.remote(num_cpus=1)
class Holder:
    def ping(self) -> int:
        return 1


@polyray.remote(num_cpus=1)
def child() -> str:
    return "child"


@polyray.remote(num_cpus=1)
def parent(timeout: float) -> str:
    return polyray.get(child.remote(), timeout=timeout)


def test_placement_group_captures_child_tasks(cluster):
    # 2 CPUs: one in a 1-CPU bundle, one held by an actor. A parent in the bundle
    # blocks in get(), lending its CPU to the bundle: only a child that runs in the
    # same group (captured) can use it.
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(timeout_seconds=30)
    holder = Holder.remote()
    try:
        assert polyray.get(holder.ping.remote(), timeout=T) == 1
        captured = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
        assert polyray.get(parent.options(scheduling_strategy=captured).remote(30), timeout=T) == "child"
        free = PlacementGroupSchedulingStrategy(pg)
        with pytest.raises(GetTimeoutError):
            polyray.get(parent.options(scheduling_strategy=free).remote(2), timeout=T)
    finally:
        polyray.kill(holder)
        remove_placement_group(pg)


def test_get_placement_group_by_name(cluster):
    pg = placement_group([{"CPU": 0.5}], name="pg-by-name")
    found = get_placement_group("pg-by-name")
    assert found.id == pg.id and found.bundle_specs == [{"CPU": 0.5}] and found.strategy == "PACK"
    assert found.wait(timeout_seconds=30)
    remove_placement_group(found)
    with pytest.raises(ValueError, match="no placement group named 'pg-by-name'"):
        get_placement_group("pg-by-name")
    with pytest.raises(ValueError, match="non-empty name"):
        get_placement_group("")
