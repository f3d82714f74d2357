"""The dashboard against a real cluster: REST under Ray's paths with Python, Java
and C++ tasks and actors, the token on HTTP, and the pages in a real headless
Chromium (content checked, screenshot saved under the test's tmp dir).

The cluster is polyray.init()'s embedded head, whose dashboard starts by
default; task events reach the GCS within a flush interval (1 s), so every
check waits for its condition, bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest
from obs_support import code_search_path, wait_for

import polyray
import polyray.sdk
from polyray.protocol import auth

pytestmark = pytest.mark.timeout(600)  # the first test may compile the C++ library
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 90


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    paths = code_search_path(tmp_path_factory, "dash_java")
    info = polyray.init(num_cpus=2, code_search_path=paths, namespace="dash")
    url = info.dashboard_url
    assert url.startswith("http://127.0.0.1:"), info
    from polyray.api import _state
    yield url, _state["head"].log_path
    polyray.shutdown()


def http(url: str, token: str | None = None, cookie: str | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if cookie is not None:
        req.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def api(base: str, path: str) -> Any:
    status, _, body = http(base + path, auth.current_token())
    assert status == 200, (path, status, body[:300])
    doc = json.loads(body)
    assert doc["result"] is True
    return doc["data"]["result"]



@polyray.remote
def dash_py_add(a, b):
    return a + b


@polyray.remote
class DashCounter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


def test_rest_shows_tasks_and_actors_of_three_languages(dash):
    base, _ = dash
    assert polyray.get(polyray.java_function("obstest.Hop", "toCpp").remote(41), timeout=TIMEOUT) == 42
    assert polyray.get(dash_py_add.remote(1, 2), timeout=TIMEOUT) == 3
    py = DashCounter.remote()
    assert polyray.get(py.add.remote(2), timeout=TIMEOUT) == 2
    cpp = polyray.cpp_actor_class("Counter::Create", "Counter").remote(5)
    polyray.get(cpp.Add.remote(1), timeout=TIMEOUT)
    jl = polyray.java_actor_class("java.util.ArrayList").remote()
    polyray.get(jl.add.remote("x"), timeout=TIMEOUT)

    def finished_langs():
        rows = api(base, "/api/v0/tasks?filter_keys=state&filter_predicates=%3D&filter_values=FINISHED"
                         "&limit=1000")["result"]
        langs = {r["language"] for r in rows}
        return rows if {"PYTHON", "JAVA", "CPP"} <= langs else None

    rows = wait_for("FINISHED tasks of Python, Java and C++", finished_langs)
    assert any(r["name"].endswith("dash_py_add") for r in rows)
    cpp_only = api(base, "/api/v0/tasks?filter=language=CPP&limit=1000")["result"]
    assert cpp_only and {r["language"] for r in cpp_only} == {"CPP"}
    actors = wait_for("three actors ALIVE", lambda: (lambda a: a if {"PYTHON", "CPP", "JAVA"} <= {
        r["language"] for r in a if r["state"] == "ALIVE"} else None)(api(base, "/api/v0/actors?limit=100")["result"]))
    assert py._actor_id.hex() in {a["actor_id"] for a in actors}
    summary = api(base, "/api/v0/tasks/summarize")
    assert summary["total"] >= 3 and any(k.endswith("dash_py_add") for k in summary["summary"])
    assert api(base, "/api/v0/actors/summarize")["summary"]["DashCounter"]["state_counts"]["ALIVE"] == 1
    nodes = api(base, "/api/v0/nodes")["result"]
    assert len(nodes) == 1 and nodes[0]["state"] == "ALIVE"
    jobs = api(base, "/api/v0/jobs")["result"]
    assert any(j["driver_pid"] == os.getpid() and j["status"] == "RUNNING" for j in jobs)
    workers = api(base, "/api/v0/workers?limit=1000")["result"]
    assert {"PYTHON", "JAVA", "CPP"} <= {w["language"] for w in workers}
    assert api(base, "/api/v0/placement_groups")["result"] == []
    one = api(base, f"/api/v0/actors/{py._actor_id.hex()}")
    assert one["class_name"] == "DashCounter" and one["language"] == "PYTHON"


def test_rest_pages_limits_and_bad_queries(dash):
    base, _ = dash
    polyray.get([dash_py_add.remote(i, i) for i in range(12)], timeout=TIMEOUT)
    wait_for("12 rows", lambda: len(api(base, "/api/v0/tasks?filter=name=dash_py_add&limit=1000")["result"]) >= 12)
    p1 = api(base, "/api/v0/tasks?filter=name=dash_py_add&limit=5")
    assert p1["num_after_truncation"] == 5 and p1["truncated"] and p1["next_offset"] == 5
    p2 = api(base, f"/api/v0/tasks?filter=name=dash_py_add&limit=5&offset={p1['next_offset']}")
    assert len(p2["result"]) == 5
    assert not {r["task_id"] for r in p1["result"]} & {r["task_id"] for r in p2["result"]}
    big = api(base, "/api/v0/tasks?limit=999999")
    assert big["num_after_truncation"] <= 10_000
    token = auth.current_token()
    for path, code, words in (("/api/v0/tasks?filter=no_such_column=1", 400, "no column"),
                              ("/api/v0/tasks?limit=abc", 400, "limit"),
                              ("/api/v0/tasks?filter_keys=state", 400, "equal numbers"),
                              ("/api/v0/nope", 404, "no such kind"),
                              ("/api/v0/actors/" + "00" * 16, 404, "no actors")):
        status, _, body = http(base + path, token)
        assert status == code, (path, status, body)
        doc = json.loads(body)
        assert doc["result"] is False and words in doc["msg"], (path, doc)


def test_token_is_required_on_http(dash):
    base, head_log = dash
    token = auth.current_token()
    assert token, "these tests run with POLYRAY_AUTH_MODE=token (the default)"
    for path in ("/", "/api/v0/nodes", "/metrics", "/tasks"):
        status, _, body = http(base + path)
        assert status == 401 and b"token" in body, (path, status)
    assert http(base + "/api/v0/nodes", "0" * len(token))[0] == 401
    assert http(base + "/api/v0/nodes", token[:-1])[0] == 401
    assert http(base + "/api/v0/nodes", cookie="polyray_token=wrong")[0] == 401
    assert http(base + "/api/v0/nodes?token=wrong")[0] == 401
    # The login URL sets the cookie and drops the token from the address.
    status, headers, _ = http(f"{base}/tasks?state=FINISHED&token={token}")
    assert status == 302 and headers["Location"] == "/tasks?state=FINISHED"
    cookie = headers["Set-Cookie"].split(";")[0]
    assert cookie == f"polyray_token={token}" and "HttpOnly" in headers["Set-Cookie"]
    assert http(base + "/api/v0/nodes", cookie=cookie)[0] == 200
    assert http(base + "/api/v0/nodes", token)[0] == 200

    def refused_logged():
        with open(head_log, errors="replace") as f:
            return "dashboard: refused GET /api/v0/nodes" in f.read()

    wait_for("the refusal in the head's log", refused_logged, timeout=10)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    assert CHROMIUM
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--hide-scrollbars", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-system-deps.sh installs it)")
def test_pages_in_headless_chromium(dash, tmp_path):
    base, _ = dash
    token = auth.current_token()
    py = DashCounter.remote()
    polyray.get(py.add.remote(1), timeout=TIMEOUT)
    polyray.get(dash_py_add.remote(2, 3), timeout=TIMEOUT)
    assert polyray.get(polyray.java_function("obstest.Hop", "toCpp").remote(1), timeout=TIMEOUT) == 2
    wait_for("the rows", lambda: len(api(base, "/api/v0/tasks?filter=state=FINISHED&limit=1000")["result"]) >= 3)
    node_id = api(base, "/api/v0/nodes")["result"][0]["node_id"]
    expect = {
        "/": ["Cluster", node_id, "ALIVE", "CPU", "MiB"],
        "/jobs": ["Jobs", str(os.getpid()), "RUNNING"],
        "/actors": ["Actors", "DashCounter", py._actor_id.hex(), "PYTHON"],
        "/tasks": ["Tasks", "dash_py_add", "toCpp", "JAVA", "CPP", "FINISHED", "duration_ms"],
        "/tasks?language=JAVA": ["toCpp"],
        "/logs": ["Logs", "polyray logs"],
        "/metrics-charts": ["Metrics", "<svg", "tasks_finished"],
    }
    for path, words in expect.items():
        sep = "&" if "?" in path else "?"
        proc = chromium("--dump-dom", f"{base}{path}{sep}token={token}")
        assert proc.returncode == 0, proc.stderr[-2000:]
        dom = proc.stdout
        missing = [w for w in words if w not in dom]
        assert not missing, f"{path}: {missing} not in the page:\n{dom[:3000]}"
        if path == "/tasks?language=JAVA":
            assert "dash_py_add" not in dom
    # Without the token the browser sees the refusal, not the page.
    proc = chromium("--dump-dom", f"{base}/actors")
    assert "401" in proc.stdout and "DashCounter" not in proc.stdout
    for name, path in (("cluster", "/"), ("tasks", "/tasks")):
        shot = tmp_path / f"dashboard-{name}.png"
        proc = chromium(f"--screenshot={shot}", "--window-size=1200,800", f"{base}{path}?token={token}")
        assert proc.returncode == 0 and shot.exists() and shot.stat().st_size > 5000, proc.stderr[-2000:]
        with open(shot, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        print(f"screenshot: {shot}")


def test_login_redirect_stays_on_this_origin_and_keeps_the_query(dash):
    base, _ = dash
    token = auth.current_token()
    status, headers, _ = http(f"{base}//evil.example/x?token={token}")
    assert status == 302 and headers["Location"] == "/evil.example/x"
    status, headers, _ = http(f"{base}/tasks?name=a%26b+c&token={token}")
    assert status == 302 and headers["Location"] == "/tasks?name=a%26b+c"


def test_auth_disabled_serves_without_a_token(tmp_path):
    env = dict(os.environ, POLYRAY_AUTH_MODE="disabled")
    env.pop("POLYRAY_AUTH_TOKEN", None)
    log_path = tmp_path / "head.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "1",
                                 "--dashboard-port", "0", "--session-dir", str(tmp_path / "logs")],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        def url():
            lines = [ln for ln in log_path.read_text().splitlines() if ln.startswith("DASHBOARD_URL=")]
            assert proc.poll() is None, log_path.read_text()
            return lines[0].split("=", 1)[1] if lines else None

        base = wait_for("the dashboard's URL", url, timeout=60)
        status, _, body = http(base + "/api/v0/nodes")
        assert status == 200 and json.loads(body)["data"]["result"]["result"][0]["state"] == "ALIVE"
        assert "?token=" not in log_path.read_text()  # nothing to open with
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
