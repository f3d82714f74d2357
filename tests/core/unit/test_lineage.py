"""The lineage table and ObjectRecovery in process: the bound, eviction order,
argument pinning, merged reconstructions, recursion into lost arguments and
the reasons of what cannot come back. Real MemoryStore and ReferenceCounter;
the submitter is a list of what would be submitted, the copy probe a set of
(object, node) pairs that still exist."""

from __future__ import annotations

import asyncio

import pytest

from polyray.core.lineage import LineageTable, is_put_id, max_bytes_from_env
from polyray.core.memory_store import MemoryStore
from polyray.core.object_recovery import ObjectRecovery, return_ids
from polyray.core.pending_task import PendingTask
from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb
from polyray.protocol import runtime_spec

NODE_B = b"B" * 28
NODE_C = b"C" * 28


def spec_of(n: int, *, max_retries: int = 3, attempt: int = 0, name: str = "f", pad: int = 0) -> pb.TaskSpec:
    s = pb.TaskSpec(task_id=n.to_bytes(24, "little"), num_returns=1, max_retries=max_retries, attempt=attempt,
                    name=name + "x" * pad)
    return s


def rid(n: int) -> bytes:
    return return_ids(spec_of(n))[0]


class Owner:
    """An owner's tables (real) and what recovery submits (recorded)."""

    def __init__(self, max_bytes: int = 1 << 20) -> None:
        self.freed: list[bytes] = []
        self.refs = ReferenceCounter(lambda oid, node: self._free(oid), lambda *a: None)
        self.store = MemoryStore()
        self.lineage = LineageTable(max_bytes, self.refs.remove_submitted)
        self.submitted: list[PendingTask] = []
        self.copies: set[tuple[bytes, bytes]] = set()
        self.recovery = ObjectRecovery(
            lineage=self.lineage, memory_store=self.store, references=self.refs, submit=self.submitted.append,
            scheduling_key=lambda s: (), locations_of=lambda oid, primary: [primary], copy_exists=self._exists)

    async def _exists(self, oid: bytes, node: bytes) -> bool:
        return (oid, node) in self.copies

    def _free(self, oid: bytes) -> None:
        self.freed.append(oid)
        self.store.delete(oid)
        self.lineage.on_free(oid)

    def run_task(self, spec: pb.TaskSpec, args: list[bytes] = (), node: bytes = NODE_B) -> bytes:
        """Submit and complete a task whose return is stored on ``node`` (as OwnedObjects does)."""
        oid = return_ids(spec)[0]
        self.refs.add_owned_local([oid])
        self.refs.add_submitted(list(args))
        self.store.set(oid, in_store_node=node, size=1 << 20)
        self.copies.add((oid, node))
        self.lineage.record(spec, list(args), [oid])
        return oid

    def complete_again(self, task: PendingTask, node: bytes = NODE_C) -> None:
        """The resubmitted task returned (OwnedObjects.complete's part)."""
        self.recovery.on_finished(task.spec, None)
        for oid in return_ids(task.spec):
            self.store.set(oid, in_store_node=node, size=1 << 20)
            self.copies.add((oid, node))
        self.lineage.record(task.spec, task.arg_ids, return_ids(task.spec))

    def recover(self, oid: bytes) -> None:
        asyncio.run(self.recovery.recover(oid, self.store.get_if_ready(oid)))


