"""LogForwarder: lines dropped past its bound are counted and reported with
the worker's next batch; a full buffer slows the pipe readers down (room)
while the GCS takes what is sent, and does not while the GCS fails."""

from __future__ import annotations

import asyncio

from polyray.protocol import gcs_pb2
from polyray.raylet import log_forwarder
from polyray.raylet.log_forwarder import LogForwarder

JOB = b"\x01\x00\x00\x00"


class FakeGcs:
    def __init__(self) -> None:
        self.batches: list[gcs_pb2.LogBatch] = []
        self.failing = False
        self.calls = 0

    async def publish(self, batches: list[gcs_pb2.LogBatch]) -> None:
        self.calls += 1
        if self.failing:
            raise ConnectionError("GCS away")
        self.batches.extend(batches)


async def test_lines_past_the_bound_are_counted_and_reported_with_the_next_batch(monkeypatch):
    monkeypatch.setattr(log_forwarder, "MAX_BUFFERED_LINES", 10)
    gcs = FakeGcs()
    fwd = LogForwarder(b"n" * 28, gcs.publish, interval_s=60, node_ip="10.0.0.1")
    gcs.failing = True
    for i in range(15):
        fwd.push(JOB, 7, "f pid=7, node=10.0.0.1", False, f"l{i}")
    await fwd.flush()  # fails: the 10 lines are lost (the GCS is away), 5 were over the bound
    assert gcs.batches == []
    gcs.failing = False
    fwd.push(JOB, 7, "f pid=7, node=10.0.0.1", False, "after")
    await fwd.flush()
    assert [list(b.lines) for b in gcs.batches] == [["after"]]
    assert gcs.batches[0].dropped_lines == 15 and gcs.batches[0].node_ip == "10.0.0.1"


async def test_a_dropped_count_without_lines_is_still_sent(monkeypatch):
    monkeypatch.setattr(log_forwarder, "MAX_BUFFERED_LINES", 2)
    gcs = FakeGcs()
    fwd = LogForwarder(b"n" * 28, gcs.publish, interval_s=60)
    for i in range(3):
        fwd.push(JOB, 7, "f", True, f"l{i}")
    await fwd.flush()
    assert sum(b.dropped_lines for b in gcs.batches) == 1
    assert [line for b in gcs.batches for line in b.lines] == ["l0", "l1"]


async def test_room_waits_for_a_publish_and_not_for_a_failing_gcs(monkeypatch):
    monkeypatch.setattr(log_forwarder, "MAX_BUFFERED_LINES", 10)
    gcs = FakeGcs()
    fwd = LogForwarder(b"n" * 28, gcs.publish, interval_s=60)
    fwd.start()
    try:
        for i in range(6):
            fwd.push(JOB, 7, "f", False, f"l{i}")
        await asyncio.wait_for(fwd.room(timeout_s=5), 5)  # the forwarder is woken and publishes
        assert fwd.pending == 0 and len([line for b in gcs.batches for line in b.lines]) == 6
        gcs.failing = True
        for i in range(6):
            fwd.push(JOB, 7, "f", False, f"m{i}")
        await fwd.flush()  # fails: the forwarder knows the GCS is away
        for i in range(6):
            fwd.push(JOB, 7, "f", False, f"k{i}")
        loop = asyncio.get_running_loop()
        start = loop.time()
        await fwd.room(timeout_s=5)
        assert loop.time() - start < 1.0  # no backpressure while the GCS fails
    finally:
        gcs.failing = False
        await fwd.stop()
