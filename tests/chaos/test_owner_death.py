"""Finding 3 of issue 13: a SIGKILLed driver's actors, job and objects.

A driver connected to a daemon head (``python -m polyray.node --head``)
creates two non-detached actors and one detached actor, puts an object into
the store and lends it to the detached actor; then it is SIGKILLed. Within
the bound (the raylet polls its drivers' pids every <= 1 s, then one GCS
round trip) the two actors are DEAD with REASON_OWNER_DIED and their
processes gone, the detached one is still ALIVE, the job is finished, the
node's store is back to its use before the put, and the borrower's get()
raises OwnerDiedError. The same with a Java and a C++ driver as the owner.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from core_util import (
    PYTHON,
    describe,
    driver_env,
    read_line,
    run_driver,
    stop_process,
    terminate_process,
    wait_pids_gone,
    wait_until,
    write_script,
)

from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc

_XLANG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang")
if os.path.abspath(_XLANG) not in sys.path:
    sys.path.insert(0, os.path.abspath(_XLANG))

#: From SIGKILL to actors DEAD and job finished (the raylet's pid poll is <= 1 s;
#: the rest is slack for a loaded 2-core machine).
BOUND_S = 10.0

OWNER_DRIVER = """
import json, os, sys
import polyray

polyray.init(address=sys.argv[1], namespace="chaos")

@polyray.remote
class Holder:
    def pid(self):
        return os.getpid()

a1 = Holder.remote()
a2 = Holder.remote()
keeper = polyray.get_actor("keeper", namespace="chaos")
ref = polyray.put(b"x" * (8 << 20))          # in the store: > the inline limit
polyray.get(keeper.hold.remote([ref]), timeout=60)   # lent inside a list: a borrow
pids = polyray.get([a1.pid.remote(), a2.pid.remote()], timeout=60)
print(json.dumps({"pids": pids, "object": ref.hex()}), flush=True)
sys.stdin.readline()    # stay up until SIGKILLed
"""

KEEPER_DRIVER = """
import os, sys
import polyray

polyray.init(address=sys.argv[1], namespace="chaos")

@polyray.remote
class Keeper:
    def __init__(self):
        self.refs = []
    def pid(self):
        return os.getpid()
    def hold(self, refs):
        self.refs = refs
        return len(refs)
    def fetch(self):
        try:
            polyray.get(self.refs[0], timeout=30)
            return "no error"
        except Exception as e:
            return " ".join(c.__name__ for c in type(e).__mro__) + " | " + str(e).splitlines()[0]

k = Keeper.options(name="keeper", lifetime="detached").remote()
print(polyray.get(k.pid.remote(), timeout=60), flush=True)
polyray.shutdown()
"""

FETCH_DRIVER = """
import sys
import polyray

polyray.init(address=sys.argv[1], namespace="chaos")
print(polyray.get(polyray.get_actor("keeper", namespace="chaos").fetch.remote(), timeout=60), flush=True)
polyray.shutdown()
"""


class Head:
    """A daemon head and gRPC views of its GCS and raylet."""

    def __init__(self, tmp_path) -> None:
        address_file = str(tmp_path / "gcs_address")
        self.log_path = tmp_path / "node.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "polyray.node", "--head", "--port", "0", "--address-file", address_file,
                 "--num-cpus", "2"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=driver_env(), start_new_session=True)
        if not wait_until(lambda: os.path.exists(address_file) or self.proc.poll() is not None, 60):
            self.stop()
            pytest.fail("the head did not start within 60 s")
        if self.proc.poll() is not None:
            pytest.fail(f"the head exited: {self.log_path.read_text()[-3000:]}")
        with open(address_file) as f:
            self.address = f.read().strip()
        self.channel = auth.channel(self.address)
        self.gcs = gcs_pb2_grpc.GcsServiceStub(self.channel)
        node = self.gcs.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=10).nodes[0]
        self.raylet_channel = auth.channel(f"{node.raylet_address.host}:{node.raylet_address.port}")
        self.raylet = raylet_pb2_grpc.RayletServiceStub(self.raylet_channel)

    def actors(self) -> dict[bytes, gcs_pb2.ActorInfo]:
        return {a.actor_id: a for a in self.gcs.ListActors(gcs_pb2.ListActorsRequest(), timeout=10).actors}

    def job_of(self, pid: int) -> gcs_pb2.JobInfo:
        jobs = [j for j in self.gcs.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=10).jobs if j.driver_pid == pid]
        assert len(jobs) == 1, f"jobs of driver pid {pid}: {jobs}"
        return jobs[0]

    def store_used(self) -> int:
        return self.raylet.GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=10).store_bytes_used

    def stop(self) -> None:
        for channel in ("channel", "raylet_channel"):
            if hasattr(self, channel):
                getattr(self, channel).close()
        terminate_process(self.proc)


@pytest.fixture
def head(tmp_path):
    h = Head(tmp_path)
    yield h
    h.stop()


def _start_keeper(head: Head, tmp_path) -> int:
    out = run_driver(tmp_path, KEEPER_DRIVER, args=[head.address], name="keeper.py", timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return int(out.stdout.strip().splitlines()[-1])


def _kill_owner_and_check(head: Head, tmp_path, owner: subprocess.Popen, owned_pids: list[int],
                          keeper_pid: int, store_before: int, label: str) -> dict[str, float]:
    """SIGKILL ``owner`` and check everything finding 3 asks; returns the measured times."""
    job = head.job_of(owner.pid)
    assert not job.finished
    owned = {a.actor_id: a for a in head.actors().values() if a.pid in owned_pids}
    assert len(owned) == len(owned_pids) and all(a.state == gcs_pb2.ALIVE for a in owned.values()), owned
    assert head.store_used() >= store_before + (8 << 20), "the owner's object is not in the store"

    t0 = time.monotonic()
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    times: dict[str, float] = {}

    def actors_dead() -> bool:
        now = head.actors()
        return all(now[i].state == gcs_pb2.DEAD for i in owned)

    assert wait_until(actors_dead, BOUND_S), (
        f"{label}: the owner's actors are not DEAD {BOUND_S} s after SIGKILL: {head.actors()}\n"
        f"{head.log_path.read_text()[-3000:]}")
    times["actors_dead_s"] = time.monotonic() - t0
    assert wait_until(lambda: head.job_of(owner.pid).finished, BOUND_S), f"{label}: the job is not finished"
    times["job_finished_s"] = time.monotonic() - t0
    for actor in (head.actors()[i] for i in owned):
        assert actor.death_cause.kind == common_pb2.ACTOR_DIED
        assert actor.death_cause.reason == common_pb2.REASON_OWNER_DIED, actor.death_cause
        assert "owner" in actor.death_cause.message
    left = wait_pids_gone(owned_pids, BOUND_S)
    assert not left, f"{label}: the owner's actor processes still run: {describe(left)}"
    times["processes_gone_s"] = time.monotonic() - t0
    keeper = [a for a in head.actors().values() if a.pid == keeper_pid]
    assert keeper and keeper[0].state == gcs_pb2.ALIVE, "the detached actor did not survive its creator's peer"
    assert wait_until(lambda: head.store_used() <= store_before, BOUND_S), (
        f"{label}: store use {head.store_used()} did not go back to {store_before}")
    times["store_freed_s"] = time.monotonic() - t0
    return times


def test_sigkilled_python_driver_actors_job_objects(head, tmp_path):
    keeper_pid = _start_keeper(head, tmp_path)
    store_before = head.store_used()
    script = write_script(tmp_path, "owner.py", OWNER_DRIVER)
    owner = subprocess.Popen([PYTHON, script, head.address], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, cwd=str(tmp_path), env=driver_env())
    try:
        info = json.loads(read_line(owner, 120))
        times = _kill_owner_and_check(head, tmp_path, owner, info["pids"], keeper_pid, store_before, "python")
    finally:
        stop_process(owner)
    out = run_driver(tmp_path, FETCH_DRIVER, args=[head.address], name="fetch.py", timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("OwnerDiedError ObjectLostError"), line
    print(f"python owner: {json.dumps({k: round(v, 2) for k, v in times.items()})}")


OD_MODULE = """
import os


