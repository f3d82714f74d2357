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
    with pytest.raises(TypeError):
        polyray.method(concurrency_group=1)
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


# -- 5. ActorPool and Queue ------------------------------------------------------------------

@polyray.remote
class Doubler:
    def double(self, x: float) -> float:
        if x < 0:
            raise ValueError(f"negative: {x}")
        time.sleep(x)
        return 2 * x

    def pid(self) -> int:
        return os.getpid()


def test_actor_pool_map_orders_and_spreads(cluster):
    from polyray.util import ActorPool
    actors = [Doubler.remote(), Doubler.remote()]
    pool = ActorPool(actors)
    # Ordered results even though the first value takes longest.
    assert list(pool.map(lambda a, v: a.double.remote(v), [0.4, 0.0, 0.1, 0.0])) == [0.8, 0.0, 0.2, 0.0]
    out = list(pool.map_unordered(lambda a, v: a.double.remote(v), [0.6, 0.0, 0.0]))
    assert sorted(out) == [0.0, 0.0, 1.2] and out[-1] == 1.2, out
    # Work is spread: both actors' processes ran pieces.
    pids = list(pool.map(lambda a, _: a.pid.remote(), range(4)))
    assert set(pids) == set(polyray.get([a.pid.remote() for a in actors], timeout=60))


def test_actor_pool_submit_get_next_and_idle_actors(cluster):
    from polyray.util import ActorPool
    a1, a2 = Doubler.remote(), Doubler.remote()
    pool = ActorPool([a1])
    assert pool.has_free() and not pool.has_next()
    with pytest.raises(StopIteration):
        pool.get_next()
    pool.submit(lambda a, v: a.double.remote(v), 1.0)
    pool.submit(lambda a, v: a.double.remote(v), 0.0)   # waits in the pool: the only actor is busy
    assert not pool.has_free() and pool.pop_idle() is None
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0.05)
    assert pool.get_next(timeout=60) == 2.0               # the piece stayed after the timeout
    assert pool.get_next(timeout=60) == 0.0
    assert not pool.has_next() and pool.has_free()
    pool.push(a2)
    with pytest.raises(ValueError):
        pool.push(a2)
    taken = {pool.pop_idle(), pool.pop_idle()}
    assert taken == {a1, a2} and pool.pop_idle() is None and not pool.has_free()
    pool.push(a1)
    # Errors come back to the collector; the actor is free again afterwards.
    pool.submit(lambda a, v: a.double.remote(v), -1.0)
    with pytest.raises(ValueError):
        pool.get_next_unordered(timeout=60)
    assert pool.has_free()
    # ignore_if_timedout: the slow piece is given up, its actor freed.
    pool.submit(lambda a, v: a.double.remote(v), 2.0)
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0.05, ignore_if_timedout=True)
    assert not pool.has_next() and pool.has_free()


@polyray.remote
def producer(q, n: int) -> int:
    for i in range(n):
        q.put(i)
    return n


def test_queue_between_tasks_and_driver(cluster):
    from polyray.util.queue import Empty, Full, Queue
    q = Queue(maxsize=3)
    assert q.empty() and not q.full() and len(q) == 0
    q.put_nowait_batch([1, 2])
    with pytest.raises(Full):
        q.put_nowait_batch([3, 4])                           # all or nothing
    assert q.qsize() == 2
    q.put(3)
    assert q.full()
    with pytest.raises(Full):
        q.put_nowait(4)
    t0 = time.monotonic()
    with pytest.raises(Full):
        q.put(4, timeout=0.3)
    assert 0.25 <= time.monotonic() - t0 < 10
    with pytest.raises(Empty):
        q.get_nowait_batch(4)
    assert q.get_nowait_batch(2) == [1, 2]
    assert q.get() == 3
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(Empty):
        q.get(timeout=0.2)
    with pytest.raises(Empty):
        q.get(block=False)
    with pytest.raises(ValueError):
        q.get(timeout=-1)
    # A task fills it past maxsize: its puts block until the driver takes items.
    done = producer.remote(q, 10)
    got = [q.get(timeout=60) for _ in range(10)]
    assert got == list(range(10))
    assert polyray.get(done, timeout=60) == 10
    assert issubclass(Empty, __import__("queue").Empty) and issubclass(Full, __import__("queue").Full)
    q.shutdown()