def test_bound_comes_from_the_spec_and_the_environment(monkeypatch):
    monkeypatch.delenv("POLYRAY_LINEAGE_MAX_BYTES", raising=False)
    assert max_bytes_from_env() == runtime_spec.LINEAGE_MAX_BYTES == 256 * 1024 * 1024
    assert max_bytes_from_env(1000) == 1000
    monkeypatch.setenv("POLYRAY_LINEAGE_MAX_BYTES", "4096")
    assert max_bytes_from_env(1000) == 4096
    monkeypatch.setenv("POLYRAY_LINEAGE_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="POLYRAY_LINEAGE_MAX_BYTES"):
        max_bytes_from_env()


def test_eviction_is_oldest_first_and_stays_under_the_bound():
    o = Owner(max_bytes=10_000)
    oids = [o.run_task(spec_of(i, pad=1000)) for i in range(1, 30)]
    assert o.lineage.bytes_used <= 10_000
    assert o.lineage.evictions > 0
    kept = [oid for oid in oids if o.lineage.of_object(oid) is not None]
    evicted = [oid for oid in oids if o.lineage.was_evicted(oid)]
    assert kept == oids[-len(kept):]          # the newest survive
    assert evicted == oids[:len(evicted)]     # the oldest went
    assert len(kept) + len(evicted) == len(oids)


def test_arguments_stay_pinned_while_lineage_is_kept_and_go_with_it():
    o = Owner()
    a = o.run_task(spec_of(1))
    b = o.run_task(spec_of(2), args=[a])
    o.refs.remove_local(a)                    # the user dropped a: b's lineage still pins it
    assert a not in o.freed and o.refs.snapshot(a)["submitted"] == 1
    o.refs.remove_local(b)                    # b freed -> its lineage goes -> a is released and freed
    assert b in o.freed and a in o.freed
    assert len(o.lineage) == 0 and o.lineage.bytes_used == 0


def test_eviction_releases_the_arguments_it_pinned():
    o = Owner(max_bytes=10_000)
    a = o.run_task(spec_of(1))
    o.run_task(spec_of(2, pad=2000), args=[a])
    o.refs.remove_local(a)
    assert a not in o.freed
    for i in range(3, 20):                    # push spec 2 out
        o.run_task(spec_of(i, pad=2000))
    assert a in o.freed


def test_lost_object_is_resubmitted_once_for_concurrent_requests():
    o = Owner()
    a = o.run_task(spec_of(1, max_retries=2))
    o.copies.clear()                          # B died
    seen = o.store.get_if_ready(a)

    async def two_getters() -> None:
        await asyncio.gather(o.recovery.recover(a, seen), o.recovery.recover(a, seen))
    asyncio.run(two_getters())
    assert len(o.submitted) == 1
    task = o.submitted[0]
    assert task.spec.attempt == 1 and task.spec.task_id == spec_of(1).task_id
    assert o.store.get_if_ready(a) is None    # getters wait for the new value
    o.recover(a)                              # a third, while the first runs: merged
    assert len(o.submitted) == 1
    o.complete_again(task)
    assert o.store.get_if_ready(a).in_store_node == NODE_C
    assert o.lineage.get(task.spec.task_id).spec.attempt == 1


def test_lost_argument_is_recomputed_before_its_consumer():
    o = Owner()
    a = o.run_task(spec_of(1))
    b = o.run_task(spec_of(2), args=[a])
    o.copies.clear()

    async def go() -> None:
        t = asyncio.ensure_future(o.recovery.recover(b, o.store.get_if_ready(b)))
        for _ in range(20):
            await asyncio.sleep(0)
        assert [p.spec.task_id for p in o.submitted] == [spec_of(1).task_id]  # a first; b waits for it
        o.complete_again(o.submitted[0])
        await asyncio.wait_for(t, 5)
    asyncio.run(go())
    assert [p.spec.task_id for p in o.submitted] == [spec_of(1).task_id, spec_of(2).task_id]
    assert o.submitted[1].arg_ids == [a]


def test_retries_exhausted_put_and_evicted_raise_their_reason():
    o = Owner(max_bytes=3000)
    spent = o.run_task(spec_of(1, max_retries=1, attempt=1))
    o.copies.clear()
    o.recover(spent)
    assert o.store.get_if_ready(spent).error.reason == pb.REASON_RETRIES_EXHAUSTED
    assert not o.submitted

    put = spec_of(9).task_id + (0x80000001).to_bytes(4, "little")
    assert is_put_id(put)
    o.refs.add_owned_local([put])
    o.store.set(put, in_store_node=NODE_B)
    o.recover(put)
    assert o.store.get_if_ready(put).error.reason == pb.REASON_PUT

    old = o.run_task(spec_of(2, pad=2000))
    o.run_task(spec_of(3, pad=2000))          # evicts 2
    o.recover(old)
    assert o.store.get_if_ready(old).error.reason == pb.REASON_LINEAGE_EVICTED


def test_a_failed_reconstruction_becomes_retries_exhausted_with_its_cause():
    o = Owner()
    a = o.run_task(spec_of(1))
    o.copies.clear()
    o.recover(a)
    crash = pb.ErrorRecord(kind=pb.WORKER_CRASHED, message="worker died")
    record = o.recovery.on_finished(o.submitted[0].spec, crash)
    assert record.kind == pb.OBJECT_LOST and record.reason == pb.REASON_RETRIES_EXHAUSTED
    assert record.cause.message == "worker died"
    # An application error of the re-run is the value, as on the first run.
    assert o.recovery.on_finished(o.submitted[0].spec, pb.ErrorRecord(kind=pb.TASK_ERROR)) is None


def test_zero_bound_keeps_nothing_and_releases_at_once():
    o = Owner(max_bytes=0)
    a = o.run_task(spec_of(1))
    o.run_task(spec_of(2), args=[a])
    o.refs.remove_local(a)
    assert len(o.lineage) == 0 and a in o.freed
