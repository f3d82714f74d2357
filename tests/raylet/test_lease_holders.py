"""LeaseHolderWatch: which holders count as gone, and when (manual clock, fake probe)."""

from __future__ import annotations

import grpc

from polyray.protocol import common_pb2
from polyray.raylet.lease_holders import ChannelProbe, LeaseHolderWatch, holder_target

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
        assert await probe(common_pb2.Address(host="127.0.0.1", port=port)) is False
    finally:
        await probe.close()
