"""PENDING_ARGS in the Python owner (core/task_submission.py, core/task_submitter.py), in process.

A normal task whose top-level argument refs owned by this process are not
ready is held by the submitter (known to cancel(), no lease asked) and
queued once the memory store has every one of them; refs owned elsewhere
and ready ones do not hold a task. The fakes of test_task_submitter (a
manual loop, a fake raylet and streams, a recording finisher) stand for the
rest of the CoreWorker.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from polyray.core.memory_store import MemoryStore
from polyray.core.task_submission import TaskSubmission
from polyray.protocol import common_pb2 as pb

from .fakes import pending, task_spec
from .test_task_submitter import Harness

ME = b"\x0a" * 28
OTHER = b"\x0b" * 28


class Events:
    """The owner's task events, recorded as (state, task name)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def owner_queued(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        self.seen.append(("PENDING_NODE", spec.name))

    def owner_waiting_args(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        self.seen.append(("PENDING_ARGS", spec.name))

    def owner_released(self, spec: pb.TaskSpec) -> None:
        self.seen.append(("PENDING_NODE", spec.name))


@pytest.fixture
def h():
    harness = Harness()
    harness.store = MemoryStore()
    harness.events = Events()
    io = SimpleNamespace(loop=harness.loop, call_soon=lambda fn, *a: harness.loop.call_soon_threadsafe(fn, *a))
    harness.submission = TaskSubmission(
        ctx=SimpleNamespace(worker_id=ME), io=io, connections=None, codec=None, references=None, owned=None,
        submitter=harness.submitter, actor_submitter=SimpleNamespace(submit=lambda t: None), events=harness.events,
        memory_store=harness.store)
    yield harness
    harness.loop.shut()


def _task(name: str, refs: list[tuple[bytes, bytes]], kw: tuple[bytes, bytes] | None = None):
    spec = task_spec(name)
    for oid, owner in refs:
        spec.args.add().ref.CopyFrom(pb.ObjectRef(object_id=oid, owner=pb.Address(worker_id=owner)))
    if kw is not None:
        spec.kwargs.add(name="k").arg.ref.CopyFrom(pb.ObjectRef(object_id=kw[0], owner=pb.Address(worker_id=kw[1])))
    spec.args.add().value.CopyFrom(pb.Envelope(body=b"\x01"))  # an inline argument: never waited for
    return pending(spec, [oid for oid, _ in refs] + ([kw[0]] if kw else []))


def _oid(n: int) -> bytes:
    return bytes([n]) * 28


def test_a_task_waits_for_its_owned_arguments_then_is_leased(h):
    t = _task("waits", [(_oid(1), ME), (_oid(2), OTHER)], kw=(_oid(3), ME))
    h.loop.call(h.submission._queue_normal, t, 1)
    assert h.events.seen == [("PENDING_ARGS", "waits")]
    assert not h.raylet.waiting(), "no lease is asked while an argument is not ready"
    h.store.set(_oid(1), envelope=pb.Envelope(body=b"x"))  # from another thread in life: through the loop
    h.loop.settle()
    assert not h.raylet.waiting(), "the keyword argument is not ready yet"
    h.store.set(_oid(3), error=pb.ErrorRecord(kind=pb.TASK_ERROR))  # an error is ready too
    h.loop.settle()
    assert h.events.seen == [("PENDING_ARGS", "waits"), ("PENDING_NODE", "waits")]
    assert len(h.raylet.waiting()) == 1
    h.raylet.grant()
    assert h.conns.last_stream.names() == ["waits"]


def test_ready_and_borrowed_arguments_do_not_hold_a_task(h):
    h.store.set(_oid(4), envelope=pb.Envelope(body=b"x"))
    t = _task("goes", [(_oid(4), ME), (_oid(5), OTHER)])
    h.loop.call(h.submission._queue_normal, t, 1)
    assert h.events.seen == [("PENDING_NODE", "goes")]
    assert len(h.raylet.waiting()) == 1


def test_a_held_task_cancelled_fails_at_once_and_is_never_leased(h):
    t = _task("doomed", [(_oid(6), ME)])
    h.loop.call(h.submission._queue_normal, t, 1)
    assert h.loop.run_coro(h.submitter.cancel(t.spec.task_id, False)) is True
    assert h.finisher.failed["doomed"].kind == pb.TASK_CANCELLED
    h.store.set(_oid(6), envelope=pb.Envelope(body=b"x"))
    h.loop.settle()
    assert not h.raylet.waiting(), "its argument came after the cancel: nothing is leased"
    assert h.loop.run_coro(h.submitter.cancel(t.spec.task_id, False)) is False


def test_the_submitter_holds_then_releases(h):
    t = pending(task_spec("held"), [b"arg"])
    h.loop.call(h.submitter.hold, t)
    assert not h.raylet.waiting()
    h.loop.call(h.submitter.release, t)
    assert len(h.raylet.waiting()) == 1
    h.raylet.grant()
    h.conns.last_stream.succeed(*h.conns.last_stream.tasks())
    assert list(h.finisher.completed) == ["held"]
