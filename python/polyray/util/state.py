"""The state API: what the cluster holds, with Ray's names (docs/observability.md).

    from polyray.util.state import list_tasks, summarize_tasks
    list_tasks(filters=[("state", "=", "FAILED"), ("language", "=", "JAVA")], limit=10)
    summarize_tasks()

Every ``list_*`` returns a list of plain dicts (JSON-ready: ids in hex,
enums by name), at most ``limit`` of them, filtered by ``filters``: a list of
``(key, "=" | "!=", value)``; values compare as strings, case-insensitively.
``detail=True`` adds every column. ``get_*`` returns one dict or None.
``summarize_*`` counts by name and state.

The cluster is found from ``address`` (``host:port`` of the GCS), else
``POLYRAY_ADDRESS``, else the cluster this process is connected to, else the
head ``polyray start`` started on this machine. Calls carry the cluster's
token (and TLS) as every other client does. Tasks are paginated by the GCS
(``events.max_per_query`` rows per call): a list asks for pages until it has
``limit`` rows.

The functions are blocking and thread-safe; the dashboard calls them from a
thread pool.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import grpc

from polyray.protocol import auth, common_pb2, core_worker_pb2, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc
from polyray.protocol.runtime_spec import RPC_MAX_MESSAGE_BYTES, STATE_LIST_OBJECTS_TIMEOUT_MS

DEFAULT_LIMIT = 100
#: Rows a list returns at most, whatever ``limit`` says (as Ray's 10,000).
MAX_LIMIT = 10_000
DEFAULT_TIMEOUT_S = 30.0

Filter = tuple[str, str, Any]

_ACTOR_STATES = gcs_pb2.ActorState
_TASK_STATES = gcs_pb2.TaskEventState
_PG_STATES = {gcs_pb2.PG_PENDING: "PENDING", gcs_pb2.PG_CREATED: "CREATED", gcs_pb2.PG_REMOVED: "REMOVED"}


class StateApiError(RuntimeError):
    """The cluster could not be reached or refused the query."""


# ----------------------------------------------------------------- plumbing

def resolve_address(address: str | None = None) -> str:
    """The GCS address to ask (see the module docstring)."""
    if address:
        return address
    env = os.environ.get("POLYRAY_ADDRESS")
    if env and env != "auto":
        return env
    try:
        from polyray.core.object_ref import get_core
        core = get_core()
        if core is not None:
            return str(core.gcs_address)
    except ImportError:  # pragma: no cover - the core is always there in a full install
        pass
    heads = [e for e in _started_here() if e.get("head")]
    if heads:
        return str(heads[-1]["address"])
    raise StateApiError("no cluster: pass address=, set POLYRAY_ADDRESS, call polyray.init() "
                        "or start a head with `polyray start --head`")


def _started_here() -> list[dict]:
    """The daemons `polyray start` recorded on this machine (the file polyray.cli writes)."""
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "polyray", "daemons.json")
    try:
        with open(path) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        return []
    return entries if isinstance(entries, list) else []


def _hex(b: bytes) -> str:
    return b.hex()


def _language(value: int) -> str:
    return common_pb2.Language.Name(value)


def _call(address: str, fn: Callable[[gcs_pb2_grpc.GcsServiceStub], Any]) -> Any:
    with auth.channel(address) as channel:
        try:
            return fn(gcs_pb2_grpc.GcsServiceStub(channel))
        except grpc.RpcError as e:
            raise StateApiError(f"the GCS at {address}: {e.code().name}: {e.details()}") from None


def _check_filters(filters: Iterable[Filter] | None) -> list[Filter]:
    out = []
    for f in filters or ():
        if len(f) != 3 or f[1] not in ("=", "!="):
            raise ValueError(f"a filter is (key, '=' | '!=', value), got {f!r}")
        out.append((str(f[0]), f[1], f[2]))
    return out


def _matches(row: dict, filters: Sequence[Filter]) -> bool:
    for key, op, value in filters:
        if key not in row:
            raise ValueError(f"no column {key!r} to filter on; columns: {', '.join(sorted(row))}")
        equal = str(row[key]).lower() == str(value).lower()
        if equal != (op == "="):
            return False
    return True


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit <= 0:
        raise ValueError(f"limit must be > 0, got {limit}")
    return min(limit, MAX_LIMIT)


def _finish(rows: Iterable[dict], filters: Sequence[Filter], limit: int, columns: Sequence[str] | None) -> list[dict]:
    out = []
    for row in rows:
        if _matches(row, filters):
            out.append(row if columns is None else {k: row[k] for k in columns})
            if len(out) >= limit:
                break
    return out


# ----------------------------------------------------------------- tasks

TASK_COLUMNS = ("task_id", "attempt_number", "name", "state", "language", "type", "job_id", "actor_id",
                "node_id", "worker_pid", "error_type")


_TASK_STATE_NAMES = {v.number: v.name for v in gcs_pb2.TaskEventState.DESCRIPTOR.values}
_LANGUAGE_NAMES = {v.number: v.name for v in common_pb2.Language.DESCRIPTOR.values}
_TYPE_NAMES = {v.number: v.name for v in common_pb2.TaskType.DESCRIPTOR.values}
_ERROR_NAMES = {v.number: v.name for v in common_pb2.ErrorKind.DESCRIPTOR.values}


def task_row(t: gcs_pb2.TaskRow, detail: bool = True) -> dict:
    """A TaskRow as the state API shows it (every column; ``detail=False``: TASK_COLUMNS only).
    Enum names come from dicts and each field is read once: ~3 us a row, not ~10."""
    state = t.state
    state_name = _TASK_STATE_NAMES.get(state) or _TASK_STATES.Name(state)
    language = _LANGUAGE_NAMES.get(t.language) or _language(t.language)
    typ = _TYPE_NAMES.get(t.type) or common_pb2.TaskType.Name(t.type)
    error = ((_ERROR_NAMES.get(t.error_kind) or common_pb2.ErrorKind.Name(t.error_kind))
             if state == gcs_pb2.FAILED else "")
    if not detail:
        return {"task_id": t.task_id.hex(), "attempt_number": t.attempt, "name": t.name, "state": state_name,
                "language": language, "type": typ, "job_id": t.job_id.hex(), "actor_id": t.actor_id.hex(),
                "node_id": t.node_id.hex(), "worker_pid": t.worker_pid, "error_type": error}
    start = t.running_ns
    end = t.finished_ns or t.failed_ns
    return {
        "task_id": t.task_id.hex(), "attempt_number": t.attempt, "name": t.name, "state": state_name,
        "language": language, "type": typ, "job_id": t.job_id.hex(), "actor_id": t.actor_id.hex(),
        "node_id": t.node_id.hex(), "worker_id": t.worker_id.hex(), "worker_pid": t.worker_pid,
        "parent_task_id": t.parent_task_id.hex(), "error_type": error, "error_message": t.error_message,
        "submitted_time_ms": t.submitted_ns // 1_000_000, "pending_args_time_ms": t.pending_args_ns // 1_000_000,
        "pending_node_time_ms": t.pending_node_ns // 1_000_000, "start_time_ms": start // 1_000_000,
        "end_time_ms": end // 1_000_000,
        "duration_ms": round((end - start) / 1e6, 3) if start and end else None,
    }


def _task_request(filters: Sequence[Filter]) -> tuple[gcs_pb2.GetTaskEventsRequest, list[Filter]]:
    """Move the '=' filters the GCS understands into the request; the rest stay."""
    req = gcs_pb2.GetTaskEventsRequest()
    rest = []
    for key, op, value in filters:
        v = str(value)
        try:
            if op != "=":
                raise ValueError
            if key in ("job_id", "task_id", "actor_id", "node_id", "worker_id") and not getattr(req, key):
                setattr(req, key, bytes.fromhex(v))
            elif key == "state" and not req.states:
                req.states.append(_TASK_STATES.Value(v.upper()))
            elif key == "language" and not req.languages:
                req.languages.append(common_pb2.Language.Value(v.upper()))
            elif key == "name" and not req.name:
                req.name = v
            else:
                raise ValueError
        except ValueError:
            rest.append((key, op, value))
    return req, rest


def _task_pages(address: str, req: gcs_pb2.GetTaskEventsRequest,
                timeout: float) -> Iterable[tuple[gcs_pb2.GetTaskEventsReply, gcs_pb2.TaskRow]]:
    with auth.channel(address) as channel:
        stub = gcs_pb2_grpc.GcsServiceStub(channel)
        while True:
            try:
                reply = stub.GetTaskEvents(req, timeout=timeout)
            except grpc.RpcError as e:
                raise StateApiError(f"the GCS at {address}: {e.code().name}: {e.details()}") from None
            for row in reply.tasks:
                yield reply, row
            if not reply.next_page_token:
                return
            req.page_token = reply.next_page_token


def list_tasks(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
               detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Task attempts, oldest first (one row per attempt: its latest state and times)."""
    fs = _check_filters(filters)
    req, rest = _task_request(fs)
    n = _limit(limit)
    if not rest:
        req.limit = n
    # Rows of every column only when asked for or when a filter the GCS did not take needs them.
    full = detail or bool(rest)
    rows = (task_row(r, full) for _, r in _task_pages(resolve_address(address), req, timeout))
    return _finish(rows, rest, n, None if detail or not rest else TASK_COLUMNS)


