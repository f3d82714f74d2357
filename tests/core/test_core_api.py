"""The API around the cluster: init state, nodes and resources, the runtime context, bad input."""

from __future__ import annotations

import os
import threading
import time

import pytest
from core_util import wait_for_file, wait_stable

import polyray
from polyray import ObjectRef

pytestmark = pytest.mark.usefixtures("cluster")

T = 60
NUM_CPUS = 2


@polyray.remote
def noop(x=None):
    return x


@polyray.remote
class Box:
    def __init__(self, v=None):
        self.v = v

    def get(self):
        return self.v

    def set(self, v):
        self.v = v


def test_is_initialized():
    assert polyray.is_initialized() is True


def test_init_info(cluster):
    assert set(cluster) >= {"address", "node_id", "job_id"}
    assert ":" in cluster["address"]


def test_nodes():
    nodes = polyray.nodes()
    assert len(nodes) == 1
    node = nodes[0]
    assert node["Alive"] is True
    assert isinstance(node["NodeID"], str) and len(node["NodeID"]) > 0
    int(node["NodeID"], 16)  # hex
    assert node["Resources"]["CPU"] == NUM_CPUS
    assert node["ObjectStoreName"]


def test_cluster_resources_match_init():
    res = polyray.cluster_resources()
    assert res["CPU"] == NUM_CPUS
    assert all(isinstance(v, float) for v in res.values())


