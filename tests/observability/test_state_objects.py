"""Objects and placement groups in the state API, against a real cluster
(docs/observability.md, "Objects", "Placement groups").

A Python driver puts objects (one small, one in the store), holds a task's
return and a ref captured in another object; a Python, a Java and a C++
actor each put an object of their own, and the Python one borrows the
driver's stored object. Every reference appears, with the right owner,
language, size and reference kind, through `polyray list objects` run as a
subprocess (JSON), polyray.util.state and the dashboard's REST API;
`polyray memory --stats-only` agrees with the rows and the stores; a SIGSTOPped
worker makes the listing partial within the bound; a SIGKILLed worker's
references go. Placement groups are created, listed three ways and removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

import grpc
import pytest
from obs_support import code_search_path, wait_for
from xlang_support import build_cpp, driver_env, polyray_cli, stop_process

import polyray
from polyray import sdk
from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.util import state
from polyray.util.placement_group import placement_group, placement_group_table, remove_placement_group

pytestmark = pytest.mark.timeout(600)  # the first test may compile the C++ library
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 90
BIG = 300_000      # over the inline limit: in the node's store
WORKER_PUT = 150_000


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> list[str]:
    """The Java classes of java_src (the first), the C++ xlang library and the Holder library."""
    out = code_search_path(tmp_path_factory, "objects_java")
    out.append(build_cpp("obs_obj_holder", [os.path.join(HERE, "cpp_src", "obj_holder.cc")], "shared"))
    return out


@pytest.fixture(scope="module")
def cluster(paths):
    info = polyray.init(num_cpus=2, code_search_path=paths, namespace="objects")
    from polyray.core.object_ref import get_core
    yield get_core().gcs_address, info.dashboard_url.split("?")[0].rstrip("/")
    polyray.shutdown()


@polyray.remote
def blob(n):
    return b"r" * n


@polyray.remote
class PyHolder:
    def __init__(self):
        self.kept = []

    def put(self, n):
        self.kept.append(polyray.put(b"p" * n))
        return os.getpid()

    def keep(self, refs):
        self.kept.extend(refs)
        return len(self.kept)


@pytest.fixture(scope="module")
def objs(cluster):
    """The objects every test here looks at, held for the module."""
    o: dict[str, Any] = {}
    o["big"] = polyray.put(b"d" * BIG)
    o["small"] = polyray.put(b"s" * 100)
    o["ret"] = blob.remote(200_000)
    assert len(polyray.get(o["ret"], timeout=TIMEOUT)) == 200_000
    inner = polyray.put(b"i" * 1000)
    o["inner_hex"] = inner.hex()
    # A stored outer value: an inline one would keep an ObjectRef to `inner` in the
    # driver's memory store (a LOCAL_REFERENCE too).
    o["outer"] = polyray.put([inner, b"o" * BIG])
    del inner
    o["py"] = PyHolder.remote()
    o["java"] = polyray.java_actor_class("obstest.Holder").remote()
    o["cpp"] = polyray.cpp_actor_class("Holder::Create", "Holder").remote()
    o["py_pid"] = polyray.get(o["py"].put.remote(WORKER_PUT), timeout=TIMEOUT)
    o["java_pid"] = polyray.get(o["java"].put.remote(WORKER_PUT), timeout=TIMEOUT)
    o["cpp_pid"] = polyray.get(o["cpp"].PutBytes.remote(WORKER_PUT), timeout=TIMEOUT)
    # Each actor borrows the driver's stored object (a ref nested in an argument).
    assert polyray.get(o["py"].keep.remote([o["big"]]), timeout=TIMEOUT) == 2
    assert polyray.get(o["java"].keep.remote([o["big"]]), timeout=TIMEOUT) == 2
    assert polyray.get(o["cpp"].Keep.remote([o["big"]]), timeout=TIMEOUT) == 1
    return o


def cli(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*polyray_cli(), *args, "--address", address], capture_output=True, text=True,
                          timeout=60)


def cli_json(address: str, *args: str) -> Any:
    proc = cli(address, *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rest(base: str, path: str) -> Any:
    req = urllib.request.Request(base + path)
    req.add_header("Authorization", f"Bearer {auth.current_token()}")
    with urllib.request.urlopen(req, timeout=60) as r:
        doc = json.loads(r.read())
    assert doc["result"] is True, doc
    return doc["data"]["result"]



def _check_rows(rows: list[dict], o: dict) -> None:
    me = os.getpid()
    by = {}
    for r in rows:
        by.setdefault(r["object_id"], []).append(r)

    def owner_row(ref_hex: str) -> dict:
        owners = [r for r in by.get(ref_hex, []) if r["is_owner"]]
        assert len(owners) == 1, (ref_hex, by.get(ref_hex))
        return owners[0]

    big = owner_row(o["big"].hex())
    assert (big["type"], big["language"], big["pid"], big["owner_pid"]) == ("DRIVER", "PYTHON", me, me)
    assert big["object_size"] >= BIG and big["task_status"] == "FINISHED" and big["locations"]
    assert "LOCAL_REFERENCE" in big["reference_kinds"] and "BORROWED" in big["reference_kinds"]
    assert len(big["borrowers"]) == 3, big
    borrowed = [r for r in by[o["big"].hex()] if not r["is_owner"]]
    assert sorted((r["language"], r["pid"], r["owner_pid"], r["owner_language"], r["reference_type"])
                  for r in borrowed) == [("CPP", o["cpp_pid"], me, "PYTHON", "LOCAL_REFERENCE"),
                                         ("JAVA", o["java_pid"], me, "PYTHON", "LOCAL_REFERENCE"),
                                         ("PYTHON", o["py_pid"], me, "PYTHON", "LOCAL_REFERENCE")], borrowed
    assert {r["owner_worker_id"] for r in borrowed} == {big["worker_id"]}
    small = owner_row(o["small"].hex())
    assert 100 <= small["object_size"] < 1000 and small["reference_type"] == "LOCAL_REFERENCE"
    ret = owner_row(o["ret"].hex())
    assert ret["pid"] == me and ret["object_size"] >= 200_000 and ret["task_status"] == "FINISHED"
    inner = owner_row(o["inner_hex"])
    assert inner["reference_type"] == "CAPTURED_IN_OBJECT" and inner["contained_in"] == 1
    for lang, pid in (("PYTHON", o["py_pid"]), ("JAVA", o["java_pid"]), ("CPP", o["cpp_pid"])):
        mine = [r for r in rows if r["pid"] == pid and r["is_owner"] and r["object_size"] >= WORKER_PUT]
        assert len(mine) == 1, (lang, [r for r in rows if r["pid"] == pid])
        w = mine[0]
        assert (w["language"], w["type"], w["owner_language"], w["reference_type"]) == (
            lang, "WORKER", lang, "LOCAL_REFERENCE"), w
        assert w["task_status"] == "FINISHED" and w["locations"], w


def test_objects_of_every_owner_through_cli_api_and_rest(cluster, objs):
    address, base = cluster
    rows = state.list_objects(address, limit=10_000, detail=True, raise_on_missing_output=True)
    _check_rows(rows, objs)
    _check_rows(cli_json(address, "list", "objects", "--detail", "--limit", "10000"), objs)
    page = rest(base, "/api/v0/objects?detail=true&limit=10000")
    assert page["partial_failure_warning"] == "" and page["total"] == len(page["result"])
    _check_rows(page["result"], objs)
    # The default columns are Ray's, plus the languages; filters work as for the other kinds.
    plain = cli_json(address, "list", "objects", "--filter", "language=java")
    assert plain and set(plain[0]) == set(state.OBJECT_COLUMNS) and {r["language"] for r in plain} == {"JAVA"}
    one = rest(base, "/api/v0/objects?filter=type=DRIVER&limit=2")
    assert len(one["result"]) == 2 and {r["type"] for r in one["result"]} == {"DRIVER"}
    got = cli(address, "get", "objects", objs["big"].hex())
    assert got.returncode == 0 and '"is_owner": true' in got.stdout
    # Summaries: Ray's shape (by call site, not recorded).
    s = cli_json(address, "summary", "objects")
    assert s["callsite_enabled"] is False and s["total_objects"] >= 8
    assert rest(base, "/api/v0/objects/summarize")["total_objects"] == s["total_objects"]
    table = cli(address, "summary", "objects")
    assert table.returncode == 0 and "CALL_SITE" in table.stdout


def _store_used(address: str) -> tuple[int, int]:
    used = objects = 0
    for n in state.list_nodes(address, detail=True):
        if n["state"] != "ALIVE":
            continue
        with auth.channel(n["raylet_address"]) as ch:
            st = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=10)
        used += st.store_bytes_used
        objects += st.store_objects
    return used, objects


def test_memory_groups_and_totals_match_the_rows(cluster, objs):
    address, _ = cluster
    stats = cli_json(address, "memory", "--stats-only")["stats"]
    rows = state.list_objects(address, limit=10_000, detail=True)
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["object_id"]] = max(sizes.get(r["object_id"], -1), r["object_size"])
    assert stats["references"] == len(rows) == stats["references_counted"]
    assert stats["objects"] == len(sizes)
    assert stats["total_size_bytes"] == sum(v for v in sizes.values() if v > 0)
    assert stats["total_size_bytes"] >= BIG + 200_000 + 3 * WORKER_PUT
    assert sum(stats["reference_types"].values()) == len(rows)
    assert stats["languages"].keys() >= {"PYTHON", "JAVA", "CPP"}
    assert (stats["store_used_bytes"], stats["store_objects"]) == _store_used(address)
    by_owner = cli_json(address, "memory", "--group-by", "owner", "--sort-by", "reference_type")
    owners = {g["owner_pid"]: g for g in by_owner["groups"].values()}
    assert {os.getpid(), objs["py_pid"], objs["java_pid"], objs["cpp_pid"]} <= set(owners)
    assert owners[objs["java_pid"]]["owner_language"] == "JAVA"
    text = cli(address, "memory")
    assert text.returncode == 0 and "Aggregate object stats" in text.stdout and objs["big"].hex() in text.stdout


def test_a_stopped_worker_makes_the_listing_partial_within_the_bound(cluster, objs):
    address, base = cluster
    pid = objs["java_pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        proc = cli(address, "list", "objects", "--limit", "10000")
        took = time.monotonic() - t0
        assert proc.returncode == 0, proc.stderr
        assert "partial" in proc.stderr and "1 process(es) did not answer" in proc.stderr, proc.stderr
        assert str(pid) not in proc.stdout.split() and str(objs["cpp_pid"]) in proc.stdout.split()
        # The bound is the raylet's 2 s wait, plus a CLI start.
        assert took < 15, took
        page = rest(base, "/api/v0/objects?limit=10000")
        assert "did not answer" in page["partial_failure_warning"]
        with pytest.raises(state.StateApiError, match="partial"):
            state.list_objects(address, raise_on_missing_output=True)
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for("every process answering again",
             lambda: not state.query_objects(address).partial)
    print(f"\nlist objects with a SIGSTOPped worker: {took:.2f} s (CLI subprocess included)")


def test_a_killed_workers_references_go(cluster, objs):
    address, _ = cluster
    pid = objs["py_pid"]
    rows = state.list_objects(address, limit=10_000, detail=True)
    worker = next(r["worker_id"] for r in rows if r["pid"] == pid)
    big = next(r for r in rows if r["object_id"] == objs["big"].hex() and r["is_owner"])
    assert worker in big["borrowers"]
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        listing = state.query_objects(address)
        owner = [r for r in listing.rows if r["object_id"] == objs["big"].hex() and r["is_owner"]]
        return (not listing.partial and not any(r["pid"] == pid for r in listing.rows)
                and len(owner) == 1 and worker not in owner[0]["borrowers"] and len(owner[0]["borrowers"]) == 2)

    wait_for("the killed worker's rows and its borrow gone", gone)


def test_placement_groups_created_listed_and_removed(cluster):
    address, base = cluster
    fits = placement_group([{"CPU": 1}], strategy="PACK", name="obs-fits")
    never = placement_group([{"obs-nowhere": 1}], strategy="SPREAD", name="obs-never")
    assert fits.wait(timeout_seconds=30)
    ids = {fits.id.hex(): "CREATED", never.id.hex(): "PENDING"}

    def states(rows: list[dict]) -> dict[str, str]:
        return {r["placement_group_id"]: r["state"] for r in rows if r["placement_group_id"] in ids}

    assert states(state.list_placement_groups(address)) == ids
    assert states(cli_json(address, "list", "placement-groups")) == ids
    assert states(rest(base, "/api/v0/placement_groups")["result"]) == ids
    assert states(state.list_placement_groups(address, filters=[("name", "=", "obs-never")])) == {
        never.id.hex(): "PENDING"}
    table = placement_group_table()
    assert {k: table[k]["state"] for k in ids} == ids and table[fits.id.hex()]["name"] == "obs-fits"
    remove_placement_group(fits)
    remove_placement_group(never)
    gone = dict.fromkeys(ids, "REMOVED")
    wait_for("both groups REMOVED", lambda: states(state.list_placement_groups(address)) == gone)
    assert states(cli_json(address, "list", "placement-groups")) == gone


def test_every_language_pages_its_references_and_refuses_a_bad_token(cluster, objs):
    """GetObjectRefs straight to the driver and the Python, Java and C++ workers:
    pages of 2 rows walk every reference once, in unsigned id order; a page
    token that is not an object id is INVALID_ARGUMENT naming the field."""
    address, _ = cluster
    node = next(n for n in state.list_nodes(address, detail=True) if n["state"] == "ALIVE")
    with auth.channel(node["raylet_address"]) as ch:
        listed = raylet_pb2_grpc.RayletServiceStub(ch).ListObjects(raylet_pb2.ListObjectsRequest(), timeout=30)
    assert not listed.unanswered
    procs = {p.pid: p for p in listed.processes}
    want = {os.getpid(): pb.PYTHON, objs["java_pid"]: pb.JAVA, objs["cpp_pid"]: pb.CPP}
    if objs["py_pid"] in procs:  # gone when the SIGKILL test ran first
        want[objs["py_pid"]] = pb.PYTHON
    assert set(want) <= set(procs)
    for pid, lang in want.items():
        p = procs[pid]
        assert p.language == lang and p.total == len(p.objects) and p.total >= 1
        with auth.channel(f"{p.address.host}:{p.address.port}") as ch:
            stub = cw_grpc.CoreWorkerServiceStub(ch)
            seen: list[bytes] = []
            req = cw.GetObjectRefsRequest(limit=2)
            for _ in range(1000):
                page = stub.GetObjectRefs(req, timeout=30)
                assert len(page.objects) <= 2 and page.language == lang and page.pid == pid
                seen += [o.object_id for o in page.objects]
                if not page.next_page_token:
                    break
                assert page.next_page_token == page.objects[-1].object_id
                req.page_token = page.next_page_token
            # The process's references may change between pages (the runtime's own), so
            # compare the walk with itself and with the one-call listing's size.
            assert seen == sorted(seen) and len(set(seen)) == len(seen), (lang, seen)
            assert abs(len(seen) - p.total) <= 2, (lang, len(seen), p.total)
            with pytest.raises(grpc.RpcError) as bad:
                stub.GetObjectRefs(cw.GetObjectRefsRequest(page_token=b"\x01\x02\x03"), timeout=30)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (lang, bad.value)
            assert "page_token" in (bad.value.details() or ""), (lang, bad.value.details())


def _start_driver(cmd: list[str]) -> tuple[subprocess.Popen, int, str]:
    """A driver of another language joined to the cluster: (process, pid, the object id it put)."""
    env = driver_env(POLYRAY_PYTHON=sys.executable, POLYRAY_AUTH_TOKEN=auth.current_token())
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(proc.stdout.readline() if proc.stdout else ""),
                              daemon=True)
    reader.start()
    reader.join(60)
    line = ready[0] if ready else ""
    if not line.startswith("ready "):
        stop_process(proc)
        raise AssertionError(f"{cmd[0]} driver did not get ready within 60 s: {line!r}")
    _, pid, oid = line.split()
    return proc, int(pid), oid


def test_java_and_cpp_drivers_objects_are_listed_as_drivers(cluster, paths):
    """A Java and a C++ driver joined to the cluster each put an object: their
    GetObjectRefs (the drivers' CoreWorkerService) list it as a DRIVER's of their
    language; once they shut down, their rows go."""
    address, _ = cluster
    java = ["java", "-cp", ":".join([*sdk.java_classpath(), paths[0]]), "obstest.HoldDriver", address,
            str(WORKER_PUT)]
    cpp = [build_cpp("obs_hold_driver", [os.path.join(HERE, "cpp_src", "hold_driver.cc")], "exe"), address,
           str(WORKER_PUT)]
    drivers = []
    try:
        for cmd in (java, cpp):
            drivers.append(_start_driver(cmd))
        expect = {(pid, oid): lang for (_, pid, oid), lang in zip(drivers, ("JAVA", "CPP"), strict=True)}

        def listed() -> list[dict]:
            rows = state.list_objects(address, limit=10_000, detail=True)
            return [r for r in rows if (r["pid"], r["object_id"]) in expect and r["is_owner"]]

        rows = wait_for("both drivers' objects listed", lambda: len(listed()) == 2 and listed())
        for r in rows:
            lang = expect[(r["pid"], r["object_id"])]
            assert (r["type"], r["language"], r["owner_language"], r["owner_pid"], r["reference_type"],
                    r["task_status"]) == ("DRIVER", lang, lang, r["pid"], "LOCAL_REFERENCE", "FINISHED"), r
            assert r["object_size"] >= WORKER_PUT and r["locations"], r
    finally:
        for proc, _, _ in drivers:
            if proc.stdin:
                proc.stdin.close()
        for proc, _, _ in drivers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(proc)
    pids = {pid for _, pid, _ in drivers}

    def gone() -> bool:  # and the raylet no longer asks them (the listing is whole again)
        listing = state.query_objects(address)
        return not listing.partial and not any(r["pid"] in pids for r in listing.rows)

    wait_for("the drivers' rows gone", gone)
