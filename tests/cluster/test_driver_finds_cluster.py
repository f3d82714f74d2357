"""A driver that finds its cluster (issue 18, Deliver 3), with real processes.

``polyray start --head`` runs in a temporary root (TMPDIR) and records the
cluster in ``$TMPDIR/polyray/current_cluster``; drivers of the three
languages run as separate processes with that TMPDIR and no inherited
POLYRAY_ADDRESS:

* a Python driver with ``init(address="auto")`` joins the recorded head (its
  node is the head's node, not an embedded one's);
* ``$POLYRAY_ADDRESS`` wins over the record (a second head, not recorded);
* a record whose pid is dead: plain ``init()`` starts an embedded head,
  ``"auto"`` raises a ConnectionError naming both places, the record is removed;
* a Java and a C++ driver join the head through ``$POLYRAY_ADDRESS`` and
  through ``"auto"`` (the record); each one's task is in the head's task list
  under that driver's job;
* ``polyray stop`` removes the record.
The rule order itself: tests/core/unit/test_cluster_record.py (and the Java
and C++ unit tests of ClusterAddress).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from polyray.cluster_record import ClusterRecord, record_path, write_record

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))
from chaos_util import compile_java_driver  # noqa: E402
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the C++ and Java drivers
RUN_S = 120

PY_DRIVER = r"""
import json, sys
import polyray
arg = sys.argv[1]
try:
    info = polyray.init(address=None if arg == "-" else arg, include_dashboard=False)  # "-": a plain init()
except ConnectionError as e:
    print(json.dumps({"error": str(e)}))
    sys.exit(0)

@polyray.remote
def node():
    return polyray.get_runtime_context().get_node_id()

print(json.dumps({"address": info["address"], "node_id": info["node_id"], "task_node": polyray.get(node.remote()),
                  "job_id": info["job_id"]}))
polyray.shutdown()
"""

JAVA_DRIVER = """
package findtest;

import io.polyray.api.InitInfo;
import io.polyray.api.PolyRay;

public class Finder {
  public static long plus(long x) {
    return x + 1;
  }