def get_task(task_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    """The latest attempt of one task (every column, ``attempts`` lists them all), or None."""
    rows = list_tasks(address, [("task_id", "=", task_id)], limit=MAX_LIMIT, detail=True, timeout=timeout)
    if not rows:
        return None
    latest = dict(max(rows, key=lambda r: r["attempt_number"]))
    latest["attempts"] = rows
    return latest


def task_drop_counts(address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, dict[str, int]]:
    """Per job (hex): events dropped by the GCS ring and by their senders."""
    reply = _call(resolve_address(address), lambda s: s.GetTaskEvents(
        gcs_pb2.GetTaskEventsRequest(limit=1), timeout=timeout))
    out: dict[str, dict[str, int]] = {}
    for d in reply.dropped_at_gcs:
        out.setdefault(_hex(d.job_id), {"dropped_at_gcs": 0, "dropped_at_source": 0})["dropped_at_gcs"] = d.count
    for d in reply.dropped_at_source:
        out.setdefault(_hex(d.job_id), {"dropped_at_gcs": 0, "dropped_at_source": 0})["dropped_at_source"] = d.count
    return out


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


# ----------------------------------------------------------------- actors

ACTOR_COLUMNS = ("actor_id", "class_name", "state", "language", "name", "job_id", "node_id", "pid",
                 "num_restarts")


_ACTOR_STATE_NAMES = {v.number: v.name for v in gcs_pb2.ActorState.DESCRIPTOR.values}


def actor_row(a: gcs_pb2.ActorInfo, detail: bool = True) -> dict:
    """An ActorInfo as the state API shows it (every column; ``detail=False``: ACTOR_COLUMNS only)."""
    handle = a.handle
    row = {
        "actor_id": a.actor_id.hex(), "class_name": a.class_name,
        "state": _ACTOR_STATE_NAMES.get(a.state) or _ACTOR_STATES.Name(a.state),
        "language": _LANGUAGE_NAMES.get(handle.language) or _language(handle.language), "name": handle.name,
    }
    if not detail:
        row.update(job_id=a.job_id.hex(), node_id=a.node_id.hex(), pid=a.pid, num_restarts=a.num_restarts)
        return row
    cause = a.death_cause if a.HasField("death_cause") else None
    address = a.address
    row.update({
        "namespace": handle.namespace, "job_id": a.job_id.hex(), "node_id": a.node_id.hex(), "pid": a.pid,
        "num_restarts": a.num_restarts, "address": f"{address.host}:{address.port}" if address.port else "",
        "worker_id": address.worker_id.hex(), "is_async": handle.is_async,
        "death_cause": (f"{common_pb2.ErrorKind.Name(cause.kind)}: {cause.message}" if cause is not None else ""),
    })
    return row


def list_actors(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
                detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Actors of every job (or of ``job_id`` given as a filter). Without other filters the GCS
    sends only the first ``limit`` (not all of them for the client to cut)."""
    fs = _check_filters(filters)
    n = _limit(limit)
    job = next((bytes.fromhex(str(v)) for k, op, v in fs if k == "job_id" and op == "="), b"")
    rest = [f for f in fs if not (f[0] == "job_id" and f[1] == "=")]
    request = gcs_pb2.ListActorsRequest(job_id=job, limit=0 if rest else n)
    actors = _call(resolve_address(address), lambda s: s.ListActors(request, timeout=timeout).actors)
    full = detail or bool(rest)
    return _finish((actor_row(a, full) for a in actors), fs, n, None if detail or not rest else ACTOR_COLUMNS)


def get_actor(actor_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    rows = list_actors(address, [("actor_id", "=", actor_id)], limit=1, detail=True, timeout=timeout)
    return rows[0] if rows else None


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


# ----------------------------------------------------------------- nodes, jobs, workers

NODE_COLUMNS = ("node_id", "state", "node_ip", "resources_total")


def _nodes(address: str, timeout: float) -> list[gcs_pb2.NodeInfo]:
    return list(_call(address, lambda s: s.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=timeout).nodes))


def node_row(n: gcs_pb2.NodeInfo) -> dict:
    return {
        "node_id": _hex(n.node_id), "state": "ALIVE" if n.alive else "DEAD", "node_ip": n.raylet_address.host,
        "raylet_address": f"{n.raylet_address.host}:{n.raylet_address.port}",
        "resources_total": dict(n.resources_total), "resources_available": dict(n.resources_available),
        "labels": dict(n.labels), "start_time_ms": int(n.start_time * 1000),
        "death_reason": n.death_reason, "store_name": n.store_name,
    }


def list_nodes(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
               detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Nodes, alive and dead."""
    fs = _check_filters(filters)
    rows = (node_row(n) for n in _nodes(resolve_address(address), timeout))
    return _finish(rows, fs, _limit(limit), None if detail else NODE_COLUMNS)


def get_node(node_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    rows = list_nodes(address, [("node_id", "=", node_id)], limit=1, detail=True, timeout=timeout)
    return rows[0] if rows else None


JOB_COLUMNS = ("job_id", "status", "driver_language", "driver_pid", "namespace", "start_time_ms", "end_time_ms")


def job_row(j: gcs_pb2.JobInfo) -> dict:
    return {
        "job_id": _hex(j.job_id), "status": "FINISHED" if j.finished else "RUNNING",
        "driver_language": _language(j.driver_language), "driver_pid": j.driver_pid, "namespace": j.namespace,
        "start_time_ms": int(j.start_time * 1000), "end_time_ms": int(j.end_time * 1000),
        "driver_address": f"{j.driver.host}:{j.driver.port}", "driver_worker_id": _hex(j.driver.worker_id),
        "driver_node_id": _hex(j.driver.node_id), "code_search_path": list(j.code_search_path),
        "entrypoint": j.entrypoint,
    }


def list_jobs(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
              detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Jobs (one per driver), running and finished."""
    jobs = _call(resolve_address(address), lambda s: s.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=timeout).jobs)
    return _finish((job_row(j) for j in jobs), _check_filters(filters), _limit(limit),
                   None if detail else JOB_COLUMNS)


def get_job(job_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    rows = list_jobs(address, [("job_id", "=", job_id)], limit=1, detail=True, timeout=timeout)
    return rows[0] if rows else None


WORKER_COLUMNS = ("worker_id", "worker_type", "language", "pid", "node_id", "state", "actor_id", "job_id")


def list_workers(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
                 detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Worker processes and drivers of the alive nodes (asked of each node's raylet)."""
    addr = resolve_address(address)
    rows: list[dict] = []
    for n in _nodes(addr, timeout):
        if not n.alive:
            continue
        target = f"{n.raylet_address.host}:{n.raylet_address.port}"
        with auth.channel(target) as ch:
            try:
                stats = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(),
                                                                            timeout=timeout)
            except grpc.RpcError:
                continue  # the node went away meanwhile
        for w in stats.workers:
            rows.append({
                "worker_id": _hex(w.worker_id), "worker_type": "WORKER", "language": _language(w.language),
                "pid": w.pid, "node_id": _hex(n.node_id),
                "state": "ACTOR" if w.actor_id else ("LEASED" if w.leased else "IDLE"),
                "actor_id": _hex(w.actor_id), "job_id": _hex(w.job_id), "port": w.port,
            })
        for d in stats.driver_ids:
            rows.append({"worker_id": _hex(d), "worker_type": "DRIVER", "language": "", "pid": 0,
                         "node_id": _hex(n.node_id), "state": "DRIVER", "actor_id": "", "job_id": "", "port": 0})
    return _finish(rows, _check_filters(filters), _limit(limit), None if detail else WORKER_COLUMNS)


def get_worker(worker_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    rows = list_workers(address, [("worker_id", "=", worker_id)], limit=1, detail=True, timeout=timeout)
    return rows[0] if rows else None


# ----------------------------------------------------------------- placement groups

PLACEMENT_GROUP_COLUMNS = ("placement_group_id", "name", "state", "strategy", "job_id", "bundles")


def placement_group_row(g: gcs_pb2.PlacementGroupInfo) -> dict:
    return {
        "placement_group_id": _hex(g.placement_group_id), "name": g.name, "state": _PG_STATES.get(g.state, "?"),
        "strategy": gcs_pb2.PlacementStrategy.Name(g.strategy), "job_id": _hex(g.job_id),
        "bundles": [dict(b.amounts) for b in g.bundles], "bundle_nodes": [_hex(n) for n in g.bundle_nodes],
    }


def list_placement_groups(address: str | None = None, filters: Iterable[Filter] | None = None,
                          limit: int | None = None, detail: bool = False,
                          timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Placement groups of every job (or of ``job_id`` given as a filter), in id order, paged by the GCS."""
    fs = _check_filters(filters)
    job = next((bytes.fromhex(str(v)) for k, op, v in fs if k == "job_id" and op == "="), b"")
    n = _limit(limit)

    def pages(stub: gcs_pb2_grpc.GcsServiceStub) -> list:
        req = gcs_pb2.ListPlacementGroupsRequest(job_id=job)
        groups: list = []
        while True:
            reply = stub.ListPlacementGroups(req, timeout=timeout)
            groups += [placement_group_row(g) for g in reply.groups]
            matching = sum(1 for g in groups if _matches(g, fs))
            if not reply.next_page_token or matching >= n:
                return groups
            req.page_token = reply.next_page_token
    groups = _call(resolve_address(address), pages)
    return _finish(groups, fs, n, None if detail else PLACEMENT_GROUP_COLUMNS)


def get_placement_group(placement_group_id: str, address: str | None = None,
                        timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    reply = _call(resolve_address(address), lambda s: s.GetPlacementGroup(
        gcs_pb2.GetPlacementGroupRequest(placement_group_id=bytes.fromhex(placement_group_id)), timeout=timeout))
    return placement_group_row(reply.group) if reply.HasField("group") else None


# ----------------------------------------------------------------- objects

#: Ray's columns of `ray list objects`, and the language of the process holding the reference.
OBJECT_COLUMNS = ("object_id", "object_size", "task_status", "reference_type", "call_site", "type", "pid", "ip",
                  "language", "owner_pid", "owner_language")
#: Reference types, in Ray's precedence (a row shows the first that applies; ``reference_kinds`` lists all).
REFERENCE_TYPES = ("USED_BY_PENDING_TASK", "LOCAL_REFERENCE", "CAPTURED_IN_OBJECT", "BORROWED", "UNKNOWN_STATUS")
#: Call sites are not recorded (as Ray without RAY_record_ref_creation_sites).
CALL_SITE_DISABLED = "disabled"


def reference_kinds(info: core_worker_pb2.ObjectRefInfo) -> list[str]:
    """Every kind of reference a process holds on one object: pending tasks,
    live refs, objects capturing it, and (its owner) other processes holding it."""
    kinds = []
    if info.submitted_task_refs > 0:
        kinds.append("USED_BY_PENDING_TASK")
    if info.local_refs > 0:
        kinds.append("LOCAL_REFERENCE")
    if info.contained_in > 0:
        kinds.append("CAPTURED_IN_OBJECT")
    if info.owned and (info.borrowers or info.lent > 0):
        kinds.append("BORROWED")
    return kinds


def _task_status(info: core_worker_pb2.ObjectRefInfo) -> str:
    if info.status == core_worker_pb2.OBJECT_READY:
        return "FINISHED"
    if info.status == core_worker_pb2.OBJECT_FAILED:
        return "FAILED"
    return "PENDING" if info.owned else "NIL"  # a borrower that has not fetched it


def object_row(proc: core_worker_pb2.GetObjectRefsReply, info: core_worker_pb2.ObjectRefInfo,
               node_id: bytes, ip: str) -> dict:
    """One (object, process) reference as the state API shows it (every column; the
    owner's pid and language are filled in by the listing when the owner answered too)."""
    kinds = reference_kinds(info)
    owner = proc.address if info.owned else info.owner
    return {
        "object_id": _hex(info.object_id), "object_size": info.size, "task_status": _task_status(info),
        "reference_type": kinds[0] if kinds else "UNKNOWN_STATUS", "call_site": CALL_SITE_DISABLED,
        "type": "DRIVER" if proc.is_driver else "WORKER", "pid": proc.pid, "ip": proc.address.host or ip,
        "language": _language(proc.language), "owner_pid": proc.pid if info.owned else None,
        "owner_language": _language(proc.language) if info.owned else None,
        "node_id": _hex(node_id), "worker_id": _hex(proc.address.worker_id), "is_owner": info.owned,
        "owner_worker_id": _hex(owner.worker_id), "owner_node_id": _hex(owner.node_id),
        "owner_address": f"{owner.host}:{owner.port}" if owner.port else "",
        "reference_kinds": kinds, "local_refs": info.local_refs, "submitted_task_refs": info.submitted_task_refs,
        "contained_in": info.contained_in, "borrowers": [_hex(b) for b in info.borrowers], "lent": info.lent,
        "locations": [_hex(n) for n in info.locations],
    }


class ObjectListing:
    """What one listing of objects gathered: rows (every column), and what it missed."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        #: References counted by the processes that answered (over every page, before any cut).
        self.total = 0
        self.processes: list[dict] = []   # {"worker_id", "node_id", "pid", "language", "type", "total"}
        self.unanswered: list[dict] = []  # {"worker_id", "node_id"}: did not answer within the bound
        self.failed_nodes: list[str] = []  # node ids whose raylet did not answer
        self.stores: dict[str, dict] = {}  # node id -> {"used", "capacity", "objects"}

    @property
    def partial(self) -> bool:
        return bool(self.unanswered or self.failed_nodes)

    def warning(self) -> str:
        """Ray's partial_failure_warning: '' when every process answered."""
        if not self.partial:
            return ""
        parts = []
        if self.unanswered:
            parts.append(f"{len(self.unanswered)} process(es) did not answer in time "
                         f"({', '.join(u['worker_id'][:12] for u in self.unanswered[:5])})")
        if self.failed_nodes:
            parts.append(f"{len(self.failed_nodes)} node(s) did not answer "
                         f"({', '.join(n[:12] for n in self.failed_nodes[:5])})")
        return "the listing is partial: " + "; ".join(parts)


def _ask_raylet(n: gcs_pb2.NodeInfo, limit: int, wait_ms: int, timeout: float,
                with_store: bool) -> tuple[raylet_pb2.ListObjectsReply, raylet_pb2.GetNodeStatsReply | None]:
    target = f"{n.raylet_address.host}:{n.raylet_address.port}"
    options = [("grpc.max_receive_message_length", RPC_MAX_MESSAGE_BYTES)]
    with auth.channel(target, options=options) as ch:
        stub = raylet_pb2_grpc.RayletServiceStub(ch)
        listed = stub.ListObjects(raylet_pb2.ListObjectsRequest(limit=limit, timeout_ms=wait_ms),
                                  timeout=min(timeout, wait_ms / 1000 + 5))
        stats = stub.GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=timeout) if with_store else None
    return listed, stats


def query_objects(address: str | None = None, limit: int = MAX_LIMIT, timeout: float = DEFAULT_TIMEOUT_S,
                  wait_ms: int = 0, with_store: bool = False) -> ObjectListing:
    """Every alive node's raylet lists the references of its processes (at most
    ``limit`` rows a node; each waits ``wait_ms`` for its processes, 0: the
    spec's [state] list_objects_timeout_ms); the rows of all nodes, with the
    owners' pid and language joined in."""
    addr = resolve_address(address)
    nodes = [n for n in _nodes(addr, timeout) if n.alive]
    wait = wait_ms or STATE_LIST_OBJECTS_TIMEOUT_MS
    out = ObjectListing()
    if not nodes:
        return out
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(nodes))) as pool:
        futures = [pool.submit(_ask_raylet, n, limit, wait, timeout, with_store) for n in nodes]
        answers = []
        for n, f in zip(nodes, futures, strict=True):
            try:
                answers.append((n, *f.result()))
            except grpc.RpcError:
                out.failed_nodes.append(_hex(n.node_id))
    for n, listed, stats in answers:
        node_hex = _hex(n.node_id)
        if stats is not None:
            out.stores[node_hex] = {"used": stats.store_bytes_used, "capacity": stats.store_capacity,
                                    "objects": stats.store_objects}
        for proc in listed.processes:
            out.total += proc.total
            out.processes.append({"worker_id": _hex(proc.address.worker_id), "node_id": node_hex, "pid": proc.pid,
                                  "language": _language(proc.language),
                                  "type": "DRIVER" if proc.is_driver else "WORKER", "total": proc.total})
            for info in proc.objects:
                out.rows.append(object_row(proc, info, n.node_id, n.raylet_address.host))
        out.unanswered += [{"worker_id": _hex(w), "node_id": node_hex} for w in listed.unanswered]
    who = {p["worker_id"]: p for p in out.processes}
    for row in out.rows:
        owner = who.get(row["owner_worker_id"])
        if owner is not None:
            row["owner_pid"], row["owner_language"] = owner["pid"], owner["language"]
    return out


def list_objects(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
                 detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S,
                 raise_on_missing_output: bool = False) -> list[dict]:
    """Object references of every process (one row per object and process
    holding it, owned or borrowed), by node. A process that does not answer
    within the bound is left out with a warning (``StateApiError`` with
    ``raise_on_missing_output``)."""
    fs = _check_filters(filters)
    n = _limit(limit)
    listing = query_objects(address, limit=MAX_LIMIT if fs else n, timeout=timeout)
    if listing.partial:
        if raise_on_missing_output:
            raise StateApiError(listing.warning())
        warnings.warn(listing.warning(), stacklevel=2)
    return _finish(listing.rows, fs, n, None if detail else OBJECT_COLUMNS)


def get_object(object_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    """The owner's row of one object (every column; ``references``: every process's row), or None."""
    rows = list_objects(address, [("object_id", "=", object_id)], limit=MAX_LIMIT, detail=True, timeout=timeout)
    if not rows:
        return None
    first = dict(next((r for r in rows if r["is_owner"]), rows[0]))
    first["references"] = rows
    return first


def _distinct_sizes(rows: Iterable[dict]) -> dict[str, int]:
    """Object id -> its size (the largest any row knows; -1 unknown)."""
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["object_id"]] = max(sizes.get(r["object_id"], -1), r["object_size"])
    return sizes


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


def memory_summary(address: str | None = None, filters: Iterable[Filter] | None = None, group_by: str = "node",
                   sort_by: str = "object_size", limit: int | None = None,
                   timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """``polyray memory`` (Ray's ``ray memory``): references grouped by node
    (``group_by="node"``) or by owner (``"owner"``), sorted by ``object_size``
    (largest first) or ``reference_type``; per group and in all: objects,
    references, bytes and counts by reference type; each node's store."""
    if group_by not in ("node", "owner"):
        raise ValueError(f"group_by must be 'node' or 'owner', got {group_by!r}")
    if sort_by not in ("object_size", "reference_type", "pid"):
        raise ValueError(f"sort_by must be 'object_size', 'reference_type' or 'pid', got {sort_by!r}")
    fs = _check_filters(filters)
    n = _limit(limit) if limit is not None else MAX_LIMIT
    listing = query_objects(address, timeout=timeout, with_store=True)
    rows = [r for r in listing.rows if _matches(r, fs)]
    order = {t: i for i, t in enumerate(REFERENCE_TYPES)}
    if sort_by == "object_size":
        rows.sort(key=lambda r: -r["object_size"])
    elif sort_by == "reference_type":
        rows.sort(key=lambda r: (order.get(r["reference_type"], len(order)), -r["object_size"]))
    else:
        rows.sort(key=lambda r: r["pid"])

    def stats(group: list[dict]) -> dict:
        sizes = _distinct_sizes(group)
        kinds = {t: 0 for t in REFERENCE_TYPES}
        langs: dict[str, int] = {}
        for r in group:
            kinds[r["reference_type"]] = kinds.get(r["reference_type"], 0) + 1
            langs[r["language"]] = langs.get(r["language"], 0) + 1
        return {"objects": len(sizes), "references": len(group),
                "total_size_bytes": sum(v for v in sizes.values() if v > 0),
                "unknown_size_objects": sum(1 for v in sizes.values() if v < 0),
                "reference_types": kinds, "languages": langs}

    groups: dict[str, dict] = {}
    for r in rows:
        key = r["node_id"] if group_by == "node" else r["owner_worker_id"]
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"node_id": r["node_id"], "ip": r["ip"]} if group_by == "node" else {
                "owner_worker_id": r["owner_worker_id"], "owner_pid": r["owner_pid"],
                "owner_language": r["owner_language"], "owner_node_id": r["owner_node_id"]}
            g["rows"] = []
        g["rows"].append(r)
    for g in groups.values():
        g.update(stats(g["rows"]))
        g["rows"] = [{k: row[k] for k in OBJECT_COLUMNS} | {"owner_worker_id": row["owner_worker_id"]}
                     for row in g["rows"][:n]]
    totals = stats(rows)
    totals["store_used_bytes"] = sum(s["used"] for s in listing.stores.values())
    totals["store_capacity_bytes"] = sum(s["capacity"] for s in listing.stores.values())
    totals["store_objects"] = sum(s["objects"] for s in listing.stores.values())
    totals["references_counted"] = listing.total
    totals["processes"] = len(listing.processes)
    return {"group_by": group_by, "sort_by": sort_by, "groups": groups, "stats": totals,
            "stores": listing.stores, "partial_failure_warning": listing.warning(),
            "unanswered": listing.unanswered}


#: ``polyray list <kind>`` / ``polyray get <kind>``: the functions behind each kind.
LISTS: dict[str, Callable[..., list[dict]]] = {
    "actors": list_actors, "tasks": list_tasks, "nodes": list_nodes, "workers": list_workers,
    "jobs": list_jobs, "placement-groups": list_placement_groups, "objects": list_objects,
}
GETS: dict[str, Callable[..., dict | None]] = {
    "actors": get_actor, "tasks": get_task, "nodes": get_node, "workers": get_worker, "jobs": get_job,
    "placement-groups": get_placement_group, "objects": get_object,
}
SUMMARIES: dict[str, Callable[..., dict]] = {"tasks": summarize_tasks, "actors": summarize_actors,
                                             "objects": summarize_objects}


# ----------------------------------------------------------------- logs (polyray logs; util/logs.py)

LOG_COLUMNS = ("node_id", "filename", "size", "worker_id", "pid", "alive")


class LogNotFound(ValueError):
    """No log file matches (the REST API answers 404)."""


def _alive_raylets(address: str, timeout: float, node_id: str | None = None) -> list[tuple[bytes, str, str]]:
    """(node id, ip, raylet host:port) of the alive nodes (or of ``node_id``, a hex prefix)."""
    out = []
    for n in _nodes(address, timeout):
        if not n.alive or (node_id and not n.node_id.hex().startswith(node_id.lower())):
            continue
        out.append((n.node_id, n.raylet_address.host, f"{n.raylet_address.host}:{n.raylet_address.port}"))
    if node_id and not out:
        raise ValueError(f"no alive node {node_id}")
    return out


def list_logs(address: str | None = None, node_id: str | None = None, filters: Iterable[Filter] | None = None,
              limit: int | None = None, detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """The log files of every alive node (or of ``node_id``), read through each node's raylet:
    ``node_id, filename, size, worker_id, pid, alive`` (+ ``node_ip, mtime`` with ``detail``)."""
    from polyray.util import logs

    rows: list[dict] = []
    for nid, ip, target in _alive_raylets(resolve_address(address), timeout, node_id):
        try:
            reply = logs.list_node(target, timeout)
        except logs.LogError:
            continue  # the node went away meanwhile
        rows.extend(logs.file_row(nid, ip, f) for f in reply.files)
    return _finish(rows, _check_filters(filters), _limit(limit) if limit is not None else MAX_LIMIT,
                   None if detail else LOG_COLUMNS)


def locate_log(address: str | None = None, *, node_id: str | None = None, filename: str | None = None,
               worker_id: str | None = None, pid: int | None = None, actor_id: str | None = None,
               task_id: str | None = None, suffix: str = "out", timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Which file holds what was asked for: ``{"node_id", "raylet", "filename", "task_names", "note"}``
    (``task_names``: with ``task_id``, the names its lines are marked with). ValueError when
    nothing or more than one file matches."""
    from polyray.util import logs

    if suffix not in ("out", "err"):
        raise ValueError(f"suffix must be 'out' or 'err', got {suffix!r}")
    given = [k for k, v in (("filename", filename), ("worker_id", worker_id), ("pid", pid),
                            ("actor_id", actor_id), ("task_id", task_id)) if v not in (None, "")]
    if len(given) != 1:
        raise ValueError("give exactly one of filename, worker_id, pid, actor_id, task_id"
                         + (f" (got {', '.join(given)})" if given else ""))
    addr = resolve_address(address)
    note = ""
    task_names: list[str] = []
    if actor_id:
        actor = get_actor(actor_id, addr, timeout=timeout)
        if actor is None:
            raise ValueError(f"no actor {actor_id}")
        if not actor["worker_id"]:
            raise ValueError(f"actor {actor_id} has no worker (state {actor['state']})")
        worker_id, node_id = actor["worker_id"], actor["node_id"] or node_id
    elif task_id:
        task = get_task(task_id, addr, timeout=timeout)
        if task is None:
            raise ValueError(f"no task {task_id}")
        if not task["worker_id"] or task["worker_id"] == "0" * len(task["worker_id"]):
            raise ValueError(f"task {task_id} did not start on a worker (state {task['state']})")
        worker_id, node_id = task["worker_id"], task["node_id"] or node_id
        task_names = sorted(logs.marker_names(task["name"]))
    if filename:
        logs.check_name(filename)
    raylets = _alive_raylets(addr, timeout, node_id)
    if filename and node_id and len(raylets) == 1:
        # The node is known: its raylet checks the name and says whether the file is there.
        nid, _, target = raylets[0]
        return {"node_id": nid.hex(), "raylet": target, "filename": filename, "task_names": [], "note": "",
                "alive": False}
    files = [(nid, ip, target, row) for nid, ip, target in raylets for row in _node_files(logs, target, timeout)]
    if filename:
        match = [f for f in files if f[3].filename == filename]
    elif worker_id:
        prefix = worker_id.lower()[:16]
        match = [f for f in files if f[3].filename.startswith(f"worker-{prefix}-")
                 and f[3].filename.endswith("." + suffix)]
    else:
        match = [f for f in files if f[3].pid == pid and f[3].filename.endswith("." + suffix)]
        if not match:  # a worker that reports another pid than the one its raylet started
            by_pid = [w for w in list_workers(addr, [("pid", "=", str(pid))], limit=MAX_LIMIT, timeout=timeout)]
            ids = {w["worker_id"][:16] for w in by_pid}
            match = [f for f in files if any(f[3].filename.startswith(f"worker-{i}-") for i in ids)
                     and f[3].filename.endswith("." + suffix)]
    if not match:
        what = given[0].replace("_", " ")
        raise LogNotFound(f"no log file of {what} {filename or worker_id or pid or actor_id or task_id}"
                         + (f" on node {node_id}" if node_id else " on the alive nodes"))
    if len(match) > 1:
        raise ValueError("more than one log file matches: " + ", ".join(
            f"{f[3].filename} (node {f[0].hex()[:12]})" for f in match[:10]) + "; give node_id or filename")
    nid, _, target, row = match[0]
    if task_id:
        note = f"task {task_id} ran on worker {worker_id[:16]}"
    return {"node_id": nid.hex(), "raylet": target, "filename": row.filename, "task_names": task_names,
            "task_id": (task_id or "").lower(), "note": note, "alive": row.alive}


def _node_files(logs: Any, target: str, timeout: float) -> list:
    try:
        return list(logs.list_node(target, timeout).files)
    except logs.LogError:
        return []


def get_log(address: str | None = None, *, node_id: str | None = None, filename: str | None = None,
            worker_id: str | None = None, pid: int | None = None, actor_id: str | None = None,
            task_id: str | None = None, suffix: str = "out", tail: int = -1, follow: bool = False,
            follow_until_exit: bool = True, follow_timeout: float | None = None,
            timeout: float = DEFAULT_TIMEOUT_S, notes: list[str] | None = None) -> Iterator[str]:
    """The text of a log file, in chunks (as Ray's ``get_log``): the file given by name (and
    ``node_id`` when several nodes have one), or a worker's, a pid's, an actor's worker's, or a
    task's lines (see ``locate_log``); ``suffix`` "out" or "err"; ``tail`` N: the last N lines
    (of a task's: the last N of its lines); ``follow``: then what is written, until the writer
    exits (``follow_until_exit``), or ``follow_timeout`` seconds pass, or the caller stops.
    ``notes`` (a list) gets a line saying how a task's lines were found.

    A task's lines: a Python worker marks each task's output (``:polyray_task:<id>`` lines,
    core/task_output.py), so they are exactly its own; a Java or C++ worker marks only a change
    of function (``:polyray_name:``), so they are the lines under the task's name, other tasks
    of that name on that worker included; a file with neither mark is shown whole."""
    import time as _time

    from polyray.util import logs

    where = locate_log(address, node_id=node_id, filename=filename, worker_id=worker_id, pid=pid,
                       actor_id=actor_id, task_id=task_id, suffix=suffix, timeout=timeout)
    target, name = where["raylet"], where["filename"]
    try:
        cut = bool(where.get("task_id"))
        if tail is not None and tail >= 0 and not cut:
            page = logs.read_page(target, name, tail_lines=max(tail, 1), max_bytes=1024 * 1024, timeout=timeout)
            data, offset = (page.data if tail > 0 else b""), page.size
        else:
            data, offset, _ = logs.read_from(target, name, 0, timeout)
        text = data.decode("utf-8", errors="replace")
        if cut:
            note = where["note"]
            section = logs.task_section(text, where["task_id"])
            if section is not None:
                text = section
                note += (": its lines, between its task marks" if section else
                         ": it printed nothing to this file")
            else:
                section = logs.task_lines(text, set(where["task_names"]))
                if section is not None:
                    text = section
                    note += (": the lines under the task's name (this worker marks a change of function, not "
                             "each task: other tasks of that name on it may be among them)")
                else:
                    note += ": the worker's whole file (it has no marks of the task)"
            if notes is not None:
                notes.append(note)
            if tail is not None and tail >= 0:
                text = "".join(text.splitlines(keepends=True)[-tail:]) if tail > 0 else ""
        yield text
        if follow:
            deadline = None if follow_timeout is None else _time.monotonic() + follow_timeout
            for chunk in logs.follow(target, name, offset, timeout=timeout, until_writer_exits=follow_until_exit,
                                     deadline=deadline):
                yield chunk.decode("utf-8", errors="replace")
    except logs.LogError as e:
        if e.code == "NOT_FOUND":
            raise LogNotFound(str(e)) from None
        if e.code == "INVALID_ARGUMENT":
            raise ValueError(f"refused: {e}") from None
        raise StateApiError(str(e)) from None
