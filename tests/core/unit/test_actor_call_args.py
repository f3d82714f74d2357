"""Actor calls resolve their argument refs before they enter the actor's stream, in process.

python/polyray/core/actor_submitter.py with TaskSubmission.resolve_actor_args
(python/polyray/core/task_submission.py) over a real MemoryStore; the fakes
of test_actor_submitter (manual loop, fake GCS and streams, recording
finisher) stand for the rest. A call whose top-level ref (owned here or
borrowed) is not ready is not pushed; this caller's later calls wait behind
it (submission order); they all leave, in order, once it is ready (value or
error); borrowed refs are fetched from their owners; a dead actor fails the
calls still waiting.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from polyray.core.actor_submitter import ActorTaskSubmitter
from polyray.core.memory_store import MemoryStore
from polyray.core.task_submission import TaskSubmission
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs

from .fakes import FakeConnections, ManualLoop, RecordingFinisher, pending, task_spec
from .test_actor_submitter import ACTOR, WORKER_1

ME = b"\x0a" * 28
OTHER = b"\x0b" * 28


def _oid(n: int) -> bytes:
    return bytes([n]) * 28


class Harness:
    def __init__(self) -> None:
        self.loop = ManualLoop()
        self.conns = FakeConnections(self.loop)
        self.finisher = RecordingFinisher()
        self.store = MemoryStore()
        self.fetched: list[tuple[bytes, bytes]] = []
        self.submitter = ActorTaskSubmitter(connections=self.conns, finisher=self.finisher)
        io = SimpleNamespace(loop=self.loop, call_soon=lambda fn, *a: self.loop.call_soon_threadsafe(fn, *a))
        self.submission = TaskSubmission(
            ctx=SimpleNamespace(worker_id=ME), io=io, connections=None, codec=None, references=None, owned=None,
            submitter=SimpleNamespace(submit=lambda t: None), actor_submitter=self.submitter,
            memory_store=self.store,
            fetch_borrowed=lambda refs: self.fetched.extend((r._id, r._owner.worker_id) for r in refs))
        self.submitter.resolve = self.submission.resolve_actor_args
        self.seq = 0

    def call(self, name: str, refs: tuple[tuple[bytes, bytes], ...] = (), kw: tuple[bytes, bytes] | None = None):
        spec = task_spec(name, actor_id=ACTOR)
        self.seq += 1
        spec.sequence_no = self.seq
        for oid, owner in refs:
            spec.args.add().ref.CopyFrom(pb.ObjectRef(object_id=oid, owner=pb.Address(worker_id=owner)))
        if kw is not None:
            spec.kwargs.add(name="k").arg.ref.CopyFrom(
                pb.ObjectRef(object_id=kw[0], owner=pb.Address(worker_id=kw[1])))
        spec.args.add().value.CopyFrom(pb.Envelope(body=b"\x01"))  # inline: never waited for
        ids = [oid for oid, _ in refs] + ([kw[0]] if kw else [])
        self.loop.call(self.submitter.submit, pending(spec, ids))
        return spec

    def ready(self, oid: bytes, error: bool = False) -> None:
        if error:
            self.store.set(oid, error=pb.ErrorRecord(kind=pb.TASK_ERROR, message="boom"))
        else:
            self.store.set(oid, envelope=pb.Envelope(body=b"v"))
        self.loop.settle()


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.loop.shut()


def _up(h: Harness) -> None:
    h.call("warm")
    h.conns.gcs.answer(gcs.ALIVE, address=WORKER_1)


def test_a_call_waits_for_its_owned_argument_and_holds_only_this_callers_later_calls(h):
    _up(h)
    s = h.conns.last_stream
    h.call("f", refs=((_oid(1), ME),))
    h.call("g")
    h.call("h", refs=((_oid(2), ME),))
    assert s.names() == ["warm"], "f waits for its argument; g and h wait behind it (this caller's order)"
    h.ready(_oid(2))
    assert s.names() == ["warm"], "h is ready but f before it is not"
    h.ready(_oid(1))
    assert s.names() == ["warm", "f", "g", "h"], "all leave at once, in submission order"
    h.call("i")
    assert s.names()[-1] == "i", "nothing waits any more: straight out"
    assert not h.fetched, "owned refs are not fetched"


def test_ready_refs_and_inline_values_do_not_hold_a_call(h):
    _up(h)
    h.store.set(_oid(3), envelope=pb.Envelope(body=b"v"))
    h.call("f", refs=((_oid(3), ME),))
    assert h.conns.last_stream.names() == ["warm", "f"]


def test_a_borrowed_argument_is_fetched_from_its_owner_and_waited_for(h):
    _up(h)
    h.call("f", refs=((_oid(4), ME),), kw=(_oid(5), OTHER))
    assert h.fetched == [(_oid(5), OTHER)], "only the borrowed one is asked of its owner"
    h.ready(_oid(4))
    assert h.conns.last_stream.names() == ["warm"], "the keyword argument is not ready yet"
    h.ready(_oid(5), error=True)
    assert h.conns.last_stream.names() == ["warm", "f"], "an error is ready too: the actor raises it"


def test_calls_made_before_the_actor_is_up_wait_for_both(h):
    h.call("f", refs=((_oid(6), ME),))
    h.call("g")
    h.conns.gcs.answer(gcs.ALIVE, address=WORKER_1)
    s = h.conns.last_stream
    assert s.names() == [], "up, but f's argument is not ready and g follows f"
    h.ready(_oid(6))
    assert s.names() == ["f", "g"]


def test_an_actor_that_dies_fails_the_calls_still_waiting(h):
    h.call("f", refs=((_oid(7), ME),))
    h.call("g")
    h.conns.gcs.answer(gcs.DEAD, death_cause=pb.ErrorRecord(kind=pb.ACTOR_DIED, message="gone"))
    assert set(h.finisher.failed) == {"f", "g"}
    h.ready(_oid(7))  # late: nothing more happens
    assert not h.conns.streams and set(h.finisher.failed) == {"f", "g"}
    assert not h.finisher.completed
