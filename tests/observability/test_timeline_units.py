"""Chrome trace events of task rows (util/timeline.py), from hand-made rows."""

from __future__ import annotations

import json

from polyray.protocol import common_pb2, gcs_pb2
from polyray.util.timeline import trace_events

NODE = b"\x01" * 28
W1, W2 = b"\x02" * 28, b"\x03" * 28


def _row(n: int, parent: int | None, lang: int, worker: bytes, pid: int, submit: int, run: int, end: int,
         state: int = gcs_pb2.FINISHED) -> gcs_pb2.TaskRow:
    return gcs_pb2.TaskRow(
        task_id=bytes([n]) * 24, job_id=b"\x01\x00\x00\x00", attempt=0, state=state, language=lang,
        type=common_pb2.NORMAL_TASK, name=f"f{n}", node_id=NODE, worker_id=worker, worker_pid=pid,
        parent_task_id=bytes([parent]) * 24 if parent else b"\xee" * 24, submitted_ns=submit, running_ns=run,
        finished_ns=end if state == gcs_pb2.FINISHED else 0, failed_ns=end if state == gcs_pb2.FAILED else 0)


def test_spans_flows_and_metadata():
    rows = [
        _row(1, None, common_pb2.PYTHON, W1, 10, 1_000, 2_000_000, 9_000_000),
        _row(2, 1, common_pb2.JAVA, W2, 20, 3_000_000, 4_000_000, 8_000_000),
        _row(3, 2, common_pb2.CPP, W1, 10, 5_000_000, 6_000_000, 7_000_000, gcs_pb2.FAILED),
        _row(4, 1, common_pb2.PYTHON, W2, 20, 3_500_000, 0, 0, gcs_pb2.PENDING_NODE),  # never ran: no span
    ]
    events = trace_events(rows, now_ns=10_000_000)
    json.dumps(events)  # JSON-ready
    spans = {e["name"]: e for e in events if e["ph"] == "X"}
    assert set(spans) == {"f1", "f2", "f3"}
    assert spans["f1"]["ts"] == 2000.0 and spans["f1"]["dur"] == 7000.0
    assert spans["f3"]["args"]["state"] == "FAILED" and spans["f3"]["args"]["language"] == "CPP"
    assert spans["f2"]["tid"] == 20 and spans["f1"]["pid"] == spans["f2"]["pid"]
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    assert len(starts) == len(ends) == 2 and set(starts) == set(ends)
    by_child = {ends[i]["name"]: (starts[i], ends[i]) for i in ends}
    s, f = by_child["f2"]
    # The arrow leaves f1's span when f2 was submitted and lands where f2 starts.
    assert (s["tid"], s["ts"]) == (10, 3000.0) and (f["tid"], f["ts"], f["bp"]) == (20, 4000.0, "e")
    s, f = by_child["f3"]
    assert (s["tid"], s["ts"]) == (20, 5000.0) and f["ts"] == 6000.0
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert any("PYTHON" in n and "pid=10" in n for n in names)


def test_a_running_task_ends_now_and_a_submit_before_the_parent_started_is_clamped():
    rows = [_row(1, None, common_pb2.PYTHON, W1, 10, 0, 2_000_000, 0, gcs_pb2.RUNNING),
            _row(2, 1, common_pb2.PYTHON, W2, 20, 1_000_000, 3_000_000, 4_000_000)]
    events = trace_events(rows, now_ns=5_000_000)
    span = next(e for e in events if e["ph"] == "X" and e["name"] == "f1")
    assert span["dur"] == 3000.0
    s = next(e for e in events if e["ph"] == "s")
    assert s["ts"] == 2000.0
