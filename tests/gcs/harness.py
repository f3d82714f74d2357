"""A GCS on an ephemeral port with a client stub, fake nodes, and spec builders."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from polyray.gcs import GcsConfig, GcsServer, Storage
from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc

from .fakes import FakeRaylet, WorkerBehaviour

RPC_TIMEOUT = 5.0


def run(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async test body with plain asyncio.run (no plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


class Cluster:
    """A running GCS, a stub to it, and the fake raylets started for a test."""

    def __init__(self, server: GcsServer, channel: grpc.aio.Channel) -> None:
        self.server = server
        self.channel = channel
        self.stub = gcs_pb2_grpc.GcsServiceStub(channel)
        self.raylets: list[FakeRaylet] = []

    async def add_node(
        self, resources: dict[str, float] | None = None, *, worker_behaviour: WorkerBehaviour = "ready",
        register: bool = True,
    ) -> FakeRaylet:
        """Start a fake raylet and (by default) register its node."""
        raylet = FakeRaylet(worker_behaviour=worker_behaviour)
        await raylet.start()
        self.raylets.append(raylet)
        if register:
            await self.register(raylet, resources)
        return raylet

    async def register(self, raylet: FakeRaylet, resources: dict[str, float] | None = None) -> None:
        """Register ``raylet``'s node with the GCS."""
        info = raylet.node_info(resources if resources is not None else {"CPU": 4.0})
        await self.stub.RegisterNode(gcs_pb2.RegisterNodeRequest(node=info), timeout=RPC_TIMEOUT)

    async def new_job(self, namespace: str = "") -> bytes:
        """AddJob; returns the JobID."""
        reply = await self.stub.AddJob(
            gcs_pb2.AddJobRequest(job=gcs_pb2.JobInfo(namespace=namespace, driver_pid=os.getpid())),
            timeout=RPC_TIMEOUT,
        )
        return reply.job_id

    async def register_actor(self, spec: common_pb2.TaskSpec) -> bytes:
        """RegisterActor; returns the ActorID."""
        await self.stub.RegisterActor(gcs_pb2.RegisterActorRequest(creation_task=spec), timeout=RPC_TIMEOUT)
        return spec.actor_id

    async def info(self, actor_id: bytes) -> gcs_pb2.ActorInfo:
        """GetActorInfo without waiting."""
        reply = await self.stub.GetActorInfo(gcs_pb2.GetActorInfoRequest(actor_id=actor_id), timeout=RPC_TIMEOUT)
        return reply.actor

    async def wait_state(self, actor_id: bytes, states: Iterable[int], timeout: float = 5.0) -> gcs_pb2.ActorInfo:
        """Long-poll GetActorInfo until the actor is in one of ``states``."""
        wanted = set(states)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        info = await self.info(actor_id)
        while info.state not in wanted:
            left = end - loop.time()
            assert left > 0, f"actor stayed {gcs_pb2.ActorState.Name(info.state)}, wanted {wanted}"
            request = gcs_pb2.GetActorInfoRequest(actor_id=actor_id, wait_for_change=True, known_state=info.state)
            try:
                info = (await self.stub.GetActorInfo(request, timeout=min(left, 2.0))).actor
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
        return info


@contextlib.asynccontextmanager
async def cluster(storage: Storage | None = None, **config: Any) -> AsyncIterator[Cluster]:
    """A GCS (with ``config`` overrides) on 127.0.0.1, torn down afterwards."""
    config.setdefault("rpc_timeout_s", 2.0)
    config.setdefault("lease_timeout_s", 5.0)
    config.setdefault("creation_timeout_s", 5.0)
    server = GcsServer(GcsConfig(**config), storage)
    await server.start()
    channel = auth.aio_channel(server.address)
    c = Cluster(server, channel)
    try:
        yield c
    finally:
        await channel.close()
        await server.stop(grace=0)
        for raylet in c.raylets:
            await raylet.stop()


def new_id(size: int) -> bytes:
    """Random ID bytes."""
    return os.urandom(size)


def actor_spec(
    job_id: bytes,
    *,
    name: str = "",
    namespace: str = "",
    max_restarts: int = 0,
    detached: bool = False,
    resources: dict[str, float] | None = None,
    caller_node: bytes = b"",
    caller_worker: bytes = b"",
    class_name: str = "Counter",
) -> common_pb2.TaskSpec:
    """An actor creation TaskSpec with IDs laid out as common.proto says."""
    return common_pb2.TaskSpec(
        type=common_pb2.ACTOR_CREATION_TASK,
        language=common_pb2.PYTHON,
        function=common_pb2.FunctionDescriptor(
            python=common_pb2.PythonFunctionDescriptor(module="tests.actors", qualname=class_name)
        ),
        job_id=job_id,
        task_id=new_id(20) + job_id,
        actor_id=new_id(12) + job_id,
        caller=common_pb2.Address(node_id=caller_node, host="127.0.0.1", port=1, worker_id=caller_worker),
        num_returns=1,
        resources=resources if resources is not None else {"CPU": 1.0},
        max_restarts=max_restarts,
        actor_name=name,
        actor_namespace=namespace,
        detached=detached,
        name=f"{class_name}.__init__",
    )


async def eventually(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> None:
    """Poll ``condition`` until it holds (for state the GCS exposes only internally)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(interval)
