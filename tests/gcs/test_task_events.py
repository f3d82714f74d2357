"""The GCS's task event rings: folding, bounds, drop counts, filters, pages; over real gRPC."""

from __future__ import annotations

import grpc
import pytest

from polyray.gcs.errors import GcsError
from polyray.gcs.task_events import MAX_PER_BATCH, TaskEvents, read_events
from polyray.protocol import common_pb2, gcs_pb2

from .harness import RPC_TIMEOUT, cluster, run

pytestmark = pytest.mark.timeout(30)

JOB1 = b"\1\0\0\0"
JOB2 = b"\2\0\0\0"
NODE = b"n" * 28
WORKER = b"w" * 28


def tid(i: int, job: bytes = JOB1) -> bytes:
    return i.to_bytes(20, "little") + job


def ev(i: int, state: int, ts: int, *, job: bytes = JOB1, attempt: int = 0, **kw) -> gcs_pb2.TaskEvent:
    return gcs_pb2.TaskEvent(task_id=tid(i, job), job_id=job, attempt=attempt, state=state, timestamp_ns=ts, **kw)


def test_events_of_one_attempt_fold_into_one_row_whatever_their_order() -> None:
    t = TaskEvents()
    # The worker's FINISHED arrives before the owner's SUBMITTED.
    t.add(ev(1, gcs_pb2.RUNNING, 20, node_id=NODE, worker_id=WORKER, language=common_pb2.JAVA))
    t.add(ev(1, gcs_pb2.FINISHED, 30, node_id=NODE, worker_id=WORKER))
    t.add(ev(1, gcs_pb2.SUBMITTED, 10, name="m.f", language=common_pb2.JAVA))
    t.add(ev(1, gcs_pb2.PENDING_NODE, 11))
    rows = t.query(gcs_pb2.GetTaskEventsRequest()).tasks
    assert len(rows) == 1
    r = rows[0]
    assert r.state == gcs_pb2.FINISHED and r.name == "m.f" and r.language == common_pb2.JAVA
    assert (r.submitted_ns, r.pending_node_ns, r.running_ns, r.finished_ns) == (10, 11, 20, 30)
    assert r.node_id == NODE and r.worker_id == WORKER
    # A retry is another row; a failure keeps its kind and message.
    t.add(ev(1, gcs_pb2.FAILED, 40, attempt=1, error_kind=common_pb2.WORKER_CRASHED, error_message="boom"))
    rows = t.query(gcs_pb2.GetTaskEventsRequest(states=[gcs_pb2.FAILED])).tasks
    assert [(r.attempt, r.error_kind, r.error_message) for r in rows] == [(1, common_pb2.WORKER_CRASHED, "boom")]


def test_ring_per_job_drops_oldest_and_counts() -> None:
    t = TaskEvents(ring_size_per_job=5)
    for i in range(12):
        t.add(ev(i, gcs_pb2.SUBMITTED, i))
    t.add(ev(0, gcs_pb2.SUBMITTED, 0, job=JOB2))
    t.add_dropped_at_source(JOB1, 7)
    reply = t.query(gcs_pb2.GetTaskEventsRequest(job_id=JOB1))
    assert [r.task_id for r in reply.tasks] == [tid(i) for i in range(7, 12)]
    assert reply.total == 5
    assert [(d.job_id, d.count) for d in reply.dropped_at_gcs] == [(JOB1, 7)]
    assert [(d.job_id, d.count) for d in reply.dropped_at_source] == [(JOB1, 7)]
    assert t.dropped(JOB2) == (0, 0)
    assert len(t) == 6  # the other job's ring is its own


