"""NormalTaskSubmitter (python/polyray/core/task_submitter.py) in process.

A fake local raylet (and other nodes' raylets) answers lease requests when
the test says so, fake streams stand for leased workers, a recording
TaskFinisher takes the reports, and a manual clock drives lingers and task
times. Mirrors java/.../NormalTaskSubmitterTest and
cpp/tests/core_normal_task_submitter_test.cc: a broken stream retries up to
max_retries then fails with WORKER_CRASHED (or NODE_DIED); an idle lease is
returned after the spec's linger, not before, and reused within it; a lease
pipelines only short tasks with a long queue; lease requests are capped; a
spilled request goes to the named raylet with grant_or_reject and the lease
goes back there; a failure reply fails the queued tasks of its class only;
a cancelled queued task is never pushed.
"""

from __future__ import annotations

import grpc
import pytest

from polyray.core.task_submitter import NormalTaskSubmitter
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2 as gcs_pb
from polyray.protocol import runtime_spec as rspec

from .fakes import LOCAL_NODE, FakeConnections, ManualLoop, RecordingFinisher, pending, task_spec

LINGER_MS = rspec.LEASE_LINGER_MS
FAST_US = rspec.PIPELINING_FAST_TASK_US
MAX_FAST = rspec.PIPELINING_MAX_INFLIGHT_FAST


class Harness:
    """One submitter over fakes, with the loop it runs on."""

    def __init__(self, **kw) -> None:
        self.loop = ManualLoop()
        self.conns = FakeConnections(self.loop)
        self.raylet = self.conns.local
        self.finisher = RecordingFinisher()
        self.submitter = NormalTaskSubmitter(connections=self.conns, finisher=self.finisher, node_id=LOCAL_NODE,
                                             **kw)

    def submit(self, name: str, **kw) -> pb.TaskSpec:
        spec = task_spec(name, **kw)
        self.loop.call(self.submitter.submit, pending(spec, [spec.task_id + b"arg"]))
        return spec

    def submit_many(self, n: int, prefix: str = "t") -> list[pb.TaskSpec]:
        return [self.submit(f"{prefix}{i}") for i in range(n)]


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.loop.shut()


def inflight(stream, finisher: RecordingFinisher) -> list[str]:
    """Names pushed on a stream and not reported yet."""
    return [n for n in stream.names() if not finisher.ended(n)]


# -- retries ---------------------------------------------------------------------

def test_broken_stream_retries_up_to_max_retries_then_worker_crashed(h):
    spec = h.submit("flaky", max_retries=2)
    pushed_attempts = []
    for round_ in range(3):
        assert len(h.raylet.waiting()) == 1, f"one lease request for the queued task (round {round_})"
        worker = h.raylet.grant()
        s = h.conns.last_stream
        assert s.worker == worker
        pushed_attempts += [t.attempt for t in s.tasks()]
        assert not h.finisher.failed, f"no failure while retries are left (round {round_})"
        s.break_it()
        # A broken stream's worker is returned with disconnect, never reused.
        ret = h.raylet.returned[-1]
        assert ret.disconnect and ret.worker_id == worker.worker_id
        assert s.half_closed
    assert pushed_attempts == [0, 1, 2], "attempts 0..max_retries, each on a new worker"
    assert [(n, a) for n, a, _ in h.finisher.retried] == [("flaky", 1), ("flaky", 2)], \
        "the finisher hears of each retry with the new attempt counted"
    assert all("worker died" in why for _, _, why in h.finisher.retried)
    rec = h.finisher.failed["flaky"]
    assert rec.kind == pb.WORKER_CRASHED
    assert "after 3 attempt(s)" in rec.message and "push connection reset" in rec.message
    assert h.finisher.events[-1] == ("fail", "flaky")
    assert h.finisher.released == [spec.task_id + b"arg"], "the argument is released exactly once"
    assert not h.raylet.waiting(), "no lease requested for a task that failed"


def test_negative_max_retries_retries_forever(h):
    h.submit("immortal", max_retries=-1)
    for round_ in range(12):
        h.raylet.grant()
        s = h.conns.last_stream
        assert [t.attempt for t in s.tasks()] == [round_]
        s.break_it()
        assert not h.finisher.failed, f"failed after {round_ + 1} crashes despite max_retries=-1"
    assert [a for _, a, _ in h.finisher.retried] == list(range(1, 13))
    h.raylet.grant()
    s = h.conns.last_stream
    s.succeed(*s.tasks())
    assert list(h.finisher.completed) == ["immortal"]


