"""GPUs and node labels on real nodes (issue 17): a head with no GPU, a node
declaring ``--num-gpus 2`` with labels, and a node whose GPUs come from a fake
``nvidia-smi`` on its PATH. One cluster for the module."""

from __future__ import annotations

import gc
import os
import stat
import tempfile
import time

import pytest
from cluster_util import Cluster

import polyray

GPU_ZONE = {"zone": "gpu", "polyray.io/tier": "fast"}
DETECTED_ZONE = {"zone": "detected"}


@pytest.fixture(scope="module")
def gpu_cluster():
    """Head (2 CPU) + node G (2 CPU, --num-gpus 2, zone=gpu) + node D (1 CPU,
    3 GPUs from a fake nvidia-smi, zone=detected); a connected driver."""
    if polyray.is_initialized():
        polyray.shutdown()
    bin_dir = tempfile.mkdtemp(prefix="fake-smi-")
    smi = os.path.join(bin_dir, "nvidia-smi")
    with open(smi, "w") as f:
        f.write('#!/bin/sh\ncase "$*" in *--query-gpu=index*) printf "0\\n1\\n2\\n";; *) exit 3;; esac\n')
    os.chmod(smi, os.stat(smi).st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    c = Cluster()
    try:
        c.start_head(num_cpus=2)
        c.add_node(num_cpus=2, num_gpus=2, labels=GPU_ZONE)
        c.add_node(num_cpus=1, num_gpus=None, labels=DETECTED_ZONE, env=env)
        c.wait_alive(3)
        polyray.init(address=c.address)
        yield c
    finally:
        gc.collect()
        polyray.shutdown()
        c.shutdown()


@polyray.remote
def probe(release: str = "", started: str = "") -> dict:
    """Where and with what GPU view this task runs; with ``started``, writes a
    marker there and waits (at most 60 s) for the file ``release``."""
    if started:
        with open(started, "w") as f:
            f.write(os.environ.get("CUDA_VISIBLE_DEVICES", ""))
        deadline = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)
    ctx = polyray.get_runtime_context()
    return {"node": ctx.get_node_id(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_ids": polyray.get_gpu_ids(), "assigned": ctx.get_assigned_resources(),
            "accelerators": ctx.get_accelerator_ids(), "labels": ctx.get_node_labels()}


@polyray.remote(num_gpus=1)
class GpuHolder:
    def look(self) -> dict:
        return {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "gpu_ids": polyray.get_gpu_ids(),
                "node": polyray.get_runtime_context().get_node_id(),
                "assigned": polyray.get_runtime_context().get_assigned_resources()}


def _wait_files(paths: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p) for p in paths):
        assert time.monotonic() < deadline, f"tasks did not start: {[p for p in paths if not os.path.exists(p)]}"
        time.sleep(0.02)


def test_nodes_show_labels_and_declared_and_detected_gpus(gpu_cluster):
    head, gnode, dnode = gpu_cluster.nodes
    by_id = {n["NodeID"]: n for n in polyray.nodes()}
    assert by_id[gnode.node_id]["Labels"] == {**GPU_ZONE, "polyray.io/node-id": gnode.node_id}
    assert by_id[head.node_id]["Labels"] == {"polyray.io/node-id": head.node_id}
    assert by_id[gnode.node_id]["Resources"]["GPU"] == 2
    assert by_id[dnode.node_id]["Resources"]["GPU"] == 3, "three GPUs from the fake nvidia-smi"
    assert "GPU" not in by_id[head.node_id]["Resources"]
    from polyray.util.state import list_nodes
    listed = {n["node_id"]: n for n in list_nodes(detail=True)}
    assert listed[gnode.node_id]["labels"]["zone"] == "gpu"


def test_gpu_tasks_see_their_own_devices_and_a_third_waits(gpu_cluster, tmp_path):
    _, gnode, _ = gpu_cluster.nodes
    release = str(tmp_path / "release")
    marks = [str(tmp_path / f"started{i}") for i in range(3)]
    on_g = probe.options(num_gpus=1, label_selector={"zone": "gpu"})
    refs = [on_g.remote(release, marks[i]) for i in range(2)]
    _wait_files(marks[:2])
    third = on_g.remote(release, marks[2])
    ready, _ = polyray.wait([third], timeout=1.5)
    assert not ready and not os.path.exists(marks[2]), "a third 1-GPU task ran on a node with 2 GPUs"
    open(release, "w").close()
    results = polyray.get(refs + [third], timeout=60)
    assert all(r["node"] == gnode.node_id for r in results)
    first_two = sorted(r["cuda"] for r in results[:2])
    assert first_two == ["0", "1"]
    assert results[2]["cuda"] in ("0", "1")
    for r in results:
        assert r["gpu_ids"] == [int(r["cuda"])]
        assert r["assigned"]["GPU"] == 1.0
        assert r["accelerators"] == {"GPU": [r["cuda"]]}


