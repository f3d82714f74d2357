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

import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc

from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc

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


def task_row(t: gcs_pb2.TaskRow) -> dict:
    """A TaskRow as the state API shows it (every column)."""
    start = t.running_ns
    end = t.finished_ns or t.failed_ns
    return {
        "task_id": _hex(t.task_id), "attempt_number": t.attempt, "name": t.name,
        "state": _TASK_STATES.Name(t.state), "language": _language(t.language),
        "type": common_pb2.TaskType.Name(t.type), "job_id": _hex(t.job_id), "actor_id": _hex(t.actor_id),
        "node_id": _hex(t.node_id), "worker_id": _hex(t.worker_id), "worker_pid": t.worker_pid,
        "parent_task_id": _hex(t.parent_task_id),
        "error_type": common_pb2.ErrorKind.Name(t.error_kind) if t.state == gcs_pb2.FAILED else "",
        "error_message": t.error_message,
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
    rows = (task_row(r) for _, r in _task_pages(resolve_address(address), req, timeout))
    return _finish(rows, rest, n, None if detail else TASK_COLUMNS)


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


def summarize_tasks(address: str | None = None, filters: Iterable[Filter] | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Task attempts by name: ``{"summary": {name: {"language", "type", "state_counts"}}, "total": N}``
    (over every row the GCS keeps, not only the first ``limit``)."""
    fs = _check_filters(filters)
    req, rest = _task_request(fs)
    summary: dict[str, dict] = {}
    total = 0
    for _, r in _task_pages(resolve_address(address), req, timeout):
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


def actor_row(a: gcs_pb2.ActorInfo) -> dict:
    cause = a.death_cause if a.HasField("death_cause") else None
    return {
        "actor_id": _hex(a.actor_id), "class_name": a.class_name, "state": _ACTOR_STATES.Name(a.state),
        "language": _language(a.handle.language), "name": a.handle.name, "namespace": a.handle.namespace,
        "job_id": _hex(a.job_id), "node_id": _hex(a.node_id), "pid": a.pid, "num_restarts": a.num_restarts,
        "address": f"{a.address.host}:{a.address.port}" if a.address.port else "",
        "worker_id": _hex(a.address.worker_id), "is_async": a.handle.is_async,
        "death_cause": (f"{common_pb2.ErrorKind.Name(cause.kind)}: {cause.message}" if cause is not None else ""),
    }


def list_actors(address: str | None = None, filters: Iterable[Filter] | None = None, limit: int | None = None,
                detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Actors of every job (or of ``job_id`` given as a filter)."""
    fs = _check_filters(filters)
    job = next((bytes.fromhex(str(v)) for k, op, v in fs if k == "job_id" and op == "="), b"")
    actors = _call(resolve_address(address),
                   lambda s: s.ListActors(gcs_pb2.ListActorsRequest(job_id=job), timeout=timeout).actors)
    return _finish((actor_row(a) for a in actors), fs, _limit(limit), None if detail else ACTOR_COLUMNS)


def get_actor(actor_id: str, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    rows = list_actors(address, [("actor_id", "=", actor_id)], limit=1, detail=True, timeout=timeout)
    return rows[0] if rows else None


def summarize_actors(address: str | None = None, filters: Iterable[Filter] | None = None,
                     timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Actors by class: ``{"summary": {class: {"language", "state_counts"}}, "total": N}``."""
    rows = list_actors(address, filters, limit=MAX_LIMIT, detail=True, timeout=timeout)
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
    """Placement groups (needs the GCS's ListPlacementGroups; empty when it has none)."""
    def ask(stub: gcs_pb2_grpc.GcsServiceStub) -> list:
        method = getattr(stub, "ListPlacementGroups", None)
        request_type = getattr(gcs_pb2, "ListPlacementGroupsRequest", None)
        if method is None or request_type is None:
            return []
        return list(method(request_type(), timeout=timeout).groups)
    groups = _call(resolve_address(address), ask)
    return _finish((placement_group_row(g) for g in groups), _check_filters(filters), _limit(limit),
                   None if detail else PLACEMENT_GROUP_COLUMNS)


def get_placement_group(placement_group_id: str, address: str | None = None,
                        timeout: float = DEFAULT_TIMEOUT_S) -> dict | None:
    reply = _call(resolve_address(address), lambda s: s.GetPlacementGroup(
        gcs_pb2.GetPlacementGroupRequest(placement_group_id=bytes.fromhex(placement_group_id)), timeout=timeout))
    return placement_group_row(reply.group) if reply.HasField("group") else None


#: ``polyray list <kind>`` / ``polyray get <kind>``: the functions behind each kind.
LISTS: dict[str, Callable[..., list[dict]]] = {
    "actors": list_actors, "tasks": list_tasks, "nodes": list_nodes, "workers": list_workers,
    "jobs": list_jobs, "placement-groups": list_placement_groups,
}
GETS: dict[str, Callable[..., dict | None]] = {
    "actors": get_actor, "tasks": get_task, "nodes": get_node, "workers": get_worker, "jobs": get_job,
    "placement-groups": get_placement_group,
}
SUMMARIES: dict[str, Callable[..., dict]] = {"tasks": summarize_tasks, "actors": summarize_actors}
