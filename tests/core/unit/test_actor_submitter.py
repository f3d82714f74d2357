"""ActorTaskSubmitter (python/polyray/core/actor_submitter.py) in process.

A fake GCS answers GetActorInfo when the test says so, fake streams stand
for the actor's worker, and a recording TaskFinisher takes the reports.
Mirrors java/.../ActorTaskSubmitterTest and
cpp/tests/core_actor_task_submitter_test.cc: calls made before the actor is
ALIVE wait and leave in submission order once it is; later calls go straight
to the stream in order; DEAD fails pending and later calls with ACTOR_DIED
carrying the death cause; a broken stream retries the calls in flight whose
max_task_retries allows (policy "actor_call"), in sequence order ahead of
the calls that waited, fails the others with ACTOR_DIED, and later calls go
to the restarted actor on a new stream.
"""

from __future__ import annotations

import grpc
import pytest

from polyray.core.actor_submitter import ActorTaskSubmitter
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import runtime_spec as rspec

from .fakes import FakeConnections, ManualLoop, RecordingFinisher, pending, task_spec

ACTOR = b"A" * 16
WORKER_1 = pb.Address(host="node-a", port=30001, worker_id=b"w1" * 14)
WORKER_2 = pb.Address(host="node-a", port=30002, worker_id=b"w2" * 14)


class Harness:
    def __init__(self) -> None:
        self.loop = ManualLoop()
        self.conns = FakeConnections(self.loop)
        self.gcs = self.conns.gcs
        self.finisher = RecordingFinisher()
        self.submitter = ActorTaskSubmitter(connections=self.conns, finisher=self.finisher)
        self.seq = 0

    def call(self, name: str, max_task_retries: int = 0) -> pb.TaskSpec:
        spec = task_spec(name, actor_id=ACTOR)
        self.seq += 1
        spec.sequence_no = self.seq
        spec.max_task_retries = max_task_retries
        self.loop.call(self.submitter.submit, pending(spec, [spec.task_id + b"arg"]))
        return spec

    def state(self) -> int | None:
        return self.submitter.actor_state(ACTOR)


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.loop.shut()


def up(h: Harness, address: pb.Address = WORKER_1) -> None:
    """The GCS reports the actor ALIVE at ``address``."""
    h.gcs.answer(gcs.ALIVE, address=address)


def test_calls_before_alive_wait_then_leave_in_submission_order(h):
    h.call("m1")
    h.call("m2")
    h.call("m3")
    assert not h.conns.streams, "nothing is pushed before the actor is up"
    assert len(h.gcs.waiting()) == 1, "one watch on the GCS, however many calls wait"
    assert h.gcs.waiting()[0].known_state == gcs.PENDING_CREATION and h.gcs.waiting()[0].wait_for_change
    # Still being created: the submitter waits again, from the state it now knows.
    h.gcs.answer(gcs.DEPENDENCIES_UNREADY)
    assert not h.conns.streams
    assert h.gcs.waiting()[0].known_state == gcs.DEPENDENCIES_UNREADY
    up(h)
    s = h.conns.last_stream
    assert s.worker == WORKER_1 and s.own_channel, "a channel of its own (a restart may reuse the address)"
    assert [[t.name for t in b] for b in s.sent] == [["m1", "m2", "m3"]], "flushed in order, in one message"
    assert h.state() == gcs.ALIVE and not h.gcs.waiting()
    # Calls made once it is up go straight out, after the flushed ones, in order.
    h.call("m4")
    h.call("m5")
    assert s.names() == ["m1", "m2", "m3", "m4", "m5"]
    assert [len(b) for b in s.sent] == [3, 1, 1], "each pushed as it is made, nothing held back"
    assert len(h.conns.streams) == 1
    # Results in any order complete their own calls.
    by_name = {t.name: t for t in s.tasks()}
    s.succeed(by_name["m3"], by_name["m1"])
    assert [n for kind, n in h.finisher.events if kind == "complete"] == ["m3", "m1"]
    assert h.finisher.completed["m3"][0].object_id == by_name["m3"].task_id + b"r"
    s.succeed(by_name["m2"], by_name["m4"], by_name["m5"])
    assert sorted(h.finisher.completed) == ["m1", "m2", "m3", "m4", "m5"]
    assert not h.finisher.failed


