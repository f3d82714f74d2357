"""Nodes, jobs, workers and placement groups (polyray.util.state)."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc
from polyray.util.state._common import (
    _PG_STATES,
    DEFAULT_TIMEOUT_S,
    Filter,
    _call,
    _check_filters,
    _finish,
    _hex,
    _language,
    _limit,
    _matches,
    _nodes,
    resolve_address,
)

NODE_COLUMNS = ("node_id", "state", "node_ip", "resources_total")


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
        "entrypoint": j.entrypoint, "metadata": dict(j.metadata),  # JobConfig(metadata=...)
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
