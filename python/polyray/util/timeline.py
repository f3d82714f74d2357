"""`polyray timeline`: the task events as a Chrome trace (chrome://tracing, Perfetto).

    polyray.timeline("trace.json")         # writes the file
    events = polyray.timeline()            # the list of trace events

One complete event (``"ph": "X"``) per task attempt that ran: from its
RUNNING time to its FINISHED or FAILED time (still running: to now), on
``pid`` = its node and ``tid`` = its worker's pid; ``args`` hold the task id,
attempt, state, language, type, job, worker and parent. A task started by
another task is joined to it by a flow (``"ph": "s"`` in the parent's span at
the moment the child was submitted, ``"ph": "f"`` at the child's start, same
``id``), so a Python -> Java -> C++ call chain reads as one flow. Metadata
events (``"ph": "M"``) name each node and worker. Times are microseconds.

Rows come from the GCS's task events (every row it keeps; ``job_id`` picks
one job), so what the task events lose (docs/observability.md) is missing
here too; an attempt with no RUNNING time (never started, or its RUNNING
event lost) has no span.
"""

from __future__ import annotations

import json
import time
from typing import Any

from polyray.protocol import gcs_pb2
from polyray.util import state


def _us(ns: int) -> float:
    return ns / 1000.0


def trace_events(rows: list[gcs_pb2.TaskRow], now_ns: int | None = None) -> list[dict]:
    """Chrome trace events of task rows (see the module docstring)."""
    now = time.time_ns() if now_ns is None else now_ns
    nodes: dict[bytes, int] = {}
    threads: set[tuple[int, int]] = set()
    meta: list[dict] = []
    spans: list[dict] = []
    # task id -> (pid, tid, start ns, end ns) of its latest attempt that ran
    ran: dict[bytes, tuple[int, int, int, int, int]] = {}
    for r in rows:
        if not r.running_ns:
            continue
        pid = nodes.get(r.node_id)
        if pid is None:
            pid = nodes[r.node_id] = len(nodes) + 1
            meta.append({"name": "process_name", "ph": "M", "pid": pid,
                         "args": {"name": f"node {r.node_id.hex()[:12]}"}})
            meta.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
        tid = r.worker_pid or 0
        if (pid, tid) not in threads:
            threads.add((pid, tid))
            lang = state._language(r.language)
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                         "args": {"name": f"{lang} worker pid={tid} {r.worker_id.hex()[:12]}"}})
        end = r.finished_ns or r.failed_ns or now
        end = max(end, r.running_ns)
        row = state.task_row(r)
        spans.append({
            "name": r.name or "(unnamed)", "cat": "task", "ph": "X", "ts": _us(r.running_ns),
            "dur": _us(end - r.running_ns), "pid": pid, "tid": tid,
            "args": {k: row[k] for k in ("task_id", "attempt_number", "state", "language", "type", "job_id",
                                         "worker_id", "parent_task_id", "actor_id", "error_type")},
        })
        prev = ran.get(r.task_id)
        if prev is None or r.attempt >= prev[4]:
            ran[r.task_id] = (pid, tid, r.running_ns, end, r.attempt)
    flows: list[dict] = []
    flow_id = 0
    for r in rows:
        if not r.running_ns or not r.parent_task_id:
            continue
        parent = ran.get(r.parent_task_id)
        if parent is None:
            continue  # started by a driver (no span), or the parent's events are gone
        ppid, ptid, pstart, pend, _ = parent
        pid, tid = nodes[r.node_id], r.worker_pid or 0
        flow_id += 1
        # The parent submitted the child while it ran: start the arrow at the submit time, inside its span.
        at = min(max(r.submitted_ns or r.running_ns, pstart), pend)
        name = f"{r.name or '(unnamed)'}"
        flows.append({"name": name, "cat": "task_flow", "ph": "s", "id": flow_id, "ts": _us(at),
                      "pid": ppid, "tid": ptid})
        flows.append({"name": name, "cat": "task_flow", "ph": "f", "bp": "e", "id": flow_id,
                      "ts": _us(r.running_ns), "pid": pid, "tid": tid})
    return meta + spans + flows


def task_rows(address: str | None = None, job_id: str | None = None,
              timeout: float = state.DEFAULT_TIMEOUT_S) -> list[gcs_pb2.TaskRow]:
    """Every task row the GCS keeps (of ``job_id``, hex, when given)."""
    req = gcs_pb2.GetTaskEventsRequest()
    if job_id:
        req.job_id = bytes.fromhex(job_id)
    return [row for _, row in state._task_pages(state.resolve_address(address), req, timeout)]


def timeline(filename: str | None = None, address: str | None = None, job_id: str | None = None,
             timeout: float = state.DEFAULT_TIMEOUT_S) -> list[dict] | None:
    """Chrome trace events of the cluster's tasks: written to ``filename`` as JSON (and None
    returned), or returned as a list when no filename is given (as Ray's ``ray.timeline``)."""
    events = trace_events(task_rows(address, job_id, timeout))
    if filename is None:
        return events
    _write(filename, events)
    return None


def _write(filename: str, events: list[Any]) -> None:
    with open(filename, "w") as f:
        json.dump(events, f)
