"""The CoreWorker's task event buffer with a manual clock and a fake GCS."""

from __future__ import annotations

from typing import Any

import grpc

from polyray.core.task_events import EventingFinisher, TaskEventBuffer
from polyray.gcs.task_events import FULL_RECORD
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2

from .fakes import ManualLoop, RecordingFinisher, rpc_error, task_spec

JOB = b"\1\0\0\0"


class EventGcs:
    def __init__(self) -> None:
        self.requests: list[gcs_pb2.AddTaskEventsRequest] = []
        self.fail_next = 0

    async def AddTaskEvents(self, request: gcs_pb2.AddTaskEventsRequest, timeout: float | None = None,
                            **_: Any) -> gcs_pb2.AddTaskEventsReply:
        if self.fail_next:
            self.fail_next -= 1
            raise rpc_error(grpc.StatusCode.UNAVAILABLE)
        self.requests.append(request)
        return gcs_pb2.AddTaskEventsReply()

    def events(self) -> list[gcs_pb2.TaskEvent]:
        """Every event sent, as TaskEvents, in the order recorded (a batch sends its FAILED events
        as TaskEvents and the rest packed; the manual clock gives each a distinct time)."""
        return sorted((e for r in self.requests for e in unpack(r)), key=lambda e: e.timestamp_ns)

    def counts(self) -> list[int]:
        return [len(unpack(r)) for r in self.requests]

    def dropped(self) -> int:
        return sum(d.count for r in self.requests for d in r.dropped)


def unpack(request: gcs_pb2.AddTaskEventsRequest) -> list[gcs_pb2.TaskEvent]:
    """A batch's events as TaskEvents: its ``events`` and its packed records, each on its head."""
    out = list(request.events)
    if request.HasField("packed"):
        heads = request.packed.heads
        for tid, index, attempt, state, prior, ts, pts, sub, pargs, pnode in FULL_RECORD.iter_unpack(
                request.packed.full_records):
            e = gcs_pb2.TaskEvent()
            e.CopyFrom(heads[index])
            e.task_id, e.attempt, e.state, e.timestamp_ns = tid, attempt, state, ts  # type: ignore[assignment]
            e.prior_state, e.prior_timestamp_ns = prior, pts  # type: ignore[assignment]
            e.submitted_ns, e.pending_args_ns, e.pending_node_ns = sub, pargs, pnode
            out.append(e)
    return out


def spec(name: str) -> pb.TaskSpec:
    s = task_spec(name)
    s.job_id = JOB
    return s


def make(lp: ManualLoop, g: EventGcs, **kw: Any) -> TaskEventBuffer:
    clock = iter(range(1, 10**9))
    return TaskEventBuffer(job_id=JOB, worker_id=b"w" * 28, node_id=b"n" * 28, gcs=lambda: g,
                           flush_interval_s=1.0, clock=lambda: next(clock), **kw)


def test_sent_every_interval_in_batches_and_not_before() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g, max_per_batch=3)
        lp.call(buf.start)
        for i in range(7):
            buf.submitted(spec(f"f{i}"))
        lp.advance(ms=999)
        assert g.requests == []  # nothing on the hot path, nothing before the interval
        lp.advance(ms=1)
        assert g.counts() == [3, 3, 1]
        ev = g.events()[0]
        assert (ev.state, ev.name, ev.job_id, ev.node_id, ev.worker_id) == (
            gcs_pb2.SUBMITTED, "f0", JOB, b"n" * 28, b"w" * 28)
        assert [e.timestamp_ns for e in g.events()] == list(range(1, 8))
        lp.advance(s=5)
        assert len(g.requests) == 3  # idle: no empty calls
    finally:
        lp.shut()


def test_full_buffer_drops_and_counts_and_failed_sends_are_counted() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g, max_buffered=4)
        lp.call(buf.start)
        for i in range(10):
            buf.submitted(spec(f"f{i}"))
        assert buf.buffered == 4 and buf.dropped() == {JOB: 6}
        g.fail_next = 1
        lp.advance(s=1)
        assert g.requests == [] and buf.dropped() == {JOB: 10}  # the unsent batch counts as dropped
        buf.submitted(spec("late"))
        lp.advance(s=1)
        assert [e.name for e in g.events()] == ["late"] and g.dropped() == 10
    finally:
        lp.shut()


