"""Checks on request fields; each failure is an INVALID_ARGUMENT naming the field.

ID sizes follow proto/polyray/protocol/common.proto (the IDs module of
polyray.protocol may grow its own constants; these must stay equal to them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from polyray.protocol import common_pb2

from .errors import invalid_argument

JOB_ID_SIZE = 4
ACTOR_ID_SIZE = 16
TASK_ID_SIZE = 24
NODE_ID_SIZE = 28
WORKER_ID_SIZE = 28
PLACEMENT_GROUP_ID_SIZE = 18


def check_id(value: bytes, field: str, size: int, *, optional: bool = False) -> None:
    """Require ``value`` to be exactly ``size`` bytes (or empty when ``optional``)."""
    if optional and not value:
        return
    if len(value) != size:
        raise invalid_argument(f"{field} must be {size} bytes, got {len(value)}")


def check_resources(resources: Mapping[str, float], field: str) -> None:
    """Require every amount to be finite and non-negative, every name non-empty."""
    for name, amount in resources.items():
        if not name:
            raise invalid_argument(f"{field} has an empty resource name")
        if not math.isfinite(amount) or amount < 0:
            raise invalid_argument(
                f"{field}[{name!r}] must be a finite number >= 0, got {amount}"
            )


def check_address(address: common_pb2.Address, field: str) -> None:
    """Require a reachable host and port."""
    if not address.host:
        raise invalid_argument(f"{field}.host must not be empty")
    if not 0 < address.port < 65536:
        raise invalid_argument(f"{field}.port must be in 1..65535, got {address.port}")


def target(address: common_pb2.Address) -> str:
    """The gRPC target string of an address (IPv6 hosts bracketed)."""
    host = address.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{address.port}"


def validate_creation_task(spec: common_pb2.TaskSpec) -> None:
    """Check an actor creation TaskSpec (RegisterActor); INVALID_ARGUMENT naming the field."""
    if spec.type != common_pb2.ACTOR_CREATION_TASK:
        raise invalid_argument(
            f"creation_task.type must be ACTOR_CREATION_TASK, got {common_pb2.TaskType.Name(spec.type)}"
        )
    check_id(spec.actor_id, "creation_task.actor_id", ACTOR_ID_SIZE)
    check_id(spec.job_id, "creation_task.job_id", JOB_ID_SIZE)
    check_id(spec.task_id, "creation_task.task_id", TASK_ID_SIZE)
    if spec.actor_id[-JOB_ID_SIZE:] != spec.job_id:
        raise invalid_argument("creation_task.actor_id must end with creation_task.job_id")
    if spec.function.WhichOneof("kind") is None:
        raise invalid_argument("creation_task.function must be set")
    check_resources(spec.resources, "creation_task.resources")
    if spec.max_restarts < -1:
        raise invalid_argument(
            f"creation_task.max_restarts must be >= -1 (-1 = infinite), got {spec.max_restarts}"
        )
    check_id(spec.caller.node_id, "creation_task.caller.node_id", NODE_ID_SIZE, optional=True)
    strategy = spec.scheduling
    if strategy.kind == common_pb2.SCHEDULING_NODE_AFFINITY:
        check_id(strategy.node_id, "creation_task.scheduling.node_id", NODE_ID_SIZE)
    elif strategy.kind == common_pb2.SCHEDULING_PLACEMENT_GROUP:
        check_id(
            strategy.placement_group_id, "creation_task.scheduling.placement_group_id", PLACEMENT_GROUP_ID_SIZE
        )
