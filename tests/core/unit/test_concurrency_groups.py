"""TaskExecutor's concurrency groups and cancel, in process (issue 17): each group of an
actor has its own pool (threaded) or semaphore (async), so a full group never holds up
another; calls of a group start in arrival order; cancel() raises KeyboardInterrupt in a
running task and cancels an async call's asyncio task. No cluster: the executor is fed
specs directly and its replies are collected."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import polyray
from polyray.core.task_executor import TaskCancelled, TaskExecutor
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw

TIMEOUT = 10.0


class _Getter:
    def resolve_args(self, spec):
        return (), {}


class _Returns:
    """Records each task's value or error record instead of encoding it."""

    def __init__(self) -> None:
        self.values: dict[bytes, object] = {}
        self.errors: dict[bytes, pb.ErrorRecord] = {}

    def encode_returns(self, spec, value):
        self.values[spec.task_id] = value
        return []

    def error_returns(self, spec, record):
        self.errors[spec.task_id] = record
        return []


class _Replies:
    def __init__(self) -> None:
        self.done: dict[bytes, cw.TaskResult] = {}
        self.cond = threading.Condition()

    def __call__(self, result: cw.TaskResult) -> None:
        with self.cond:
            self.done[result.task_id] = result
            self.cond.notify_all()

    def wait(self, *task_ids: bytes) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: all(t in self.done for t in task_ids), TIMEOUT), task_ids


def _executor() -> tuple[TaskExecutor, _Returns]:
    ctx = WorkerContext(is_driver=False, job_id=b"\1" * 4, worker_id=b"\2" * 28, node_id=b"\3" * 28,
                        host="127.0.0.1")
    returns = _Returns()
    ex = TaskExecutor(ctx=ctx, functions=None, getter=_Getter(), returns=returns)  # type: ignore[arg-type]
    return ex, returns


_n = [0]


def _task_id() -> bytes:
    _n[0] += 1
    return _n[0].to_bytes(24, "big")


def _create(ex: TaskExecutor, instance: object, groups: dict[str, int], max_concurrency: int = 0) -> None:
    spec = pb.TaskSpec(type=pb.ACTOR_CREATION_TASK, actor_id=b"\4" * 16, task_id=_task_id(),
                       max_concurrency=max_concurrency)
    spec.concurrency_groups.update(groups)
    ex._on_actor_created(spec, instance)


def _call(method: str, group: str = "") -> pb.TaskSpec:
    spec = pb.TaskSpec(type=pb.ACTOR_TASK, actor_id=b"\4" * 16, task_id=_task_id(), name=f"A.{method}",
                       concurrency_group=group, num_returns=1)
    spec.function.python.qualname = f"A.{method}"
    return spec


class Threaded:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []

    @polyray.method(concurrency_group="io")
    def block(self, tag: str = "b") -> str:
        self.started.append("block")
        assert self.release.wait(TIMEOUT)
        return "block"

    @polyray.method(concurrency_group="io")
    def after(self) -> str:
        self.started.append("after")
        return "after"

    def plain(self) -> str:
        return "plain"


def test_a_full_group_does_not_block_another_and_keeps_order():
    ex, returns = _executor()
    actor = Threaded()
    _create(ex, actor, {"io": 1, "compute": 2}, max_concurrency=2)
    replies = _Replies()
    block, after = _call("block"), _call("after")
    other = _call("plain", group="compute")   # a call's option overrides the method's group
    default = _call("plain")
    for spec in (block, after, other, default):
        ex.enqueue(spec, replies)
    replies.wait(other.task_id, default.task_id)   # io is full (1 of 1): compute and default still run
    assert after.task_id not in replies.done and actor.started == ["block"]
    actor.release.set()
    replies.wait(block.task_id, after.task_id)
    assert actor.started == ["block", "after"]    # one group: arrival order
    assert returns.values[other.task_id] == "plain" and returns.values[after.task_id] == "after"


def test_a_group_the_actor_does_not_declare_is_an_error_reply():
    ex, returns = _executor()
    _create(ex, Threaded(), {"io": 1})
    replies = _Replies()
    spec = _call("plain", group="nope")
    ex.enqueue(spec, replies)
    replies.wait(spec.task_id)
    assert "not declared" in returns.errors[spec.task_id].message


class Async:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.gate = threading.Event()

    @polyray.method(concurrency_group="io")
    async def wait_gate(self, tag: str = "") -> str:
        self.started.append("wait")
        await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, TIMEOUT)
        return "gate"

    @polyray.method(concurrency_group="io")
    async def io2(self) -> str:
        self.started.append("io2")
        return "io2"

    async def forever(self) -> str:
        await asyncio.sleep(3600)
        return "never"

    async def quick(self) -> str:
        return "quick"


def test_async_groups_have_their_own_semaphores():
    ex, returns = _executor()
    actor = Async()
    _create(ex, actor, {"io": 1, "compute": 1})
    replies = _Replies()
    first, second = _call("wait_gate"), _call("io2")
    quick = _call("quick", group="compute")
    for spec in (first, second, quick):
        ex.enqueue(spec, replies)
    replies.wait(quick.task_id)
    assert second.task_id not in replies.done and actor.started == ["wait"]
    actor.gate.set()
    replies.wait(first.task_id, second.task_id)
    assert actor.started == ["wait", "io2"]


def test_cancel_of_an_async_call_cancels_its_asyncio_task():
    ex, returns = _executor()
    _create(ex, Async(), {})
    replies = _Replies()
    spec = _call("forever")
    ex.enqueue(spec, replies)
    deadline = time.monotonic() + TIMEOUT
    while spec.task_id not in ex._async_tasks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ex.cancel(spec.task_id, force=False)
    replies.wait(spec.task_id)
    assert returns.errors[spec.task_id].kind == pb.TASK_CANCELLED
    early = _call("quick")
    assert ex.cancel(early.task_id, force=False)   # cancelled before it arrived: it never runs
    ex.enqueue(early, replies)
    replies.wait(early.task_id)
    assert returns.errors[early.task_id].kind == pb.TASK_CANCELLED and early.task_id not in returns.values


def test_cancel_raises_keyboard_interrupt_in_a_running_task():
    ex, returns = _executor()
    seen: list[str] = []
    running = threading.Event()

    def task() -> str:
        running.set()
        try:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:   # off the main thread the interrupt comes between bytecodes
                time.sleep(0.01)
        except KeyboardInterrupt as e:   # what Ray raises; polyray's TaskCancelled is one
            seen.append(type(e).__name__)
            raise
        return "finished"

    spec = pb.TaskSpec(type=pb.NORMAL_TASK, task_id=_task_id(), name="task", num_returns=1)
    spec.function.python.function_hash = b"h" * 8
    ex._functions[b"h" * 8] = task
    replies = _Replies()
    t = threading.Thread(target=ex._execute, args=(spec, replies))
    t.start()
    assert running.wait(TIMEOUT)
    assert ex.cancel(spec.task_id, force=False)
    replies.wait(spec.task_id)
    t.join(TIMEOUT)
    assert seen == ["TaskCancelled"] and issubclass(TaskCancelled, KeyboardInterrupt)
    assert returns.errors[spec.task_id].kind == pb.TASK_CANCELLED


def test_options_are_checked():
    with pytest.raises(TypeError):
        polyray.remote(concurrency_groups=["io"])(Threaded)
    with pytest.raises(ValueError):
        polyray.remote(concurrency_groups={"io": 0})(Threaded)
    with pytest.raises(TypeError):
        polyray.method(concurrency_group=1)