def test_zero_max_retries_fails_at_the_first_crash(h):
    h.submit("fragile", max_retries=0)
    h.raylet.grant()
    h.conns.last_stream.break_it()
    assert not h.finisher.retried
    assert h.finisher.failed["fragile"].kind == pb.WORKER_CRASHED
    assert "after 1 attempt(s)" in h.finisher.failed["fragile"].message


def test_lost_worker_on_a_dead_node_fails_with_node_died(h):
    # The task was spilled to node B; B's worker and then B's raylet stop answering.
    h.submit("far", max_retries=0)
    other = pb.Address(node_id=b"B" * rspec.IDS_NODE_BYTES, host="node-b", port=7002)
    h.raylet.spill_to(other)
    remote = h.conns.others[7002]
    remote.grant()
    remote.alive = False
    h.conns.last_stream.break_it()
    assert h.finisher.failed["far"].kind == pb.NODE_DIED


def _on_node_b(h, name: str, max_retries: int) -> tuple[pb.TaskSpec, bytes]:
    spec = h.submit(name, max_retries=max_retries)
    node_b = b"B" * rspec.IDS_NODE_BYTES
    h.raylet.spill_to(pb.Address(node_id=node_b, host="node-b", port=7002))
    h.conns.others[7002].grant()
    return spec, node_b


def test_a_node_the_gcs_declares_dead_fails_its_task_with_node_died_though_the_stream_stays_open(h):
    # A machine that vanished closes no connection: only the GCS's word ends the task.
    _, node_b = _on_node_b(h, "far", max_retries=0)
    h.conns.gcs.nodes = [gcs_pb.NodeInfo(node_id=node_b, alive=True)]
    h.loop.advance(ms=rspec.LEASE_NODE_WATCH_MS)
    assert h.conns.gcs.node_reads == 1 and not h.finisher.failed, "alive: nothing happens"
    h.conns.gcs.nodes = [gcs_pb.NodeInfo(node_id=node_b, alive=False, death_reason="no heartbeat for 10 s")]
    h.loop.advance(ms=rspec.LEASE_NODE_WATCH_MS - 1)
    assert not h.finisher.failed, "not before the watch interval"
    h.loop.advance(ms=1)
    rec = h.finisher.failed["far"]
    assert rec.kind == pb.NODE_DIED and node_b.hex() in rec.message and "no heartbeat" in rec.message
    assert h.conns.last_stream.half_closed


def test_a_task_on_a_node_declared_dead_is_retried_when_it_has_retries(h):
    _, node_b = _on_node_b(h, "far", max_retries=1)
    h.conns.gcs.nodes = [gcs_pb.NodeInfo(node_id=node_b, alive=False)]
    h.loop.advance(ms=rspec.LEASE_NODE_WATCH_MS)
    assert not h.finisher.failed
    assert [r[:2] for r in h.finisher.retried] == [("far", 1)] and "node died" in h.finisher.retried[0][2]
    assert h.raylet.waiting(), "a new lease is asked of the local raylet"


def test_no_node_watch_while_every_lease_is_local(h):
    h.submit("here")
    h.raylet.grant()
    h.loop.advance(ms=5 * rspec.LEASE_NODE_WATCH_MS)
    assert h.conns.gcs.node_reads == 0


def test_application_error_is_retried_only_with_retry_exceptions(h):
    spec = h.submit("raises", max_retries=1, retry_exceptions=True)
    h.raylet.grant()
    s = h.conns.last_stream
    s.reply(cw.TaskResult(task_id=spec.task_id, is_application_error=True))
    assert not h.finisher.completed, "retried, not reported"
    assert [t.attempt for t in s.tasks()] == [0, 1], "the retry reuses the lease"
    s.reply(cw.TaskResult(task_id=spec.task_id, is_application_error=True))
    assert list(h.finisher.completed) == ["raises"], "retries used up: the error is the result"
    assert len(h.conns.streams) == 1

    plain = h.submit("raises-once", max_retries=3)  # retry_exceptions off
    s.reply(cw.TaskResult(task_id=plain.task_id, is_application_error=True))
    assert "raises-once" in h.finisher.completed and len(h.finisher.retried) == 1


# -- linger ----------------------------------------------------------------------

