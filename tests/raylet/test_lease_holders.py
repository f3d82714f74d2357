"""LeaseHolderWatch: which holders count as gone, and when (manual clock, fake probe)."""

from __future__ import annotations

import asyncio
import time

import grpc

from polyray.protocol import common_pb2, raylet_pb2, raylet_pb2_grpc
from polyray.raylet.lease_holders import ChannelProbe, LeaseHolderWatch, WorkerIdentity, holder_target

A = b"a" * 28
B = b"b" * 28
DEAD_NODE = b"d" * 28


class World:
    def __init__(self) -> None:
        self.now = 100.0
        self.heard: dict[bytes, float] = {A: 100.0, B: 100.0}
        self.addresses = {A: common_pb2.Address(host="127.0.0.1", port=1, worker_id=A),
                          B: common_pb2.Address(host="127.0.0.1", port=2, worker_id=B, node_id=b"n" * 28)}
        self.answers = {A: True, B: True}
        self.dead: set[bytes] = set()
        self.released: list[tuple[bytes, str]] = []
        self.probed: list[bytes] = []

    async def probe(self, address: common_pb2.Address) -> bool:
        self.probed.append(address.worker_id)
        return self.answers[address.worker_id]

    def release(self, key: bytes, why: str) -> int:
        self.released.append((key, why))
        del self.addresses[key]
        return 1

    def watch(self) -> LeaseHolderWatch:
        return LeaseHolderWatch(lambda: dict(self.addresses), lambda k: self.heard.get(k, float("-inf")),
                                self.dead.__contains__, self.release, probe=self.probe,
                                check_s=1.0, timeout_s=5.0, clock=lambda: self.now)


async def test_a_holder_heard_from_lately_is_not_probed():
    w = World()
    watch = w.watch()
    w.now = 100.5
    assert await watch.check() == []
    assert w.probed == []


async def test_an_unreachable_holder_is_released_after_the_timeout_and_only_then():
    w = World()
    watch = w.watch()
    w.answers[A] = False
    for t in (102.0, 103.0, 106.0):
        w.now = t
        assert await watch.check() == []   # failing since 102: not 5 s yet
    w.now = 107.0
    assert await watch.check() == [A]
    assert "has not answered for 5.0 s" in w.released[0][1]
    assert B not in [k for k, _ in w.released]


async def test_a_probe_that_answers_or_a_request_resets_the_timeout():
    w = World()
    watch = w.watch()
    w.answers[A] = False
    w.now = 102.0
    await watch.check()
    w.answers[A] = True
    w.now = 104.0
    await watch.check()
    w.answers[A] = False
    w.now = 105.0
    await watch.check()      # failing since 105 now
    w.heard[A] = 108.5       # it asked for a lease
    w.now = 109.0
    assert await watch.check() == []
    w.now = 110.0
    await watch.check()      # failing since 110
    w.now = 114.9
    assert await watch.check() == []
    w.now = 115.0
    assert await watch.check() == [A]


async def test_a_holder_on_a_dead_node_is_released_at_once():
    w = World()
    watch = w.watch()
    w.now = 100.2
    w.dead.add(b"n" * 28)
    assert await watch.check() == [B]
    assert "declared dead by the GCS" in w.released[0][1]


async def test_a_holder_with_no_address_cannot_be_probed():
    assert holder_target(common_pb2.Address()) is None
    assert holder_target(common_pb2.Address(host="h", port=70000)) is None
    probe = ChannelProbe(deadline_s=0.2)
    assert await probe(common_pb2.Address()) is False
    await probe.close()


async def test_the_channel_probe_tells_a_serving_port_from_a_closed_one():
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    probe = ChannelProbe(deadline_s=1.0)
    try:
        assert await probe(common_pb2.Address(host="127.0.0.1", port=port)) is True
        await server.stop(None)
        # The channel may still report READY for a moment after the server closed
        # (it learns of the close asynchronously); the watch probes every round, so
        # what matters is that the probe turns False soon and stays False.
        deadline = time.monotonic() + 5.0
        while await probe(common_pb2.Address(host="127.0.0.1", port=port)):
            assert time.monotonic() < deadline, "the probe still answers 5 s after the server stopped"
            await asyncio.sleep(0.05)
        assert await probe(common_pb2.Address(host="127.0.0.1", port=port)) is False
    finally:
        await probe.close()


async def test_a_port_that_answers_for_another_process_is_not_the_holder():
    """A dead holder's port taken by another process: the port connects, but the
    holder's node no longer lists its worker id, so its leases come back after the
    timeout as for a holder that does not answer."""
    w = World()
    listed = {A: True, B: None}  # A: listed by its node; B: its node cannot say

    async def identify(address: common_pb2.Address) -> bool | None:
        return listed[address.worker_id]

    watch = LeaseHolderWatch(lambda: dict(w.addresses), lambda k: w.heard.get(k, float("-inf")),
                             w.dead.__contains__, w.release, probe=w.probe, identify=identify,
                             check_s=1.0, timeout_s=5.0, clock=lambda: w.now)
    for t in (102.0, 104.0, 106.0):
        w.now = t
        assert await watch.check() == []
    listed[A] = False        # A died; another process answers on its port
    for t in (107.0, 110.0, 111.9):
        w.now = t
        assert await watch.check() == []
    w.now = 112.0
    assert await watch.check() == [A]
    assert f"worker {A.hex()[:12]}" in w.released[0][1]
    w.answers[B] = True      # B: judged by its port alone, which answers
    w.now = 130.0
    assert await watch.check() == []


class _Raylet(raylet_pb2_grpc.RayletServiceServicer):
    def __init__(self, workers: list[bytes], drivers: list[bytes]) -> None:
        self.workers = workers
        self.drivers = drivers
        self.calls = 0

    async def GetNodeStats(self, request, context):
        self.calls += 1
        return raylet_pb2.GetNodeStatsReply(workers=[raylet_pb2.WorkerStats(worker_id=x) for x in self.workers],
                                            driver_ids=self.drivers)


async def test_worker_identity_asks_the_holder_s_node_once_per_round():
    own, other, unknown = b"o" * 28, b"t" * 28, b"u" * 28
    driver = b"v" * 28
    fake = _Raylet([A], [driver])
    server = grpc.aio.server()
    raylet_pb2_grpc.add_RayletServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    now = [0.0]
    addresses = {other: common_pb2.Address(host="127.0.0.1", port=port)}
    ident = WorkerIdentity(own, lambda: {B}, addresses.get, deadline_s=2.0, cache_s=0.5, clock=lambda: now[0])
    try:
        assert await ident(common_pb2.Address(worker_id=B, node_id=own)) is True       # this node's pool
        assert await ident(common_pb2.Address(worker_id=A, node_id=own)) is False
        assert await ident(common_pb2.Address(worker_id=A, node_id=other)) is True     # its node lists it
        assert await ident(common_pb2.Address(worker_id=B, node_id=other)) is False
        assert await ident(common_pb2.Address(worker_id=driver, node_id=other)) is True  # a driver there
        assert fake.calls == 1, "one GetNodeStats per node and round"
        assert await ident(common_pb2.Address(worker_id=A, node_id=unknown)) is None   # no such node
        assert await ident(common_pb2.Address(worker_id=A)) is None                    # no node named
        fake.workers = []   # the worker exited
        now[0] = 1.0
        assert await ident(common_pb2.Address(worker_id=A, node_id=other)) is False
        assert fake.calls == 2
        await server.stop(None)
        now[0] = 2.0
        assert await ident(common_pb2.Address(worker_id=A, node_id=other)) is None     # its node does not answer
    finally:
        await server.stop(None)