def test_dead_fails_pending_and_later_calls_with_actor_died_carrying_the_cause(h):
    h.call("m1")
    h.call("m2")
    init_error = pb.ErrorRecord(kind=pb.TASK_ERROR, type_name="ValueError", message="bad config",
                                language=pb.PYTHON)
    cause = pb.ErrorRecord(kind=pb.ACTOR_DIED, type_name="ActorDiedError",
                           message="the actor's __init__ raised", cause=init_error)
    h.gcs.answer(gcs.DEAD, death_cause=cause)
    assert h.state() == gcs.DEAD
    assert not h.conns.streams
    for name in ("m1", "m2"):
        rec = h.finisher.failed[name]
        assert rec.kind == pb.ACTOR_DIED
        assert rec.message == "the actor's __init__ raised", "the death cause's own words"
        assert rec.cause == init_error, "and what killed it, for the caller's traceback"
    # Later calls fail at once, without asking the GCS again.
    h.call("m3")
    assert h.finisher.failed["m3"].cause == init_error
    assert not h.gcs.waiting()
    assert [n for kind, n in h.finisher.events] == ["m1", "m2", "m3"]


def test_dead_with_a_cause_of_another_kind_wraps_it(h):
    h.call("m1")
    cause = pb.ErrorRecord(kind=pb.NODE_DIED, type_name="NodeDiedError", message="node-a died")
    h.gcs.answer(gcs.DEAD, death_cause=cause)
    rec = h.finisher.failed["m1"]
    assert rec.kind == pb.ACTOR_DIED and ACTOR.hex() in rec.message and "m1" in rec.message
    assert rec.cause == cause


def test_unknown_actor_fails_calls_with_actor_died(h):
    h.call("m1")
    h.gcs.raise_(grpc.StatusCode.NOT_FOUND)
    assert h.finisher.failed["m1"].kind == pb.ACTOR_DIED
    assert h.state() == gcs.DEAD


def test_watch_deadline_is_asked_again(h):
    h.call("m1")
    h.gcs.raise_(grpc.StatusCode.DEADLINE_EXCEEDED)
    assert len(h.gcs.waiting()) == 1, "a slow start is no error: the watch goes on"
    up(h)
    assert h.conns.last_stream.names() == ["m1"]


def test_broken_stream_fails_in_flight_calls_and_follows_the_restart(h):
    h.call("first")
    up(h)
    s1 = h.conns.last_stream
    s1.succeed(*s1.tasks())
    h.call("second")
    h.call("third")
    # The worker dies with two calls in flight; the GCS says it restarts.
    s1.break_it()
    assert s1.half_closed
    asked = h.gcs.answer(gcs.RESTARTING)
    assert asked.known_state == gcs.ALIVE, "the submitter asks how the ALIVE actor changed"
    for name in ("second", "third"):
        rec = h.finisher.failed[name]
        assert rec.kind == pb.ACTOR_DIED and "restarting" in rec.message
    assert h.state() == gcs.RESTARTING
    assert [r.known_state for r in h.gcs.waiting()] == [gcs.RESTARTING], "it watches for the restart at once"
    # A call made while it restarts waits for the new worker.
    h.call("fourth")
    assert len(h.conns.streams) == 1 and "fourth" not in h.finisher.failed
    up(h, WORKER_2)
    s2 = h.conns.last_stream
    assert len(h.conns.streams) == 2 and s2.worker == WORKER_2
    assert s2.names() == ["fourth"]
    s2.succeed(*s2.tasks())
    assert "fourth" in h.finisher.completed
    assert h.finisher.completed.keys() == {"first", "fourth"}


def test_broken_stream_of_a_dead_actor_fails_in_flight_calls_with_the_cause(h):
    h.call("m1")
    up(h)
    h.conns.last_stream.break_it()
    cause = pb.ErrorRecord(kind=pb.ACTOR_DIED, type_name="ActorDiedError", message="killed by polyray.kill")
    h.gcs.answer(gcs.DEAD, death_cause=cause)
    assert h.finisher.failed["m1"].message == "killed by polyray.kill"
    h.call("m2")
    assert h.finisher.failed["m2"].kind == pb.ACTOR_DIED


