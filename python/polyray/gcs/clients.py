"""Outgoing connections: one cached gRPC channel per raylet or worker address."""

from __future__ import annotations

import grpc

from polyray.protocol import auth, common_pb2, core_worker_pb2_grpc, raylet_pb2_grpc

from .validation import target


class ClientPool:
    """Channels to raylets and workers, reused across calls and closed at stop."""

    def __init__(self, options: list[tuple[str, int]]) -> None:
        """Create an empty pool whose channels use ``options``."""
        self._options = options
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, address: common_pb2.Address) -> grpc.aio.Channel:
        key = target(address)
        channel = self._channels.get(key)
        if channel is None:
            channel = auth.aio_channel(key, options=self._options)
            self._channels[key] = channel
        return channel

    def raylet(self, address: common_pb2.Address) -> raylet_pb2_grpc.RayletServiceStub:
        """A stub for the raylet at ``address``."""
        return raylet_pb2_grpc.RayletServiceStub(self._channel(address))

    def worker(self, address: common_pb2.Address) -> core_worker_pb2_grpc.CoreWorkerServiceStub:
        """A stub for the CoreWorker at ``address``."""
        return core_worker_pb2_grpc.CoreWorkerServiceStub(self._channel(address))

    async def forget(self, address: common_pb2.Address) -> None:
        """Close the channel to a process that is gone (dead worker or node)."""
        channel = self._channels.pop(target(address), None)
        if channel is not None:
            await channel.close(None)

    async def close(self) -> None:
        """Close every channel."""
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close(None)