def test_idle_lease_is_returned_after_the_linger_not_before(h):
    spec = h.submit("one")
    worker = h.raylet.grant()
    s = h.conns.last_stream
    s.succeed(spec)
    assert list(h.finisher.completed) == ["one"]
    h.loop.advance(ms=LINGER_MS - 1)
    assert not h.raylet.returned, "still lingering 1 ms before the linger ends"
    assert not s.half_closed
    h.loop.advance(ms=1)
    assert len(h.raylet.returned) == 1, "returned once the linger ended"
    assert not h.raylet.returned[0].disconnect, "a healthy worker is returned for reuse"
    assert h.raylet.returned[0].worker_id == worker.worker_id
    assert s.half_closed, "its stream is closed"
    # The worker then closes its side: nothing more is returned or failed.
    s.end()
    h.loop.advance(ms=10 * LINGER_MS)
    assert len(h.raylet.returned) == 1 and not h.finisher.failed


def test_task_within_the_linger_reuses_the_lease(h):
    first = h.submit("first")
    h.raylet.grant()
    s = h.conns.last_stream
    s.succeed(first)
    h.loop.advance(ms=LINGER_MS - 1)
    second = h.submit("second")
    assert s.names() == ["first", "second"], "the lingering lease took the task"
    assert len(h.raylet.requests) == 1, "no second RequestWorkerLease"
    # The first linger would have ended now: it must not take the busy lease.
    h.loop.advance(ms=3 * LINGER_MS)
    assert not h.raylet.returned, "never returned while a task is in flight"
    s.succeed(second)
    h.loop.advance(ms=LINGER_MS - 1)
    assert not h.raylet.returned, "the linger restarts from the last result"
    h.loop.advance(ms=1)
    assert len(h.raylet.returned) == 1
    assert len(h.conns.streams) == 1


def test_a_short_reuse_restarts_the_linger_from_its_own_result(h):
    # The first linger must be called off by the reuse, not just ignored while busy:
    # else it would return the lease 50 ms after the *first* result.
    first = h.submit("first")
    h.raylet.grant()
    s = h.conns.last_stream
    s.succeed(first)
    h.loop.advance(ms=10)
    second = h.submit("second")
    h.loop.advance(ms=10)
    s.succeed(second)
    h.loop.advance(ms=LINGER_MS - 1)
    assert not h.raylet.returned, "still lingering: the linger counts from the second result"
    h.loop.advance(ms=1)
    assert len(h.raylet.returned) == 1


def test_a_worker_returns_an_idle_lease_at_once_unless_it_runs_a_task():
    # Nested tasks (issue 14, tree rows): once the submitting task has ended, a worker's idle
    # lease goes back on the loop's next turn, so the CPU it held is free for other callers'
    # children; while a task of the worker runs (it may submit more), the lease lingers.
    running = [False]
    w = Harness(lingers=lambda: running[0])
    try:
        first = w.submit("first")
        worker = w.raylet.grant()
        s = w.conns.last_stream
        s.succeed(first)
        assert list(w.finisher.completed) == ["first"]
        w.loop.advance(ms=0)
        assert len(w.raylet.returned) == 1, "returned without a linger"
        assert w.raylet.returned[0].worker_id == worker.worker_id and not w.raylet.returned[0].disconnect
        assert s.half_closed
        running[0] = True
        second = w.submit("second")
        assert len(w.raylet.requests) == 2, "the next task asks for a new lease"
        w.raylet.grant()
        s2 = w.conns.last_stream
        s2.succeed(second)
        w.loop.advance(ms=LINGER_MS - 1)
        assert len(w.raylet.returned) == 1, "lingering while a task of the worker runs"
        w.loop.advance(ms=1)
        assert len(w.raylet.returned) == 2
    finally:
        w.loop.shut()


# -- pipelining ------------------------------------------------------------------

