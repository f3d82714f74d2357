"""`polyray logs`, `polyray timeline`, the jobs REST paths, PENDING_ARGS, and the dashboard URL
of Java and C++ drivers, against a real cluster (issue 16).

One embedded head (polyray.init) with Python, Java and C++ workers: tasks of each language
print lines; their log files are listed and printed through the CLI (real subprocesses),
the state API and the dashboard's REST paths, and read through each raylet's ListLogs /
ReadLog (which refuse paths out of the log folder). A Python -> Java -> C++ chain is written
as a Chrome trace and parsed. The Java and C++ example drivers join the head and print its
dashboard URL. Every wait is for a condition, bounded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from obs_support import WAIT_S, code_search_path, wait_for
from xlang_support import build_cpp, build_example_drivers, driver_env, polyray_cli

import polyray
import polyray.sdk
from polyray.exceptions import TaskCancelledError
from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc
from polyray.util import state

pytestmark = pytest.mark.timeout(600)  # the first test may compile the C++ libraries
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUTPUT_SRC = os.path.join(HERE, "output_src")
TIMEOUT = 90


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    paths = code_search_path(tmp_path_factory, "logs_java")
    speak_lib = build_cpp("obs_speak", [os.path.join(OUTPUT_SRC, "speak.cc")], "shared")
    import java_support

    speak_classes = java_support.compiled_java("obs_speak_only", os.path.join(OUTPUT_SRC, "obsout", "Speak.java"))
    info = polyray.init(num_cpus=2, code_search_path=[*paths, speak_classes, speak_lib], namespace="logs")
    from polyray.api import _state
    head = _state["head"]
    yield {"address": info["address"], "dashboard": info.dashboard_url, "session": head.session_dir,
           "job_id": info["job_id"]}
    polyray.shutdown()


def cli(address: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*polyray_cli(), *args, "--address", address], capture_output=True, text=True,
                          timeout=timeout)



def http(url: str, token: str | None = "default") -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    tok = auth.current_token() if token == "default" else token
    if tok is not None:
        req.add_header("Authorization", f"Bearer {tok}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def task_id_of(ref: Any) -> str:
    return ref.hex()[:48]  # a return id is the task id and an index


@polyray.remote
def py_speak(token: str) -> int:
    print(f"py-says-{token}", flush=True)
    return os.getpid()


@polyray.remote
class Talker:
    def say(self, text: str) -> int:
        print(f"talker-{text}", flush=True)
        return os.getpid()


def _worker_row(task_id: str) -> dict:
    return wait_for(f"task {task_id} FINISHED with its worker",
                    lambda: (lambda t: t if t and t["state"] == "FINISHED" and t["worker_pid"] else None)(
                        state.get_task(task_id)))


# ----------------------------------------------------------------- logs

def test_logs_of_python_java_and_cpp_workers_listed_and_printed(cluster):
    addr = cluster["address"]
    token = uuid.uuid4().hex[:12]
    py_ref = py_speak.remote(token)
    java_ref = polyray.java_function("obsout.Speak", "speak").remote(7)
    cpp_ref = polyray.cpp_function("Speak").remote(9)
    assert polyray.get([java_ref, cpp_ref], timeout=TIMEOUT) == [7, 9]
    py_pid = polyray.get(py_ref, timeout=TIMEOUT)
    rows = {lang: _worker_row(task_id_of(ref)) for lang, ref in
            (("py", py_ref), ("java", java_ref), ("cpp", cpp_ref))}
    assert rows["py"]["worker_pid"] == py_pid

    # polyray logs: every worker's files, by node.
    listing = cli(addr, "logs")
    assert listing.returncode == 0, listing.stderr
    for r in rows.values():
        assert f"worker-{r['worker_id'][:16]}-" in listing.stdout, listing.stdout
    as_json = json.loads(cli(addr, "logs", "--format", "json").stdout)
    assert {f["node_id"] for f in as_json} == {rows["py"]["node_id"]}
    assert any(f["pid"] == py_pid and f["filename"].endswith(".out") for f in as_json)

    # Printed by pid, by worker id, by task id (each language's lines are in its worker's file).
    by_pid = {lang: cli(addr, "logs", "--pid", str(r["worker_pid"])) for lang, r in rows.items()}
    assert f"py-says-{token}" in by_pid["py"].stdout, by_pid["py"]
    assert "line-6" in by_pid["java"].stdout, by_pid["java"]
    assert "line-8" in by_pid["cpp"].stdout, by_pid["cpp"]
    by_worker = cli(addr, "logs", "--worker-id", rows["cpp"]["worker_id"])
    assert by_worker.returncode == 0 and "line-8" in by_worker.stdout
    # A Python task's lines are exactly its own (its worker marks each task's output), not those of
    # another task of the same function, on the same worker or not.
    other = uuid.uuid4().hex[:12]
    assert polyray.get([py_speak.remote(other) for _ in range(4)], timeout=TIMEOUT)
    by_task = cli(addr, "logs", "--task-id", task_id_of(py_ref))
    assert by_task.returncode == 0 and by_task.stdout == f"py-says-{token}\n", by_task
    assert "between its task marks" in by_task.stderr, by_task.stderr  # the note says what is shown
    # A C++ worker marks a change of function only: its task's lines are those under the name.
    cpp_task = cli(addr, "logs", "--task-id", task_id_of(cpp_ref))
    assert cpp_task.returncode == 0 and "line-8" in cpp_task.stdout, cpp_task
    assert "under the task's name" in cpp_task.stderr, cpp_task.stderr
    # The marks stay in the file: the driver's forwarded output has none (test_output.py checks it).
    assert f":polyray_task:{task_id_of(py_ref)}" in cli(addr, "logs", "--pid", str(py_pid)).stdout
    # --tail: the last lines only (the C++ task printed line-0 .. line-8).
    tail = cli(addr, "logs", "--worker-id", rows["cpp"]["worker_id"], "--tail", "2")
    assert tail.returncode == 0 and tail.stdout.splitlines()[-2:] == ["line-7", "line-8"], tail.stdout
    assert "line-6" not in tail.stdout
    # The state API says the same.
    text = "".join(state.get_log(pid=rows["java"]["worker_pid"], tail=3))
    assert text.splitlines() == ["line-4", "line-5", "line-6"], text
    assert any(f["filename"].startswith(f"worker-{rows['java']['worker_id'][:16]}-")
               for f in state.list_logs(node_id=rows["java"]["node_id"]))

    # REST: the list under Ray's path, a file's last lines, the token.
    base = cluster["dashboard"]
    status, body = http(f"{base}/api/v0/logs")
    assert status == 200, body
    data = json.loads(body)["data"]
    node = rows["cpp"]["node_id"]
    prefix = f"worker-{rows['cpp']['worker_id'][:16]}"
    cpp_out = next(n for n in data["result"][node]["worker_out"] if n.startswith(prefix))
    status, body = http(f"{base}/api/v0/logs/file?node_id={node}&filename={cpp_out}&lines=3")
    assert status == 200 and body.decode().splitlines() == ["line-6", "line-7", "line-8"], body
    status, body = http(f"{base}/api/v0/logs/file?pid={rows['py']['worker_pid']}")
    assert status == 200 and f"py-says-{token}" in body.decode()
    assert http(f"{base}/api/v0/logs", token=None)[0] == 401
    # The dashboard's Logs page lists every node's files, each linked to its last lines.
    status, body = http(f"{base}/logs")
    assert status == 200 and f"/api/v0/logs/file?node_id={node}&amp;filename={cpp_out}&amp;lines=1000" in \
        body.decode(), body[-2000:]
    assert http(f"{base}/api/v0/logs/file?node_id={node}&filename=no-such-file")[0] == 404


def test_paths_out_of_the_log_folder_are_refused(cluster):
    node = state.list_nodes(limit=1, detail=True)[0]
    target = node["raylet_address"]
    # A symlink in the log folder that leads out of it.
    logs_dir = os.path.join(cluster["session"], "logs")
    os.symlink("/etc/passwd", os.path.join(logs_dir, "escape.out"))
    with auth.channel(target) as ch:
        stub = raylet_pb2_grpc.RayletServiceStub(ch)
        for bad in ("../../etc/passwd", "/etc/passwd", "..", "escape.out", "../logs/escape.out", ""):
            with pytest.raises(grpc.RpcError) as e:
                stub.ReadLog(raylet_pb2.ReadLogRequest(filename=bad), timeout=30)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (bad, e.value)
        with pytest.raises(grpc.RpcError) as e:
            stub.ReadLog(raylet_pb2.ReadLogRequest(filename="no-such-file.out"), timeout=30)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        listed = stub.ListLogs(raylet_pb2.ListLogsRequest(), timeout=30)
        assert "escape.out" not in [f.filename for f in listed.files]
        assert listed.log_dir == os.path.abspath(logs_dir)
    # The CLI and REST refuse too, and say why.
    for bad in ("../../etc/passwd", "/etc/passwd"):
        done = cli(cluster["address"], "logs", bad)
        assert done.returncode == 1 and "refused" in done.stderr and "root:" not in done.stdout, done
        done = cli(cluster["address"], "logs", bad, "--node-id", node["node_id"])
        assert done.returncode == 1 and "refused" in done.stderr, done
    done = cli(cluster["address"], "logs", "escape.out", "--node-id", node["node_id"])
    assert done.returncode == 1 and "refused" in done.stderr and "root:" not in done.stdout, done
    status, body = http(f"{cluster['dashboard']}/api/v0/logs/file?node_id={node['node_id']}"
                        f"&filename=../../etc/passwd")
    assert status == 400 and b"root:" not in body


class _Reader:
    """Collects a subprocess's stdout lines on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self._t.start()

    def _run(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def _ctrl_c_as_in_a_terminal() -> None:
    """(In the child, before exec.) SIGINT back to its default: a suite started in the
    background of a non-interactive shell inherits SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler, so the Ctrl-C this test sends would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_follow_shows_what_is_printed_after_it_started_and_ends_with_the_worker(cluster):
    actor = Talker.remote()
    first = uuid.uuid4().hex[:8]
    pid = polyray.get(actor.say.remote(first), timeout=TIMEOUT)
    actor_id = actor._actor_id.hex()
    assert state.get_actor(actor_id)["pid"] == pid
    follower = subprocess.Popen([*polyray_cli(), "logs", "--actor-id", actor_id, "--follow",
                                 "--follow-timeout", "60", "--address", cluster["address"]],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reader = _Reader(follower)
        wait_for("the follower printed what was there", lambda: reader.has(f"talker-{first}"))
        later = uuid.uuid4().hex[:8]
        polyray.get(actor.say.remote(later), timeout=TIMEOUT)
        wait_for("the follower printed a line written after it started", lambda: reader.has(f"talker-{later}"))
        # The worker goes: the follower ends by itself (it was not forced to go on).
        polyray.kill(actor)
        follower.wait(timeout=WAIT_S)
        assert follower.returncode == 0, follower.stderr.read() if follower.stderr else ""
    finally:
        if follower.poll() is None:
            follower.send_signal(signal.SIGINT)
            follower.wait(10)
    # Ctrl-C ends a forced follow, with status 0.
    other = Talker.remote()
    polyray.get(other.say.remote("x"), timeout=TIMEOUT)
    forced = subprocess.Popen([*polyray_cli(), "logs", "--pid", str(polyray.get(other.say.remote("y"))),
                               "--follow", "--force", "--address", cluster["address"]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=_ctrl_c_as_in_a_terminal)
    reader = _Reader(forced)
    wait_for("the forced follower printed", lambda: reader.has("talker-y"))
    forced.send_signal(signal.SIGINT)
    assert forced.wait(timeout=WAIT_S) == 0


# ----------------------------------------------------------------- timeline

@polyray.remote
def py_calls_java(x: int) -> int:
    hop = polyray.java_function("obstest.Hop", "toCpp")  # Java, which calls C++ Plus1
    return polyray.get(hop.remote(x), timeout=90)


def test_timeline_of_a_python_java_cpp_chain_is_one_flow(cluster, tmp_path):
    ref = py_calls_java.remote(41)
    assert polyray.get(ref, timeout=TIMEOUT) == 42
    py_task = task_id_of(ref)

    def chain() -> list[dict] | None:
        rows = state.list_tasks(limit=10_000, detail=True)
        java = [r for r in rows if r["parent_task_id"] == py_task and r["state"] == "FINISHED"]
        cpp = [r for r in rows if java and r["parent_task_id"] == java[0]["task_id"] and r["state"] == "FINISHED"]
        py = [r for r in rows if r["task_id"] == py_task and r["state"] == "FINISHED"]
        return [py[0], java[0], cpp[0]] if py and java and cpp else None

    py, java, cpp = wait_for("the three tasks FINISHED, linked by parent", chain)
    assert (py["language"], java["language"], cpp["language"]) == ("PYTHON", "JAVA", "CPP")
    out = tmp_path / "trace.json"
    done = cli(cluster["address"], "timeline", "--output", str(out))
    assert done.returncode == 0 and "wrote" in done.stdout, done
    events = json.loads(out.read_text())
    # Chrome's JSON array format: every event has a name, a phase, a pid; timed ones a ts.
    assert isinstance(events, list) and events
    for e in events:
        assert isinstance(e["name"], str) and e["ph"] in ("X", "s", "f", "M") and isinstance(e["pid"], int)
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["cat"] == "task"
    spans = {e["args"]["task_id"]: e for e in events if e["ph"] == "X"}
    chain_spans = [spans[r["task_id"]] for r in (py, java, cpp)]
    assert [s["args"]["language"] for s in chain_spans] == ["PYTHON", "JAVA", "CPP"]
    for s, r in zip(chain_spans, (py, java, cpp), strict=True):
        assert s["tid"] == r["worker_pid"] and s["args"]["state"] == "FINISHED"
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "f"}

    def flow(parent: dict, child: dict) -> bool:
        for fid, f in ends.items():
            s = starts.get(fid)
            if s is None or (f["pid"], f["tid"], f["ts"]) != (child["pid"], child["tid"], child["ts"]):
                continue
            if (s["pid"], s["tid"]) == (parent["pid"], parent["tid"]) and \
                    parent["ts"] <= s["ts"] <= parent["ts"] + parent["dur"]:
                return True
        return False

    assert flow(chain_spans[0], chain_spans[1]), "no flow from the Python span to the Java span"
    assert flow(chain_spans[1], chain_spans[2]), "no flow from the Java span to the C++ span"
    # The Python API returns the same events.
    api_events = polyray.timeline()
    assert api_events is not None and any(e.get("args", {}).get("task_id") == cpp["task_id"] for e in api_events)


# ----------------------------------------------------------------- jobs REST

def test_jobs_rest_lists_the_job_table(cluster):
    base = cluster["dashboard"]
    status, body = http(f"{base}/api/jobs/")
    assert status == 200, body
    jobs = json.loads(body)
    mine = [j for j in jobs if j["job_id"] == cluster["job_id"]]
    assert len(mine) == 1, jobs
    job = mine[0]
    assert job["status"] == "RUNNING" and job["type"] == "DRIVER" and job["driver_info"]["pid"] == str(os.getpid())
    assert job["start_time"] > 0 and job["end_time"] is None and job["driver_info"]["language"] == "PYTHON"
    assert job["entrypoint"].startswith("python ") and "pytest" in job["entrypoint"], job["entrypoint"]
    status, body = http(f"{base}/api/jobs/{cluster['job_id']}")
    assert status == 200 and json.loads(body)["job_id"] == cluster["job_id"]
    assert http(f"{base}/api/jobs/ffffff00")[0] == 404
    assert http(f"{base}/api/jobs/not-hex")[0] == 404  # could be a submission id (docs/jobs.md): not found
    assert http(f"{base}/api/jobs/", token=None)[0] == 401


# ----------------------------------------------------------------- PENDING_ARGS

@polyray.remote(max_concurrency=4)
class Gate:
    """An argument that is ready when the test says so: wait() returns once open() was called."""

    def __init__(self) -> None:
        self._open = threading.Event()

    def wait(self) -> int:
        assert self._open.wait(120), "the test never opened the gate"
        return 5

    def open(self) -> None:
        self._open.set()


@polyray.remote
def add_one(x: int) -> int:
    return x + 1


def _state_of(task_id: str, want: str) -> Callable[[], dict | None]:
    return lambda: (lambda t: t if t and t["state"] == want else None)(state.get_task(task_id))


def test_a_task_waiting_on_a_slow_argument_is_pending_args_until_it_is_ready(cluster):
    gate = Gate.remote()
    arg = gate.wait.remote()
    ref = add_one.remote(arg)
    tid = task_id_of(ref)
    row = wait_for("the task PENDING_ARGS", _state_of(tid, "PENDING_ARGS"))
    assert row["start_time_ms"] == 0 and row["pending_node_time_ms"] == 0  # not queued for a worker yet
    # A task cancelled while it waits for its arguments never runs.
    waiting = add_one.remote(gate.wait.remote())
    wait_for("the second task PENDING_ARGS", _state_of(task_id_of(waiting), "PENDING_ARGS"))
    polyray.cancel(waiting)
    with pytest.raises(TaskCancelledError):
        polyray.get(waiting, timeout=TIMEOUT)
    # Still waiting (the gate is shut); once the argument is there it runs.
    assert state.get_task(tid)["state"] == "PENDING_ARGS"
    gate.open.remote()
    assert polyray.get(ref, timeout=TIMEOUT) == 6
    done = wait_for("the task FINISHED", _state_of(tid, "FINISHED"))
    arg_row = wait_for("the argument's task FINISHED", _state_of(task_id_of(arg), "FINISHED"))
    assert 0 < done["pending_args_time_ms"] <= done["pending_node_time_ms"] <= done["start_time_ms"]
    # It was queued for a lease only once its argument was there.
    assert done["pending_node_time_ms"] >= arg_row["end_time_ms"] - 5
    assert state.get_task(task_id_of(waiting))["start_time_ms"] == 0  # the cancelled one never started


# ----------------------------------------------------------------- Java and C++ drivers

@pytest.fixture(scope="module")
def example_drivers(tmp_path_factory):
    """examples/JavaDriver.java compiled, and examples/cpp/driver.cc linked with its library."""
    return build_example_drivers(str(tmp_path_factory.mktemp("example_java")))


def run_example(example_drivers: dict, lang: str, args: list[str], cwd: str) -> subprocess.CompletedProcess:
    env = driver_env(POLYRAY_PYTHON=sys.executable, POLYRAY_CODE_SEARCH_PATH=os.path.join(REPO, "examples")
                     if lang == "java" else None)
    run = subprocess.run([*example_drivers[lang], *args], capture_output=True, text=True, env=env, timeout=180,
                         cwd=cwd)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run


def test_java_and_cpp_example_drivers_print_the_dashboard_url(cluster, example_drivers, tmp_path):
    url = cluster["dashboard"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    # Java: examples/JavaDriver.java joins the running head.
    java = run_example(example_drivers, "java", [cluster["address"]], str(tmp_path))
    assert re.findall(r"^\[polyray\] dashboard: (\S+)$", java.stderr, flags=re.M) == [url], java.stderr[-2000:]
    assert f"[java driver] dashboard: {url}" in java.stdout, java.stdout[-2000:]  # InitInfo.getDashboardUrl()
    # C++: examples/cpp/driver.cc, linked with its library, joins the running head.
    cpp = run_example(example_drivers, "cpp", [cluster["address"]], str(tmp_path))
    assert re.findall(r"^\[polyray\] dashboard: (\S+)$", cpp.stderr, flags=re.M) == [url], cpp.stderr[-2000:]
    assert f"dashboard: {url}" in cpp.stdout  # InitInfo::dashboard_url
    exe = example_drivers["cpp"][0]
    # Both jobs are in the job table, finished, with their command lines.
    status, body = http(f"{url}/api/jobs/")
    assert status == 200
    jobs = {j["driver_info"]["language"]: j for j in json.loads(body) if j["driver_info"]["language"] != "PYTHON"}
    assert jobs["JAVA"]["entrypoint"] == f"java JavaDriver {cluster['address']}", jobs["JAVA"]
    assert jobs["CPP"]["entrypoint"] == f"{exe} {cluster['address']}", jobs["CPP"]
    assert jobs["JAVA"]["status"] == jobs["CPP"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("lang", ["java", "cpp"])
def test_java_and_cpp_drivers_of_an_embedded_head_print_its_dashboard_url(example_drivers, lang, tmp_path):
    # No address: the driver starts its own head (python -m polyray.node), which serves a dashboard
    # a moment after its GCS; Init waits for the URL (at most 10 s) and prints it once.
    run = run_example(example_drivers, lang, [], str(tmp_path))
    printed = re.findall(r"^\[polyray\] dashboard: (\S+)$", run.stderr, flags=re.M)
    assert len(printed) == 1 and re.fullmatch(r"http://127\.0\.0\.1:\d+", printed[0]), run.stderr[-3000:]
    returned = re.findall(r"dashboard: (\S*)$", run.stdout, flags=re.M)
    assert returned == printed, run.stdout[-2000:]  # the InitInfo's URL is the one printed
