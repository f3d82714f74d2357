"""Summaries of tasks, actors and objects (polyray.util.state; `polyray summary`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc

from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc
from polyray.util.state._common import (
    _LANGUAGE_NAMES,
    _TASK_STATE_NAMES,
    _TYPE_NAMES,
    DEFAULT_TIMEOUT_S,
    MAX_LIMIT,
    Filter,
    StateApiError,
    _check_filters,
    _matches,
    resolve_address,
)
from polyray.util.state.actors import list_actors
from polyray.util.state.objects import _distinct_sizes, query_objects
from polyray.util.state.tasks import _task_pages, _task_request, task_row

#: Columns the GCS's task summary filters on (SummarizeTaskEvents).
_SUMMARY_KEYS = frozenset(("name", "state", "language", "type", "job_id"))


def summarize_tasks(address: str | None = None, filters: Iterable[Filter] | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Task attempts by name: ``{"summary": {name: {"language", "type", "state_counts"}}, "total": N}``
    (over every row the GCS keeps, not only the first ``limit``). Counted by the GCS
    (SummarizeTaskEvents: one small reply) when every filter is on name, state, language, type or
    job_id; else every row is paged here and counted."""
    fs = _check_filters(filters)
    addr = resolve_address(address)
    if all(k in _SUMMARY_KEYS for k, _, _ in fs):
        req = gcs_pb2.SummarizeTaskEventsRequest(filters=[
            gcs_pb2.TaskSummaryFilter(key=k, not_equal=op == "!=", value=str(v)) for k, op, v in fs])
        with auth.channel(addr) as channel:
            try:
                reply = gcs_pb2_grpc.GcsServiceStub(channel).SummarizeTaskEvents(req, timeout=timeout)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:  # an older GCS: count here, below
                    raise StateApiError(f"the GCS at {addr}: {e.code().name}: {e.details()}") from None
            else:
                summary: dict[str, dict] = {}
                for c in reply.counts:
                    entry = summary.setdefault(c.name, {
                        "name": c.name, "language": _LANGUAGE_NAMES.get(c.language, str(c.language)),
                        "type": _TYPE_NAMES.get(c.type, str(c.type)), "state_counts": {}})
                    state_name = _TASK_STATE_NAMES.get(c.state, str(c.state))
                    entry["state_counts"][state_name] = entry["state_counts"].get(state_name, 0) + c.count
                out: dict[str, Any] = {"summary": summary, "total": reply.total}
                if reply.groups_left_off:
                    out["groups_left_off"] = reply.groups_left_off
                return out
    req, rest = _task_request(fs)
    summary = {}
    total = 0
    for _, r in _task_pages(addr, req, timeout):
        row = task_row(r)
        if not _matches(row, rest):
            continue
        total += 1
        entry = summary.setdefault(row["name"], {"name": row["name"], "language": row["language"],
                                                 "type": row["type"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
    return {"summary": summary, "total": total}


def summarize_actors(address: str | None = None, filters: Iterable[Filter] | None = None,
                     timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Actors by class: ``{"summary": {class: {"language", "state_counts"}}, "total": N}``."""
    rows = list_actors(address, filters, limit=MAX_LIMIT, timeout=timeout)  # the short rows have the columns
    summary: dict[str, dict] = {}
    for row in rows:
        entry = summary.setdefault(row["class_name"], {"class_name": row["class_name"],
                                                       "language": row["language"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
    return {"summary": summary, "total": len(rows)}


def summarize_objects(address: str | None = None, filters: Iterable[Filter] | None = None,
                      timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """As Ray's ``summarize_objects``: by call site (``disabled``: not recorded),
    ``{"summary": {call_site: {"total_objects", "total_size_mb", "total_num_workers",
    "total_num_nodes", "task_state_counts", "ref_type_counts"}}, "total_objects",
    "total_size_mb", "callsite_enabled", "partial_failure_warning"}``."""
    fs = _check_filters(filters)
    listing = query_objects(address, timeout=timeout)
    rows = [r for r in listing.rows if _matches(r, fs)]
    summary: dict[str, dict] = {}
    for site in sorted({r["call_site"] for r in rows}):
        group = [r for r in rows if r["call_site"] == site]
        sizes = _distinct_sizes(group)
        states: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for r in group:
            states[r["task_status"]] = states.get(r["task_status"], 0) + 1
            kinds[r["reference_type"]] = kinds.get(r["reference_type"], 0) + 1
        summary[site] = {
            "total_objects": len(sizes), "total_size_mb": sum(v for v in sizes.values() if v > 0) / 2**20,
            "total_num_workers": len({r["worker_id"] for r in group}),
            "total_num_nodes": len({r["node_id"] for r in group}),
            "task_state_counts": states, "ref_type_counts": kinds,
        }
    sizes = _distinct_sizes(rows)
    return {"summary": summary, "total_objects": len(sizes),
            "total_size_mb": sum(v for v in sizes.values() if v > 0) / 2**20, "callsite_enabled": False,
            "partial_failure_warning": listing.warning()}