def test_pages_cover_every_row_once_and_are_capped() -> None:
    t = TaskEvents(max_per_query=4)
    for i in range(10):
        t.add(ev(i, gcs_pb2.SUBMITTED, i, job=JOB1 if i % 2 else JOB2))
    seen: list[bytes] = []
    token = ""
    pages = 0
    while True:
        reply = t.query(gcs_pb2.GetTaskEventsRequest(limit=100, page_token=token))  # capped at 4
        assert len(reply.tasks) <= 4 and reply.total == 10
        seen += [r.task_id for r in reply.tasks]
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [tid(i, JOB1 if i % 2 else JOB2) for i in range(10)]  # oldest first across jobs
    # Filters: name, language, state, task id.
    t.add(ev(3, gcs_pb2.RUNNING, 50, name="x.y", language=common_pb2.CPP))
    assert [r.task_id for r in t.query(gcs_pb2.GetTaskEventsRequest(name="x.y")).tasks] == [tid(3)]
    assert t.query(gcs_pb2.GetTaskEventsRequest(languages=[common_pb2.CPP])).total == 1
    assert t.query(gcs_pb2.GetTaskEventsRequest(states=[gcs_pb2.RUNNING])).total == 1
    assert t.query(gcs_pb2.GetTaskEventsRequest(task_id=tid(4, JOB2))).total == 1
    assert t.query(gcs_pb2.GetTaskEventsRequest(job_id=b"\x09\0\0\0")).total == 0