def test_short_tasks_and_a_long_queue_pipeline_up_to_the_fast_limit(h):
    h.submit_many(100)
    h.raylet.grant()
    s = h.conns.last_stream
    assert len(s.tasks()) == 1, "task time unknown: one in flight"
    h.loop.advance(us=FAST_US // 4)
    s.succeed(*s.tasks())
    # Average now short, 99 queued > 2 x 1 lease: a full pipeline in one message.
    assert [len(b) for b in s.sent] == [1, MAX_FAST]
    assert len(inflight(s, h.finisher)) == MAX_FAST
    # One result: exactly one more goes out, the limit holds.
    h.loop.advance(us=100)
    s.succeed(s.sent[1][0])
    assert [len(b) for b in s.sent] == [1, MAX_FAST, 1]
    assert len(inflight(s, h.finisher)) == MAX_FAST
    assert s.names() == [f"t{i}" for i in range(MAX_FAST + 2)], "queue order on the stream"


def test_slow_tasks_stay_one_in_flight(h):
    h.submit_many(100)
    h.raylet.grant()
    s = h.conns.last_stream
    for i in range(5):
        h.loop.advance(us=2 * FAST_US)
        assert len(s.sent[-1]) == 1 and len(inflight(s, h.finisher)) == 1, f"slow tasks: one at a time ({i})"
        s.succeed(*s.sent[-1])


def test_short_tasks_with_a_short_queue_stay_one_in_flight(h):
    # After the first push 2 are queued, not more than 2 x 1 lease: tasks that
    # may wait on each other must each get a worker, not queue behind one.
    h.submit_many(3)
    h.raylet.grant()
    s = h.conns.last_stream
    h.loop.advance(us=100)
    s.succeed(*s.tasks())
    assert [len(b) for b in s.sent] == [1, 1], "short tasks but a short queue: one in flight"


def test_lease_requests_are_capped_by_the_spec(h):
    cap = rspec.LEASE_MAX_PENDING_REQUESTS
    h.submit_many(3, prefix="few")
    assert len(h.raylet.waiting()) == 3, "one request per queued task below the cap"
    h.submit_many(3 * cap)
    assert len(h.raylet.waiting()) == cap, "never more than the cap in flight"
    h.raylet.grant()
    # One answered: one more may go out, the number in flight stays at the cap.
    assert len(h.raylet.waiting()) == cap
    assert len(h.raylet.requests) == cap + 1


def test_lease_request_carries_no_argument_values(h):
    spec = task_spec("with-args")
    spec.args.add().value.body = b"x" * 1000
    h.loop.call(h.submitter.submit, pending(spec))
    view = h.raylet.waiting()[0].request.task
    assert not view.args and view.name == "with-args"
    assert view.task_id != spec.task_id and view.task_id[20:] == spec.task_id[20:]


# -- spill-over ------------------------------------------------------------------

def test_spill_over_asks_the_named_raylet_with_grant_or_reject_and_returns_the_lease_there(h):
    spec = h.submit("spilled")
    other = pb.Address(node_id=b"B" * rspec.IDS_NODE_BYTES, host="node-b", port=7002)
    h.raylet.spill_to(other)
    remote = h.conns.others[7002]
    assert len(remote.requests) == 1, "asked of node-b's raylet"
    assert remote.requests[0].request.grant_or_reject, "which must grant or reject, not spill again"
    assert not h.raylet.requests[0].request.grant_or_reject
    assert remote.requests[0].request.task.task_id == h.raylet.requests[0].request.task.task_id, \
        "the same request, moved"
    assert len(h.raylet.requests) == 1
    worker = remote.grant()
    s = h.conns.last_stream
    assert s.worker == worker and s.names() == ["spilled"]
    s.succeed(spec)
    h.loop.advance(ms=LINGER_MS)
    assert len(remote.returned) == 1, "the lease goes back to the raylet that granted it"
    assert not h.raylet.returned


def test_unreachable_spill_target_asks_the_local_raylet_again_after_a_pause(h):
    h.submit("homeless")
    other = pb.Address(node_id=b"C" * rspec.IDS_NODE_BYTES, host="node-c", port=7003)
    h.conns.raylet_at(other).unreachable = True
    h.raylet.spill_to(other)
    assert not h.finisher.failed, "a vanished spill target is not the task's failure"
    h.loop.advance(ms=rspec.LEASE_SPILL_RETRY_MS - 1)
    assert not h.raylet.waiting(), "not asked again before the pause"
    h.loop.advance(ms=1)
    assert len(h.raylet.waiting()) == 1, "asked the local raylet again"
    h.raylet.grant()
    assert h.conns.last_stream.names() == ["homeless"]


# -- lease failure and cancellation ----------------------------------------------

def test_lease_failure_fails_the_queued_tasks_of_that_class_with_the_record(h):
    h.submit("a1")
    h.submit("a2")
    h.submit("gpu", resources={"GPU": 1.0})
    why = pb.ErrorRecord(kind=pb.RUNTIME_ERROR, type_name="WorkerStartError",
                         message="cannot run 'java': No such file or directory")
    # Requests go out in submission order: the first two are the CPU class's.
    h.raylet.fail_with(why)
    assert h.finisher.failed == {"a1": why, "a2": why}
    assert "gpu" not in h.finisher.failed, "another class is not touched"
    h.raylet.grant()  # the CPU class's second request: nothing is left to run on it
    assert not h.conns.streams, "a lease nobody needs is not used"
    assert len(h.raylet.returned) == 1 and not h.raylet.returned[0].disconnect, "but given back at once"
    h.raylet.grant()  # the GPU class's request
    assert h.conns.last_stream.names() == ["gpu"]


def crashed_before_registering(signal_name: str = "SIGKILL") -> pb.ErrorRecord:
    """The raylet's failure for a worker that died before it registered."""
    return pb.ErrorRecord(kind=pb.WORKER_CRASHED, type_name="WorkerCrashedError",
                          reason=pb.REASON_PROCESS_EXITED, exit_code=-9,
                          message=f"python worker (pid 42) failed to start: it was killed by signal {signal_name} "
                                  "before registering")


def test_worker_crash_before_registering_charges_only_the_head_task_once_per_attempt_and_asks_again(h):
    h.submit("head", max_retries=2)
    h.submit("next", max_retries=0)
    h.raylet.fail_with(crashed_before_registering())
    assert h.finisher.retried == [("head", 1, h.finisher.retried[0][2])], "the head task is charged one attempt"
    assert "SIGKILL" in h.finisher.retried[0][2]
    assert not h.finisher.failed, "no task fails while the head task has retries left; the queue is untouched"
    assert h.raylet.waiting(), "a lease is asked for again"
    # The other request in flight was made for the head at its first attempt,
    # which is spent already: its start failure charges nobody.
    h.raylet.fail_with(crashed_before_registering())
    assert [r[:2] for r in h.finisher.retried] == [("head", 1)], "one task is charged once per attempt"
    fails = 2
    while "head" not in h.finisher.failed and fails < 12:
        h.raylet.fail_with(crashed_before_registering())
        fails += 1
    assert [r[:2] for r in h.finisher.retried] == [("head", 1), ("head", 2)]
    assert fails > 3, "start failures of requests made before a charge were not charged"
    assert list(h.finisher.failed) == ["head"], "retries spent: only the head task fails"
    rec = h.finisher.failed["head"]
    assert rec.kind == pb.WORKER_CRASHED and rec.exit_code == -9 and "SIGKILL" in rec.message
    assert "3 attempt(s)" in rec.message
    h.raylet.grant()
    assert h.conns.last_stream.names() == ["next"], "the rest of the queue runs on the next lease"
    assert "next" not in h.finisher.failed


def test_worker_crash_with_no_retries_fails_the_head_task_alone(h):
    h.submit("first", max_retries=0)
    h.submit("second", max_retries=0)
    h.raylet.fail_with(crashed_before_registering("SIGSEGV"))
    assert list(h.finisher.failed) == ["first"] and not h.finisher.retried
    h.raylet.grant()
    assert h.conns.last_stream.names() == ["second"]


def test_lease_rpc_error_fails_the_queue_with_a_runtime_error(h):
    h.raylet.unreachable = True
    h.submit("orphan")
    rec = h.finisher.failed["orphan"]
    assert rec.kind == pb.RUNTIME_ERROR and "UNAVAILABLE" in rec.message


def test_cancel_of_a_queued_task_fails_it_and_it_is_never_pushed(h):
    h.submit("keep")
    doomed = h.submit("doomed")
    h.submit("keep2")
    assert h.loop.run_coro(h.submitter.cancel(doomed.task_id, False)) is True
    assert h.finisher.failed["doomed"].kind == pb.TASK_CANCELLED
    assert h.finisher.released == [doomed.task_id + b"arg"]
    h.raylet.grant()
    s = h.conns.last_stream
    s.succeed(*s.tasks())
    s.succeed(*s.sent[-1])
    assert s.names() == ["keep", "keep2"], "the cancelled task never reached a worker"
    assert h.loop.run_coro(h.submitter.cancel(doomed.task_id, False)) is False, "finished: unknown"


def test_cancel_of_a_running_task_asks_its_worker(h):
    spec = h.submit("running")
    worker = h.raylet.grant()
    assert h.loop.run_coro(h.submitter.cancel(spec.task_id, True)) is True
    assert [(c.task_id, c.force) for c in h.conns.worker(worker).cancels] == [(spec.task_id, True)]
    # Its worker dies of the cancel: the task fails cancelled, not retried.
    h.conns.last_stream.break_it(grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(),
                                                      grpc.aio.Metadata(), "killed"))
    assert h.finisher.failed["running"].kind == pb.TASK_CANCELLED
    assert not h.finisher.retried


