"""The C++ reporter's packed task events, read by the GCS (issue 16): the bytes the C++
``TaskEvents`` sends (cpp/src/core/task_events.cc, written by the gtest
``TaskEvents.WritesABatchForThePythonCrossCheck``) fold into the rows of the events it
recorded, so the C++ writer and the Python reader agree on ``PackedTaskEvents``.
(Java's writer is checked the same way by the rows of a real Java worker's events:
tests/observability/test_task_summary.py, test_state_cli.py.)"""

from __future__ import annotations

import os
import subprocess

import pytest

from polyray.gcs.task_events import FULL_RECORD, TaskEvents, read_events
from polyray.protocol import common_pb2, gcs_pb2

pytestmark = pytest.mark.timeout(60)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GTEST = os.path.join(ROOT, "build", "cpp", "bin", "core_task_events_test")
JOB = b"\1\0\0\0"


def _tid(n: int) -> bytes:
    return bytes([n]) * 20 + JOB


@pytest.mark.skipif(not os.path.exists(GTEST), reason="the C++ tests are not built (build/cpp)")
def test_cpp_packed_records_fold_into_the_rows_of_their_events(tmp_path) -> None:
    dump = tmp_path / "batch.bin"
    p = subprocess.run([GTEST, "--gtest_filter=TaskEvents.WritesABatchForThePythonCrossCheck"],
                       env={**os.environ, "POLYRAY_TASK_EVENTS_DUMP": str(dump)}, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    request = gcs_pb2.AddTaskEventsRequest.FromString(dump.read_bytes())
    # Two packed records (FINISHED with RUNNING folded in, RUNNING) and the FAILED TaskEvent.
    assert len(request.packed.full_records) == 2 * FULL_RECORD.size and not request.packed.records
    assert len(request.packed.heads) == 2 and len(request.events) == 1
    t = TaskEvents()
    t.fold_items(read_events(request))
    rows = {r.name: r for r in t.query(gcs_pb2.GetTaskEventsRequest()).tasks}
    assert set(rows) == {"Plus1", "Slow", "Bad"}
    a = rows["Plus1"]
    assert (a.task_id, a.job_id, a.attempt, a.state) == (_tid(1), JOB, 2, gcs_pb2.FINISHED)
    assert (a.language, a.type, a.actor_id) == (common_pb2.CPP, common_pb2.ACTOR_TASK, b"a" * 16)
    assert (a.submitted_ns, a.pending_node_ns, a.pending_args_ns) == (1000, 2000, 0)
    assert 0 < a.running_ns <= a.finished_ns
    assert (a.node_id, a.worker_id) == (b"n" * 28, b"w" * 28) and a.worker_pid > 0
    b = rows["Slow"]
    assert (b.task_id, b.state, b.parent_task_id, b.finished_ns) == (_tid(2), gcs_pb2.RUNNING, b"p" * 24, 0)
    assert b.running_ns > 0 and b.worker_pid == a.worker_pid
    c = rows["Bad"]
    assert (c.state, c.error_kind, c.error_message) == (gcs_pb2.FAILED, common_pb2.TASK_ERROR, "boom")
