"""GPUs and node labels in the raylet: label selectors and fallback chains in
the spill decision, GPU index assignment (whole and fractional) and release,
GPU detection (a fake nvidia-smi on PATH), and the lease replies of a real
raylet (fake GCS, fake workers) with GPU indices and worker pool keys."""

from __future__ import annotations

import asyncio
import os
import stat
import time

import pytest

from polyray.protocol import common_pb2, gcs_pb2, labels
from polyray.raylet.cluster_view import ClusterView
from polyray.raylet.gpus import GpuInstances, detect_gpu_ids, gpu_ids_for
from polyray.raylet.resources import NodeResources, ResourceSet
from polyray.raylet.scheduling_policy import Where, decide

from .fakes import running_raylet, task_spec, wait_for

LOCAL = b"L" * 28
NODE_B = b"B" * 28
NODE_C = b"C" * 28


# -- selectors ------------------------------------------------------------------


@pytest.mark.parametrize("selector, node, expected", [
    ({"zone": "a"}, {"zone": "a"}, True),
    ({"zone": "a"}, {"zone": "b"}, False),
    ({"zone": "a"}, {}, False),
    ({"zone": "!a"}, {"zone": "b"}, True),
    ({"zone": "!a"}, {}, True),
    ({"zone": "!a"}, {"zone": "a"}, False),
    ({"zone": "in(a,b)"}, {"zone": "b"}, True),
    ({"zone": "in(a, b)"}, {"zone": "c"}, False),
    ({"zone": "!in(a,b)"}, {"zone": "c"}, True),
    ({"zone": "!in(a,b)"}, {"zone": "a"}, False),
    ({"zone": "a", "gpu": "in(t4,a100)"}, {"zone": "a", "gpu": "a100"}, True),
    ({"zone": "a", "gpu": "in(t4,a100)"}, {"zone": "a"}, False),
    ({}, {"zone": "a"}, True),
])
def test_selector_forms_match_as_ray_documents(selector, node, expected):
    assert labels.matches(selector, node) is expected


@pytest.mark.parametrize("bad, error", [
    (["zone"], TypeError),
    ({"zone": 1}, TypeError),
    ({"zone": "in()"}, ValueError),
    ({"zone": "a b"}, ValueError),
    ({"bad key!": "a"}, ValueError),
])
def test_malformed_selectors_are_refused_naming_them(bad, error):
    with pytest.raises(error, match="label"):
        labels.check_selector(bad)


def test_fallback_strategy_takes_only_label_selectors():
    assert labels.check_fallback([{"label_selector": {"a": "1"}}]) == [{"label_selector": {"a": "1"}}]
    with pytest.raises(ValueError, match="unsupported"):
        labels.check_fallback([{"label_selector": {"a": "1"}, "resources": {}}])
    with pytest.raises(TypeError):
        labels.check_fallback({"label_selector": {}})


# -- the spill decision with labels ------------------------------------------------


def _view(*nodes: tuple[bytes, dict[str, str], dict[str, float], dict[str, float]]) -> ClusterView:
    view = ClusterView(LOCAL)
    infos = []
    for node_id, node_labels, total, available in nodes:
        info = gcs_pb2.NodeInfo(node_id=node_id, alive=True, resources_total=total,
                                resources_available=available, labels=node_labels)
        info.raylet_address.host, info.raylet_address.port = "127.0.0.1", 1000 + len(infos)
        infos.append(info)
    view.update(infos)
    return view


def _spec(selector: dict[str, str] | None = None, *fallback: dict[str, str],
          kind: int = common_pb2.SCHEDULING_DEFAULT) -> common_pb2.TaskSpec:
    spec = task_spec()
    spec.scheduling.kind = kind
    spec.scheduling.label_selector.update(selector or {})
    for each in fallback:
        spec.scheduling.fallback.add().selector.update(each)
    return spec


def _decide(spec, view, local_labels, local_cpus=2.0, demand=None):
    local = NodeResources(ResourceSet({"CPU": local_cpus}))
    return decide(spec, ResourceSet(demand or {"CPU": 1}), local, LOCAL, view, local_labels)


