"""The guard every gRPC handler of a polyray service runs behind.

Shared by the raylet's and the CoreWorker's services (the GCS has its own
error type). A request whose bytes do not decode, or that fails the caller's
check, reaches the handler as ``Malformed`` and is answered INVALID_ARGUMENT
with the reason (gRPC's own deserializer would answer INTERNAL); an
``invalid`` exception raised by a handler becomes INVALID_ARGUMENT with its
message; any other exception INTERNAL, logged. One bad call never stops a
server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

log = logging.getLogger(__name__)


class Malformed:
    """Stands in for a request whose bytes did not decode (or failed its check)."""

    def __init__(self, error: str) -> None:
        self.error = error


def safe_deserializer(cls: type[Message], check: Callable[[Message], None] | None = None,
                      invalid: tuple[type[Exception], ...] = ()) -> Callable[[bytes], Any]:
    """A request deserializer that returns ``Malformed`` instead of raising;
    ``check`` (raising one of ``invalid``) runs on every decoded request."""
    def deserialize(data: bytes) -> Any:
        try:
            request = cls.FromString(data)
        except (DecodeError, RuntimeWarning, ValueError) as exc:
            return Malformed(str(exc) or type(exc).__name__)
        if check is not None:
            try:
                check(request)
            except invalid as exc:
                return Malformed(str(exc))
        return request

    return deserialize


def guard_unary(service: str, name: str, impl: Callable[..., Awaitable[Message]],
                invalid: tuple[type[Exception], ...]) -> Callable[..., Awaitable[Message]]:
    """``impl`` behind the guard (see module docstring)."""
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Message:
        if isinstance(request, Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed {name} request: {request.error}")
        try:
            return await impl(request, context)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except invalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: {exc}")
        except Exception as exc:
            log.exception("%s/%s failed", service, name)
            await context.abort(grpc.StatusCode.INTERNAL, f"{name} failed: {type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")  # abort() always raises

    return handler


def guard_stream(service: str, name: str, impl: Callable[..., AsyncIterator[Message]],
                 invalid: tuple[type[Exception], ...]) -> Callable[..., AsyncIterator[Message]]:
    """A server-streaming ``impl`` behind the guard."""
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
        if isinstance(request, Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed {name} request: {request.error}")
        try:
            async for item in impl(request, context):
                yield item
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except invalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: {exc}")
        except Exception as exc:
            log.exception("%s/%s failed", service, name)
            await context.abort(grpc.StatusCode.INTERNAL, f"{name} failed: {type(exc).__name__}: {exc}")

    return handler
