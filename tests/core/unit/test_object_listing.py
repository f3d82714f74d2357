"""The object listing of the state API, component by component, with fakes
(docs/observability.md, "Objects"): a process's page of references
(ReferenceCounter.listing, GetObjectRefs's reply), the raylet's bounded
aggregation over the processes of its node (a hung one is skipped and named,
never waited for past the bound), and the state API's rows, kinds and totals.
"""

from __future__ import annotations

import asyncio
import types

import grpc
import pytest

from polyray.core.memory_store import MemoryStore
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.service import object_refs_reply
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import runtime_spec as rspec
from polyray.raylet import object_listing
from polyray.util import state

from .fakes import ManualLoop, rpc_error

NODE = b"N" * rspec.IDS_NODE_BYTES
OTHER_NODE = b"M" * rspec.IDS_NODE_BYTES
ME = b"W" * rspec.IDS_WORKER_BYTES
OWNER = pb.Address(worker_id=b"O" * rspec.IDS_WORKER_BYTES, node_id=NODE, host="127.0.0.1", port=9)


def oid(i: int) -> bytes:
    return i.to_bytes(rspec.IDS_OBJECT_BYTES, "big")


def _counter() -> ReferenceCounter:
    return ReferenceCounter(on_free=lambda o, n: None, on_borrow_change=lambda *a, **k: None)


def _ctx(is_driver: bool = False) -> types.SimpleNamespace:
    return types.SimpleNamespace(address=pb.Address(worker_id=ME, node_id=NODE, host="127.0.0.1", port=5),
                                 is_driver=is_driver)


# -- one process ------------------------------------------------------------------

def test_listing_pages_in_id_order_and_counts_everything():
    refs = _counter()
    for i in (5, 1, 9, 3, 7):
        refs.add_owned(oid(i))
        refs.add_local(oid(i), None)
    total, rows = refs.listing(b"", 2)
    assert total == 5 and [r[0] for r in rows] == [oid(1), oid(3)]
    total, rows = refs.listing(oid(3), 10)
    assert [r[0] for r in rows] == [oid(5), oid(7), oid(9)]
    assert refs.listing(oid(9), 10) == (5, [])


def test_reply_reports_every_kind_status_size_and_copy():
    refs, store = _counter(), MemoryStore()
    put, ret, captured, borrowed, failed = oid(1), oid(2), oid(3), oid(4), oid(5)
    refs.add_owned(put)
    refs.add_local(put, None)
    store.set(put, envelope=pb.Envelope(body=b"x" * 10), size=10)
    refs.add_owned_local([ret])                      # a task return not ready yet, also a pending task's argument
    refs.add_submitted([ret])
    refs.add_owned(captured)                         # nested in `put`'s value, no ref of its own
    refs.set_contains(put, [captured])
    store.set(captured, in_store_node=NODE, size=5_000_000)
    refs.set_in_store(captured, NODE)
    refs.update_borrowers(b"B" * 28, [captured], [])  # and another process borrows it
    refs.add_local(borrowed, OWNER)                  # a borrowed ref, not fetched
    refs.add_owned_local([failed])
    store.set(failed, error=pb.ErrorRecord(message="boom"))
    locations = {captured: [NODE, OTHER_NODE]}
    reply = object_refs_reply(_ctx(), refs, store, lambda o, primary: locations.get(o, [primary]), 0, b"")
    assert reply.total == 5 and reply.language == pb.PYTHON and not reply.is_driver and not reply.next_page_token
    assert reply.address.worker_id == ME and reply.pid > 0
    rows = {r.object_id: r for r in reply.objects}
    assert rows[put].status == cw.OBJECT_READY and rows[put].size == 10 and rows[put].local_refs == 1
    assert state.reference_kinds(rows[put]) == ["LOCAL_REFERENCE"]
    assert rows[ret].status == cw.OBJECT_PENDING and rows[ret].size == -1
    assert state.reference_kinds(rows[ret]) == ["USED_BY_PENDING_TASK", "LOCAL_REFERENCE"]
    c = rows[captured]
    assert (c.size, c.contained_in, list(c.borrowers), list(c.locations)) == (5_000_000, 1, [b"B" * 28],
                                                                              [NODE, OTHER_NODE])
    assert state.reference_kinds(c) == ["CAPTURED_IN_OBJECT", "BORROWED"]
    b = rows[borrowed]
    assert not b.owned and b.owner.worker_id == OWNER.worker_id and b.status == cw.OBJECT_PENDING
    assert rows[failed].status == cw.OBJECT_FAILED


def test_reply_is_capped_and_gives_the_next_page():
    refs, store = _counter(), MemoryStore()
    for i in range(25):
        refs.add_owned_local([oid(i)])
    seen: list[bytes] = []
    token = b""
    pages = 0
    while True:
        reply = object_refs_reply(_ctx(True), refs, store, lambda o, p: [p], 10, token)
        pages += 1
        seen += [r.object_id for r in reply.objects]
        assert len(reply.objects) <= 10 and reply.total == 25 and reply.is_driver
        if not reply.next_page_token:
            break
        token = reply.next_page_token
    assert pages == 3 and seen == [oid(i) for i in range(25)]
    # 0 and anything over the spec's cap mean the cap.
    assert len(object_refs_reply(_ctx(), refs, store, lambda o, p: [p], 0, b"").objects) == 25


