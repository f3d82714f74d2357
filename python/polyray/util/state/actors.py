"""Actors (polyray.util.state)."""

from __future__ import annotations

from collections.abc import Iterable

from polyray.protocol import common_pb2, gcs_pb2
from polyray.util.state._common import (
    _ACTOR_STATES,
    _LANGUAGE_NAMES,
    DEFAULT_TIMEOUT_S,
    Filter,
    _call,
    _check_filters,
    _finish,
    _language,
    _limit,
    resolve_address,
)

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
