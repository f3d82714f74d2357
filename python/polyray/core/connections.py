"""The CoreWorker's connections to other processes: the GCS, raylets, workers.

One cached channel per peer address (owners, borrowers, leased workers,
actors, other nodes' raylets), stubs over them, and PushTasks streams to
workers (the worker's push port when it has one, else gRPC).

Invariants: every channel is created on the io loop (grpc.aio binds a
channel to the loop it is made on) and closed by ``close``; a stream opened
with ``own_channel`` has a channel of its own, closed by whoever opened it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

from polyray.core.push_port import PushConnection
from polyray.core.rpc import address_str, aio_channel
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol import gcs_pb2_grpc as gcs_grpc
from polyray.protocol import raylet_pb2_grpc as rl_grpc


async def push_requests(queue: asyncio.Queue, lease: pb.LeaseProof | None = None):
    """The request stream of a PushTasks call: lists of specs from ``queue``
    (None ends it), whatever queued up meanwhile coalesced into one message;
    the first carries ``lease`` (the caller's lease proof) when given."""
    while True:
        specs = await queue.get()
        if specs is None:
            return
        while not queue.empty():
            more = queue.get_nowait()
            if more is None:
                queue.put_nowait(None)
                break
            specs.extend(more)
        req = cw.PushTasksRequest(tasks=specs)
        if lease is not None:
            req.lease.CopyFrom(lease)
            lease = None
        yield req


class Connections:
    """Channels and stubs to the GCS, the raylets and other workers (io loop only)."""

    def __init__(self, *, gcs_address: str, raylet_address: str, use_push_port: bool) -> None:
        self.gcs_address = gcs_address
        self.raylet_address = raylet_address
        #: Whether streams to workers use their push port (POLYRAY_PUSH_PORT=0 turns it off).
        self.use_push_port = use_push_port
        self._gcs_channel: grpc.aio.Channel | None = None
        self._raylet_channel: grpc.aio.Channel | None = None
        self._gcs: gcs_grpc.GcsServiceStub | None = None
        self._raylet: rl_grpc.RayletServiceStub | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._raylet_stubs: dict[str, rl_grpc.RayletServiceStub] = {}

    def open(self) -> None:
        """Create the GCS and local raylet channels (on the io loop)."""
        self._gcs_channel = aio_channel(self.gcs_address)
        self._raylet_channel = aio_channel(self.raylet_address)
        self._gcs = gcs_grpc.GcsServiceStub(self._gcs_channel)
        self._raylet = rl_grpc.RayletServiceStub(self._raylet_channel)

    @property
    def gcs(self) -> gcs_grpc.GcsServiceStub:
        """The GCS's stub."""
        if self._gcs is None:
            raise RuntimeError("the CoreWorker's connections are not open yet")
        return self._gcs

    @property
    def raylet(self) -> rl_grpc.RayletServiceStub:
        """The local raylet's stub."""
        if self._raylet is None:
            raise RuntimeError("the CoreWorker's connections are not open yet")
        return self._raylet

    def channel_to(self, address: pb.Address) -> grpc.aio.Channel:
        """A cached channel to another process (owners, leased workers, raylets)."""
        target = address_str(address)
        ch = self._channels.get(target)
        if ch is None:
            ch = self._channels[target] = aio_channel(target)
        return ch

    def worker(self, address: pb.Address) -> cw_grpc.CoreWorkerServiceStub:
        """A stub to another process's CoreWorkerService."""
        return cw_grpc.CoreWorkerServiceStub(self.channel_to(address))

    def raylet_at(self, address: pb.Address) -> rl_grpc.RayletServiceStub:
        """A stub to the raylet at ``address`` (the local one, or another node's)."""
        target = address_str(address)
        if target == self.raylet_address:
            return self.raylet
        stub = self._raylet_stubs.get(target)
        if stub is None:
            stub = self._raylet_stubs[target] = rl_grpc.RayletServiceStub(self.channel_to(address))
        return stub

    def open_push_stream(self, worker: pb.Address, on_reply: Callable[[Any], None],
                         own_channel: bool = False, lease: pb.LeaseProof | None = None,
                         ) -> tuple[Any, Any, grpc.aio.Channel | None]:
        """A PushTasks stream to a worker (on the loop): ``(call, queue, channel)``.

        ``queue.put_nowait(specs)`` pushes TaskSpecs (None ends the stream)
        and ``async for reply in call`` reads to its end. The worker's push
        port when it has one: replies go to ``on_reply`` as they are read.
        Else its gRPC PushTasks, whose replies the iteration yields; on the
        cached channel to the worker, or with ``own_channel`` on a new one
        returned as ``channel`` for the caller to close (an actor restarted
        at the same address must not reuse the dead process's connection).
        ``lease``: the lease proof a stream of normal tasks shows first.
        """
        if worker.push_port and self.use_push_port:
            conn = PushConnection(worker.host, worker.push_port, on_reply, lease)
            return conn, conn, None
        channel = aio_channel(address_str(worker)) if own_channel else None
        queue: asyncio.Queue = asyncio.Queue()
        stub = cw_grpc.CoreWorkerServiceStub(channel or self.channel_to(worker))
        return stub.PushTasks(push_requests(queue, lease)), queue, channel

    async def close(self) -> None:
        """Close every channel (shutdown)."""
        chans = [c for c in (self._gcs_channel, self._raylet_channel) if c is not None]
        for ch in chans + list(self._channels.values()):
            await ch.close(grace=None)
