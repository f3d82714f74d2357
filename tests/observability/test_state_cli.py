"""Task events from Python, Java and C++, read back through `polyray list | get | summary`
run as real subprocesses against a real cluster (and through polyray.util.state).

A Python driver calls a Java task that calls a C++ task (tests/observability/
java_src, tests/xlang/cpp_src/xlang_funcs.cc); tasks fail in each language;
actors of each language are created and one is killed; a worker is SIGKILLed
while it runs a task. Events reach the GCS within a flush interval (1 s), so
every check waits for its condition, bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest
from obs_support import code_search_path, wait_for
from xlang_support import polyray_cli

import polyray
import polyray.sdk
from polyray.exceptions import CrossLanguageError, TaskError, WorkerCrashedError
from polyray.util import state

pytestmark = pytest.mark.timeout(600)  # the first test may compile the C++ library
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 90


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    paths = code_search_path(tmp_path_factory, "obs_java")
    polyray.init(num_cpus=2, code_search_path=paths, namespace="obs")
    from polyray.core.object_ref import get_core
    yield get_core().gcs_address
    polyray.shutdown()


def cli(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*polyray_cli(), *args, "--address", address], capture_output=True, text=True,
                          timeout=60)


def cli_json(address: str, *args: str) -> Any:
    proc = cli(address, *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)



@polyray.remote
def py_add(a, b):
    return a + b


@polyray.remote(max_retries=0)
def py_fail():
    raise ValueError("python failure")


@polyray.remote(max_retries=0)
def py_sleep(seconds):
    time.sleep(seconds)
    return os.getpid()


@polyray.remote
class PyCounter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


def test_python_java_cpp_chain_shows_every_language_linked_by_parent(cluster):
    hop = polyray.java_function("obstest.Hop", "toCpp")
    assert polyray.get(hop.remote(41), timeout=TIMEOUT) == 42
    assert polyray.get(py_add.remote(1, 2), timeout=TIMEOUT) == 3

    def chain_rows():
        rows = cli_json(cluster, "list", "tasks", "--detail", "--limit", "1000")
        java = [r for r in rows if r["language"] == "JAVA" and "toCpp" in r["name"] and r["state"] == "FINISHED"]
        cpp = [r for r in rows if r["language"] == "CPP" and r["name"].endswith("Plus1") and r["state"] == "FINISHED"]
        py = [r for r in rows
              if r["language"] == "PYTHON" and r["name"].endswith("py_add") and r["state"] == "FINISHED"]
        return (java, cpp, py) if java and cpp and py else None

    java, cpp, py = wait_for("a FINISHED row of each language", chain_rows)
    # The C++ task was submitted by the Java task: its parent, and owned by that Java worker.
    assert cpp[-1]["parent_task_id"] == java[-1]["task_id"]
    for row in (java[-1], cpp[-1], py[-1]):
        assert row["worker_pid"] > 0 and row["node_id"] and row["start_time_ms"] > 0
        # Submit and queue times: the Python owner's and the Java owner's, carried by their
        # worker's event (a Python owner sends none of its own for a task that runs).
        assert 0 < row["submitted_time_ms"] <= row["pending_node_time_ms"] <= row["start_time_ms"]
        assert row["start_time_ms"] <= row["end_time_ms"]
    # Filters are done by the GCS (language) and on the client (!=); the result agrees.
    only_cpp = cli_json(cluster, "list", "tasks", "--filter", "language=cpp")
    assert only_cpp and {r["language"] for r in only_cpp} == {"CPP"}
    not_py = cli_json(cluster, "list", "tasks", "--filter", "language!=PYTHON")
    assert not_py and "PYTHON" not in {r["language"] for r in not_py}
    # The table names the columns; get shows one task, every column.
    table = cli(cluster, "list", "tasks")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:4] == [
        "TASK_ID", "ATTEMPT_NUMBER", "NAME", "STATE"]
    got = cli_json(cluster, "get", "tasks", java[-1]["task_id"])
    assert got["task_id"] == java[-1]["task_id"] and got["language"] == "JAVA" and got["attempts"]


def test_failed_tasks_of_each_language_carry_their_error_kind(cluster):
    refs = [py_fail.remote(), polyray.cpp_function("ThrowRuntime").remote("cpp failure"),
            polyray.java_function("obstest.Hop", "fail").remote(7)]
    for ref in refs:
        with pytest.raises((TaskError, CrossLanguageError)):
            polyray.get(ref, timeout=TIMEOUT)

    def failed():
        rows = cli_json(cluster, "list", "tasks", "--filter", "state=FAILED", "--detail")
        langs = {r["language"]: r for r in rows}
        return langs if {"PYTHON", "JAVA", "CPP"} <= set(langs) else None

    by_lang = wait_for("FAILED rows of Python, Java and C++", failed)
    assert by_lang["PYTHON"]["error_type"] == "TASK_ERROR" and "python failure" in by_lang["PYTHON"]["error_message"]
    assert by_lang["JAVA"]["error_type"] == "TASK_ERROR" and "java failure 7" in by_lang["JAVA"]["error_message"]
    assert by_lang["CPP"]["error_type"] == "TASK_ERROR" and "cpp failure" in by_lang["CPP"]["error_message"]
    # The summary counts them by name and state.
    summary = cli_json(cluster, "summary", "tasks")
    assert summary["total"] >= 3
    fail_entry = next(e for name, e in summary["summary"].items() if name.endswith("py_fail"))
    assert fail_entry["state_counts"].get("FAILED", 0) >= 1 and fail_entry["language"] == "PYTHON"
    text = cli(cluster, "summary", "tasks")
    assert text.returncode == 0 and "py_fail" in text.stdout


def test_a_killed_worker_leaves_its_task_failed_with_worker_crashed(cluster):
    ref = py_sleep.remote(60)

    def running():
        rows = state.list_tasks(cluster, filters=[("state", "=", "RUNNING"), ("name", "=", "py_sleep")])
        return [r for r in rows if r["worker_pid"]]

    row = wait_for("the sleeping task RUNNING with its pid", running)[0]
    os.kill(row["worker_pid"], signal.SIGKILL)
    with pytest.raises(WorkerCrashedError):
        polyray.get(ref, timeout=TIMEOUT)
    got = wait_for("the task FAILED", lambda: (lambda t: t if t and t["state"] == "FAILED" else None)(
        state.get_task(row["task_id"], cluster)))
    assert got["error_type"] == "WORKER_CRASHED"


def test_limits_and_bad_input(cluster):
    polyray.get([py_add.remote(i, i) for i in range(12)], timeout=TIMEOUT)
    wait_for("12+ py_add rows", lambda: len(state.list_tasks(cluster, filters=[("name", "=", "py_add")],
                                                             limit=1000)) >= 13)
    assert len(cli_json(cluster, "list", "tasks", "--limit", "5")) == 5
    assert len(state.list_tasks(cluster, filters=[("name", "=", "py_add")], limit=3)) == 3
    assert len(state.list_tasks(cluster, filters=[("attempt_number", "=", "0")], limit=4)) == 4  # client-side
    bad = cli(cluster, "list", "tasks", "--filter", "no_such_column=1")
    assert bad.returncode == 1 and "no column" in bad.stderr
    malformed = cli(cluster, "list", "tasks", "--filter", "state")
    assert malformed.returncode == 1 and "key=value" in malformed.stderr
    missing = cli(cluster, "get", "tasks", "00" * 24)
    assert missing.returncode == 1
    unreachable = subprocess.run([*polyray_cli(), "list", "nodes", "--address", "127.0.0.1:1", "--timeout", "2"],
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 1 and "127.0.0.1:1" in unreachable.stderr


def test_actors_nodes_workers_jobs(cluster):
    py = PyCounter.remote()
    assert polyray.get(py.add.remote(2), timeout=TIMEOUT) == 2
    cpp = polyray.cpp_actor_class("Counter::Create", "Counter").remote(5)
    assert polyray.get(cpp.Add.remote(1), timeout=TIMEOUT) is not None
    doomed = PyCounter.remote()
    polyray.get(doomed.add.remote(1), timeout=TIMEOUT)
    polyray.kill(doomed)

    def actors():
        rows = cli_json(cluster, "list", "actors", "--limit", "1000")
        by_id = {r["actor_id"]: r for r in rows}
        ids = (py._actor_id.hex(), cpp._actor_id.hex(), doomed._actor_id.hex())
        if all(i in by_id for i in ids) and by_id[ids[2]]["state"] == "DEAD":
            return [by_id[i] for i in ids]
        return None

    a_py, a_cpp, a_dead = wait_for("the three actors, one DEAD", actors)
    assert (a_py["state"], a_py["language"], a_py["class_name"]) == ("ALIVE", "PYTHON", "PyCounter")
    assert (a_cpp["state"], a_cpp["language"]) == ("ALIVE", "CPP")
    alive = cli_json(cluster, "list", "actors", "--filter", "state=ALIVE", "--limit", "1000")
    assert a_dead["actor_id"] not in {r["actor_id"] for r in alive}
    got = cli_json(cluster, "get", "actors", a_dead["actor_id"])
    assert got["state"] == "DEAD" and got["death_cause"]
    summary = cli_json(cluster, "summary", "actors")
    assert summary["summary"]["PyCounter"]["state_counts"] == {"ALIVE": 1, "DEAD": 1} or \
        summary["summary"]["PyCounter"]["state_counts"].get("DEAD", 0) >= 1
    # Actor method calls are task rows too, with the actor's id.
    rows = wait_for("the actor's method rows", lambda: state.list_tasks(
        cluster, filters=[("actor_id", "=", a_py["actor_id"]), ("state", "=", "FINISHED")]))
    assert {r["type"] for r in rows} >= {"ACTOR_TASK"}
    nodes = cli_json(cluster, "list", "nodes")
    assert len(nodes) == 1 and nodes[0]["state"] == "ALIVE" and nodes[0]["resources_total"]["CPU"] == 2
    workers = cli_json(cluster, "list", "workers", "--limit", "1000")
    assert {"PYTHON", "CPP"} <= {w["language"] for w in workers}
    assert any(w["worker_type"] == "DRIVER" for w in workers)
    jobs = cli_json(cluster, "list", "jobs")
    assert any(j["status"] == "RUNNING" and j["driver_pid"] == os.getpid() for j in jobs)
    yaml_text = cli(cluster, "list", "jobs", "--format", "yaml").stdout
    assert '"status": "RUNNING"' in yaml_text
    assert cli_json(cluster, "list", "placement-groups") == []
    # The events' drop counts: none dropped here.
    assert all(v == {"dropped_at_gcs": 0, "dropped_at_source": 0} for v in state.task_drop_counts(cluster).values())
