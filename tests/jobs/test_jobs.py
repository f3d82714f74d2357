"""Job submission against a real head (python -m polyray.node --head): the REST
under Ray's Jobs paths, the ``polyray job`` CLI (real subprocesses), entrypoints
of Python, Java and C++ drivers, failures, and stop in every state (real
signals to real process groups). One head for the module; every wait is for a
condition, bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from xlang_support import build_example_drivers, polyray_cli

from polyray.jobs.store import list_submissions
from polyray.node import start_embedded_head
from polyray.protocol import auth

pytestmark = pytest.mark.timeout(300)  # the Java/C++ test may compile the example drivers
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WAIT_S = 60.0
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


@pytest.fixture(scope="module")
def head():
    h = start_embedded_head(num_cpus=2)
    url = h.dashboard_url(timeout=30)
    assert url, "the head serves no dashboard"
    yield {"address": h.address, "url": url, "session": h.session_dir}
    h.stop()


def http(url: str, method: str = "GET", body: Any = None, token: str | None = "default",
         raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    tok = auth.current_token() if token == "default" else token
    if tok is not None:
        req.add_header("Authorization", f"Bearer {tok}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode("utf-8", "replace")


def submit(head: dict, entrypoint: str, **fields: Any) -> str:
    status, body = http(f"{head['url']}/api/jobs/", "POST", {"entrypoint": entrypoint, **fields})
    assert status == 200, body
    return str(body["submission_id"])


def info(head: dict, sid: str) -> dict:
    status, body = http(f"{head['url']}/api/jobs/{sid}")
    assert status == 200, body
    return dict(body)


def wait_for(head: dict, sid: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = WAIT_S) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = info(head, sid)
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job {sid} still {job['status']} after {timeout} s: {job}"
        time.sleep(0.1)


def logs(head: dict, sid: str) -> str:
    status, body = http(f"{head['url']}/api/jobs/{sid}/logs")
    assert status == 200, body
    return str(body["logs"])


def cli(head: dict, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([*polyray_cli(), "job", *args], capture_output=True, text=True, timeout=timeout)


def group_gone(pgid: int, timeout: float = 10.0) -> bool:
    """Whether no process of the group is left (its killed members may take a moment to be reaped)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# ----------------------------------------------------------------- Python, through the CLI

def test_python_entrypoint_with_a_working_dir_runs_tasks_and_is_linked_to_its_driver(head, tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "helper.py").write_text("def square(x):\n    return x * x\n")
    (wd / "main.py").write_text(
        "import os\nimport polyray\nfrom helper import square\n"
        "polyray.init(address='auto')\n"  # POLYRAY_ADDRESS, which the manager sets
        "f = polyray.remote(square)\n"
        "print('squares', polyray.get([f.remote(i) for i in range(5)]), 'greeting', os.environ['GREETING'])\n")
    run = cli(head, "submit", "--address", head["address"], "--working-dir", str(wd), "--submission-id", "py-job",
              "--runtime-env-json", json.dumps({"env_vars": {"GREETING": "hello"}}), "--", "python", "main.py")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "squares [0, 1, 4, 9, 16] greeting hello" in run.stdout, run.stdout + run.stderr  # streamed
    job = info(head, "py-job")
    assert job["status"] == "SUCCEEDED" and job["driver_exit_code"] == 0 and job["type"] == "SUBMISSION"
    assert job["runtime_env"]["working_dir"].startswith("gcs://"), job["runtime_env"]  # uploaded by the client
    # The driver the entrypoint started is this submission's job (python main.py is exec'd by the shell).
    assert job["job_id"] and job["driver_info"]["language"] == "PYTHON", job
    assert "squares [0, 1, 4, 9, 16]" in logs(head, "py-job")
    log_file = os.path.join(head["session"], "logs", "job-driver-py-job.log")
    assert open(log_file).read() == logs(head, "py-job")
    # A second submission under the same id is refused.
    again = cli(head, "submit", "--address", head["url"], "--submission-id", "py-job", "--no-wait", "--", "true")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_list_shows_submitted_and_driver_jobs(head):
    sid = submit(head, "echo listed")
    # A driver the shell does not exec (not the entrypoint's pid): linked by its process group.
    scripted = submit(head, "echo first; python -c 'import polyray, time; polyray.init(address=\"auto\"); "
                            "time.sleep(1)'")
    wait_for(head, sid)
    job = wait_for(head, scripted)
    assert job["status"] == "SUCCEEDED" and job["job_id"], (job, logs(head, scripted))
    assert int(job["driver_info"]["pid"]) != job["pid"]
    # A driver that was not submitted: a plain driver joining the head.
    code = f"import polyray; polyray.init(address={head['address']!r}); polyray.shutdown()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
    run = cli(head, "list", "--address", head["url"], "--format", "json")
    assert run.returncode == 0, run.stderr
    jobs = json.loads(run.stdout)
    kinds = {(j["type"], j["submission_id"]) for j in jobs}
    assert ("SUBMISSION", sid) in kinds and any(t == "DRIVER" for t, _ in kinds), jobs
    linked = {j["job_id"] for j in jobs if j["type"] == "SUBMISSION" and j["job_id"]}
    assert not any(j["type"] == "DRIVER" and j["job_id"] in linked for j in jobs)  # shown once, as its submission
    # Any client reads the records straight from the GCS's KV.
    stored = {r.submission_id: r for r in list_submissions(head["address"])}
    assert stored[sid].status.value == "SUCCEEDED" and stored[sid].entrypoint == "echo listed"
    status, page = http(f"{head['url']}/jobs")  # the dashboard's Jobs page lists them too
    assert status == 200 and "Submitted jobs" in page and sid in page, page[-2000:]
    table = cli(head, "list", "--address", head["address"])
    assert table.returncode == 0 and sid in table.stdout and "DRIVER" in table.stdout