def test_selector_keeps_a_task_off_non_matching_nodes():
    view = _view((NODE_B, {"zone": "b"}, {"CPU": 2}, {"CPU": 2}), (NODE_C, {"zone": "c"}, {"CPU": 2}, {"CPU": 2}))
    here = {"zone": "a"}
    assert _decide(_spec({"zone": "a"}), view, here).where is Where.LOCAL
    d = _decide(_spec({"zone": "c"}), view, here)
    assert d.where is Where.SPILL and d.node.node_id == NODE_C
    d = _decide(_spec({"zone": "!in(a,c)"}), view, here)
    assert d.where is Where.SPILL and d.node.node_id == NODE_B
    # Free room here does not matter to a task whose selector this node fails.
    d = _decide(_spec({"zone": "b"}), view, here)
    assert d.where is Where.SPILL and d.node.node_id == NODE_B


def test_no_matching_node_is_infeasible_and_says_why():
    view = _view((NODE_B, {"zone": "b"}, {"CPU": 2}, {"CPU": 2}))
    d = _decide(_spec({"zone": "z"}), view, {"zone": "a"})
    assert d.where is Where.INFEASIBLE and "label_selector" in d.message and "'zone': 'z'" in d.message


def test_fallbacks_are_tried_in_order_when_no_feasible_node_matches():
    view = _view((NODE_B, {"zone": "b"}, {"CPU": 2}, {"CPU": 2}), (NODE_C, {"zone": "c"}, {"CPU": 2}, {"CPU": 2}))
    d = _decide(_spec({"zone": "z"}, {"zone": "y"}, {"zone": "c"}, {"zone": "b"}), view, {"zone": "a"})
    assert d.where is Where.SPILL and d.node.node_id == NODE_C
    # A matching node that could never hold the request does not count: the next selector is used.
    view = _view((NODE_B, {"zone": "b"}, {"CPU": 8}, {"CPU": 8}), (NODE_C, {"zone": "c"}, {"CPU": 2}, {"CPU": 2}))
    d = _decide(_spec({"zone": "c"}, {"zone": "b"}), view, {"zone": "a"}, demand={"CPU": 4})
    assert d.where is Where.SPILL and d.node.node_id == NODE_B
    # The first selector with a feasible node wins even when that node is busy now: no fallback.
    view = _view((NODE_B, {"zone": "b"}, {"CPU": 2}, {"CPU": 0}), (NODE_C, {"zone": "c"}, {"CPU": 2}, {"CPU": 2}))
    d = _decide(_spec({"zone": "b"}, {"zone": "c"}), view, {"zone": "a"})
    assert d.where is Where.SPILL and d.node.node_id == NODE_B
    assert d.allow is not None and d.allow(view.get(NODE_B)) and not d.allow(view.get(NODE_C))


def test_spread_round_robins_over_matching_nodes_only():
    view = _view((NODE_B, {"zone": "b"}, {"CPU": 2}, {"CPU": 2}), (NODE_C, {"zone": "x"}, {"CPU": 2}, {"CPU": 2}))
    picks = set()
    for _ in range(4):
        d = _decide(_spec({"zone": "in(a,b)"}, kind=common_pb2.SCHEDULING_SPREAD), view, {"zone": "a"})
        picks.add(LOCAL if d.where is Where.LOCAL else d.node.node_id)
    assert picks == {LOCAL, NODE_B}


# -- GPU indices ---------------------------------------------------------------------


def test_whole_gpus_take_free_indices_and_come_back():
    gpus = GpuInstances(["0", "1"])
    assert gpus.take(1) == ("0",)
    assert gpus.take(1) == ("1",)
    assert not gpus.fits(1) and not gpus.fits(0.5)
    gpus.give(("0",), 1)
    assert gpus.take(1) == ("0",)
    gpus.give(("0",), 1)
    gpus.give(("1",), 1)
    assert gpus.take(2) == ("0", "1")


def test_fractions_share_one_index_and_never_straddle_two():
    gpus = GpuInstances(["0", "1"])
    assert gpus.take(0.5) == ("0",) and gpus.take(0.5) == ("0",)
    assert gpus.take(0.25) == ("1",)
    assert not gpus.fits(1.5) and gpus.fits(0.75) and not gpus.fits(1)
    gpus.give(("0",), 0.5)
    assert gpus.free_shares() == {"0": 0.5, "1": 0.75}
    # 0.6 free in total on each index would be 1.2, but no index has 0.8: does not fit.
    node = NodeResources(ResourceSet({"GPU": 2}), ["0", "1"])
    node.acquire(ResourceSet({"GPU": 0.4}))
    node.acquire(ResourceSet({"GPU": 0.7}))  # does not fit next to 0.4: index 1
    assert node.available.get("GPU") == pytest.approx(0.9)
    assert not node.fits(ResourceSet({"GPU": 0.8})) and node.fits(ResourceSet({"GPU": 0.6}))


