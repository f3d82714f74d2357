"""Finding 5 of issue 13 and Deliver 6: nothing left behind.

A SIGKILLed node leaves its store segment (/dev/shm/polyray-<node>-<pid>);
the next node that starts, and `polyray stop`, remove it while the segment of
a live node stays. An embedded cluster's init()/shutdown() leaves no
temporary folder, from Python, Java and C++.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from core_util import (
    POLYRAY_CLI,
    PYTHON,
    driver_env,
    run_driver,
    shm_path,
    terminate_process,
    wait_until,
)

from polyray.node import segment_is_stale
from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc

_XLANG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang")
if os.path.abspath(_XLANG) not in sys.path:
    sys.path.insert(0, os.path.abspath(_XLANG))
from xlang_support import cpp_driver, cpp_lib, run_checked  # noqa: E402, F401 - fixtures


def _start_head(tmp_path, name: str) -> tuple[subprocess.Popen, str]:
    """A daemon head in its own process group; returns it and its store segment's name."""
    address_file = str(tmp_path / f"{name}.address")
    with open(tmp_path / f"{name}.log", "wb") as log:
        proc = subprocess.Popen([PYTHON, "-m", "polyray.node", "--head", "--port", "0", "--address-file",
                                 address_file, "--num-cpus", "1", "--object-store-memory", str(64 << 20)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=driver_env(), start_new_session=True)
    if not wait_until(lambda: os.path.exists(address_file) or proc.poll() is not None, 60) or proc.poll() is not None:
        terminate_process(proc)
        pytest.fail(f"head {name} did not start: {(tmp_path / f'{name}.log').read_text()[-3000:]}")
    with open(address_file) as f:
        address = f.read().strip()
    with auth.channel(address) as channel:
        nodes = gcs_pb2_grpc.GcsServiceStub(channel).GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=10).nodes
    return proc, nodes[0].store_name


def _sigkill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_node_start_and_polyray_stop_remove_segments_of_dead_nodes(tmp_path):
    procs = []
    try:
        a, seg_a = _start_head(tmp_path, "a")
        procs.append(a)
        b, seg_b = _start_head(tmp_path, "b")
        procs.append(b)
        _sigkill_group(a)
        assert os.path.exists(shm_path(seg_a)), "a SIGKILLed node's segment should be left (the finding)"
        # The next node to start removes it, and keeps the live node's.
        c, seg_c = _start_head(tmp_path, "c")
        procs.append(c)
        assert not os.path.exists(shm_path(seg_a)), f"{seg_a} of a dead node survived a node start"
        assert os.path.exists(shm_path(seg_b)), f"{seg_b} of a live node was removed"
        _sigkill_group(c)
        assert os.path.exists(shm_path(seg_c))
        tmpdir = tmp_path / "tmpdir"
        tmpdir.mkdir()
        out = subprocess.run([POLYRAY_CLI, "stop"], capture_output=True, text=True, timeout=60,
                             env=driver_env({"TMPDIR": str(tmpdir)}))
        assert out.returncode == 0, out.stderr
        assert not os.path.exists(shm_path(seg_c)), f"{seg_c} survived `polyray stop`: {out.stdout}"
        assert seg_c.lstrip("/") in out.stdout
        assert os.path.exists(shm_path(seg_b)), f"`polyray stop` removed {seg_b} of a live node"
    finally:
        for p in procs:
            terminate_process(p)


def test_segment_of_a_reused_pid_is_stale_and_of_a_live_creator_is_not(tmp_path):
    shm = str(tmp_path)
    mine = f"polyray-{'ab' * 6}-{os.getpid()}"  # this process started before the file: live
    open(os.path.join(shm, mine), "wb").close()
    other = "polyray-test-segment-1"  # not a node's name: never touched
    open(os.path.join(shm, other), "wb").close()
    later = subprocess.Popen(["sleep", "30"])  # started after the file: the pid was "reused"
    try:
        reused = f"polyray-{'cd' * 6}-{later.pid}"
        path = os.path.join(shm, reused)
        open(path, "wb").close()
        past = time.time() - 5
        os.utime(path, (past, past))  # as if written 5 s ago, before `later` started
        assert segment_is_stale(reused, shm)
        assert not segment_is_stale(mine, shm)
        assert not segment_is_stale(other, shm)
        dead = subprocess.Popen(["true"])
        dead.wait()
        gone = f"polyray-{'ef' * 6}-{dead.pid}"
        open(os.path.join(shm, gone), "wb").close()
        assert segment_is_stale(gone, shm)
    finally:
        later.kill()
        later.wait()


EMBEDDED_PY = """
import polyray
polyray.init(num_cpus=1)

@polyray.remote
def f(x):
    return x + 1

assert polyray.get(f.remote(1), timeout=60) == 2
assert len(polyray.get(polyray.put(b"x" * (1 << 20)), timeout=60)) == 1 << 20
polyray.shutdown()
print("ok")
"""


def _entries(directory) -> list[str]:
    return sorted(os.listdir(directory))


def test_python_embedded_shutdown_leaves_no_folder(tmp_path):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    before_shm = set(os.listdir("/dev/shm"))
    out = run_driver(tmp_path, EMBEDDED_PY, env={"TMPDIR": str(tmpdir)}, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]
    assert _entries(tmpdir) == [], f"left in TMPDIR after shutdown(): {_entries(tmpdir)}"
    left = {n for n in set(os.listdir("/dev/shm")) - before_shm if n.startswith("polyray-")}
    assert not left, f"store segments left after shutdown(): {left}"


def test_cpp_embedded_shutdown_leaves_no_folder(cpp_driver, cpp_lib):  # noqa: F811 - fixtures
    before = set(glob.glob("/tmp/polyray-cpp-*"))
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    env.pop("POLYRAY_ADDRESS", None)
    proc = run_checked([cpp_driver, "embedded", "cpp", cpp_lib], env=env, timeout=300)
    assert "DONE" in proc.stdout, proc.stdout
    left = set(glob.glob("/tmp/polyray-cpp-*")) - before
    assert not left, f"the C++ embedded head left {left}"


JAVA_DRIVER = """
import io.polyray.api.PolyRay;

public class EmbeddedLeftovers {
  public static void main(String[] args) {
    PolyRay.init();
    String back = PolyRay.get(PolyRay.put("from java"), 60000);
    PolyRay.shutdown();
    System.out.println("RESULT back=" + back);
  }
}
"""


def test_java_embedded_shutdown_leaves_no_folder(tmp_path):
    from polyray import sdk

    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup`"
    classpath = sdk.java_classpath()
    assert classpath, "the Java SDK is not built: run `make setup`"
    src = tmp_path / "EmbeddedLeftovers.java"
    src.write_text(JAVA_DRIVER)
    classes = tmp_path / "classes"
    run_checked([javac, "-cp", ":".join(classpath), "-d", str(classes), str(src)], timeout=240)
    javatmp = tmp_path / "javatmp"
    javatmp.mkdir()
    env = driver_env({"POLYRAY_PYTHON": sys.executable, "TMPDIR": str(javatmp)})
    out = run_checked(["java", f"-Djava.io.tmpdir={javatmp}", "-cp", ":".join([str(classes), *classpath]),
                       "EmbeddedLeftovers"], env=env, timeout=240)
    assert "RESULT back=from java" in out.stdout, out.stdout
    assert _entries(javatmp) == [], f"left in java.io.tmpdir after shutdown(): {_entries(javatmp)}"
