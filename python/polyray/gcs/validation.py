"""Checks on request fields; each failure is an INVALID_ARGUMENT naming the field.

ID sizes follow proto/polyray/protocol/common.proto (the IDs module of
polyray.protocol may grow its own constants; these must stay equal to them).
"""

from __future__ import annotations

import math
from typing import Mapping

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