# -- the raylet's aggregation ----------------------------------------------------

def _proc(i: int) -> object_listing.Process:
    return object_listing.Process(bytes([i]) * 28, f"127.0.0.1:{1000 + i}")


def _answer(p: object_listing.Process, n: int) -> cw.GetObjectRefsReply:
    r = cw.GetObjectRefsReply(address=pb.Address(worker_id=p.worker_id), total=n)
    for i in range(n):
        r.objects.add(object_id=oid(i), owned=True, local_refs=1)
    return r


def test_aggregation_skips_a_hung_and_a_failing_process_within_the_bound():
    loop = ManualLoop()
    hung = loop.create_future()
    procs = [_proc(1), _proc(2), _proc(3)]
    asked: list[tuple[bytes, float]] = []

    async def ask(p, request, timeout):
        asked.append((p.worker_id, timeout))
        if p is procs[1]:
            await hung                    # a stopped process: never answers
        if p is procs[2]:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "gone")
        return _answer(p, 3)

    task = loop.create_task(object_listing.list_objects(NODE, procs, ask, 100, 2.0))
    loop.settle()
    assert not task.done()               # waiting for the hung one, up to the bound
    loop.advance(s=1.9)
    assert not task.done()
    loop.advance(s=0.2)
    assert task.done()
    reply = task.result()
    assert reply.asked == 3 and [p.address.worker_id for p in reply.processes] == [procs[0].worker_id]
    assert list(reply.unanswered) == [procs[1].worker_id, procs[2].worker_id]
    assert all(t == 2.0 for _, t in asked) and hung.cancelled()
    loop.close()


def test_aggregation_cuts_rows_over_the_limit_but_keeps_totals():
    loop = ManualLoop()

    async def ask(p, request, timeout):
        assert request.limit == 5
        return _answer(p, 4)

    reply = loop.run_until_complete(object_listing.list_objects(NODE, [_proc(1), _proc(2)], ask, 5, 1.0))
    assert [len(p.objects) for p in reply.processes] == [4, 1]
    assert [p.total for p in reply.processes] == [4, 4] and not reply.unanswered
    assert reply.processes[1].next_page_token == oid(0)
    loop.close()


def test_no_process_is_an_empty_answer_at_once():
    reply = asyncio.run(object_listing.list_objects(NODE, [], None, 5, 1.0))  # type: ignore[arg-type]
    assert reply.asked == 0 and not reply.processes


def test_bounds_default_cap_and_the_callers_deadline():
    cap = rspec.STATE_MAX_OBJECT_REFS_PER_REPLY
    assert object_listing.bounds(0, 0, None) == (cap, rspec.STATE_LIST_OBJECTS_TIMEOUT_MS / 1000)
    assert object_listing.bounds(cap + 1, 10**9, None) == (cap, object_listing.MAX_TIMEOUT_MS / 1000)
    assert object_listing.bounds(7, 5000, 1.0) == (7, pytest.approx(0.9))
    assert object_listing.bounds(7, 5000, 0.01)[1] == 0.0


# -- the state API's rows and totals ------------------------------------------------

def _listing(monkeypatch, partial: bool = False) -> None:
    """query_objects over two fake nodes: a driver owning a put borrowed by a worker."""
    driver = cw.GetObjectRefsReply(address=pb.Address(worker_id=b"D" * 28, node_id=NODE, host="10.0.0.1"),
                                   pid=100, language=pb.PYTHON, is_driver=True, total=2)
    driver.objects.add(object_id=oid(1), owned=True, local_refs=1, size=2048, status=cw.OBJECT_READY,
                       borrowers=[b"J" * 28], locations=[NODE])
    driver.objects.add(object_id=oid(2), owned=True, submitted_task_refs=1, size=-1)
    worker = cw.GetObjectRefsReply(address=pb.Address(worker_id=b"J" * 28, node_id=OTHER_NODE, host="10.0.0.2"),
                                   pid=200, language=pb.JAVA, total=1)
    worker.objects.add(object_id=oid(1), owned=False, local_refs=1, size=2048, status=cw.OBJECT_READY,
                       owner=pb.Address(worker_id=b"D" * 28, node_id=NODE, host="10.0.0.1", port=7))
    nodes = [(NODE, rl.ListObjectsReply(node_id=NODE, processes=[driver], asked=1)),
             (OTHER_NODE, rl.ListObjectsReply(node_id=OTHER_NODE, processes=[worker], asked=2,
                                              unanswered=[b"Z" * 28] if partial else []))]

    def fake_nodes(address, timeout):
        return [types.SimpleNamespace(node_id=n, alive=True, raylet_address=pb.Address(host="h", port=1))
                for n, _ in nodes]

    def fake_ask(n, limit, wait, timeout, with_store):
        stats = rl.GetNodeStatsReply(store_bytes_used=4096, store_capacity=1 << 20, store_objects=1)
        return dict(nodes)[n.node_id], stats if with_store else None

    monkeypatch.setattr(state.objects, "_nodes", fake_nodes)
    monkeypatch.setattr(state.objects, "_ask_raylet", fake_ask)


