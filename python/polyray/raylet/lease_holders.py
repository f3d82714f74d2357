"""Returning leases whose holder is gone.

A lease is held by the caller that asked for it (``TaskSpec.caller``): a
driver or worker of this node, of another node (a spilled request), or any
client of RayletService. Registered drivers and workers of this node give
their leases back when they exit (the worker pool sees their exit); every
other holder is watched here, so that a lease whose holder vanished returns
to the node within a bound (the runtime spec's ``lease.holder_*``).

Every ``check_s`` the watch goes over the holders of leases and of pending
requests. A holder is gone when

* the GCS declared its node dead (the cluster view), or
* it has not been heard from (a lease request or return to this raylet, or a
  successful probe) for ``timeout_s`` while every probe since failed.

Only holders that look idle are probed: a holder that asked for or returned
a lease within the last ``check_s`` is alive without a probe (a busy driver
talks to its raylet all the time, so the watch costs it nothing). The probe
is a gRPC connectivity check of the holder's CoreWorker address with a
deadline of ``probe_s``: a channel already connected answers at once, a
process that died refuses the connection (its node's kernel closed the
port), a machine that vanished does not answer by the deadline. A holder
with no address (a raw client that named none) cannot be probed and counts
as unreachable: it must keep talking to the raylet to keep its lease.

A port that answers is not yet the holder: another process may have taken
a dead holder's port. So a holder is identified by its worker id too
(``WorkerIdentity``): the raylet of the node the holder names (this one, or
another alive node, asked with ``GetNodeStats``, once per node and round)
must list that worker id among its registered workers and drivers. A holder
its node does not list counts as not answering, whatever its port does; one
whose node cannot say (no node named, the node unknown or not answering)
is judged by the connectivity probe alone.

A gone holder's leases are returned with their workers stopped (a worker
may still be running the holder's task, whose result nobody will read) and
its pending requests are canceled. Bound from a holder's death to its
leases' return: ``timeout_s + 2 * check_s`` (the first failing probe comes at
most one period after the last sign of life, the last one at most one period
after the timeout), or one period plus the GCS's node timeout for a holder
whose node died.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Container

import grpc

from polyray.protocol import auth, common_pb2, raylet_pb2, raylet_pb2_grpc
from polyray.protocol import runtime_spec as rspec

log = logging.getLogger(__name__)

CHECK_S = rspec.LEASE_HOLDER_CHECK_MS / 1000
TIMEOUT_S = rspec.LEASE_HOLDER_TIMEOUT_MS / 1000
#: Deadline of one connectivity probe.
PROBE_S = min(1.0, CHECK_S)

#: Probes a holder's CoreWorker address: True when it answers.
Probe = Callable[[common_pb2.Address], Awaitable[bool]]
#: Whether the holder's node lists its worker id: True / False, or None when it cannot say.
Identify = Callable[[common_pb2.Address], Awaitable[bool | None]]


def holder_target(address: common_pb2.Address) -> str | None:
    """"host:port" of a holder's CoreWorker, or None when it named none."""
    if not address.host or address.port <= 0 or address.port > 65535:
        return None
    return f"{address.host}:{address.port}"


class ChannelProbe:
    """Connectivity probes over one cached channel per holder address."""

    def __init__(self, deadline_s: float = PROBE_S) -> None:
        self._deadline_s = deadline_s
        self._channels: dict[str, grpc.aio.Channel] = {}

    async def __call__(self, address: common_pb2.Address) -> bool:
        target = holder_target(address)
        if target is None:
            return False
        channel = self._channels.get(target)
        if channel is None:
            channel = auth.aio_channel(target, options=[
                # Reconnect at once when asked: the probe is the backoff.
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 500),
            ])
            self._channels[target] = channel
        if channel.get_state(try_to_connect=True) is grpc.ChannelConnectivity.READY:
            return True
        try:
            await asyncio.wait_for(channel.channel_ready(), self._deadline_s)
            return True
        except (asyncio.TimeoutError, grpc.aio.AioRpcError):
            return False

    async def keep_only(self, addresses: list[common_pb2.Address]) -> None:
        """Close the channels of addresses no longer watched."""
        keep = {holder_target(a) for a in addresses}
        for target in [t for t in self._channels if t not in keep]:
            await self._channels.pop(target).close()

    async def close(self) -> None:
        """Close every channel."""
        await self.keep_only([])