@polyray.remote
def hold(release, started):
    open(started, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _cpu():
    return polyray.available_resources().get("CPU", 0.0)


def test_available_resources_follow_running_tasks(tmp_path):
    assert wait_stable(lambda: _cpu() == NUM_CPUS, 15, 1.5), polyray.available_resources()
    release, started = str(tmp_path / "release"), str(tmp_path / "started")
    ref = hold.remote(release, started)
    wait_for_file(started, T)
    assert wait_stable(lambda: _cpu() == NUM_CPUS - 1, 15, 1.5), \
        f"a running 1-CPU task: expected {NUM_CPUS - 1} CPU available, got {polyray.available_resources()}"
    open(release, "w").close()
    assert polyray.get(ref, timeout=T) is True
    assert wait_stable(lambda: _cpu() == NUM_CPUS, 15, 1.5), polyray.available_resources()
    assert polyray.cluster_resources()["CPU"] == NUM_CPUS


def test_runtime_context_in_driver(cluster):
    ctx = polyray.get_runtime_context()
    assert ctx.get_node_id() == polyray.nodes()[0]["NodeID"]
    assert ctx.get_node_id() == cluster["node_id"]
    assert ctx.get_job_id() == cluster["job_id"]
    assert ctx.get_actor_id() is None


@polyray.remote
def context_in_task():
    ctx = polyray.get_runtime_context()
    return ctx.get_node_id(), ctx.get_job_id(), ctx.get_actor_id()


@polyray.remote
class ContextActor:
    def context(self):
        ctx = polyray.get_runtime_context()
        return ctx.get_node_id(), ctx.get_job_id(), ctx.get_actor_id()

    async def async_context(self):
        return polyray.get_runtime_context().get_actor_id()


def test_runtime_context_in_task_and_actor():
    driver = polyray.get_runtime_context()
    node, job, actor = polyray.get(context_in_task.remote(), timeout=T)
    assert (node, job, actor) == (driver.get_node_id(), driver.get_job_id(), None)
    a = ContextActor.remote()
    node, job, actor = polyray.get(a.context.remote(), timeout=T)
    assert node == driver.get_node_id() and job == driver.get_job_id()
    assert actor == a._actor_id.hex()
    b = ContextActor.remote()
    assert polyray.get(b.context.remote(), timeout=T)[2] == b._actor_id.hex() != actor
    assert polyray.get(b.async_context.remote(), timeout=T) == b._actor_id.hex()


# -- bad input ------------------------------------------------------------------


def test_calling_remote_function_directly():
    with pytest.raises(TypeError) as e:
        noop(1)
    assert ".remote(" in str(e.value)
    assert "noop" in str(e.value)


def test_instantiating_actor_class_directly():
    with pytest.raises(TypeError) as e:
        Box(1)
    assert ".remote(" in str(e.value)


def test_calling_actor_method_directly():
    b = Box.remote(1)
    with pytest.raises(TypeError) as e:
        b.get()
    assert ".remote(" in str(e.value)


@pytest.mark.parametrize("value", [1, "text", None, [1, 2], {"a": 1}])
def test_get_of_non_ref_names_the_type(value):
    with pytest.raises(TypeError) as e:
        polyray.get(value, timeout=5)
    assert type(value).__name__ in str(e.value)


def test_get_of_list_with_non_ref_names_the_type():
    ref = polyray.put(1)
    with pytest.raises(TypeError) as e:
        polyray.get([ref, 3.5], timeout=5)
    assert "float" in str(e.value)


def test_unserializable_positional_argument():
    lock = threading.Lock()
    with pytest.raises(Exception) as e:
        noop.remote(lock)
    text = str(e.value)
    assert "argument 0" in text
    assert "lock" in text.lower()


def test_unserializable_keyword_argument():
    with pytest.raises(Exception) as e:
        noop.remote(x=threading.Lock())
    text = str(e.value)
    assert "x" in text and "lock" in text.lower()


def test_unserializable_actor_argument():
    with pytest.raises(Exception) as e:
        Box.remote(threading.Lock())
    assert "lock" in str(e.value).lower() and "argument 0" in str(e.value)
    b = Box.remote(1)
    with pytest.raises(Exception) as e:
        b.set.remote(threading.Lock())
    assert "lock" in str(e.value).lower() and "argument 0" in str(e.value)
    assert polyray.get(b.get.remote(), timeout=T) == 1  # the actor is unaffected


def test_unserializable_return_value_is_a_task_error():
    @polyray.remote
    def returns_lock():
        return threading.Lock()

    with pytest.raises(polyray.exceptions.PolyrayError) as e:
        polyray.get(returns_lock.remote(), timeout=T)
    assert "lock" in str(e.value).lower()


def test_unknown_option():
    with pytest.raises(ValueError) as e:
        noop.options(num_cpu=1)
    assert "num_cpu" in str(e.value)
    with pytest.raises(ValueError) as e:
        @polyray.remote(bogus_option=3)
        def f():
            pass
    assert "bogus_option" in str(e.value)
    with pytest.raises(ValueError) as e:
        Box.options(max_concurrenc=2)
    assert "max_concurrenc" in str(e.value)
    with pytest.raises(ValueError) as e:
        noop.options(max_concurrency=2)  # an actor option on a task
    assert "max_concurrency" in str(e.value)


def test_negative_resources():
    with pytest.raises(ValueError) as e:
        noop.options(num_cpus=-1)
    assert "num_cpus" in str(e.value)
    with pytest.raises(ValueError) as e:
        noop.options(num_gpus=-0.5)
    assert "num_gpus" in str(e.value)
    with pytest.raises(ValueError) as e:
        noop.options(resources={"accel": -2})
    assert "accel" in str(e.value)
    with pytest.raises(ValueError) as e:
        @polyray.remote(num_cpus=-2)
        class C:
            pass
    assert "num_cpus" in str(e.value)


def test_bad_num_returns():
    with pytest.raises(ValueError) as e:
        noop.options(num_returns=-1)
    assert "num_returns" in str(e.value)


def test_init_twice():
    with pytest.raises(RuntimeError):
        polyray.init()
    with pytest.raises(RuntimeError):
        polyray.init(num_cpus=1)
    info = polyray.init(ignore_reinit_error=True)
    assert polyray.is_initialized()
    assert info["node_id"] == polyray.get_runtime_context().get_node_id()
    # still works
    assert polyray.get(noop.remote(5), timeout=T) == 5


def test_cancel_and_kill_bad_input():
    with pytest.raises(TypeError):
        polyray.cancel("not a ref")
    with pytest.raises(TypeError):
        polyray.kill("not an actor")


def test_object_ref_api():
    ref = polyray.put(1)
    assert isinstance(ref, ObjectRef)
    assert isinstance(ref.hex(), str) and bytes.fromhex(ref.hex()) == ref.binary()
    assert ref == ObjectRef(ref.binary()) and hash(ref) == hash(ref.binary())