def test_a_dead_worker_charges_only_the_task_it_ran_not_the_ones_pipelined_behind_it(h):
    for i in range(10):
        h.submit(f"t{i}", max_retries=1)
    h.raylet.grant()
    stream = h.conns.last_stream
    stream.succeed(stream.tasks()[0])  # a fast first result: the rest are pipelined
    inflight = stream.names()[1:]
    assert len(inflight) >= 3, f"the test needs tasks pipelined behind one another: {inflight}"
    stream.break_it()
    charged = [r[:2] for r in h.finisher.retried]
    assert charged == [(inflight[0], 1)], f"only the task the worker ran spends an attempt: {charged}"
    assert not h.finisher.failed
    # On the next worker they all run, the spared ones still at their first attempt.
    h.raylet.grant()
    again = h.conns.last_stream.tasks()
    assert [(t.name, t.attempt) for t in again] == [(inflight[0], 1)], "the charged one first, in order"
    h.conns.last_stream.succeed(again[0])
    after = h.conns.last_stream.tasks()[1:]
    assert [(t.name, t.attempt) for t in after][:2] == [(inflight[1], 0), (inflight[2], 0)], \
        "the spared ones follow at their first attempt"


# -- arguments after an executor's death (docs/ownership.md, Deaths) ---------------