def test_rows_join_the_owner_and_summaries_count_distinct_objects(monkeypatch):
    _listing(monkeypatch)
    rows = state.list_objects("x:1", detail=True)
    assert len(rows) == 3
    borrowed = next(r for r in rows if not r["is_owner"])
    assert (borrowed["language"], borrowed["owner_pid"], borrowed["owner_language"]) == ("JAVA", 100, "PYTHON")
    assert borrowed["reference_type"] == "LOCAL_REFERENCE" and borrowed["type"] == "WORKER"
    owned = next(r for r in rows if r["is_owner"] and r["object_id"] == oid(1).hex())
    assert owned["reference_kinds"] == ["LOCAL_REFERENCE", "BORROWED"] and owned["type"] == "DRIVER"
    pending = next(r for r in rows if r["object_id"] == oid(2).hex())
    assert (pending["reference_type"], pending["task_status"], pending["object_size"]) == (
        "USED_BY_PENDING_TASK", "PENDING", -1)
    assert set(state.list_objects("x:1")[0]) == set(state.OBJECT_COLUMNS)
    assert [r["pid"] for r in state.list_objects("x:1", filters=[("language", "=", "java")])] == [200]
    s = state.summarize_objects("x:1")
    assert s["total_objects"] == 2 and s["total_size_mb"] == pytest.approx(2048 / 2**20)
    assert s["summary"]["disabled"]["ref_type_counts"] == {"LOCAL_REFERENCE": 2, "USED_BY_PENDING_TASK": 1}
    m = state.memory_summary("x:1", group_by="owner")
    assert list(m["groups"]) == [(b"D" * 28).hex()] and m["groups"][(b"D" * 28).hex()]["references"] == 3
    st = m["stats"]
    assert (st["objects"], st["references"], st["total_size_bytes"], st["unknown_size_objects"]) == (2, 3, 2048, 1)
    assert (st["store_used_bytes"], st["store_objects"], st["processes"], st["references_counted"]) == (
        8192, 2, 2, 3)
    by_node = state.memory_summary("x:1", sort_by="reference_type")
    assert set(by_node["groups"]) == {NODE.hex(), OTHER_NODE.hex()}
    with pytest.raises(ValueError):
        state.memory_summary("x:1", group_by="stack")


def test_a_partial_listing_warns_or_raises(monkeypatch):
    _listing(monkeypatch, partial=True)
    with pytest.warns(UserWarning, match="1 process"):
        rows = state.list_objects("x:1")
    assert len(rows) == 3
    with pytest.raises(state.StateApiError, match="partial"):
        state.list_objects("x:1", raise_on_missing_output=True)
    assert "did not answer" in state.summarize_objects("x:1")["partial_failure_warning"]


def test_a_raylet_that_never_answers_is_a_failed_node_within_the_callers_bound(monkeypatch):
    """Real gRPC: of two raylets, one answers ListObjects and one hangs in it; the
    state API returns the first's rows and names the second, within its own
    deadline, not after the hung call."""
    import concurrent.futures
    import threading
    import time

    from polyray.protocol import raylet_pb2_grpc

    release = threading.Event()
    answered = rl.ListObjectsReply(node_id=NODE, asked=1, processes=[cw.GetObjectRefsReply(
        address=pb.Address(worker_id=ME, node_id=NODE, host="127.0.0.1"), pid=7, language=pb.CPP, total=1,
        objects=[cw.ObjectRefInfo(object_id=oid(1), owned=True, local_refs=1, size=10, status=cw.OBJECT_READY)])])

    class Answers(raylet_pb2_grpc.RayletServiceServicer):
        def ListObjects(self, request, context):
            return answered

    class Hangs(raylet_pb2_grpc.RayletServiceServicer):
        def ListObjects(self, request, context):
            release.wait(20)
            return rl.ListObjectsReply()

    servers, ports = [], []
    for servicer in (Answers(), Hangs()):
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
        raylet_pb2_grpc.add_RayletServiceServicer_to_server(servicer, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        server.start()
        servers.append(server)
    try:
        monkeypatch.setattr(state.objects.auth, "tls_enabled", lambda: False)
        monkeypatch.setattr(state.objects, "_nodes", lambda address, timeout: [
            types.SimpleNamespace(node_id=n, alive=True, raylet_address=pb.Address(host="127.0.0.1", port=p))
            for n, p in zip((NODE, OTHER_NODE), ports, strict=True)])
        t0 = time.monotonic()
        listing = state.query_objects("x:1", timeout=1.5, wait_ms=500)
        took = time.monotonic() - t0
        assert listing.failed_nodes == [OTHER_NODE.hex()] and listing.partial
        assert [(r["pid"], r["language"], r["object_id"]) for r in listing.rows] == [(7, "CPP", oid(1).hex())]
        assert "1 node(s) did not answer" in listing.warning()
        assert 1.4 < took < 5, took
    finally:
        release.set()
        for server in servers:
            server.stop(0)
