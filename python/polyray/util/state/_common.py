"""The state API's plumbing: where the cluster is, calls, filters, limits (polyray.util.state)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc

from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc

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

_TASK_STATE_NAMES = {v.number: v.name for v in gcs_pb2.TaskEventState.DESCRIPTOR.values}
_LANGUAGE_NAMES = {v.number: v.name for v in common_pb2.Language.DESCRIPTOR.values}
_TYPE_NAMES = {v.number: v.name for v in common_pb2.TaskType.DESCRIPTOR.values}
_ERROR_NAMES = {v.number: v.name for v in common_pb2.ErrorKind.DESCRIPTOR.values}


def _nodes(address: str, timeout: float) -> list[gcs_pb2.NodeInfo]:
    return list(_call(address, lambda s: s.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=timeout).nodes))
