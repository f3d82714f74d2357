"""Scheduling from a C++ driver (issue 19 Deliver 4): node affinity, SPREAD and
placement groups (bundle strategies, lookup by name, removal) on tasks and
actors, bad options refused with std::invalid_argument at the call, several
returns of Python callees (RemoteMulti), a first-error-wins Get of many refs,
and the embedded head's worker pool set from Config.

Real daemons on this machine: a head (2 CPUs) and node B (2 CPUs). One run of
the C++ driver (cpp_src/scheduling_driver.cc, with its callees in
cpp_src/scheduling_funcs.cc) does every step and prints what it saw as one
JSON line; the module's tests check it piece by piece.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
for _extra in (os.path.join(HERE, "..", "xlang"), os.path.join(HERE, "..", "cluster")):
    if _extra not in sys.path:
        sys.path.insert(0, _extra)

from cluster_util import Cluster  # noqa: E402
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(900)  # the first run compiles the driver and its library


@pytest.fixture(scope="module")
def seen() -> dict:
    """The driver's JSON line, from one run against head + node B."""
    lib = build_cpp("scheduling_funcs", [os.path.join(HERE, "cpp_src", "scheduling_funcs.cc")], "shared")
    exe = build_cpp("scheduling_driver", [os.path.join(HERE, "cpp_src", "scheduling_driver.cc")], "exe")
    c = Cluster()
    try:
        c.start_head(num_cpus=2)
        b = c.add_node(num_cpus=2)
        c.wait_alive(2)
        env = dict(os.environ)
        env.pop("POLYRAY_ADDRESS", None)
        p = subprocess.run([exe, c.address, lib, b.node_id], env=env, capture_output=True, text=True, timeout=240)
        assert p.returncode == 0, p.stdout + p.stderr[-4000:]
        r = json.loads([line for line in p.stdout.splitlines() if line.startswith("{")][-1])
        r["b"] = b.node_id
        from polyray.protocol import gcs_pb2
        from polyray.util.state._common import _call
        from polyray.util.state.cluster import list_jobs
        r["jobs"] = list_jobs(address=c.address, detail=True)
        # The job ended with the driver: the GCS kills its non-detached actors (the unnamed ones,
        # all in one pass); wait for those, then see whether jc_default outlived the job.
        job = bytes.fromhex(r["job_id"])
        deadline = time.monotonic() + 20
        while True:
            actors = _call(c.address, lambda s: s.ListActors(gcs_pb2.ListActorsRequest(job_id=job), timeout=10).actors)
            unnamed = [a for a in actors if not a.handle.name]
            if (unnamed and all(a.state == gcs_pb2.DEAD for a in unnamed)) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        r["unnamed_dead"] = bool(unnamed) and all(a.state == gcs_pb2.DEAD for a in unnamed)
        r["named_alive"] = {a.handle.name: a.state != gcs_pb2.DEAD for a in actors if a.handle.name}
        yield r
    finally:
        c.shutdown()


def test_node_affinity_places_tasks_and_actors(seen):
    assert seen["head"] != seen["b"]
    assert seen["affinity_b"] == seen["b"] and seen["actor_affinity_b"] == seen["b"]
    assert seen["affinity_head"] == seen["head"]
    assert seen["soft_unknown"] in (seen["head"], seen["b"])  # soft: runs although the node does not exist
    assert seen["bad_node_id"].startswith("SetNodeAffinity: node_id must be 56 hex digits")


def test_job_config_metadata_and_default_actor_lifetime(seen):
    """Config.job_metadata reaches the job table; a named actor made without SetDetached
    under default_actor_lifetime="detached" is detached: it outlives the job."""
    job = [j for j in seen["jobs"] if j["job_id"] == seen["job_id"]]
    assert job and job[0]["metadata"] == {"team": "x"}, seen["jobs"]
    assert seen["unnamed_dead"]  # the job's non-detached actors were killed when it ended ...
    assert seen["named_alive"].get("jc_default") is True, seen["named_alive"]  # ... this one was not