def test_worker_end_states_and_owner_failures_and_flush_at_close() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g)
        lp.call(buf.start)
        ok, bad, crashed = spec("ok"), spec("bad"), spec("crashed")
        buf.running(ok)
        buf.ended(ok, [pb.ReturnObject(object_id=b"o" * 28, value=pb.Envelope(format=pb.FORMAT_XLANG))])
        rec = pb.ErrorRecord(kind=pb.TASK_ERROR, type_name="ValueError", message="nope")
        buf.ended(bad, cw.TaskResult(returns=[pb.ReturnObject(value=pb.Envelope(
            format=pb.FORMAT_ERROR, body=rec.SerializeToString()))]).returns)
        inner = RecordingFinisher()
        fin = EventingFinisher(inner, buf)
        crashed.attempt = 1
        fin.retry(crashed, "worker died")
        fin.fail(crashed, pb.ErrorRecord(kind=pb.WORKER_CRASHED, message="exit 9"), [])
        lp.run_coro(buf.close())
        got = [(e.name, gcs_pb2.TaskEventState.Name(e.state), e.attempt, e.error_kind, e.error_message)
               for e in g.events()]
        assert got == [
            ("ok", "RUNNING", 0, 0, ""), ("ok", "FINISHED", 0, 0, ""),
            ("bad", "FAILED", 0, pb.TASK_ERROR, "ValueError: nope"),
            ("crashed", "FAILED", 1, pb.WORKER_CRASHED, "exit 9"),
        ]
        # The retried attempt waited less than a flush interval: no PENDING_NODE event of its own,
        # the owner's FAILED carries its queue time (and no submit time: a retry is not submitted).
        crashed_event = g.events()[-1]
        assert crashed_event.pending_node_ns > 0 and crashed_event.submitted_ns == 0
        assert len(inner.failed) == 1 and len(inner.retried) == 1  # handed over
        assert buf.pending == 0
    finally:
        lp.shut()


def test_two_events_of_one_reporter_fold_into_one_until_sent() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g)
        lp.call(buf.start)
        quick, slow, queued = spec("quick"), spec("slow"), spec("queued")
        buf.queued(queued, submitted_ns=1)  # PENDING_NODE with SUBMITTED folded in
        item = buf.running(quick)
        buf.ended(quick, [], item)  # not sent yet: folded into the RUNNING item
        slow_item = buf.running(slow)
        lp.advance(s=1)  # the slow task's RUNNING is sent
        buf.ended(slow, [], slow_item)
        lp.advance(s=1)
        got = [(e.name, gcs_pb2.TaskEventState.Name(e.state), gcs_pb2.TaskEventState.Name(e.prior_state))
               for e in g.events()]
        assert got == [("queued", "PENDING_NODE", "SUBMITTED"), ("quick", "FINISHED", "RUNNING"),
                       ("slow", "RUNNING", "TASK_STATE_UNKNOWN"), ("slow", "FINISHED", "RUNNING")]
        folded = g.events()[1]
        assert 0 < folded.prior_timestamp_ns < folded.timestamp_ns
        # The slow task's RUNNING went once, at the first flush, with its start time; its end
        # event repeats that time (the GCS keeps a state's earliest time: no change).
        slow_events = [e for e in g.events() if e.name == "slow"]
        assert slow_events[0].timestamp_ns == slow_events[1].prior_timestamp_ns
        # The GCS keeps both states' times of a folded event.
        from polyray.gcs.task_events import TaskEvents
        t = TaskEvents()
        for e in g.events():
            t.add(e)
        rows = {r.name: r for r in t.query(gcs_pb2.GetTaskEventsRequest()).tasks}
        assert rows["quick"].state == gcs_pb2.FINISHED and rows["quick"].running_ns == folded.prior_timestamp_ns
        assert rows["queued"].submitted_ns == 1 and rows["queued"].pending_node_ns == 1  # the first clock tick
    finally:
        lp.shut()