@run
async def test_add_and_get_over_grpc_with_bad_input() -> None:
    async with cluster() as c:
        await c.stub.AddTaskEvents(gcs_pb2.AddTaskEventsRequest(
            events=[ev(1, gcs_pb2.SUBMITTED, 1), ev(1, gcs_pb2.FINISHED, 2)],
            dropped=[gcs_pb2.DroppedTaskEvents(job_id=JOB1, count=3)]), timeout=RPC_TIMEOUT)
        reply = await c.stub.GetTaskEvents(gcs_pb2.GetTaskEventsRequest(job_id=JOB1), timeout=RPC_TIMEOUT)
        assert [r.state for r in reply.tasks] == [gcs_pb2.FINISHED]
        assert reply.dropped_at_source[0].count == 3
        bad = [
            gcs_pb2.AddTaskEventsRequest(events=[gcs_pb2.TaskEvent(task_id=b"short", job_id=JOB1, state=1)]),
            gcs_pb2.AddTaskEventsRequest(events=[gcs_pb2.TaskEvent(task_id=tid(1), job_id=JOB1)]),
            gcs_pb2.AddTaskEventsRequest(dropped=[gcs_pb2.DroppedTaskEvents(job_id=JOB1, count=-1)]),
            _packed(1, [(tid(2), 0, 0, gcs_pb2.RUNNING, 0, 1, 0), (tid(3), 7, 0, gcs_pb2.RUNNING, 0, 1, 0)]),
        ]
        for request in bad:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.stub.AddTaskEvents(request, timeout=RPC_TIMEOUT)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for request2 in (gcs_pb2.GetTaskEventsRequest(page_token="nope"), gcs_pb2.GetTaskEventsRequest(limit=-1)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.stub.GetTaskEvents(request2, timeout=RPC_TIMEOUT)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for method in ("AddTaskEvents", "GetTaskEvents"):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.channel.unary_unary(f"/polyray.rpc.GcsService/{method}")(b"\xff\xff\xff\xff",
                                                                                  timeout=RPC_TIMEOUT)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Still serving.
        assert (await c.stub.GetTaskEvents(gcs_pb2.GetTaskEventsRequest(), timeout=RPC_TIMEOUT)).total == 1


def test_pages_stay_exact_across_eviction_and_compaction() -> None:
    t = TaskEvents(ring_size_per_job=1000, max_per_query=300)
    for i in range(10_000):  # the ring drops 9,000 rows and compacts its list on the way
        t.add(ev(i, gcs_pb2.SUBMITTED, i))
        if i % 3 == 0:
            t.add(ev(i, gcs_pb2.SUBMITTED, i, job=JOB2))
    for job, expected in ((JOB1, [tid(i) for i in range(9_000, 10_000)]),
                          (JOB2, [tid(i, JOB2) for i in range(0, 10_000, 3)][-1000:])):
        seen: list[bytes] = []
        token = ""
        while True:
            reply = t.query(gcs_pb2.GetTaskEventsRequest(job_id=job, page_token=token))
            assert reply.total == 1000
            seen += [r.task_id for r in reply.tasks]
            token = reply.next_page_token
            if not token:
                break
        assert seen == expected
    assert t.dropped(JOB1) == (9_000, 0)
    # Both jobs, merged oldest first, and a filtered query agree on the rows.
    both = t.query(gcs_pb2.GetTaskEventsRequest(limit=300))
    filtered = t.query(gcs_pb2.GetTaskEventsRequest(limit=300, states=[gcs_pb2.SUBMITTED]))
    assert [r.task_id for r in both.tasks] == [r.task_id for r in filtered.tasks]
    assert both.total == filtered.total == 2000


def test_summary_counts_what_the_rows_hold_with_filters_and_a_group_cap() -> None:
    t = TaskEvents(max_per_query=3)
    langs = (common_pb2.PYTHON, common_pb2.JAVA, common_pb2.CPP)
    for i in range(60):
        job = JOB1 if i % 2 else JOB2
        state = gcs_pb2.FAILED if i % 5 == 0 else gcs_pb2.FINISHED
        t.add(ev(i, state, i, job=job, name=f"f{i % 4}", language=langs[i % 3],
                 type=common_pb2.ACTOR_TASK if i % 4 == 3 else common_pb2.NORMAL_TASK))
    t.add(ev(100, gcs_pb2.PENDING_NODE, 1, name="waiting"))  # no language reported yet: PYTHON, as listed
    every = TaskEvents()  # the same rows, listed in one page (t answers 3 rows a page)
    every._jobs, every._seq = t._jobs, t._seq
    rows = every.query(gcs_pb2.GetTaskEventsRequest()).tasks
    assert len(rows) == 61

    def expected(keep) -> tuple[dict, int]:
        counts: dict = {}
        for r in rows:
            if keep(r):
                k = (r.name, r.language, r.type, r.state)
                counts[k] = counts.get(k, 0) + 1
        return counts, sum(counts.values())

    def summary(*filters: tuple[str, bool, str]) -> gcs_pb2.SummarizeTaskEventsReply:
        big = TaskEvents()
        big._jobs, big._seq = t._jobs, t._seq
        return big.summarize(gcs_pb2.SummarizeTaskEventsRequest(filters=[
            gcs_pb2.TaskSummaryFilter(key=k, not_equal=ne, value=v) for k, ne, v in filters]))

    cases = [
        ((), lambda r: True),
        ((("state", False, "failed"),), lambda r: r.state == gcs_pb2.FAILED),
        ((("language", True, "PYTHON"),), lambda r: r.language != common_pb2.PYTHON),
        ((("language", False, "python"),), lambda r: r.language == common_pb2.PYTHON),
        ((("type", False, "ACTOR_TASK"), ("job_id", False, JOB1.hex())),
         lambda r: r.type == common_pb2.ACTOR_TASK and r.job_id == JOB1),
        ((("name", False, "F2"), ("job_id", True, JOB1.hex())), lambda r: r.name == "f2" and r.job_id != JOB1),
        ((("state", False, "nonsense"),), lambda r: False),
    ]
    for filters, keep in cases:
        reply = summary(*filters)
        want, total = expected(keep)
        assert reply.total == total, filters
        assert {(c.name, c.language, c.type, c.state): c.count for c in reply.counts} == want, filters
    # At most max_per_query groups; the rest are counted in total and said to be left off.
    capped = t.summarize(gcs_pb2.SummarizeTaskEventsRequest())
    assert len(capped.counts) == 3 and capped.total == len(rows)
    assert capped.groups_left_off == len(expected(lambda r: True)[0]) - 3
    with pytest.raises(GcsError) as err:
        t.summarize(gcs_pb2.SummarizeTaskEventsRequest(filters=[gcs_pb2.TaskSummaryFilter(key="pid", value="1")]))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "pid" in err.value.message


def test_a_batch_with_one_bad_event_folds_nothing_and_names_the_event() -> None:
    t = TaskEvents()
    good = ev(1, gcs_pb2.SUBMITTED, 1)
    for bad, field in ((ev(2, gcs_pb2.RUNNING, 2, actor_id=b"x"), "events[1].actor_id"),
                       (ev(2, gcs_pb2.RUNNING, 2, prior_state=42), "events[1].prior_state"),
                       (ev(2, gcs_pb2.RUNNING, 2, name="n" * 5000), "events[1].name"),
                       (ev(2, gcs_pb2.RUNNING, 2, worker_id=b"w"), "events[1].worker_id")):
        with pytest.raises(GcsError) as err:
            t.fold_items(read_events(gcs_pb2.AddTaskEventsRequest(events=[good, bad])))
        assert field in err.value.message
    assert len(t) == 0 and t.events_received == 0
    with pytest.raises(GcsError):
        read_events(gcs_pb2.AddTaskEventsRequest(events=[good] * (MAX_PER_BATCH + 1)))


def test_filtered_pages_across_jobs_are_the_rows_in_sequence_order() -> None:
    t = TaskEvents(max_per_query=7)
    for i in range(50):
        t.add(ev(i, gcs_pb2.FINISHED if i % 3 else gcs_pb2.FAILED, i, job=(JOB1, JOB2)[i % 2],
                 language=common_pb2.JAVA if i % 4 else common_pb2.CPP))
    want = [tid(i, (JOB1, JOB2)[i % 2]) for i in range(50) if i % 3 and i % 4]
    seen: list[bytes] = []
    token = ""
    while True:
        reply = t.query(gcs_pb2.GetTaskEventsRequest(states=[gcs_pb2.FINISHED], languages=[common_pb2.JAVA],
                                                     page_token=token))
        assert reply.total == len(want) and len(reply.tasks) <= 7
        seen += [r.task_id for r in reply.tasks]
        token = reply.next_page_token
        if not token:
            break
    assert seen == want


def _packed(n_heads: int, records: list[tuple]) -> gcs_pb2.AddTaskEventsRequest:
    from polyray.gcs.task_events import PACKED_RECORD
    heads = [gcs_pb2.TaskEvent(job_id=JOB1, name=f"f{i}", node_id=NODE) for i in range(n_heads)]
    return gcs_pb2.AddTaskEventsRequest(packed=gcs_pb2.PackedTaskEvents(
        heads=heads, records=b"".join(PACKED_RECORD.pack(*r) for r in records)))


@pytest.mark.parametrize("n_heads", [3, 256, 300])
def test_packed_records_are_checked_by_column_and_a_bad_one_is_named(n_heads: int) -> None:
    t = TaskEvents()
    good = [(tid(i), i % n_heads, i % 2, gcs_pb2.PENDING_NODE, gcs_pb2.SUBMITTED, 10 + i, 5 + i) for i in range(40)]
    # (task id, head index, attempt, state, prior state, time, prior time): one field bad at a time.
    for bad in ((tid(99), n_heads, 0, gcs_pb2.RUNNING, 0, 1, 0),          # no such head
                (tid(99), 1 << 24, 0, gcs_pb2.RUNNING, 0, 1, 0),          # an index's high byte
                (tid(99), 0, -1, gcs_pb2.RUNNING, 0, 1, 0),               # attempt < 0
                (tid(99), 0, 0, 0, 0, 1, 0),                              # TASK_STATE_UNKNOWN
                (tid(99), 0, 0, 200, 0, 1, 0),                            # no such state
                (tid(99), 0, 0, gcs_pb2.RUNNING, 9, 1, 0)):               # no such prior state
        with pytest.raises(GcsError) as err:
            t.fold_items(read_events(_packed(n_heads, good[:17] + [bad] + good[17:])))
        assert "packed.records[17]" in err.value.message
    assert len(t) == 0 and t.events_received == 0
    with pytest.raises(GcsError) as err:  # not a whole number of records
        read_events(gcs_pb2.AddTaskEventsRequest(packed=gcs_pb2.PackedTaskEvents(
            heads=[gcs_pb2.TaskEvent(job_id=JOB1)], records=b"\0" * 51)))
    assert "packed.records" in err.value.message
    t.fold_items(read_events(_packed(n_heads, good)))
    rows = t.query(gcs_pb2.GetTaskEventsRequest()).tasks
    assert [(r.task_id, r.attempt, r.name, r.state, r.submitted_ns, r.pending_node_ns) for r in rows] == [
        (tid(i), i % 2, f"f{i % n_heads}", gcs_pb2.PENDING_NODE, 5 + i, 10 + i) for i in range(40)]
    assert all(r.node_id == NODE for r in rows)


def test_full_records_carry_the_owner_times_and_short_records_still_fold() -> None:
    """A batch with 52-byte records and 76-byte full records folds both; the owner's times of a
    full record fill the row; a full_records blob of a bad length is INVALID_ARGUMENT."""
    from polyray.gcs.task_events import FULL_RECORD, PACKED_RECORD, TaskEvents, read_events
    head = gcs_pb2.TaskEvent(job_id=b"\1\0\0\0", language=common_pb2.JAVA, type=common_pb2.NORMAL_TASK, name="f")
    a, b = b"a" * 24, b"b" * 24
    request = gcs_pb2.AddTaskEventsRequest(packed=gcs_pb2.PackedTaskEvents(
        heads=[head], records=PACKED_RECORD.pack(a, 0, 0, gcs_pb2.PENDING_NODE, gcs_pb2.SUBMITTED, 20, 10),
        full_records=FULL_RECORD.pack(b, 0, 0, gcs_pb2.FINISHED, gcs_pb2.RUNNING, 400, 300, 100, 150, 200)
        + FULL_RECORD.pack(a, 0, 0, gcs_pb2.FINISHED, gcs_pb2.RUNNING, 40, 30, 5, 0, 25)))
    t = TaskEvents()
    t.fold_items(read_events(request))
    rows = {r.task_id: r for r in t.query(gcs_pb2.GetTaskEventsRequest()).tasks}
    rb, ra = rows[b], rows[a]
    assert (rb.state, rb.submitted_ns, rb.pending_args_ns, rb.pending_node_ns, rb.running_ns, rb.finished_ns) == (
        gcs_pb2.FINISHED, 100, 150, 200, 300, 400)
    # a: the owner's own event said submitted 10, pending node 20; the worker's carried 5 and 25:
    # the earliest of each is kept.
    assert (ra.state, ra.submitted_ns, ra.pending_node_ns, ra.running_ns, ra.finished_ns) == (
        gcs_pb2.FINISHED, 5, 20, 30, 40)
    bad = gcs_pb2.AddTaskEventsRequest(packed=gcs_pb2.PackedTaskEvents(heads=[head], full_records=b"x" * 75))
    with pytest.raises(Exception, match="full_records"):
        read_events(bad)
    bad_state = gcs_pb2.AddTaskEventsRequest(packed=gcs_pb2.PackedTaskEvents(
        heads=[head], full_records=FULL_RECORD.pack(a, 0, 0, 9, 0, 1, 0, 0, 0, 0)))
    with pytest.raises(Exception, match="state 9"):
        read_events(bad_state)


def test_a_java_or_cpp_workers_task_event_carries_the_owner_times_into_the_row() -> None:
    """A TaskEvent (what Java and C++ workers send) with the owner's times gives the whole row."""
    e = gcs_pb2.TaskEvent(task_id=b"c" * 24, job_id=b"\1\0\0\0", language=common_pb2.CPP, type=common_pb2.NORMAL_TASK,
                          name="Plus1", state=gcs_pb2.FINISHED, timestamp_ns=400, prior_state=gcs_pb2.RUNNING,
                          prior_timestamp_ns=300, submitted_ns=100, pending_args_ns=0, pending_node_ns=200,
                          worker_id=b"w" * 28)
    t = TaskEvents()
    t.fold_items(read_events(gcs_pb2.AddTaskEventsRequest(events=[e])))
    (row,) = t.query(gcs_pb2.GetTaskEventsRequest()).tasks
    assert (row.state, row.submitted_ns, row.pending_args_ns, row.pending_node_ns, row.running_ns, row.finished_ns) == (
        gcs_pb2.FINISHED, 100, 0, 200, 300, 400)
    assert row.worker_id == b"w" * 28 and row.language == common_pb2.CPP
