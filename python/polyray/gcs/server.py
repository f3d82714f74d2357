"""The GCS process: a grpc.aio server for GcsService over the tables.

Requests are parsed here rather than by grpc, so a malformed or truncated
message is answered INVALID_ARGUMENT (grpc's own deserializer failure would
be INTERNAL) and the server keeps serving.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import message as protobuf_message

from polyray.protocol import auth, gcs_pb2, validation

from .actor_directory import ActorDirectory
from .background import log
from .clients import ClientPool
from .config import GcsConfig
from .dead_workers import DeadWorkers
from .errors import GcsError
from .function_table import FunctionTable
from .job_table import JobTable
from .kv import KVStore
from .label_warnings import LabelWarnings
from .log_channel import LogChannel
from .node_table import NodeTable
from .placement_groups import PlacementGroups
from .placement_scheduler import PlacementScheduler
from .storage import InMemoryStorage, Storage
from .task_events import TaskEvents

SERVICE = "polyray.rpc.GcsService"

#: Requests whose handler makes the walk's checks itself, faster: task event
#: batches (10,000 events; the generic walk cost ~10 us per event).
SELF_CHECKED: frozenset[type[protobuf_message.Message]] = frozenset({gcs_pb2.AddTaskEventsRequest})

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def _serialize(message: protobuf_message.Message) -> bytes:
    return message.SerializeToString()


async def _parse(request_type: type[protobuf_message.Message], raw: bytes, context: grpc.aio.ServicerContext) -> Any:
    try:
        request = request_type.FromString(raw)
    except (protobuf_message.DecodeError, RuntimeWarning, ValueError) as err:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"malformed {request_type.DESCRIPTOR.name}: {err}"
        )
    if request_type in SELF_CHECKED:
        return request
    try:
        # Ids by their spec sizes, enum values, string and list lengths, depth
        # (polyray.protocol.validation); the handlers check what is required.
        validation.check_message(request)
    except validation.InvalidInput as err:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
    return request


async def _fail(method: str, err: Exception, context: grpc.aio.ServicerContext) -> None:
    if isinstance(err, GcsError):
        await context.abort(err.code, err.message)
    log.exception("GcsService/%s failed", method)
    await context.abort(grpc.StatusCode.INTERNAL, f"GcsService/{method} failed: {type(err).__name__}: {err}")


def _unary(method: str, request_type: type[protobuf_message.Message], handler: Handler) -> grpc.RpcMethodHandler:
    async def call(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        request = await _parse(request_type, raw, context)
        try:
            return await handler(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as err:  # noqa: BLE001 - every failure becomes a status
            await _fail(method, err, context)

    return grpc.unary_unary_rpc_method_handler(call, response_serializer=_serialize)


def _server_stream(
    method: str, request_type: type[protobuf_message.Message], handler: StreamHandler
) -> grpc.RpcMethodHandler:
    async def call(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        request = await _parse(request_type, raw, context)
        try:
            async for item in handler(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as err:  # noqa: BLE001
            await _fail(method, err, context)

    return grpc.unary_stream_rpc_method_handler(call, response_serializer=_serialize)


class GcsServer:
    """The GCS: node, job, actor, KV, function and placement group tables plus
    the log channel, served over gRPC."""

    def __init__(self, config: GcsConfig | None = None, storage: Storage | None = None) -> None:
        """Create a server; ``storage`` defaults to a fresh in-memory one."""
        self.config = config or GcsConfig()
        self.storage = storage if storage is not None else InMemoryStorage()
        self._pool = ClientPool(self.config.grpc_options())
        self.nodes = NodeTable(self.storage, self.config)
        self.jobs = JobTable(self.storage)
        self.actors = ActorDirectory(self.storage, self.config, self.nodes, self.jobs, self._pool)
        self.kv = KVStore(self.storage)
        self.functions = FunctionTable(self.storage)
        self.logs = LogChannel(self.config.log_queue_size)
        self.logs.raylet = self._pool.raylet
        self.logs.raylet_addresses = lambda: [n.raylet_address for n in self.nodes.alive_nodes()]
        self.actors.label_warnings = LabelWarnings(self.logs.offer)
        self.jobs.finished_listeners.append(self.actors.label_warnings.forget)
        self.placement_groups = PlacementGroups(
            self.storage, lambda on_created: PlacementScheduler(self.nodes, self._pool, self.config, on_created))
        self.actors.placement_groups = self.placement_groups
        self.nodes.node_dead_listeners.append(self.placement_groups.on_node_dead)
        self.nodes.resources_listeners.append(self.placement_groups.on_resources_changed)
        self.placement_groups.created_listeners.append(self.actors.on_resources_changed)
        self.nodes.node_dead_listeners.append(self.actors.on_node_dead)
        self.nodes.resources_listeners.append(self.actors.on_resources_changed)
        self.jobs.finished_listeners.append(self.actors.on_job_finished)
        self.jobs.finished_listeners.append(self.placement_groups.on_job_finished)
        self.dead_workers = DeadWorkers(self.nodes, self.jobs)
        self.jobs.finished_listeners.append(self.dead_workers.on_job_finished)
        self.actors.worker_death_listeners.append(self.dead_workers.record)
        self.task_events = TaskEvents()
        self._server: grpc.aio.Server | None = None
        self._host = ""
        self._port = 0

    def _handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        components: list[object] = [
            self.nodes, self.jobs, self.actors, self.kv, self.functions, self.logs, self.placement_groups,
            self.dead_workers, self.task_events,
        ]
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        service = gcs_pb2.DESCRIPTOR.services_by_name["GcsService"]
        for method in service.methods:
            owner = next((c for c in components if hasattr(c, method.name)), None)
            if owner is None:
                raise RuntimeError(f"no GCS component implements GcsService/{method.name}")
            request_type = getattr(gcs_pb2, method.input_type.name)
            implementation = getattr(owner, method.name)
            if method.server_streaming:
                handlers[method.name] = _server_stream(method.name, request_type, implementation)
            else:
                handlers[method.name] = _unary(method.name, request_type, implementation)
        return handlers

    @property
    def address(self) -> str:
        """``host:port`` the server listens on (after :meth:`start`)."""
        return f"{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Load the tables from storage, bind, and serve; returns the bound port."""
        await self.nodes.load()
        await self.jobs.load()
        await self.actors.load()
        await self.placement_groups.load()
        # Every call checks the cluster token; no SO_REUSEPORT, so a second
        # head on a used port fails instead of sharing it (docs/security.md).
        from polyray.gcs import rpc_metrics  # RPC latency histogram for /metrics (issue 16)
        interceptors = auth.server_interceptors() + ([rpc_metrics.RpcLatencyInterceptor()]
                                                     if rpc_metrics.enabled() else [])
        server = grpc.aio.server(options=self.config.grpc_options() + [auth.NO_REUSEPORT],
                                 interceptors=interceptors)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, self._handlers()),))
        bound = auth.bind(server, f"{host}:{port}", "the GCS")
        await server.start()
        self._server, self._host, self._port = server, host, bound
        self.nodes.start()
        self.actors.start()
        self.placement_groups.start()
        log.info("GCS listening on %s", self.address)
        return bound

    async def stop(self, grace: float = 0.5) -> None:
        """Stop serving and every background activity, then close storage."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        await self.nodes.stop()
        await self.actors.stop()
        await self.jobs.stop()
        await self.placement_groups.stop()
        await self._pool.close()
        await self.storage.close()

    async def wait_for_termination(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()


async def _serve(args: argparse.Namespace) -> None:
    config = GcsConfig(node_timeout_s=args.node_timeout_s)
    server = GcsServer(config)
    port = await server.start(args.host, args.port)
    print(f"GCS listening on {args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m polyray.gcs --port N``: run a GCS until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m polyray.gcs", description="Run the polyray GCS.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    parser.add_argument(
        "--node-timeout-s", type=float, default=GcsConfig.node_timeout_s,
        help="declare a node dead after this long without a heartbeat",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args))
