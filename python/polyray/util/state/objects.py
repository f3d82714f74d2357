"""Objects and memory: the references every process holds, gathered through each node's raylet
(polyray.util.state; `polyray list objects`, `polyray memory`)."""

from __future__ import annotations

import concurrent.futures
import warnings
from collections.abc import Iterable

import grpc

from polyray.protocol import auth, core_worker_pb2, gcs_pb2, raylet_pb2, raylet_pb2_grpc
from polyray.protocol.runtime_spec import RPC_MAX_MESSAGE_BYTES, STATE_LIST_OBJECTS_TIMEOUT_MS
from polyray.util.state._common import (
    DEFAULT_TIMEOUT_S,
    MAX_LIMIT,
    Filter,
    StateApiError,
    _check_filters,
    _finish,
    _hex,
    _language,
    _limit,
    _matches,
    _nodes,
    resolve_address,
)

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