# -- 6. exceptions that cannot cross ---------------------------------------------------------

class HoldsALock(Exception):
    """Cannot be pickled (a lock inside), by pickle or cloudpickle."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        import threading
        self.lock = threading.Lock()


class NeedsTwoArgs(Exception):
    """Pickles, but does not unpickle (its __init__ needs two arguments)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"a={a} b={b}")


@polyray.remote(max_retries=0)
def raises_unpicklable(kind: str) -> None:
    if kind == "lock":
        raise HoldsALock("cannot pickle me")
    raise NeedsTwoArgs(1, 2)


@pytest.mark.parametrize("kind,type_name,message", [
    ("lock", "HoldsALock", "cannot pickle me"),
    ("two_args", "NeedsTwoArgs", "a=1 b=2"),
])
def test_unpicklable_exception_keeps_name_message_and_traceback(cluster, kind, type_name, message):
    from polyray.exceptions import UnserializableException
    with pytest.raises(TaskError) as info:
        polyray.get(raises_unpicklable.remote(kind), timeout=60)
    err = info.value
    assert type_name in str(err) and message in str(err)
    cause = err.cause
    assert isinstance(cause, UnserializableException), repr(cause)
    assert cause.type_name == type_name and cause.message == message
    assert "raises_unpicklable" in cause.original_stack_trace and type_name in cause.original_stack_trace
    assert message in str(cause)


def test_picklable_exception_is_the_cause(cluster):
    with pytest.raises(ValueError) as info:
        polyray.get(fails.remote(), timeout=60)
    assert isinstance(info.value, TaskError)
    assert type(info.value.cause) is ValueError and str(info.value.cause) == "no good"


# -- 7. memory and object_store_memory as node resources ----------------------------------------

@polyray.remote
def holds_memory(seconds: float) -> dict:
    time.sleep(seconds)
    return polyray.get_runtime_context().get_assigned_resources()


def test_memory_resources(cluster):
    total = polyray.cluster_resources()
    assert total.get("memory", 0) > 0, total
    assert total.get("object_store_memory", 0) > 0, total
    node = polyray.nodes()[0]
    assert node["Resources"]["object_store_memory"] == total["object_store_memory"]
    mib = 1024 ** 2
    # A task asking for memory runs (it never did while nodes declared none), and holds it while it runs.
    ref = holds_memory.options(memory=100 * mib).remote(1.5)
    assert _wait_for(lambda: polyray.available_resources().get("memory", 0) <= total["memory"] - 100 * mib, 30), \
        polyray.available_resources()
    assert polyray.get(ref, timeout=60) == {"CPU": 1.0, "memory": float(100 * mib)}
    assert _wait_for(lambda: polyray.available_resources().get("memory", 0) == total["memory"], 30)
    # More memory than the node has: it does not run.
    too_big = holds_memory.options(memory=total["memory"] * 2).remote(0)
    ready, _ = polyray.wait([too_big], timeout=1.0)
    assert not ready
    polyray.cancel(too_big)


@polyray.remote
class AsyncWorker:
    async def pid(self) -> int:
        return os.getpid()

    async def leave(self) -> None:
        polyray.actor.exit_actor()

    def is_canceled(self) -> str:
        try:
            polyray.get_runtime_context().is_canceled()
        except RuntimeError as e:
            return f"RuntimeError: {e}"
        return "no error"


def test_exit_actor_and_call_in_an_async_actor(cluster):
    a = AsyncWorker.options(max_restarts=1).remote()
    pid = polyray.get(a.pid.remote(), timeout=60)

    async def awaited(self, x):
        return x + 1
    assert polyray.get(a.__polyray_call__.remote(awaited, 1), timeout=60) == 2
    assert polyray.get(a.is_canceled.remote(), timeout=60).startswith("RuntimeError")
    with pytest.raises(ActorDiedError):
        polyray.get(a.leave.remote(), timeout=60)
    assert _wait_for(lambda: not _alive(pid)), "the async actor's process is still running"
    with pytest.raises(ActorDiedError):
        polyray.get(a.pid.remote(), timeout=60)