GRACE_MS = 2 * rspec.BORROWERS_DEATH_WATCH_MS


def test_a_task_failed_by_its_executors_death_keeps_its_arguments_for_the_grace(h):
    spec = h.submit("doomed", max_retries=0)
    arg = spec.task_id + b"arg"
    h.raylet.grant()
    h.conns.last_stream.break_it()
    assert h.finisher.failed["doomed"].kind == pb.WORKER_CRASHED
    assert h.finisher.counted(arg) == 1, "failed, but the argument is still counted"
    h.loop.advance(ms=GRACE_MS - 1)
    assert h.finisher.counted(arg) == 1, "not before two death-watch rounds"
    h.loop.advance(ms=1)
    assert h.finisher.counted(arg) == 0, "released after the grace, exactly once"


def test_a_task_retried_after_its_executors_death_keeps_its_arguments_past_a_quick_retry(h):
    spec = h.submit("again", max_retries=1)
    arg = spec.task_id + b"arg"
    h.raylet.grant()
    h.conns.last_stream.break_it()
    h.raylet.grant()
    s = h.conns.last_stream
    s.succeed(*s.tasks())
    assert list(h.finisher.completed) == ["again"]
    assert h.finisher.counted(arg) == 1, "the retry completed, the dead attempt's hold remains"
    h.loop.advance(ms=GRACE_MS)
    assert h.finisher.counted(arg) == 0


def test_a_normal_result_or_error_releases_the_arguments_at_once(h):
    ok = h.submit("ok")
    h.raylet.grant()
    h.conns.last_stream.succeed(*h.conns.last_stream.tasks())
    assert h.finisher.counted(ok.task_id + b"arg") == 0 and not h.finisher.held


def test_tasks_pipelined_behind_the_dead_one_never_ran_there_and_take_no_grace(h):
    for i in range(6):
        h.submit(f"p{i}", max_retries=1)
    h.raylet.grant()
    stream = h.conns.last_stream
    stream.succeed(stream.tasks()[0])
    inflight = stream.tasks()[1:]
    assert len(inflight) >= 2
    stream.break_it()
    assert h.finisher.held == [inflight[0].task_id + b"arg"], "only the task that was running"


def test_recursive_cancel_reaches_the_worker_and_cancels_only_the_parents_children(h):
    """Ray's recursive cancel: the flag travels to the worker running the task; on a worker whose
    task was cancelled, cancel_children cancels what that task submitted, nothing else."""
    spec = h.submit("running")
    worker = h.raylet.grant()
    assert h.loop.run_coro(h.submitter.cancel(spec.task_id, False, recursive=True)) is True
    assert [(c.task_id, c.recursive) for c in h.conns.worker(worker).cancels] == [(spec.task_id, True)]
    parent = b"P" * rspec.IDS_TASK_BYTES
    child = task_spec("child")
    child.parent_task_id = parent
    h.loop.call(h.submitter.submit, pending(child))
    other = h.submit("other")   # submitted by another task of this worker
    assert h.loop.run_coro(h.submitter.cancel_children(parent, False)) == 1
    assert h.finisher.failed["child"].kind == pb.TASK_CANCELLED
    assert "other" not in h.finisher.failed
    assert h.loop.run_coro(h.submitter.cancel(other.task_id, False)) is True
