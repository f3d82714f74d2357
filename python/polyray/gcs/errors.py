"""Errors the GCS raises inside handlers, and helpers that build ErrorRecords.

Handlers raise :class:`GcsError`; the server turns it into a gRPC status with
the same code and message, so every rejection names what was wrong.
"""

from __future__ import annotations

import grpc

from polyray.protocol import common_pb2


class GcsError(Exception):
    """A request the GCS refuses: carries the gRPC status code to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        """Create an error answered as ``code`` with ``message``."""
        super().__init__(message)
        self.code = code
        self.message = message


def invalid_argument(message: str) -> GcsError:
    """A request with a malformed or out-of-range field."""
    return GcsError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> GcsError:
    """A request about something the GCS does not know."""
    return GcsError(grpc.StatusCode.NOT_FOUND, message)


def already_exists(message: str) -> GcsError:
    """A request that would take a name or ID already in use."""
    return GcsError(grpc.StatusCode.ALREADY_EXISTS, message)


def failed_precondition(message: str) -> GcsError:
    """A request that is valid but not in the current state (e.g. a finished job)."""
    return GcsError(grpc.StatusCode.FAILED_PRECONDITION, message)


# Type names of system failures, the same in every language (docs/protocol.md §7.6).
_TYPE_NAMES: dict[int, str] = {
    common_pb2.WORKER_CRASHED: "WorkerCrashedError",
    common_pb2.ACTOR_DIED: "ActorDiedError",
    common_pb2.NODE_DIED: "NodeDiedError",
    common_pb2.RUNTIME_ERROR: "RuntimeError",
}


def error_record(
    kind: int,
    message: str,
    cause: common_pb2.ErrorRecord | None = None,
    type_name: str = "",
) -> common_pb2.ErrorRecord:
    """Build an ErrorRecord raised by the GCS (language PYTHON, no traceback)."""
    record = common_pb2.ErrorRecord(
        kind=kind,  # type: ignore[arg-type]
        type_name=type_name or _TYPE_NAMES.get(kind, "PolyrayError"),
        message=message,
        language=common_pb2.PYTHON,
    )
    if cause is not None and cause.ByteSize() > 0:
        record.cause.CopyFrom(cause)
    return record