  public static void main(String[] args) {
    InitInfo info = PolyRay.init();
    long v = PolyRay.get(PolyRay.task(Finder::plus, 41L).remote(), 90_000);
    System.out.println("{\\"address\\": \\"" + info.getAddress() + "\\", \\"job_id\\": \\"" + info.getJobId()
        + "\\", \\"value\\": " + v + "}");
    PolyRay.shutdown();
  }
}
"""


def _env(root: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("POLYRAY_ADDRESS", None)
    env["TMPDIR"] = root
    env["POLYRAY_PYTHON"] = sys.executable
    env.update(extra)
    return env


def _polyray(root: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "polyray.cli", *args], env=_env(root), capture_output=True,
                          text=True, timeout=RUN_S)


def _run(cmd: list[str], env: dict[str, str]) -> dict:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_S)
    assert p.returncode == 0, f"{cmd[0]} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no answer:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    return json.loads(lines[-1])


def _py(arg: str, env: dict[str, str]) -> dict:
    return _run([sys.executable, "-c", PY_DRIVER, arg], env)


def _node_ids(address: str) -> list[str]:
    from polyray.protocol import auth
    from polyray.protocol import gcs_pb2 as gcs
    from polyray.protocol import gcs_pb2_grpc as gcs_grpc
    with auth.channel(address) as ch:
        nodes = gcs_grpc.GcsServiceStub(ch).GetAllNodes(gcs.GetAllNodesRequest(), timeout=10).nodes
    return [n.node_id.hex() for n in nodes if n.alive]


def _job_tasks(address: str, job_id: str) -> list[dict]:
    from polyray.util.state import list_tasks
    deadline = time.monotonic() + 30  # task events reach the GCS in batches
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = [r for r in list_tasks(address=address, detail=True, limit=10_000)
                if str(r.get("job_id", "")).lower() == job_id.lower() and r.get("state") == "FINISHED"]
        if rows:
            return rows
        time.sleep(0.2)
    return rows


@pytest.fixture(scope="module")
def head():
    """``polyray start --head`` in a temporary root: (root, its record); ``polyray stop`` at the end."""
    root = tempfile.mkdtemp(prefix="prfind-", dir="/tmp")
    p = _polyray(root, "start", "--head", "--port", "0", "--num-cpus", "2", "--dashboard-port", "0")
    try:
        assert p.returncode == 0, p.stdout + p.stderr
        path = record_path(os.path.join(root, "polyray"))
        with open(path) as f:
            record = ClusterRecord.parse(f.read())
        assert record is not None
        yield root, record, path
    finally:
        _polyray(root, "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_start_records_the_cluster(head):
    root, record, path = head
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(_node_ids(record.gcs_address)) == 1
    assert record.dashboard_url.startswith("http://127.0.0.1:")
    assert os.path.isdir(record.session_dir) and os.path.basename(record.session_dir).startswith("session_")
    with open(f"/proc/{record.pid}/cmdline", "rb") as f:
        assert b"polyray.node" in f.read()


def test_python_auto_joins_the_recorded_cluster(head):
    root, record, _ = head
    r = _py("auto", _env(root))
    assert r["address"] == record.gcs_address
    assert _node_ids(record.gcs_address) == [r["node_id"]] == [r["task_node"]]


def test_env_address_wins_over_the_record(head, tmp_path):
    root, record, _ = head
    address_file = tmp_path / "addr"
    other = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "1",
                              "--no-include-dashboard", "--address-file", str(address_file),
                              "--parent-pid", str(os.getpid())],
                             env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert other.poll() is None and time.monotonic() < deadline, "the second head did not start"
            time.sleep(0.05)
        second = address_file.read_text().strip()
        env = _env(root, POLYRAY_ADDRESS=second)
        for arg in ("auto", "-"):  # "auto" and a plain init() both take $POLYRAY_ADDRESS
            r = _py(arg, env)
            assert r["address"] == second != record.gcs_address
            assert _node_ids(second) == [r["node_id"]]
        with open(record_path(os.path.join(root, "polyray"))) as f:  # a head with --parent-pid records nothing
            assert ClusterRecord.parse(f.read()) == record
    finally:
        other.send_signal(signal.SIGTERM)
        try:
            other.wait(20)
        except subprocess.TimeoutExpired:
            other.kill()
            other.wait(5)


def test_stale_record_plain_init_embeds_and_auto_fails():
    root = tempfile.mkdtemp(prefix="prstale-", dir="/tmp")
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        path = write_record(ClusterRecord("127.0.0.1:1", dead.pid), os.path.join(root, "polyray"))
        r = _py("-", _env(root))
        assert r["address"] != "127.0.0.1:1" and r["node_id"] == r["task_node"]
        assert os.path.exists(path)  # a plain init() does not read the record
        r = _py("auto", _env(root))
        assert "POLYRAY_ADDRESS" in r["error"] and path in r["error"], r
        assert not os.path.exists(path), "the stale record is removed"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def java_finder(tmp_path_factory) -> list[str]:
    cmd, _ = compile_java_driver(tmp_path_factory.mktemp("finder"), "findtest.Finder", JAVA_DRIVER)
    return cmd


@pytest.mark.parametrize("how", ["env", "auto"])
def test_java_driver_joins(head, java_finder, how):
    root, record, _ = head
    if how == "env":
        r = _run(java_finder, _env(root, POLYRAY_ADDRESS=record.gcs_address))
    else:  # -Dpolyray.address=auto: the record
        r = _run([java_finder[0], "-Dpolyray.address=auto", *java_finder[1:]], _env(root))
    assert r["address"] == record.gcs_address and r["value"] == 42
    assert _job_tasks(record.gcs_address, r["job_id"]), "the Java driver's task is not in the head's task list"


@pytest.fixture(scope="module")
def cpp_finder() -> str:
    src = Path(HERE) / "cpp_src" / "finder_driver.cc"
    return build_cpp("finder_driver", [str(src)], "exe")


@pytest.mark.parametrize("how", ["env", "auto"])
def test_cpp_driver_joins(head, cpp_finder, how):
    root, record, _ = head
    if how == "env":
        r = _run([cpp_finder, ""], _env(root, POLYRAY_ADDRESS=record.gcs_address))
    else:
        r = _run([cpp_finder, "auto"], _env(root))
    assert r["address"] == record.gcs_address and r["value"] == 3
    assert _job_tasks(record.gcs_address, r["job_id"]), "the C++ driver's task is not in the head's task list"


def test_stop_removes_the_record():
    root = tempfile.mkdtemp(prefix="prstop-", dir="/tmp")
    try:
        p = _polyray(root, "start", "--head", "--port", "0", "--num-cpus", "1", "--no-include-dashboard")
        assert p.returncode == 0, p.stdout + p.stderr
        path = record_path(os.path.join(root, "polyray"))
        assert os.path.exists(path)
        p = _polyray(root, "stop")
        assert p.returncode == 0, p.stdout + p.stderr
        assert not os.path.exists(path)
    finally:
        _polyray(root, "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_node_head_removes_its_record_at_sigterm():
    """``python -m polyray.node --head`` (no --parent-pid) records itself and removes the record when
    it stops cleanly; polyray stop is not involved."""
    root = tempfile.mkdtemp(prefix="prnode-", dir="/tmp")
    path = record_path(os.path.join(root, "polyray"))
    node = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "1",
                             "--no-include-dashboard"], env=_env(root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            assert node.poll() is None and time.monotonic() < deadline, "the head did not record itself"
            time.sleep(0.05)
        with open(path) as f:
            record = ClusterRecord.parse(f.read())
        assert record is not None and record.pid == node.pid
        node.send_signal(signal.SIGTERM)
        assert node.wait(30) == 0
        assert not os.path.exists(path)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(10)
        shutil.rmtree(root, ignore_errors=True)