def test_fractions_pack_onto_the_index_with_the_least_room():
    gpus = GpuInstances(["0", "1", "2"])
    assert gpus.take(1) == ("0",)
    assert gpus.take(0.5) == ("1",)
    gpus.give(("0",), 1)
    # Index 0 is whole again; the next half goes next to the first (best fit), not to index 0.
    assert gpus.take(0.5) == ("1",)
    assert gpus.take(0.3) == ("0",)
    assert gpus.take(0.6) == ("0",), "0.7 left on index 0 is the least room that holds 0.6"
    assert gpus.free_shares() == {"0": pytest.approx(0.1), "1": 0.0, "2": 1.0}


def test_release_gives_back_the_indices_a_lease_held():
    node = NodeResources(ResourceSet({"CPU": 4, "GPU": 2}), ["0", "1"])
    one = node.acquire(ResourceSet({"CPU": 1, "GPU": 1}))
    two = node.acquire(ResourceSet({"CPU": 1, "GPU": 1}))
    assert {one, two} == {("0",), ("1",)}
    assert not node.fits(ResourceSet({"GPU": 1}))
    node.release(ResourceSet({"CPU": 1, "GPU": 1}), two)
    assert node.acquire(ResourceSet({"GPU": 1})) == two
    assert node.acquire(ResourceSet({"CPU": 1})) == ()


def test_node_gpu_ids_default_to_integers_after_detected_ones():
    assert gpu_ids_for(2) == ["0", "1"]
    assert gpu_ids_for(3, ["2", "5"]) == ["2", "5", "0"]
    assert gpu_ids_for(1, ["4", "5"]) == ["4"]
    assert gpu_ids_for(0.5) == []


# -- detection -----------------------------------------------------------------------


def _fake_smi(folder, body: str) -> None:
    path = os.path.join(str(folder), "nvidia-smi")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def test_detects_gpus_with_nvidia_smi_on_path(tmp_path, monkeypatch):
    _fake_smi(tmp_path, 'case "$*" in *--query-gpu=index*) printf "0\\n1\\n2\\n";; *) exit 3;; esac')
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert detect_gpu_ids() == ["0", "1", "2"]
    # The node's own CUDA_VISIBLE_DEVICES wins (as Ray): it offers exactly those.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert detect_gpu_ids() == ["2", "3"]