def test_fractional_gpu_tasks_share_one_device(gpu_cluster, tmp_path):
    release = str(tmp_path / "release")
    marks = [str(tmp_path / f"started{i}") for i in range(2)]
    half = probe.options(num_gpus=0.5, label_selector={"zone": "gpu"})
    refs = [half.remote(release, m) for m in marks]
    _wait_files(marks)  # both run at once: two halves of one GPU
    open(release, "w").close()
    a, b = polyray.get(refs, timeout=60)
    assert a["cuda"] == b["cuda"] and a["cuda"] in ("0", "1")


def test_an_actor_keeps_its_gpu_and_a_cpu_task_sees_none(gpu_cluster):
    _, gnode, _ = gpu_cluster.nodes
    actor = GpuHolder.options(label_selector={"zone": "gpu"}).remote()
    one = polyray.get(actor.look.remote(), timeout=60)
    two = polyray.get(actor.look.remote(), timeout=60)
    assert one == two and one["node"] == gnode.node_id and one["cuda"] in ("0", "1")
    assert one["gpu_ids"] == [int(one["cuda"])] and one["assigned"] == {"GPU": 1.0}
    cpu = polyray.get(probe.options(label_selector={"zone": "gpu"}).remote(), timeout=60)
    assert cpu["node"] == gnode.node_id
    assert cpu["cuda"] is None and cpu["gpu_ids"] == [] and "GPU" not in cpu["assigned"]
    polyray.kill(actor)


def test_label_selector_and_fallback_strategy_pick_nodes(gpu_cluster):
    head, gnode, dnode = gpu_cluster.nodes
    on_g = polyray.get(probe.options(label_selector={"zone": "gpu"}).remote(), timeout=60)
    assert on_g["node"] == gnode.node_id
    assert on_g["labels"] == {**GPU_ZONE, "polyray.io/node-id": gnode.node_id}
    off = probe.options(label_selector={"zone": "!in(gpu,detected)"})
    assert {polyray.get(off.remote(), timeout=60)["node"] for _ in range(3)} == {head.node_id}
    by_id = probe.options(label_selector={"polyray.io/node-id": dnode.node_id})
    assert polyray.get(by_id.remote(), timeout=60)["node"] == dnode.node_id
    fallback = probe.options(label_selector={"zone": "nowhere"},
                             fallback_strategy=[{"label_selector": {"zone": "also-nowhere"}},
                                                {"label_selector": {"zone": "detected"}},
                                                {"label_selector": {"zone": "gpu"}}])
    assert polyray.get(fallback.remote(), timeout=60)["node"] == dnode.node_id
    # A selector no node matches waits (as in Ray), it does not fail.
    stuck = probe.options(label_selector={"zone": "nowhere"}).remote()
    ready, _ = polyray.wait([stuck], timeout=1.0)
    assert not ready
    polyray.cancel(stuck)
    with pytest.raises(polyray.exceptions.TaskCancelledError):
        polyray.get(stuck, timeout=30)


def test_actors_follow_label_selectors(gpu_cluster, capfd):
    _, _, dnode = gpu_cluster.nodes

    @polyray.remote
    class Where:
        def node(self) -> str:
            return polyray.get_runtime_context().get_node_id()

    a = Where.options(label_selector={"zone": "in(detected)"}).remote()
    assert polyray.get(a.node.remote(), timeout=60) == dnode.node_id
    b = Where.options(label_selector={"zone": "nowhere"},
                      fallback_strategy=[{"label_selector": {"zone": "detected"}}]).remote()
    assert polyray.get(b.node.remote(), timeout=60) == dnode.node_id
    with pytest.raises(ValueError, match="whole number"):
        Where.options(num_gpus=1.5)
    # No node matches: the actor waits, and the GCS warns this driver once (as tasks are warned).
    capfd.readouterr()
    stuck = Where.options(label_selector={"zone": "nowhere"}).remote()
    deadline, err = time.monotonic() + 20, ""
    while "cannot be scheduled right now" not in err:
        assert time.monotonic() < deadline, f"no warning for the actor on the driver's stderr: {err!r}"
        time.sleep(0.2)
        err += capfd.readouterr().err
    assert "label_selector {'zone': 'nowhere'}" in err and "scheduler" in err, err
    assert polyray.wait([stuck.node.remote()], timeout=0.5)[0] == []
    polyray.kill(stuck)
    polyray.kill(a)
    polyray.kill(b)