class Holder:
    def pid(self):
        return os.getpid()
"""

JAVA_OWNER = """
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import java.util.List;

public class JavaOwner {
  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1])).setNamespace("chaos"));
    PyActorHandle a1 = PolyRay.actor(PyActorClass.of("od_mod", "Holder")).remote();
    PyActorHandle a2 = PolyRay.actor(PyActorClass.of("od_mod", "Holder")).remote();
    ObjectRef<byte[]> ref = PolyRay.put(new byte[8 << 20]);
    long p1 = PolyRay.get(a1.task(PyActorMethod.of("pid", Long.class)).remote(), 120000);
    long p2 = PolyRay.get(a2.task(PyActorMethod.of("pid", Long.class)).remote(), 120000);
    System.out.println("{\\"pids\\": [" + p1 + ", " + p2 + "]}");
    System.out.flush();
    System.in.read();
  }
}
"""


def _java_owner(tmp_path, head: Head) -> subprocess.Popen:
    from polyray import sdk

    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup`"
    classpath = sdk.java_classpath()
    assert classpath, "the Java SDK is not built: run `make setup`"
    (tmp_path / "JavaOwner.java").write_text(JAVA_OWNER)
    classes = tmp_path / "classes"
    build = subprocess.run([javac, "-cp", ":".join(classpath), "-d", str(classes), str(tmp_path / "JavaOwner.java")],
                           capture_output=True, text=True, timeout=240)
    assert build.returncode == 0, build.stderr[-3000:]
    return subprocess.Popen(["java", "-cp", ":".join([str(classes), *classpath]), "JavaOwner", head.address,
                             str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=driver_env({"POLYRAY_PYTHON": PYTHON}))


def test_sigkilled_java_driver_actors_job_objects(head, tmp_path):
    (tmp_path / "od_mod.py").write_text(OD_MODULE)
    keeper_pid = _start_keeper(head, tmp_path)
    store_before = head.store_used()
    owner = _java_owner(tmp_path, head)
    try:
        info = json.loads(read_line(owner, 180))
        times = _kill_owner_and_check(head, tmp_path, owner, info["pids"], keeper_pid, store_before, "java")
    finally:
        stop_process(owner)
    print(f"java owner: {json.dumps({k: round(v, 2) for k, v in times.items()})}")


def test_sigkilled_cpp_driver_actors_job_objects(head, tmp_path):
    from xlang_support import build_cpp

    (tmp_path / "od_mod.py").write_text(OD_MODULE)
    driver = build_cpp("chaos_owner_driver", [os.path.join(os.path.dirname(__file__), "cpp_src", "owner_driver.cc")],
                       "exe")
    keeper_pid = _start_keeper(head, tmp_path)
    store_before = head.store_used()
    owner = subprocess.Popen([driver, head.address, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=driver_env({"POLYRAY_PYTHON": PYTHON}))
    try:
        info = json.loads(read_line(owner, 180))
        times = _kill_owner_and_check(head, tmp_path, owner, info["pids"], keeper_pid, store_before, "c++")
    finally:
        stop_process(owner)
    print(f"c++ owner: {json.dumps({k: round(v, 2) for k, v in times.items()})}")
