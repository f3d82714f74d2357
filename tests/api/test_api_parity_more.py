"""More of Ray's Python API on a real local cluster (issue 17): exit_actor(), the
built-in actor methods, @polyray.method(num_returns=), the runtime context's
assigned resources / current actor / is_canceled, ObjectRef.as_future() and
ObjectRef[T], ActorPool, Queue, and exceptions that cannot be pickled."""

from __future__ import annotations

import concurrent.futures
import os
import tempfile
import time

import pytest

import polyray
from polyray import ObjectRef
from polyray.exceptions import ActorDiedError, TaskError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


@polyray.remote
class Worker:
    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.log: list[str] = []

    def pid(self) -> int:
        return os.getpid()

    def slow(self, tag: str, seconds: float) -> str:
        time.sleep(seconds)
        self.log.append(tag)
        return tag

    def get_log(self) -> list[str]:
        return list(self.log)

    def leave(self) -> str:
        polyray.actor.exit_actor()
        return "not reached"

    @polyray.method(num_returns=2)
    def pair(self, x: int) -> tuple[int, int]:
        return x, x * 10

    @polyray.method(num_returns=3)
    def triple(self) -> tuple[int, int, int]:
        return 1, 2, 3

    def resources(self) -> dict:
        return polyray.get_runtime_context().get_assigned_resources()

    def me(self):
        return polyray.get_runtime_context().current_actor

    def bump(self) -> int:
        self.value += 1
        return self.value

    def via_self(self) -> int:
        # A call through its own handle queues behind this one: return the ref, not its value.
        return polyray.get_runtime_context().current_actor.bump.remote()


# -- 1. exit_actor() and the built-in methods ------------------------------------------------

def test_exit_actor_ends_the_actor_without_restart(cluster):
    a = Worker.options(max_restarts=2).remote()
    pid = polyray.get(a.pid.remote(), timeout=60)
    with pytest.raises(ActorDiedError):
        polyray.get(a.leave.remote(), timeout=60)
    assert _wait_for(lambda: not _alive(pid)), "the actor's process is still running"
    with pytest.raises(ActorDiedError):
        polyray.get(a.pid.remote(), timeout=60)


@polyray.remote
def calls_exit_actor() -> str:
    try:
        polyray.actor.exit_actor()
    except TypeError as e:
        return f"TypeError: {e}"
    return "no error"


def test_exit_actor_outside_an_actor_is_a_type_error(cluster):
    with pytest.raises(TypeError):
        polyray.actor.exit_actor()
    assert polyray.get(calls_exit_actor.remote(), timeout=60).startswith("TypeError")


@pytest.mark.parametrize("prefix", ["polyray", "ray"])
def test_ready_and_call_builtins(cluster, prefix):
    a = Worker.remote(41)
    assert polyray.get(getattr(a, f"__{prefix}_ready__").remote(), timeout=60) is True
    call = getattr(a, f"__{prefix}_call__")
    # fn(actor_instance, *args, **kwargs) runs in the actor: it sees and changes the instance's state.
    assert polyray.get(call.remote(lambda self, d, k=0: self.value + d + k, 1, k=100), timeout=60) == 142
    polyray.get(call.remote(lambda self: setattr(self, "value", 7)), timeout=60)
    assert polyray.get(a.bump.remote(), timeout=60) == 8
    assert polyray.get(call.remote(lambda self: os.getpid()), timeout=60) == polyray.get(a.pid.remote(), timeout=60)
    polyray.kill(a)


@pytest.mark.parametrize("prefix", ["polyray", "ray"])
def test_terminate_is_graceful(cluster, prefix):
    a = Worker.options(max_restarts=1).remote()
    pid = polyray.get(a.pid.remote(), timeout=60)
    queued = [a.slow.remote(f"t{i}", 0.3) for i in range(3)]
    term = getattr(a, f"__{prefix}_terminate__").remote()
    # The calls queued before the terminate run to the end, in order.
    assert polyray.get(queued, timeout=60) == ["t0", "t1", "t2"]
    with pytest.raises(ActorDiedError):
        polyray.get(term, timeout=60)
    assert _wait_for(lambda: not _alive(pid)), "the actor's process is still running"
    with pytest.raises(ActorDiedError):
        polyray.get(a.pid.remote(), timeout=60)


# -- 2. @polyray.method(num_returns=) ------------------------------------------------------------