def test_an_actor_exiting_after_a_result_is_restarting(h):
    h.call("exit")
    up(h)
    s = h.conns.last_stream
    s.reply(cw.TaskResult(task_id=s.tasks()[0].task_id, worker_exiting=True))
    assert "exit" in h.finisher.completed
    assert h.state() == gcs.RESTARTING


def test_in_flight_calls_with_retries_left_go_to_the_next_incarnation_first_in_order(h):
    h.call("a", max_task_retries=-1)
    up(h)
    s1 = h.conns.last_stream
    h.call("b", max_task_retries=1)
    h.call("c", max_task_retries=0)
    h.call("d", max_task_retries=2)
    s1.succeed(s1.tasks()[0])
    s1.break_it()
    h.gcs.answer(gcs.RESTARTING)
    # c had no retry left: it fails; b and d wait for the restart, spending one each.
    assert list(h.finisher.failed) == ["c"]
    assert h.finisher.failed["c"].kind == pb.ACTOR_DIED and "max_task_retries=0" in h.finisher.failed["c"].message
    h.call("e")  # made while it restarts: waits, no retry spent (max_task_retries 0)
    up(h, WORKER_2)
    s2 = h.conns.last_stream
    assert s2.names() == ["b", "d", "e"], "retried calls first, in sequence order, then the waiting ones"
    sent = {t.name: t for t in s2.tasks()}
    assert (sent["b"].attempt, sent["d"].attempt, sent["e"].attempt) == (1, 1, 0)
    assert [sent[n].sequence_no for n in ("b", "d", "e")] == [2, 4, 5], "sequence numbers are kept"
    # The second incarnation dies too: b's retry is spent, d has one more.
    s2.break_it()
    h.gcs.answer(gcs.RESTARTING)
    assert set(h.finisher.failed) == {"c", "b", "e"}
    up(h, WORKER_1)
    s3 = h.conns.last_stream
    assert s3.names() == ["d"] and s3.tasks()[0].attempt == 2
    s3.succeed(*s3.tasks())
    assert set(h.finisher.completed) == {"a", "d"}


def test_forever_retries_survive_many_restarts_and_a_direct_alive_answer(h):
    h.call("x", max_task_retries=-1)
    up(h)
    for i in range(10):
        s = h.conns.last_stream
        s.break_it()
        # The GCS may already have the next incarnation up when asked.
        h.gcs.answer(gcs.ALIVE, address=WORKER_2 if i % 2 == 0 else WORKER_1)
    s = h.conns.last_stream
    assert len(h.conns.streams) == 11 and s.names() == ["x"] and s.tasks()[0].attempt == 10
    assert not h.gcs.waiting(), "connected from the answer, without a 30 s watch"
    s.succeed(*s.tasks())
    assert "x" in h.finisher.completed and not h.finisher.failed


def test_dead_after_a_break_fails_retriable_calls_with_the_reason(h):
    h.call("m1", max_task_retries=-1)
    up(h)
    h.conns.last_stream.break_it()
    cause = pb.ErrorRecord(kind=pb.ACTOR_DIED, type_name="ActorDiedError", message="exited with code 3",
                           reason=pb.REASON_PROCESS_EXITED, exit_code=3)
    h.gcs.answer(gcs.DEAD, death_cause=cause)
    rec = h.finisher.failed["m1"]
    assert rec.kind == pb.ACTOR_DIED and rec.reason == pb.REASON_PROCESS_EXITED and rec.exit_code == 3
    h.call("m2", max_task_retries=-1)
    assert h.finisher.failed["m2"].reason == pb.REASON_PROCESS_EXITED


def test_calls_in_flight_on_a_dead_actor_keep_their_arguments_for_the_grace(h):
    """docs/ownership.md, Deaths: the actor may have handed an argument on."""
    h.call("m1")
    up(h)
    s1 = h.conns.last_stream
    s1.succeed(*s1.tasks())
    late = h.call("m2")
    h.conns.last_stream.break_it()
    h.gcs.answer(gcs.DEAD)
    assert h.finisher.failed["m2"].kind == pb.ACTOR_DIED
    arg = late.task_id + b"arg"
    assert h.finisher.counted(arg) == 1, "failed, but its argument is still counted"
    assert h.finisher.held == [arg], "only the call in flight takes the grace, not the completed one"
    h.loop.advance(ms=2 * rspec.BORROWERS_DEATH_WATCH_MS - 1)
    assert h.finisher.counted(arg) == 1
    h.loop.advance(ms=1)
    assert h.finisher.counted(arg) == 0


