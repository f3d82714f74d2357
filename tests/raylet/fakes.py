"""Test doubles for the raylet: a real gRPC GCS that records what it is told,
a launcher that starts tests/raylet/fake_worker.py, and a harness that runs a
raylet against both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc

from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc
from polyray.raylet import (
    LaunchCommand,
    LaunchContext,
    LauncherRegistry,
    NodeConfig,
    RayletServer,
    WorkerLauncher,
)
from polyray.raylet.launchers import python_path

FAKE_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_worker.py")
JOB_ID = bytes.fromhex("01000000")


class FakeGcs(gcs_pb2_grpc.GcsServiceServicer):
    """A real GcsService server recording RegisterNode, Heartbeat,
    UnregisterNode, PublishLogs and ReportWorkerDeath."""

    def __init__(self, heartbeat_interval_s: float = 0.1) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.registered: list[gcs_pb2.NodeInfo] = []
        self.heartbeats: list[gcs_pb2.HeartbeatRequest] = []
        self.unregistered: list[gcs_pb2.UnregisterNodeRequest] = []
        self.logs: list[gcs_pb2.LogBatch] = []
        self.deaths: list[gcs_pb2.ReportWorkerDeathRequest] = []
        #: Answer heartbeats with node_dead=True when set.
        self.node_dead = False
        self._server: grpc.aio.Server | None = None
        self.address = ""

    async def start(self) -> str:
        """Serve on an ephemeral port of 127.0.0.1; the address."""
        self._server = grpc.aio.server()
        gcs_pb2_grpc.add_GcsServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            await self._server.stop(grace=None)

    async def RegisterNode(self, request, context):  # noqa: N802 (gRPC names)
        self.registered.append(request.node)
        return gcs_pb2.RegisterNodeReply(heartbeat_interval_s=self.heartbeat_interval_s)

    async def Heartbeat(self, request, context):  # noqa: N802
        self.heartbeats.append(request)
        return gcs_pb2.HeartbeatReply(node_dead=self.node_dead)

    async def UnregisterNode(self, request, context):  # noqa: N802
        self.unregistered.append(request)
        return gcs_pb2.UnregisterNodeReply()

    async def GetAllNodes(self, request, context):  # noqa: N802
        return gcs_pb2.GetAllNodesReply(nodes=self.registered)

    async def PublishLogs(self, request, context):  # noqa: N802
        self.logs.extend(request.batches)
        return gcs_pb2.PublishLogsReply()

    async def ReportWorkerDeath(self, request, context):  # noqa: N802
        self.deaths.append(request)
        return gcs_pb2.ReportWorkerDeathReply()

    def log_lines(self, pid: int | None = None, is_error: bool | None = None) -> list[str]:
        """Every forwarded line, optionally of one pid / stream."""
        return [
            line
            for batch in self.logs
            if (pid is None or batch.pid == pid) and (is_error is None or batch.is_error == is_error)
            for line in batch.lines
        ]


class FakeWorkerLauncher(WorkerLauncher):
    """Starts fake_worker.py with the raylet's POLYRAY_* environment plus
    ``extra_env`` (FAKE_WORKER_MODE=crash|hang|exit, ...), read at each launch."""

    def __init__(self) -> None:
        self.extra_env: dict[str, str] = {}
        self.launched: list[LaunchContext] = []

    def build(self, ctx: LaunchContext) -> LaunchCommand:
        """The fake worker's command."""
        self.launched.append(ctx)
        env = dict(os.environ)
        env.update(ctx.polyray_env())
        env["PYTHONPATH"] = python_path(ctx, env)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return LaunchCommand(argv=[sys.executable, FAKE_WORKER], env=env)


async def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until true; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def task_spec(
    task_id: bytes | None = None,
    *,
    resources: dict[str, float] | None = None,
    task_type: int = common_pb2.NORMAL_TASK,
    job_id: bytes = JOB_ID,
    language: int = common_pb2.PYTHON,
) -> common_pb2.TaskSpec:
    """A minimal TaskSpec for lease requests."""
    spec = common_pb2.TaskSpec(
        type=task_type,
        language=language,
        job_id=job_id,
        task_id=task_id or os.urandom(24),
        name="tests.f",
        code_search_path=["/nonexistent/code"],
    )
    spec.function.python.module = "tests"
    spec.function.python.qualname = "f"
    if task_type == common_pb2.ACTOR_CREATION_TASK:
        spec.actor_id = os.urandom(16)
    for name, amount in (resources or {}).items():
        spec.resources[name] = amount
    return spec


@dataclass
class Harness:
    """A fake GCS, a raylet using the fake launcher, and a stub to the raylet."""

    gcs: FakeGcs
    raylet: RayletServer
    stub: raylet_pb2_grpc.RayletServiceStub
    channel: grpc.aio.Channel
    launcher: FakeWorkerLauncher
    config: NodeConfig

    async def lease(self, spec: common_pb2.TaskSpec | None = None, timeout: float = 20.0,
                    **kwargs: object) -> raylet_pb2.RequestWorkerLeaseReply:
        """RequestWorkerLease for ``spec`` (default: a fresh 1-CPU task)."""
        spec = spec if spec is not None else task_spec(**kwargs)  # type: ignore[arg-type]
        return await self.stub.RequestWorkerLease(
            raylet_pb2.RequestWorkerLeaseRequest(task=spec), timeout=timeout
        )

    async def give_back(self, reply: raylet_pb2.RequestWorkerLeaseReply, disconnect: bool = False) -> None:
        """ReturnWorker for a granted lease."""
        await self.stub.ReturnWorker(
            raylet_pb2.ReturnWorkerRequest(
                lease_id=reply.lease_id, worker_id=reply.worker_address.worker_id,
                disconnect=disconnect,
            ),
            timeout=5,
        )

    async def stats(self) -> raylet_pb2.GetNodeStatsReply:
        """GetNodeStats."""
        return await self.stub.GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=5)


@contextlib.asynccontextmanager
async def running_raylet(tmp_path: object, **overrides: object) -> AsyncIterator[Harness]:
    """A raylet (2 CPUs, 8 MiB store, short timeouts) against a fake GCS."""
    gcs = FakeGcs()
    address = await gcs.start()
    launcher = FakeWorkerLauncher()
    settings: dict[str, object] = dict(
        gcs_address=address,
        resources={"CPU": 2.0},
        object_store_memory=8 << 20,
        session_dir=os.path.join(str(tmp_path), "logs"),
        worker_start_timeout_s=20.0,
        idle_worker_timeout_s=30.0,
        worker_kill_grace_s=1.0,
        log_flush_interval_s=0.05,
    )
    settings.update(overrides)
    config = NodeConfig(**settings)  # type: ignore[arg-type]
    raylet = RayletServer(config, LauncherRegistry({common_pb2.PYTHON: launcher}))
    port = await raylet.start()
    channel = auth.aio_channel(f"127.0.0.1:{port}")
    harness = Harness(gcs, raylet, raylet_pb2_grpc.RayletServiceStub(channel), channel, launcher, config)
    try:
        yield harness
    finally:
        await channel.close()
        await raylet.stop()
        await gcs.stop()
