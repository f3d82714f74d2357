"""RPC latency of the GCS service as a Prometheus histogram (issue 16).

``polyray_grpc_server_req_process_time_ms{Method}``: the time each unary
call's handler took in the GCS (Ray's ``grpc_server_req_process_time_ms``),
in prometheus_client's default registry, which the dashboard's ``/metrics``
exports (the dashboard runs in the head's process). Streaming calls are not
timed. ``POLYRAY_GCS_RPC_METRICS=0`` leaves the interceptor out (measured
cost: docs/observability.md "Metrics").
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Histogram

LATENCY = Histogram(
    "polyray_grpc_server_req_process_time_ms", "Time a GCS unary call's handler took, milliseconds.",
    ["Method"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000))


def enabled() -> bool:
    return os.environ.get("POLYRAY_GCS_RPC_METRICS", "1") != "0"


class RpcLatencyInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every unary-unary handler with a timer."""

    def __init__(self) -> None:
        self._children: dict[str, Any] = {}

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        child = self._children.get(method)
        if child is None:
            child = self._children[method] = LATENCY.labels(method)
        inner = handler.unary_unary

        async def timed(request: Any, context: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await inner(request, context)
            finally:
                child.observe((time.perf_counter() - t0) * 1000.0)

        return handler._replace(unary_unary=timed)