def test_a_batch_is_packed_and_the_gcs_reads_it_as_the_events_it_holds() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g)
        lp.call(buf.start)
        specs = [spec(f"f{i % 3}") for i in range(50)]
        for i, s in enumerate(specs):
            s.attempt = i % 2
            buf.queued(s, submitted_ns=0)
        bad = spec("bad")
        buf.failed(bad, pb.ErrorRecord(kind=pb.TASK_ERROR, message="boom"))
        lp.advance(s=1)
        (request,) = g.requests
        # Three kinds of task: three heads; fifty records; the FAILED event on its own.
        assert len(request.packed.heads) == 3 and len(request.packed.full_records) == 50 * FULL_RECORD.size
        assert [e.name for e in request.events] == ["bad"]
        from polyray.gcs.task_events import TaskEvents, read_events
        t = TaskEvents()
        t.fold_items(read_events(request))
        rows = t.query(gcs_pb2.GetTaskEventsRequest()).tasks
        assert len(rows) == 51
        assert rows[0].state == gcs_pb2.FAILED and rows[0].error_message == "boom"  # the TaskEvents come first
        assert [(r.task_id, r.attempt, r.name, r.state, r.worker_id) for r in rows[1:]] == [
            (s.task_id, i % 2, f"f{i % 3}", gcs_pb2.PENDING_NODE, b"w" * 28) for i, s in enumerate(specs)]
    finally:
        lp.shut()


def test_records_name_heads_of_this_process_and_a_full_head_table_falls_back_then_is_renewed() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g, max_heads=70)
        lp.call(buf.start)
        for i in range(80):  # 70 kinds fill the table; 10 more go as TaskEvents
            buf.queued(spec(f"k{i}"), submitted_ns=0)
        lp.advance(s=1)
        (request,) = g.requests
        assert len(request.packed.heads) == 70 and len(request.events) == 10
        assert sorted(e.name for e in g.events()) == sorted(f"k{i}" for i in range(80))
        # The full table was retired at that flush: new kinds are packed again, in a new table.
        buf.queued(spec("k75"), submitted_ns=0)
        buf.queued(spec("k3"), submitted_ns=0)
        lp.advance(s=1)
        request = g.requests[1]
        assert [h.name for h in request.packed.heads] == ["k75", "k3"] and not request.events
        assert [e.name for e in unpack(request)] == ["k75", "k3"]
        from polyray.gcs.task_events import TaskEvents, read_events
        t = TaskEvents()
        for r in g.requests:
            t.fold_items(read_events(r))
        assert len(t) == 82
    finally:
        lp.shut()


def test_a_batch_carries_only_the_heads_its_records_name_when_the_table_is_larger() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g)
        lp.call(buf.start)
        specs = [spec(f"k{i}") for i in range(100)]
        for s in specs:
            buf.queued(s, submitted_ns=0)
        lp.advance(s=1)
        assert len(g.requests[0].packed.heads) == 100
        buf.queued(specs[99], submitted_ns=0)
        buf.queued(specs[3], submitted_ns=0)
        buf.queued(specs[99], submitted_ns=0)
        lp.advance(s=1)
        request = g.requests[1]
        assert [h.name for h in request.packed.heads] == ["k99", "k3"]  # re-indexed: 0, 1, 0
        assert [(e.name, e.task_id) for e in unpack(request)] == [
            ("k99", specs[99].task_id), ("k3", specs[3].task_id), ("k99", specs[99].task_id)]
    finally:
        lp.shut()


def test_an_unsent_batch_of_records_is_counted_dropped_per_job() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        buf = make(lp, g)
        lp.call(buf.start)
        other = spec("other-job")
        other.job_id = b"\2\0\0\0"
        buf.queued(spec("a"), submitted_ns=0)
        buf.queued(other, submitted_ns=0)
        token = buf.running(spec("b"))
        g.fail_next = 1
        lp.advance(s=1)  # the batch (with b's RUNNING) fails: every event counted for its job
        assert g.requests == [] and buf.dropped() == {JOB: 2, b"\2\0\0\0": 1}
        buf.ended(spec("b"), [], token)
        lp.advance(s=1)
        (request,) = g.requests
        assert sorted((d.job_id, d.count) for d in request.dropped) == [(JOB, 2), (b"\2\0\0\0", 1)]
        assert [(e.name, e.state, e.prior_state) for e in unpack(request)] == [("b", gcs_pb2.FINISHED, gcs_pb2.RUNNING)]
    finally:
        lp.shut()