# ----------------------------------------------------------------- Java and C++ drivers

@pytest.fixture(scope="module")
def example_drivers(tmp_path_factory):
    """examples/JavaDriver.java compiled, and examples/cpp/driver.cc linked with its library (as entrypoints)."""
    argv = build_example_drivers(str(tmp_path_factory.mktemp("job_java")))
    return {lang: " ".join(cmd) for lang, cmd in argv.items()}


def test_java_and_cpp_drivers_run_as_jobs(head, example_drivers):
    env = {"env_vars": {"POLYRAY_CODE_SEARCH_PATH": os.path.join(REPO, "examples"), "POLYRAY_PYTHON": sys.executable}}
    # The drivers take the cluster's address as their argument: the entrypoint's POLYRAY_ADDRESS.
    java = submit(head, example_drivers["java"] + ' "$POLYRAY_ADDRESS"', runtime_env=env)
    cpp = submit(head, example_drivers["cpp"] + ' "$POLYRAY_ADDRESS"')
    for sid, lang, marker in ((java, "JAVA", "[java driver] most common words"), (cpp, "CPP", "ok    ")):
        job = wait_for(head, sid, timeout=120)
        text = logs(head, sid)
        assert job["status"] == "SUCCEEDED", (job, text[-3000:])
        assert marker in text and "WRONG" not in text, text[-3000:]
        assert job["driver_info"] and job["driver_info"]["language"] == lang, job


# ----------------------------------------------------------------- failures

def test_failures_carry_the_exit_code_the_reason_and_the_log_tail(head):
    failing = submit(head, "echo before-the-end; echo oops-marker >&2; exit 3")
    missing = submit(head, "no_such_command_polyray_xyz")
    bad_env = submit(head, "true", runtime_env={"working_dir": "/nonexistent/polyray-job-dir"})
    job = wait_for(head, failing, timeout=20)
    assert job["status"] == "FAILED" and job["driver_exit_code"] == 3 and job["error_type"] == "JOB_ENTRYPOINT_FAILED"
    assert "exit code 3" in job["message"] and "oops-marker" in job["message"], job["message"]
    job = wait_for(head, missing, timeout=20)
    assert job["status"] == "FAILED" and job["driver_exit_code"] == 127 and "not found" in job["message"]
    job = wait_for(head, bad_env, timeout=20)
    assert job["status"] == "FAILED" and job["error_type"] == "RUNTIME_ENV_SETUP_FAILED", job
    assert "/nonexistent/polyray-job-dir" in job["message"] and job["driver_exit_code"] is None
    # The CLI's submit waits and exits non-zero with the message.
    run = cli(head, "submit", "--address", head["url"], "--", "echo cli-fail; exit 5")
    assert run.returncode == 1 and "cli-fail" in run.stdout and "exit code 5" in run.stderr, run.stdout + run.stderr
    # Delete: only once ended; afterwards it is gone.
    status, body = http(f"{head['url']}/api/jobs/{failing}", "DELETE")
    assert status == 200 and body == {"deleted": True}
    assert http(f"{head['url']}/api/jobs/{failing}")[0] == 404


# ----------------------------------------------------------------- stop