def test_method_num_returns(cluster):
    a = Worker.remote()
    r1, r2 = a.pair.remote(4)
    assert polyray.get([r1, r2], timeout=60) == [4, 40]
    assert polyray.get(a.triple.remote(), timeout=60) == [1, 2, 3]
    # A call's .options(num_returns=) overrides the decorator.
    whole = a.pair.options(num_returns=1).remote(5)
    assert polyray.get(whole, timeout=60) == (5, 50)

    # The declaration travels with the handle to other processes.
    @polyray.remote
    def use(h):
        x, y = h.pair.remote(2)
        return polyray.get([x, y])
    assert polyray.get(use.remote(a), timeout=60) == [2, 20]
    polyray.kill(a)


def test_method_decorator_checks_its_options():
    with pytest.raises(TypeError):
        polyray.method(lambda self: 0)
    with pytest.raises(ValueError):
        polyray.method(bogus=1)
    with pytest.raises(ValueError):
        polyray.method(concurrency_group="io")
    with pytest.raises(TypeError):
        polyray.method(num_returns="2")


# -- 3. runtime context ----------------------------------------------------------------------

@polyray.remote
def assigned() -> dict:
    return polyray.get_runtime_context().get_assigned_resources()


def test_get_assigned_resources(cluster):
    assert polyray.get(assigned.remote(), timeout=60) == {"CPU": 1.0}
    assert polyray.get(assigned.options(num_cpus=2, resources={}).remote(), timeout=60) == {"CPU": 2.0}
    assert polyray.get(assigned.options(num_cpus=0.5).remote(), timeout=60) == {"CPU": 0.5}
    a = Worker.remote()
    assert polyray.get(a.resources.remote(), timeout=60) == {}
    b = Worker.options(num_cpus=1).remote()
    assert polyray.get(b.resources.remote(), timeout=60) == {"CPU": 1.0}
    with pytest.raises(RuntimeError):
        polyray.get_runtime_context().get_assigned_resources()
    polyray.kill(a)
    polyray.kill(b)


def test_current_actor(cluster):
    a = Worker.remote(1)
    me = polyray.get(a.me.remote(), timeout=60)
    assert me == a
    assert polyray.get(me.bump.remote(), timeout=60) == 2
    # Its @polyray.method declarations hold on the handle made inside the actor.
    ref = polyray.get(a.via_self.remote(), timeout=60)
    assert polyray.get(ref, timeout=60) == 3
    with pytest.raises(RuntimeError):
        polyray.get_runtime_context().current_actor  # noqa: B018 - a driver has no actor
    with pytest.raises(TaskError):
        polyray.get(current_actor_in_task.remote(), timeout=60)
    polyray.kill(a)


@polyray.remote
def current_actor_in_task():
    return polyray.get_runtime_context().current_actor


@polyray.remote(max_retries=0)
def polls_cancel(path: str) -> None:
    ctx = polyray.get_runtime_context()
    with open(path, "a") as f:
        f.write(f"before={ctx.is_canceled()}\n")
    try:
        while True:
            time.sleep(0.02)
    except BaseException:
        with open(path, "a") as f:
            f.write(f"after={ctx.is_canceled()}\n")
        raise


def test_is_canceled(cluster):
    with tempfile.NamedTemporaryFile("r", suffix=".cancel") as f:
        ref = polls_cancel.remote(f.name)
        assert _wait_for(lambda: "before=" in open(f.name).read(), 60)
        polyray.cancel(ref)
        with pytest.raises(polyray.exceptions.TaskCancelledError):
            polyray.get(ref, timeout=60)
        assert _wait_for(lambda: "after=" in open(f.name).read(), 20)
        assert open(f.name).read().split() == ["before=False", "after=True"]
    with pytest.raises(RuntimeError):
        polyray.get_runtime_context().is_canceled()


# -- 4. ObjectRef.as_future() and ObjectRef[T] -------------------------------------------------

@polyray.remote
def add(x: int, y: int) -> int:
    return x + y


@polyray.remote(max_retries=0)
def fails() -> None:
    raise ValueError("no good")


def test_as_future(cluster):
    fut = add.remote(1, 2).as_future()
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(timeout=60) == 3
    bad = fails.remote().as_future()
    with pytest.raises(ValueError):
        bad.result(timeout=60)
    assert isinstance(bad.exception(), TaskError)
    futs = [add.remote(i, i).as_future() for i in range(5)]
    done, _ = concurrent.futures.wait(futs, timeout=60)
    assert sorted(f.result() for f in done) == [0, 2, 4, 6, 8]


def test_object_ref_class_getitem():
    def takes(ref: ObjectRef[int]) -> ObjectRef[str]:
        return ref  # type: ignore[return-value]
    alias = ObjectRef[int]
    assert alias.__origin__ is ObjectRef and alias.__args__ == (int,)
    import typing
    assert typing.get_type_hints(takes)["ref"] == ObjectRef[int]
