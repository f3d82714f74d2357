"""Actors: state, ordering, handles passed around, named actors, async and threaded actors, death."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid

import pytest
from core_util import pid_alive, wait_until

import polyray
from polyray.exceptions import ActorDiedError, TaskError

pytestmark = pytest.mark.usefixtures("cluster")

T = 60


@polyray.remote
class Counter:
    def __init__(self, start=0, *, step=1):
        self.value = start
        self.step = step
        self.history = []

    def incr(self, by=None):
        self.value += self.step if by is None else by
        self.history.append(self.value)
        return self.value

    def record(self, item):
        self.history.append(item)
        return len(self.history)

    def get_history(self):
        return list(self.history)

    def get_value(self):
        return self.value

    def pid(self):
        return os.getpid()

    def sleep(self, seconds):
        time.sleep(seconds)
        return seconds

    def pair(self):
        return self.value, -self.value


def test_state_kept_across_calls():
    c = Counter.remote(10, step=2)
    refs = [c.incr.remote() for _ in range(5)]
    assert polyray.get(refs, timeout=T) == [12, 14, 16, 18, 20]
    assert polyray.get(c.incr.remote(by=100), timeout=T) == 120
    assert polyray.get(c.get_history.remote(), timeout=T) == [12, 14, 16, 18, 20, 120]
    assert polyray.get(c.get_value.remote(), timeout=T) == 120


def test_method_num_returns_option():
    c = Counter.remote(3)
    a, b = c.pair.options(num_returns=2).remote()
    assert polyray.get([a, b], timeout=T) == [3, -3]


def test_two_actors_have_separate_state_and_processes():
    a, b = Counter.remote(), Counter.remote(100)
    polyray.get([a.incr.remote(), b.incr.remote()], timeout=T)
    assert polyray.get([a.get_value.remote(), b.get_value.remote()], timeout=T) == [1, 101]
    assert polyray.get(a.pid.remote(), timeout=T) != polyray.get(b.pid.remote(), timeout=T)


def test_calls_from_one_caller_run_in_submission_order():
    c = Counter.remote()
    n = 500
    refs = [c.record.remote(i) for i in range(n)]
    assert polyray.get(refs[-1], timeout=T) == n
    assert polyray.get(c.get_history.remote(), timeout=T) == list(range(n))


def test_order_kept_with_object_ref_arguments_of_varying_readiness():
    @polyray.remote
    def delayed(x, seconds):
        time.sleep(seconds)
        return x

    c = Counter.remote()
    # the first call's argument is ready last: calls must still run in submission order
    refs = [c.record.remote(delayed.remote(0, 1.0)), c.record.remote(1), c.record.remote(delayed.remote(2, 0.2)),
            c.record.remote(3)]
    polyray.get(refs, timeout=T)
    assert polyray.get(c.get_history.remote(), timeout=T) == [0, 1, 2, 3]


def test_actor_method_args_resolved_and_large():
    import numpy as np
    c = Counter.remote()
    ref = polyray.put(5)
    assert polyray.get(c.incr.remote(ref), timeout=T) == 5
    big = np.ones(1_000_000)
    assert polyray.get(c.record.remote(big), timeout=T) == 2
    hist = polyray.get(c.get_history.remote(), timeout=T)
    assert hist[0] == 5 and float(hist[1].sum()) == 1_000_000


@polyray.remote
def bump_in_task(counter, times):
    return [polyray.get(counter.incr.remote(), timeout=30) for _ in range(times)]


@polyray.remote
class User:
    def __init__(self, counter):
        self.counter = counter

    def bump(self, times):
        return [polyray.get(self.counter.incr.remote(), timeout=30) for _ in range(times)]

    def bump_other(self, other):
        return polyray.get(other.incr.remote(), timeout=30)


def test_handle_passed_to_task():
    c = Counter.remote()
    assert polyray.get(bump_in_task.remote(c, 3), timeout=T) == [1, 2, 3]
    assert polyray.get(c.get_value.remote(), timeout=T) == 3


def test_handle_passed_to_actor():
    c = Counter.remote()
    u = User.remote(c)
    assert polyray.get(u.bump.remote(2), timeout=T) == [1, 2]
    other = Counter.remote(50)
    assert polyray.get(u.bump_other.remote(other), timeout=T) == 51
    assert polyray.get([c.get_value.remote(), other.get_value.remote()], timeout=T) == [2, 51]


def test_handle_nested_in_a_value():
    c = Counter.remote()

    @polyray.remote
    def use(handles):
        return polyray.get(handles["c"].incr.remote(by=7), timeout=30)

    assert polyray.get(use.remote({"c": c}), timeout=T) == 7


def test_named_actor_lookup_and_namespaces():
    name = f"counter-{uuid.uuid4().hex[:8]}"
    a = Counter.options(name=name, namespace="ns-one").remote(1)
    b = Counter.options(name=name, namespace="ns-two").remote(100)  # same name, other namespace: fine
    polyray.get([a.incr.remote(), b.incr.remote()], timeout=T)
    got_a = polyray.get_actor(name, namespace="ns-one")
    got_b = polyray.get_actor(name, namespace="ns-two")
    assert polyray.get(got_a.get_value.remote(), timeout=T) == 2
    assert polyray.get(got_b.get_value.remote(), timeout=T) == 101
    # the looked-up handle drives the same actor
    polyray.get(got_a.incr.remote(), timeout=T)
    assert polyray.get(a.get_value.remote(), timeout=T) == 3
    with pytest.raises(ValueError) as e:
        Counter.options(name=name, namespace="ns-one").remote()
    assert name in str(e.value)
    with pytest.raises(ValueError):
        polyray.get_actor(name, namespace="ns-three")
    with pytest.raises(ValueError):
        polyray.get_actor(name)  # the driver's (default) namespace has none


def test_named_actor_in_default_namespace_and_missing_name():
    name = f"default-{uuid.uuid4().hex[:8]}"
    a = Counter.options(name=name).remote(5)
    assert polyray.get(polyray.get_actor(name).get_value.remote(), timeout=T) == 5
    with pytest.raises(ValueError) as e:
        polyray.get_actor(f"missing-{uuid.uuid4().hex[:8]}")
    assert "missing-" in str(e.value)
    del a


def test_named_actor_visible_from_a_task():
    name = f"shared-{uuid.uuid4().hex[:8]}"
    a = Counter.options(name=name, namespace="from-task").remote()

    @polyray.remote
    def by_name(n):
        return polyray.get(polyray.get_actor(n, namespace="from-task").incr.remote(), timeout=30)

    assert polyray.get(by_name.remote(name), timeout=T) == 1
    assert polyray.get(a.get_value.remote(), timeout=T) == 1


@polyray.remote
class AsyncWorker:
    def __init__(self):
        self.running = 0
        self.peak = 0

    async def slow(self, i, seconds):
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(seconds)
        self.running -= 1
        return i

    async def get_peak(self):
        return self.peak

    async def await_ref(self, refs):
        return sum([await r for r in refs])

    def ping(self):
        return "pong"


def test_async_actor_methods_run_concurrently():
    a = AsyncWorker.remote()
    assert polyray.get(a.ping.remote(), timeout=T) == "pong"
    n = 8
    start = time.monotonic()
    refs = [a.slow.remote(i, 0.5) for i in range(n)]
    assert polyray.get(refs, timeout=T) == list(range(n))
    elapsed = time.monotonic() - start
    assert elapsed < n * 0.5 * 0.6, f"{n} async calls of 0.5 s took {elapsed:.2f} s: they did not overlap"
    assert polyray.get(a.get_peak.remote(), timeout=T) > 1


def test_async_actor_awaits_object_refs():
    a = AsyncWorker.remote()

    @polyray.remote
    def val(x):
        return x

    refs = [val.remote(i) for i in range(5)]
    assert polyray.get(a.await_ref.remote(refs), timeout=T) == 10


@polyray.remote(max_concurrency=4)
class Gate:
    def __init__(self, parties):
        self.barrier = threading.Barrier(parties, timeout=30)

    def meet(self, i):
        self.barrier.wait()
        return i, threading.get_ident()


def test_threaded_actor_runs_calls_concurrently():
    g = Gate.remote(4)
    refs = [g.meet.remote(i) for i in range(4)]
    results = polyray.get(refs, timeout=T)
    assert sorted(i for i, _ in results) == [0, 1, 2, 3]
    assert len({t for _, t in results}) == 4  # four threads met at the barrier


def test_threaded_actor_via_options():
    g = Gate.options(max_concurrency=3).remote(3)
    assert sorted(i for i, _ in polyray.get([g.meet.remote(i) for i in range(3)], timeout=T)) == [0, 1, 2]


def test_kill_then_calls_fail_with_actor_died():
    c = Counter.remote()
    pid = polyray.get(c.pid.remote(), timeout=T)
    polyray.kill(c)
    with pytest.raises(ActorDiedError):
        polyray.get(c.incr.remote(), timeout=T)
    with pytest.raises(ActorDiedError):
        polyray.get(c.get_value.remote(), timeout=T)
    assert wait_until(lambda: not pid_alive(pid), 15), f"the killed actor's process {pid} still runs"


def test_kill_while_call_is_running():
    c = Counter.remote()
    polyray.get(c.pid.remote(), timeout=T)
    pending = c.sleep.remote(60)
    time.sleep(0.3)
    start = time.monotonic()
    polyray.kill(c)
    with pytest.raises(ActorDiedError):
        polyray.get(pending, timeout=T)
    assert time.monotonic() - start < 30


def test_named_actor_gone_after_kill():
    name = f"killed-{uuid.uuid4().hex[:8]}"
    c = Counter.options(name=name).remote()
    polyray.get(c.incr.remote(), timeout=T)
    polyray.kill(c)
    with pytest.raises(ActorDiedError):
        polyray.get(c.incr.remote(), timeout=T)
    assert wait_until(lambda: _lookup_fails(name), 10)
    # the name is free again
    c2 = Counter.options(name=name).remote(9)
    assert polyray.get(polyray.get_actor(name).get_value.remote(), timeout=T) == 9
    del c2


def _lookup_fails(name):
    try:
        polyray.get_actor(name)
        return False
    except ValueError:
        return True


def test_sigkilled_actor_process_fails_pending_and_later_calls():
    c = Counter.remote()
    pid = polyray.get(c.pid.remote(), timeout=T)
    pending = [c.sleep.remote(60), c.incr.remote()]
    time.sleep(0.3)  # the first call is running
    os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    for ref in pending:
        with pytest.raises(ActorDiedError):
            polyray.get(ref, timeout=T)
    assert time.monotonic() - start < 30, "the actor's death took too long to reach its callers"
    with pytest.raises(ActorDiedError):
        polyray.get(c.incr.remote(), timeout=T)


def test_actor_method_error_keeps_actor_alive():
    @polyray.remote
    class Fragile:
        def __init__(self):
            self.calls = 0

        def fail(self):
            self.calls += 1
            raise ValueError("bad call")

        def count(self):
            return self.calls

    f = Fragile.remote()
    with pytest.raises(ValueError) as e:
        polyray.get(f.fail.remote(), timeout=T)
    assert isinstance(e.value, TaskError)
    assert polyray.get(f.count.remote(), timeout=T) == 1


def test_actor_constructor_error_surfaces_on_calls():
    @polyray.remote
    class Broken:
        def __init__(self):
            raise RuntimeError("cannot construct")

        def m(self):
            return 1

    b = Broken.remote()
    with pytest.raises((ActorDiedError, TaskError)) as e:
        polyray.get(b.m.remote(), timeout=T)
    assert "cannot construct" in str(e.value)


def test_unknown_method_is_an_attribute_error():
    c = Counter.remote()
    with pytest.raises(AttributeError):
        c.no_such_method.remote()