def test_stop_while_pending_running_and_ignoring_sigterm(head):
    pending = submit(head, "echo must-not-run", entrypoint_num_cpus=1000)
    running = submit(head, "echo started; exec sleep 60")
    stubborn = submit(head, "trap '' TERM; echo ignoring; sleep 60; echo survived")
    wait_for(head, pending, ("PENDING",))
    for sid, word in ((running, "started"), (stubborn, "ignoring")):
        wait_for(head, sid, ("RUNNING",))
        deadline = time.monotonic() + WAIT_S
        while word not in logs(head, sid):
            assert time.monotonic() < deadline, f"{sid} never printed {word}"
            time.sleep(0.05)
    assert "waiting for entrypoint resources" in info(head, pending)["message"]

    # PENDING: stopped at once, never runs (CLI).
    run = cli(head, "stop", pending, "--address", head["url"])
    assert run.returncode == 0, run.stderr
    job = wait_for(head, pending, timeout=10)
    assert job["status"] == "STOPPED" and "never ran" in job["message"] and "must-not-run" not in logs(head, pending)

    # RUNNING: SIGTERM ends it well within the grace.
    t0 = time.monotonic()
    assert http(f"{head['url']}/api/jobs/{running}/stop", "POST") == (200, {"stopped": True})
    job = wait_for(head, running, timeout=10)
    assert job["status"] == "STOPPED" and job["driver_exit_code"] == -15 and time.monotonic() - t0 < 2.5
    assert group_gone(job["pid"])

    # Ignoring SIGTERM: SIGKILL after the grace (1 s here), the whole group.
    t0 = time.monotonic()
    follow = subprocess.Popen([*polyray_cli(), "job", "logs", stubborn, "--follow", "--address", head["url"]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert http(f"{head['url']}/api/jobs/{stubborn}/stop?grace_s=1", "POST") == (200, {"stopped": True})
    job = wait_for(head, stubborn, timeout=10)
    elapsed = time.monotonic() - t0
    assert job["status"] == "STOPPED" and "SIGKILL after the 1 s grace period" in job["message"], job
    assert 1.0 <= elapsed < 6.0, elapsed
    assert group_gone(job["pid"]) and "survived" not in logs(head, stubborn)
    out, err = follow.communicate(timeout=30)  # the follow ends with the job
    assert follow.returncode == 0 and "ignoring" in out, err
    # Stopping an ended job says so; deleting a running one is refused.
    assert http(f"{head['url']}/api/jobs/{stubborn}/stop", "POST") == (200, {"stopped": False})
    live = submit(head, "exec sleep 30")
    status, body = http(f"{head['url']}/api/jobs/{live}", "DELETE")
    assert status == 400 and "only a job that has ended" in body["msg"]
    http(f"{head['url']}/api/jobs/{live}/stop", "POST")
    wait_for(head, live, timeout=10)


# ----------------------------------------------------------------- the REST's guards

def test_rest_refuses_without_the_token_and_names_bad_fields(head):
    url = head["url"]
    for token in (None, "0" * 64):
        status, _ = http(f"{url}/api/jobs/", "POST", {"entrypoint": "touch /tmp/polyray-should-not-run"}, token=token)
        assert status == 401
        assert http(f"{url}/api/jobs/", token=token)[0] == 401
        assert http(f"{url}/api/version", token=token)[0] == 401
    status, body = http(f"{url}/api/jobs/", "POST", raw=b"\x00\xffnot json{")
    assert status == 400 and "not JSON" in body["msg"]
    for fields, name in (({"entrypoint": 7}, "entrypoint"), ({"entrypoint": "true", "entrypoint_num_cpus": "x"},
                                                             "entrypoint_num_cpus"),
                         ({"entrypoint": "true", "metadata": {"k": 1}}, "metadata"),
                         ({"entrypoint": "true", "runtime_env": {"nope": 1}}, "nope"),
                         ({"entrypoint": "true", "color": "red"}, "color"),
                         ({"entrypoint": "true", "submission_id": "../x"}, "submission_id")):
        status, body = http(f"{url}/api/jobs/", "POST", fields)
        assert status == 400 and name in body["msg"], (fields, body)
    assert http(f"{url}/api/jobs/no-such-job")[0] == 404
    assert http(f"{url}/api/jobs/no-such-job/stop", "POST")[0] == 404
    assert http(f"{url}/api/jobs/no-such-job/logs")[0] == 404
    status, body = http(f"{url}/api/version")
    assert status == 200 and body["version"] and body["gcs_address"] == head["address"]


def test_logs_tail_streams_over_http_and_websocket_until_the_job_ends(head):
    import aiohttp

    sid = submit(head, "echo one; sleep 0.5; echo two; sleep 0.5; echo three")
    tok = auth.current_token()
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}

    async def follow() -> tuple[str, str]:
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as session:
            async with session.ws_connect(f"{head['url']}/api/jobs/{sid}/logs/tail") as ws:
                got = [m.data async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
            async with session.get(f"{head['url']}/api/jobs/{sid}/logs/tail?offset=4") as r:
                rest = await r.text()
        return "".join(got), rest

    streamed, from_offset = asyncio.run(follow())
    assert streamed == "one\ntwo\nthree\n"  # the socket closes once the job has ended and all is sent
    assert from_offset == "two\nthree\n"
    assert info(head, sid)["status"] == "SUCCEEDED"
    status, body = http(f"{head['url']}/api/jobs/{sid}/logs/tail?timeout=-1")
    assert status == 400 and "timeout" in body["msg"]


def test_a_stopping_head_stops_its_running_jobs():
    h = start_embedded_head(num_cpus=1)
    try:
        one = {"url": h.dashboard_url(timeout=30), "address": h.address}
        sid = submit(one, "trap '' TERM; exec sleep 60")
        pid = wait_for(one, sid, ("RUNNING",))["pid"]
    finally:
        h.stop()
    assert group_gone(pid), "the head left its job's entrypoint running"
