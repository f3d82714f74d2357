"""Prometheus metrics of a real head started as ``python -m polyray.node --head``
with its dashboard and a raylet exporter, parsed with prometheus_client's own
text parser; values are checked to move when Python tasks and actors run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from obs_support import wait_for
from prometheus_client.parser import text_string_to_metric_families

import polyray
from polyray.protocol import auth

pytestmark = pytest.mark.timeout(300)
TIMEOUT = 60


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics_head")
    log_path = folder / "head.log"
    address_file = folder / "gcs_address"
    env = dict(os.environ)
    auth.ensure_head_token()
    env.update(auth.child_env())
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "2",
             "--address-file", str(address_file), "--dashboard-port", "0", "--metrics-export-port", "0",
             "--session-dir", str(folder / "logs")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(urls) < 3:
        assert proc.poll() is None, log_path.read_text()
        for line in log_path.read_text().splitlines():
            for key in ("GCS_ADDRESS", "DASHBOARD_URL", "METRICS_EXPORT_URL"):
                if line.startswith(key + "="):
                    urls[key] = line.split("=", 1)[1]
        time.sleep(0.05)
    assert len(urls) == 3, log_path.read_text()
    polyray.init(address=urls["GCS_ADDRESS"])
    yield urls
    polyray.shutdown()
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def scrape(url: str, token: str | None = None) -> dict[tuple[str, tuple], float]:
    """Every sample of ``url``: (name, sorted labels) -> value, via the Prometheus text parser."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum over samples of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))



@polyray.remote
def met_square(x):
    return x * x


@polyray.remote
class MetActor:
    def ping(self):
        return os.getpid()


def test_head_metrics_move_when_tasks_and_actors_run(head):
    url = head["DASHBOARD_URL"] + "/metrics"
    token = auth.current_token()
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(url)
    assert refused.value.code == 401
    before = scrape(url, token)
    assert value(before, "polyray_cluster_active_nodes") == 1
    assert value(before, "polyray_resources", Name="CPU", State="TOTAL") == 2
    assert value(before, "polyray_node_mem_total") > 0
    finished0 = value(before, "polyray_tasks", State="FINISHED", language="PYTHON")
    assert polyray.get([met_square.remote(i) for i in range(20)], timeout=TIMEOUT) == [i * i for i in range(20)]
    a = MetActor.remote()
    polyray.get(a.ping.remote(), timeout=TIMEOUT)
    after = wait_for("20 more FINISHED Python tasks in /metrics", lambda: (lambda s: s if value(
        s, "polyray_tasks", State="FINISHED", language="PYTHON") >= finished0 + 20 else None)(scrape(url, token)))
    assert value(after, "polyray_actors", State="ALIVE", language="PYTHON") >= 1
    assert value(after, "polyray_workers", language="PYTHON") >= 1
    # The GCS's RPC latency histogram counts the calls the driver made.
    assert value(after, "polyray_grpc_server_req_process_time_ms_count", Method="AddJob") >= 1
    assert value(after, "polyray_grpc_server_req_process_time_ms_count") > value(
        before, "polyray_grpc_server_req_process_time_ms_count")
    # A held object shows in the store's bytes.
    ref = polyray.put(b"x" * (4 << 20))
    held = wait_for("4 MiB in the store", lambda: (lambda s: s if value(
        s, "polyray_object_store_memory", Location="MMAP_SHM") >= 4 << 20 else None)(scrape(url, token)))
    assert value(held, "polyray_object_store_num_local_objects") >= 1
    del ref


def test_node_exporter_serves_the_raylets_own_metrics(head):
    url = head["METRICS_EXPORT_URL"]
    assert url.startswith("http://127.0.0.1:")
    s = scrape(url)
    assert value(s, "polyray_resources", Name="CPU", State="TOTAL") == 2
    assert value(s, "polyray_node_mem_total") > 0
    a = MetActor.remote()
    polyray.get(a.ping.remote(), timeout=TIMEOUT)
    s = wait_for("an actor worker in the node's metrics", lambda: (lambda m: m if value(
        m, "polyray_workers", language="PYTHON", State="ACTOR") >= 1 else None)(scrape(url)))
    assert value(s, "polyray_resources", Name="CPU", State="USED") >= 0
    ref = polyray.put(b"y" * (2 << 20))
    wait_for("2 MiB in the node's store", lambda: value(scrape(url), "polyray_object_store_memory") >= 2 << 20)
    del ref
