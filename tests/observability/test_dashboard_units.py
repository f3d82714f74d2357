"""Component logic of the dashboard without a cluster: the in-place task summary
over a real GCS TaskEvents, the history ring's bound, the REST filter parser."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from polyray.dashboard import rest, task_counts
from polyray.dashboard.metrics_history import MetricsHistory, Snapshot
from polyray.gcs.task_events import TaskEvents
from polyray.protocol import common_pb2, gcs_pb2


def _event(i: int, state: int, lang: int, name: str, job: int = 1) -> gcs_pb2.TaskEvent:
    return gcs_pb2.TaskEvent(task_id=i.to_bytes(24, "big"), job_id=job.to_bytes(4, "big"), state=state,
                             language=lang, type=common_pb2.NORMAL_TASK, name=name, timestamp_ns=1000 + i)


def test_task_counts_match_the_rows_and_filters():
    ev = TaskEvents(ring_size_per_job=5)
    for i in range(8):  # job 1 keeps its last 5 rows only
        ev.add(_event(i, gcs_pb2.FINISHED if i % 2 else gcs_pb2.FAILED, common_pb2.JAVA, "j.f"))
    ev.add(_event(100, gcs_pb2.RUNNING, common_pb2.CPP, "Plus1", job=2))
    ev.add(_event(100, gcs_pb2.FINISHED, common_pb2.CPP, "Plus1", job=2))  # same attempt: one row, folded
    s = task_counts.summarize(ev)
    assert s is not None and s["total"] == 6
    assert s["summary"]["j.f"] == {"name": "j.f", "language": "JAVA", "type": "NORMAL_TASK",
                                   "state_counts": {"FINISHED": 3, "FAILED": 2}}
    assert s["summary"]["Plus1"]["state_counts"] == {"FINISHED": 1}
    only = task_counts.summarize(ev, [("language", "=", "cpp")])
    assert only is not None and list(only["summary"]) == ["Plus1"]
    not_failed = task_counts.summarize(ev, [("state", "!=", "FAILED"), ("job_id", "=", "00000001")])
    assert not_failed is not None and not_failed["total"] == 3
    assert task_counts.summarize(ev, [("worker_pid", "=", "1")]) is None  # not counted here: state API


def test_history_keeps_one_hour_of_samples():
    h = MetricsHistory(interval_s=10.0)
    for i in range(400):
        h.add(Snapshot(time=float(i), tasks={("RUNNING", "PYTHON"): i}))
    series = h.series("tasks_running")
    assert len(h) == 360 and series[0] == (40.0, 40.0) and series[-1] == (399.0, 399.0)


def test_rest_filters():
    q = MultiDict([("filter_keys", "state"), ("filter_predicates", "!="), ("filter_values", "FAILED"),
                   ("filter", "language=JAVA"), ("filter", "name!=x=y")])
    assert rest.parse_filters(q) == [("state", "!=", "FAILED"), ("language", "=", "JAVA"), ("name", "!=", "x=y")]
    with pytest.raises(ValueError, match="equal numbers"):
        rest.parse_filters(MultiDict([("filter_keys", "state")]))
    with pytest.raises(ValueError, match="predicate"):
        rest.parse_filters(MultiDict([("filter_keys", "a"), ("filter_predicates", "<"), ("filter_values", "1")]))
    with pytest.raises(ValueError, match="key=value"):
        rest.parse_filters(MultiDict([("filter", "state")]))