def test_one_event_per_task_the_worker_carries_the_owners_times() -> None:
    """The owner writes its times into the spec and records nothing for a task that runs; the
    worker's one event carries them, and the GCS folds it into the whole row."""
    lp, g = ManualLoop(), EventGcs()
    try:
        ticks = iter(range(10, 10**9))  # one clock for both (the manual clock: each read a tick later)
        owner, worker = (TaskEventBuffer(job_id=JOB, worker_id=w * 28, node_id=b"n" * 28, gcs=lambda: g,
                                         flush_interval_s=1.0, clock=lambda: next(ticks)) for w in (b"o", b"w"))
        lp.call(owner.start)
        lp.call(worker.start)
        fin = EventingFinisher(RecordingFinisher(), owner)
        quick = spec("quick")
        owner.owner_queued(quick, submitted_ns=1)
        assert owner.pending == 1 and owner.buffered == 0 and quick.pending_node_ns == 10
        # The push carries the spec: the worker runs the attempt, the owner gets the result.
        ran = pb.TaskSpec.FromString(quick.SerializeToString())
        worker.ended(ran, [], worker.running(ran))
        fin.complete(quick, [], [])
        lp.advance(s=2)
        events = g.events()
        assert [(e.name, e.state, e.prior_state) for e in events] == [("quick", gcs_pb2.FINISHED, gcs_pb2.RUNNING)]
        assert (events[0].submitted_ns, events[0].pending_node_ns) == (1, quick.pending_node_ns)
        from polyray.gcs.task_events import TaskEvents, read_events
        t = TaskEvents()
        for r in g.requests:
            t.fold_items(read_events(r))
        (row,) = t.query(gcs_pb2.GetTaskEventsRequest()).tasks
        assert row.state == gcs_pb2.FINISHED and row.worker_id == b"w" * 28
        assert 0 < row.submitted_ns < row.pending_node_ns < row.running_ns < row.finished_ns
    finally:
        lp.shut()


def test_a_task_that_waits_a_whole_interval_is_reported_once_by_its_owner() -> None:
    lp, g = ManualLoop(), EventGcs()
    try:
        clock = [10**12]
        buf = TaskEventBuffer(job_id=JOB, worker_id=b"w" * 28, node_id=b"n" * 28, gcs=lambda: g,
                              flush_interval_s=1.0, clock=lambda: clock[0])
        lp.call(buf.start)
        old, args, young = spec("old"), spec("args"), spec("young")
        buf.owner_queued(old, submitted_ns=clock[0] - 5)
        buf.owner_waiting_args(args, submitted_ns=clock[0] - 5)
        clock[0] += 600_000_000
        buf.owner_queued(young, submitted_ns=clock[0])
        clock[0] += 500_000_000  # old and args waited 1.1 s, young 0.5 s
        lp.advance(s=1)
        got = [(e.name, e.state, e.submitted_ns) for e in g.events()]
        assert sorted(got) == [("args", gcs_pb2.PENDING_ARGS, 10**12 - 5), ("old", gcs_pb2.PENDING_NODE, 10**12 - 5)]
        assert buf.pending == 1  # young: not yet
        buf.owner_released(args)  # its args are ready: queued for a lease, pending again
        clock[0] += 1_100_000_000
        lp.advance(s=1)
        later = [(e.name, e.state) for e in g.events()[2:]]
        assert sorted(later) == [("args", gcs_pb2.PENDING_NODE), ("young", gcs_pb2.PENDING_NODE)]
        clock[0] += 5_000_000_000
        lp.advance(s=1)
        assert len(g.events()) == 4 and buf.pending == 0  # each report once
    finally:
        lp.shut()
