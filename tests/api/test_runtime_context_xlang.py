"""The runtime context in Java and C++ (issue 17), compared with Python's and with the
state API, and C++'s ExitActor() and built-in actor methods, called from Python (real
JVM and C++ workers on an embedded cluster; the C++ driver's side is in
test_cpp_actor_exit_driver.py).

A Python driver calls a Python, a Java and a C++ task and an actor method of each
language that return their context as a map: job, node and namespace are the driver's,
the task id is the one `polyray list tasks` shows for that call (with the same job,
node, worker and actor), the actor id is the handle's, a restarted actor says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import java_support
import pytest

import polyray
from polyray.exceptions import ActorDiedError, TaskError
from polyray.util.state import list_tasks

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the C++ library
TIMEOUT = 90
NAMESPACE = "ctx_ns"


@pytest.fixture(scope="module")
def ctx_cluster(tmp_path_factory):
    java_out = java_support.compile_java_sources(os.path.join(HERE, "java_ctx_src"),
                                                 str(tmp_path_factory.mktemp("ctx_java")))
    lib = build_cpp("context_funcs", [os.path.join(HERE, "cpp_src", "context_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2, namespace=NAMESPACE, code_search_path=[java_out, lib])
    try:
        yield info
    finally:
        polyray.shutdown()


@polyray.remote
def py_context() -> dict:
    return _describe()


@polyray.remote
class PyCtx:
    def context(self) -> dict:
        return _describe()

    def pid(self) -> int:
        return os.getpid()


def _describe() -> dict:
    c = polyray.get_runtime_context()
    res = ",".join(f"{k}={v}" for k, v in sorted(c.get_assigned_resources().items()))
    return {"job_id": c.get_job_id(), "node_id": c.get_node_id(), "worker_id": c.get_worker_id(),
            "task_id": c.get_task_id() or "null", "actor_id": c.get_actor_id() or "null",
            "restarted": str(c.was_current_actor_reconstructed).lower(), "namespace": c.namespace,
            "is_driver": "false", "resources": res}


def _resources(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (p.split("=") for p in text.split(",") if p)}


def _task_row(task_id: str) -> dict:
    deadline = time.monotonic() + 30  # task events reach the GCS in batches
    while time.monotonic() < deadline:
        rows = [r for r in list_tasks(detail=True, limit=100_000) if r["task_id"] == task_id]
        if rows and rows[-1]["state"] == "FINISHED":  # the executing worker's events are in
            return rows[-1]
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} is not in the state API's task list")


def _check(ctx: dict, info, ref, actor_id: str | None, resources: dict[str, float]) -> None:
    driver = polyray.get_runtime_context()
    assert ctx["job_id"] == info["job_id"] == driver.get_job_id()
    assert ctx["node_id"] == info["node_id"]
    assert ctx["namespace"] == NAMESPACE
    assert ctx["is_driver"] == "false"
    assert ctx["worker_id"] != driver.get_worker_id()
    assert ctx["task_id"] == ref.hex()[: len(ctx["task_id"])] and len(ctx["task_id"]) >= 32, (ctx, ref.hex())
    assert ctx["actor_id"] == (actor_id or "null")  # Java and C++ say "null" for none
    assert ctx["restarted"] == "false"
    assert _resources(ctx["resources"]) == resources
    row = _task_row(ctx["task_id"])
    assert (row["job_id"], row["node_id"], row["worker_id"]) == (ctx["job_id"], ctx["node_id"], ctx["worker_id"])
    assert row["actor_id"] == (actor_id or "")


TASKS = {
    "python": lambda: py_context,
    "java": lambda: polyray.java_function("ctxtest.Ctx", "context"),
    "cpp": lambda: polyray.cpp_function("TaskContext"),
}


@pytest.mark.parametrize("language", sorted(TASKS))
def test_task_context_matches_python_and_state_api(ctx_cluster, language):
    ref = TASKS[language]().remote()
    ctx = polyray.get(ref, timeout=TIMEOUT)
    _check(ctx, ctx_cluster, ref, None, {"CPU": 1.0})


ACTORS = {
    "python": (lambda: PyCtx, "context"),
    "java": (lambda: polyray.java_actor_class("ctxtest.Ctx"), "actorContext"),
    "cpp": (lambda: polyray.cpp_actor_class("CtxActor::Create", "CtxActor"), "Context"),
}
PIDS = {"python": "pid", "java": "pid", "cpp": "Pid"}


@pytest.mark.parametrize("language", sorted(ACTORS))
def test_actor_context_and_restart(ctx_cluster, language):
    cls, method = ACTORS[language]
    a = cls().options(max_restarts=1).remote()
    ref = getattr(a, method).remote()
    ctx = polyray.get(ref, timeout=TIMEOUT)
    aid = a._actor_id.hex()
    _check(ctx, ctx_cluster, ref, aid, {})
    pid = polyray.get(getattr(a, PIDS[language]).remote(), timeout=TIMEOUT)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT
    while True:  # calls in flight at the death fail; the restarted actor answers
        try:
            again = polyray.get(getattr(a, method).remote(), timeout=TIMEOUT)
            break
        except ActorDiedError:
            assert time.monotonic() < deadline, "the actor did not restart"
            time.sleep(0.1)
    assert again["restarted"] == "true" and again["actor_id"] == aid
    assert again["worker_id"] != ctx["worker_id"]


def test_driver_context_has_no_task(ctx_cluster):
    c = polyray.get_runtime_context()
    assert c.get_task_id() is None and c.get_actor_id() is None and c.was_current_actor_reconstructed is False


def _gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _cpp_actor(max_restarts: int = 2):
    return polyray.cpp_actor_class("CtxActor::Create", "CtxActor").options(max_restarts=max_restarts).remote()


def test_cpp_exit_actor(ctx_cluster):
    a = _cpp_actor()
    pid = polyray.get(a.Pid.remote(), timeout=TIMEOUT)
    with pytest.raises(ActorDiedError):  # its reply or the GCS's kill, whichever reaches the caller first
        polyray.get(a.Leave.remote(), timeout=TIMEOUT)
    assert _gone(pid), "the C++ actor's process is still running"
    with pytest.raises(ActorDiedError):  # an intended exit: no restart, whatever max_restarts
        polyray.get(a.Pid.remote(), timeout=TIMEOUT)


def test_cpp_exit_actor_outside_an_actor_is_the_tasks_error(ctx_cluster):
    with pytest.raises(TaskError, match="ExitActor"):
        polyray.get(polyray.cpp_function("ExitOutsideActor").remote(), timeout=TIMEOUT)


@pytest.mark.parametrize("prefix", ["polyray", "ray"])
def test_cpp_ready_and_graceful_terminate(ctx_cluster, prefix):
    a = _cpp_actor(max_restarts=1)
    assert polyray.get(getattr(a, f"__{prefix}_ready__").remote(), timeout=TIMEOUT) is True
    pid = polyray.get(a.Pid.remote(), timeout=TIMEOUT)
    queued = [a.Slow.remote(200) for _ in range(3)]
    term = getattr(a, f"__{prefix}_terminate__").remote()
    assert polyray.get(queued, timeout=TIMEOUT) == [1, 2, 3]
    with pytest.raises(ActorDiedError):
        polyray.get(term, timeout=TIMEOUT)
    assert _gone(pid), "the C++ actor's process is still running"
    with pytest.raises(ActorDiedError):
        polyray.get(a.Pid.remote(), timeout=TIMEOUT)
    with pytest.raises(TypeError, match="takes the function to run with the actor first"):
        a.__polyray_call__.remote(polyray.java_function("a.B", "c"))  # a C++ actor runs a cpp_function


def test_cpp_driver_context_exit_actor_and_builtins(ctx_cluster):
    """The C++ driver's side (cpp_src/context_driver.cc) against this module's cluster."""
    exe = build_cpp("context_driver", [os.path.join(HERE, "cpp_src", "context_driver.cc")], "exe")
    lib = build_cpp("context_funcs", [os.path.join(HERE, "cpp_src", "context_funcs.cc")], "shared")
    env = dict(os.environ)
    env.pop("POLYRAY_ADDRESS", None)
    p = subprocess.run([exe, ctx_cluster["address"], lib], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr[-4000:]
    r = json.loads([line for line in p.stdout.splitlines() if line.startswith("{")][-1])
    assert r["ctx_job_id"] == r["job_id"] == r["actor_ctx_job"] != ctx_cluster["job_id"]  # its own job
    assert r["is_driver"] and r["task_id"] == "" and r["actor_id"] == "" and r["resources_refused"]
    assert r["node_id"] == ctx_cluster["node_id"]
    assert r["ready"] and r["actor_ctx_id"] == r["actor"]
    assert r["leave_died"] and r["after_leave_died"] and _gone(r["exit_pid"])
    assert r["slow"] == "1,2,3" and r["term_died"] and r["after_term_died"] and _gone(r["term_pid"])
    # Task events of the C++ driver's calls (issue 16): the C++ owner writes its times into the
    # spec it pushes and sends no event of a call that returns, so each FINISHED row is the C++
    # worker's one event carrying the owner's submit and queue times.
    def finished() -> list[dict] | None:
        rows = list_tasks(filters=[("job_id", "=", r["job_id"])], detail=True, limit=10_000)
        done = [row for row in rows if row["type"] == "ACTOR_TASK" and row["state"] == "FINISHED"]
        return done if len(done) >= 4 else None

    deadline = time.monotonic() + 30
    while (rows := finished()) is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert rows, list_tasks(filters=[("job_id", "=", r["job_id"])], detail=True, limit=10_000)
    for row in rows:
        assert row["language"] == "CPP", row
        assert 0 < row["submitted_time_ms"] <= row["pending_node_time_ms"] <= row["start_time_ms"] \
            <= row["end_time_ms"], row