def test_cancel_of_a_call_not_sent_fails_it_and_later_calls_still_go_in_order(h):
    """A call waiting for the actor is dropped with TASK_CANCELLED (never pushed); a call in flight
    is the actor's to cancel (its address is returned); an unknown call: False."""
    h.call("m1")
    doomed = h.call("m2")
    h.call("m3")
    assert h.submitter.knows(doomed.task_id)
    assert h.submitter.cancel(doomed.task_id) is None
    assert h.finisher.failed["m2"].kind == pb.TASK_CANCELLED
    assert h.finisher.released == [doomed.task_id + b"arg"]
    up(h)
    s = h.conns.last_stream
    assert s.names() == ["m1", "m3"]
    sent = s.tasks()[0]
    assert h.submitter.cancel(sent.task_id) == WORKER_1, "in flight: the actor is asked"
    s.succeed(*s.tasks())
    assert h.submitter.cancel(sent.task_id) is False and not h.submitter.knows(sent.task_id)


def test_children_of_a_task_are_its_unfinished_calls_waiting_or_sent(h):
    """Ray's recursive cancel reaches the actor calls a cancelled task made: ``children_of`` names
    the calls of that parent not finished yet, whether in flight or waiting for the actor."""
    parent, other = b"P" * 24, b"Q" * 24

    def call(name: str, parent_task_id: bytes) -> pb.TaskSpec:
        spec = task_spec(name, actor_id=ACTOR)
        spec.parent_task_id = parent_task_id
        h.loop.call(h.submitter.submit, pending(spec))
        return spec

    first = call("m1", parent)
    second = call("m2", other)
    third = call("m3", parent)
    assert h.submitter.children_of(parent) == [first.task_id, third.task_id], "waiting for the actor"
    up(h)
    s = h.conns.last_stream
    assert s.names() == ["m1", "m2", "m3"]
    assert h.submitter.children_of(parent) == [first.task_id, third.task_id], "in flight"
    assert h.submitter.children_of(other) == [second.task_id]
    assert h.submitter.children_of(b"R" * 24) == []
    s.succeed(*[t for t in s.tasks() if t.name == "m1"])
    assert h.submitter.children_of(parent) == [third.task_id], "a finished call is no child to cancel"


def test_a_call_cancelled_in_flight_ends_cancelled_and_is_not_run_again(h):
    """As Ray: a sync method cancelled while it runs is not interrupted, and what it returns
    after that is TASK_CANCELLED to its caller (the returns are discarded: freed, lends released);
    an error it ends with stays; a cancelled call in flight when the actor dies is not retried."""
    discarded: list[bytes] = []
    h.submitter.discard_returns = lambda returns: discarded.extend(r.object_id for r in returns)
    ran = h.call("ran", max_task_retries=1)
    failed = h.call("failed", max_task_retries=1)
    died = h.call("died", max_task_retries=1)
    up(h)
    s = h.conns.last_stream
    for spec in (ran, failed, died):
        assert h.submitter.cancel(spec.task_id) == WORKER_1
    s.succeed(ran)
    assert h.finisher.failed["ran"].kind == pb.TASK_CANCELLED and "ran" not in h.finisher.completed
    assert discarded == [ran.task_id + b"r"]
    error = pb.Envelope(format=pb.FORMAT_ERROR, body=b"e")
    s.reply(cw.TaskResult(task_id=failed.task_id, returns=[pb.ReturnObject(object_id=b"x", value=error)]))
    assert h.finisher.completed["failed"][0].value.format == pb.FORMAT_ERROR, "its own error is kept"
    s.break_it()
    h.gcs.answer(gcs.RESTARTING)
    assert h.finisher.failed["died"].kind == pb.TASK_CANCELLED, "not retried though max_task_retries allows"
    assert not h.finisher.retried