class WorkerIdentity:
    """Whether a holder's worker id is registered on the node it names (see the
    module docstring): this node's pool directly, another node's raylet by
    ``GetNodeStats`` (answers cached for ``cache_s``, so one call per node and round)."""

    def __init__(self, own_node: bytes, local_workers: Callable[[], Container[bytes]],
                 raylet_of: Callable[[bytes], common_pb2.Address | None], deadline_s: float = PROBE_S,
                 cache_s: float = CHECK_S / 2, clock: Callable[[], float] = time.monotonic) -> None:
        self._own_node = own_node
        self._local_workers = local_workers
        self._raylet_of = raylet_of
        self._deadline_s = deadline_s
        self._cache_s = cache_s
        self._clock = clock
        self._listed: dict[bytes, tuple[float, set[bytes] | None]] = {}

    async def __call__(self, address: common_pb2.Address) -> bool | None:
        if not address.worker_id or not address.node_id:
            return None
        if address.node_id == self._own_node:
            return address.worker_id in self._local_workers()
        listed = await self._workers_of(address.node_id)
        return None if listed is None else address.worker_id in listed

    async def _workers_of(self, node_id: bytes) -> set[bytes] | None:
        now = self._clock()
        cached = self._listed.get(node_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        raylet = self._raylet_of(node_id)
        listed: set[bytes] | None = None
        target = holder_target(raylet) if raylet is not None else None
        if target is not None:
            try:
                async with auth.aio_channel(target) as ch:
                    reply = await raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(
                        raylet_pb2.GetNodeStatsRequest(), timeout=self._deadline_s)
                listed = {w.worker_id for w in reply.workers} | set(reply.driver_ids)
            except grpc.aio.AioRpcError:
                listed = None
        self._listed = {k: v for k, v in self._listed.items() if now - v[0] < self._cache_s}
        self._listed[node_id] = (now, listed)
        return listed


class _Holder:
    __slots__ = ("address", "failing_since")

    def __init__(self, address: common_pb2.Address) -> None:
        self.address = address
        self.failing_since: float | None = None


class LeaseHolderWatch:
    """Finds holders of leases that are gone and hands them to ``release``.

    ``holders()`` returns the watched holders (key -> caller address, the key
    being the caller's worker id, or a lease id for a holder that named
    none); ``last_heard(key)`` when the raylet last heard from one;
    ``is_dead_node(node_id)`` the GCS's word; ``release(key, why)`` returns
    that holder's leases and cancels its requests.
    """

    def __init__(
        self,
        holders: Callable[[], dict[bytes, common_pb2.Address]],
        last_heard: Callable[[bytes], float],
        is_dead_node: Callable[[bytes], bool],
        release: Callable[[bytes, str], int],
        probe: Probe | None = None,
        identify: Identify | None = None,
        check_s: float = CHECK_S,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._holders = holders
        self._last_heard = last_heard
        self._is_dead_node = is_dead_node
        self._release = release
        self._probe: Probe = probe or ChannelProbe()
        self._identify = identify
        self.check_s = check_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._watched: dict[bytes, _Holder] = {}
        self._task: asyncio.Task[None] | None = None
        #: Holders found gone and leases returned (for stats and tests).
        self.released_holders = 0
        self.released_leases = 0

    def start(self) -> None:
        """Check every ``check_s`` in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="raylet-lease-holders")

    async def stop(self) -> None:
        """Stop checking and close the probe channels."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if isinstance(self._probe, ChannelProbe):
            await self._probe.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 — the watch must outlive one bad round
                log.exception("checking the holders of leases failed")

    async def _answers(self, address: common_pb2.Address) -> bool:
        """The holder answers: its port connects, and its node (when it can say) lists its worker id."""
        if not await self._probe(address):
            return False
        if self._identify is None:
            return True
        return await self._identify(address) is not False

    async def check(self) -> list[bytes]:
        """One round: release the holders found gone; return their keys."""
        now = self._clock()
        current = self._holders()
        for key in [k for k in self._watched if k not in current]:
            del self._watched[key]
        gone: list[tuple[bytes, str]] = []
        to_probe: list[_Holder] = []
        for key, address in current.items():
            holder = self._watched.get(key)
            if holder is None:
                holder = self._watched[key] = _Holder(address)
            if address.node_id and self._is_dead_node(address.node_id):
                gone.append((key, f"its node {address.node_id.hex()} was declared dead by the GCS"))
            elif now - self._last_heard(key) < self.check_s:
                holder.failing_since = None
            else:
                to_probe.append(holder)
        if to_probe:
            answers = await asyncio.gather(*(self._answers(h.address) for h in to_probe))
            now = self._clock()
            for holder, alive in zip(to_probe, answers):
                key = next(k for k, h in self._watched.items() if h is holder)
                if alive or now - self._last_heard(key) < self.check_s:
                    holder.failing_since = None
                    continue
                if holder.failing_since is None:
                    holder.failing_since = now
                if now - holder.failing_since >= self.timeout_s:
                    target = holder_target(holder.address) or "no address"
                    gone.append((key, f"its CoreWorker ({target}, worker {key.hex()[:12]}) has not answered "
                                      f"for {now - holder.failing_since:.1f} s"))
        for key, why in gone:
            self._watched.pop(key, None)
            count = self._release(key, why)
            self.released_holders += 1
            self.released_leases += count
            log.warning("returned %d lease(s) of holder %s: %s", count, key.hex(), why)
        if isinstance(self._probe, ChannelProbe):
            await self._probe.keep_only([h.address for h in self._watched.values()])
        return [key for key, _ in gone]