def test_a_failing_or_hanging_nvidia_smi_means_no_gpu_within_the_timeout(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    _fake_smi(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    assert detect_gpu_ids() == []
    _fake_smi(tmp_path, "exec sleep 30")
    start = time.monotonic()
    assert detect_gpu_ids(timeout_s=0.5) == []
    assert time.monotonic() - start < 5


def test_no_nvidia_smi_means_no_gpu(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpu_ids() == []


# -- a real raylet: lease replies, worker env, pool keys, registration ----------------


async def test_gpu_leases_get_distinct_indices_a_third_waits_and_cpu_workers_stay_apart(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 4.0, "GPU": 2.0}) as h:
        assert list(h.gcs.registered[0].labels) == [labels.NODE_ID_LABEL]
        first = await h.lease(resources={"GPU": 1})
        second = await h.lease(resources={"GPU": 1})
        assert {tuple(first.gpu_ids), tuple(second.gpu_ids)} == {("0",), ("1",)}
        third = asyncio.create_task(h.lease(resources={"GPU": 1}))
        await wait_for(lambda: h.raylet.leases.pending_count == 1, what="the third GPU lease queued")
        assert not third.done()
        await h.give_back(first)
        reply = await asyncio.wait_for(third, 20)
        assert list(reply.gpu_ids) == list(first.gpu_ids)
        # The worker first's lease used serves its index again.
        assert reply.worker_address.worker_id == first.worker_address.worker_id
        envs = {ctx.worker_id: ctx.base_env() for ctx in h.launcher.launched}
        assert envs[second.worker_address.worker_id]["CUDA_VISIBLE_DEVICES"] == second.gpu_ids[0]
        assert envs[second.worker_address.worker_id]["POLYRAY_GPU_IDS"] == second.gpu_ids[0]
        # A CPU lease gets a worker of its own, started without CUDA_VISIBLE_DEVICES.
        await h.give_back(second)
        cpu = await h.lease()
        assert list(cpu.gpu_ids) == []
        assert cpu.worker_address.worker_id not in (first.worker_address.worker_id, second.worker_address.worker_id)
        cpu_env = next(ctx.base_env() for ctx in h.launcher.launched if ctx.worker_id == cpu.worker_address.worker_id)
        assert "CUDA_VISIBLE_DEVICES" not in cpu_env and "POLYRAY_GPU_IDS" not in cpu_env
        await h.give_back(reply)
        await h.give_back(cpu)
        stats = await h.stats()
        assert stats.resources_available["GPU"] == 2.0


async def test_fractional_gpu_leases_share_an_index(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 4.0, "GPU": 1.0}) as h:
        halves = [await h.lease(resources={"GPU": 0.5}) for _ in range(2)]
        assert [list(r.gpu_ids) for r in halves] == [["0"], ["0"]]
        waiting = asyncio.create_task(h.lease(resources={"GPU": 0.5}))
        await wait_for(lambda: h.raylet.leases.pending_count == 1, what="the third half queued")
        await h.give_back(halves[0])
        assert list((await asyncio.wait_for(waiting, 20)).gpu_ids) == ["0"]


async def test_node_labels_are_registered_and_a_selector_waits_for_a_matching_node(tmp_path):
    async with running_raylet(tmp_path, labels={"zone": "a"}) as h:
        registered = dict(h.gcs.registered[0].labels)
        assert registered == {"zone": "a", labels.NODE_ID_LABEL: h.config.node_id.hex()}
        assert (await h.lease(_spec({"zone": "a"}))).lease_id
        waiting = asyncio.create_task(h.lease(_spec({"zone": "b"})))
        await wait_for(lambda: any("label_selector" in line for line in h.gcs.log_lines()),
                       what="the warning that no node matches")
        assert not waiting.done() and h.raylet.leases.pending_count == 1
        waiting.cancel()


def test_placement_group_bundles_hold_gpu_indices_and_give_them_back():
    from polyray.protocol import raylet_pb2
    from polyray.raylet.bundles import BundleTable
    node = NodeResources(ResourceSet({"CPU": 4, "GPU": 3}), ["0", "1", "2"])
    table = BundleTable(node)
    pg = b"P" * 18
    ok, why = table.prepare([raylet_pb2.Bundle(placement_group_id=pg, bundle_index=0, resources={"GPU": 2}),
                             raylet_pb2.Bundle(placement_group_id=pg, bundle_index=1, resources={"GPU": 0.5})])
    assert ok, why
    whole, half = table.pool(pg, 0), table.pool(pg, 1)
    assert whole.gpus.ids == ["0", "1"] and half.gpus.ids == ["2"]
    assert node.gpus.free_shares() == {"0": 0.0, "1": 0.0, "2": 0.5}
    # A lease inside a bundle gets indices of that bundle.
    assert whole.acquire(ResourceSet({"GPU": 1})) == ("0",)
    assert half.acquire(ResourceSet({"GPU": 0.5})) == ("2",)
    assert not half.fits(ResourceSet({"GPU": 0.5}))
    table.cancel(pg)
    assert node.gpus.free_shares() == {"0": 1.0, "1": 1.0, "2": 1.0}
    assert node.available.get("GPU") == 3


def test_without_nvidia_smi_the_cuda_driver_library_is_asked(tmp_path, monkeypatch):
    import shutil
    import subprocess
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake libcuda")
    src = tmp_path / "fakecuda.c"
    src.write_text("int cuInit(unsigned f) { return 0; }\n"
                   "int cuDeviceGetCount(int *n) { *n = 2; return 0; }\n")
    lib = tmp_path / "libfakecuda.so"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(lib)], check=True, timeout=60)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setenv("POLYRAY_CUDA_LIBRARY", str(lib))
    assert detect_gpu_ids() == ["0", "1"]
    monkeypatch.setenv("POLYRAY_CUDA_LIBRARY", str(tmp_path / "missing.so"))
    assert detect_gpu_ids() == []