def test_spread_uses_both_nodes(seen):
    assert seen["spread_nodes"] == 2


def test_placement_group_strict_spread_bundles_name_and_removal(seen):
    assert seen["pg_ready"] and seen["pg_created"]
    assert seen["pg_by_name"] == seen["pg_id"] and seen["pg_by_name_bundles"] == 2 and seen["pg_by_name_strategy"]
    # STRICT_SPREAD: the two bundles are on the two nodes; tasks and an actor land on their bundle's node.
    assert {seen["pg_bundle0"], seen["pg_bundle1"]} == {seen["head"], seen["b"]}
    assert seen["pg_actor"] == seen["pg_bundle1"]
    assert seen["pg_removed"] and seen["pg_removed_wait_false"]
    assert "no placement group named 'cpp_pg'" in seen["pg_name_after_remove"]
    # Pending while no node can hold it: Wait(1) gives up after about a second.
    assert not seen["big_wait"] and seen["big_pending"] and 900 <= seen["big_wait_ms"] < 5000


def test_bad_scheduling_input_is_invalid_argument_naming_the_field(seen):
    assert "cannot be scheduled in its placement group" in seen["pg_misfit"]
    assert "CPU" in seen["pg_misfit"] and "not bundle 0" in seen["pg_misfit"]
    assert seen["pg_bad_index"].startswith("SetPlacementGroup: bundle_index 2 is out of range")
    assert seen["pg_empty"].startswith("SetPlacementGroup: placement_group is empty")
    assert seen["pg_no_bundles"].startswith("PlacementGroupCreationOptions.bundles: needs at least one bundle")
    assert seen["pg_negative"].startswith('PlacementGroupCreationOptions.bundles[1]["CPU"]: must be a non-negative')


def test_several_returns_of_python_callees_and_refusals(seen):
    assert seen["divmod"] == [2, 3, 2]  # SetNumReturns(2).RemoteMulti(17, 5) of builtins.divmod
    assert seen["ratio"] == [3, 4]  # a Python actor method returning a tuple of two
    assert seen["returns_cpp"].startswith("SetNumReturns: num_returns=2 is not supported for C++ callee Nap")
    assert seen["returns_remote"].startswith("Remote: SetNumReturns(2) was called")
    assert seen["returns_zero"] == "SetNumReturns: num_returns must be at least 1, got 0"


def test_get_of_many_raises_the_first_error_without_waiting(seen):
    assert seen["first_error"] == "boom"
    assert seen["first_error_ms"] < 6000, f"Get waited {seen['first_error_ms']} ms for an 8 s nap after the error"


def test_config_sets_the_embedded_heads_worker_pool():
    """Config.idle_worker_timeout_s = 1 and warm_workers = "cpp=1" (cpp_src/pool_driver.cc): of two idle
    C++ workers the pool stops one after about a second and keeps the other warm; bad values are refused."""
    lib = build_cpp("scheduling_funcs", [os.path.join(HERE, "cpp_src", "scheduling_funcs.cc")], "shared")
    exe = build_cpp("pool_driver", [os.path.join(HERE, "cpp_src", "pool_driver.cc")], "exe")
    env = dict(os.environ)
    env.pop("POLYRAY_ADDRESS", None)
    env.pop("POLYRAY_IDLE_WORKER_TIMEOUT_S", None)
    env.pop("POLYRAY_WARM_WORKERS", None)
    p = subprocess.run([exe, lib], env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr[-4000:]
    r = json.loads([line for line in p.stdout.splitlines() if line.startswith("{")][-1])
    assert r["bad_warm"].startswith("Config.warm_workers: 'go=2' is not LANGUAGE=COUNT"), r
    assert r["idle_with_address"].startswith("Config.idle_worker_timeout_s can only be set when Init() starts"), r
    assert r["distinct"], "the two naps ran on one worker: the test needs two"
    assert 0 <= r["first_gone_ms"] < 5000, r  # the 10 s default would keep both for the whole watch
    assert r["alive_after_6s"] == 1, r  # the warm pool keeps one C++ worker
