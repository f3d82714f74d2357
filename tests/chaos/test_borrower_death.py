"""A SIGKILLed borrower's borrows are released (issue 14; docs/ownership.md,
"The reference protocol", Deaths).

A daemon head (2 CPUs); the test process is a Python driver that owns a 1 MB
object in the node's store. An actor (Python, Java or C++) keeps the ref in
its state (a borrow registered with the driver before its call returned);
the actor is SIGKILLed and the driver drops its own ref: the object leaves
the store within the bound (the raylet reports the exit to the GCS at once;
the owner asks the GCS every borrowers.death_watch_ms = 1 s and drops a
holder found dead in two consecutive rounds). Without the
death watch the object stays until the driver exits (the test fails). A
second, live Python borrower keeps the object until it too is killed.
A C++ driver owner and a Java driver owner, each with a Python borrower, the
same.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from chaos_util import SIZE, Head, driving_head
from core_util import PYTHON, driver_env, read_line, stop_process, wait_until

import polyray
import polyray.sdk

HERE = os.path.dirname(os.path.abspath(__file__))
_XLANG = os.path.abspath(os.path.join(HERE, "..", "xlang"))
if _XLANG not in sys.path:
    sys.path.insert(0, _XLANG)

pytestmark = pytest.mark.timeout(300)  # the first run compiles the C++ parts

#: From SIGKILL to the object's free: two watch rounds (1 s each) and GCS
#: calls, with slack for the loaded 2-core machine.
BOUND_S = 10.0
#: How long a live borrower is checked to keep the object (several watch rounds).
KEEP_S = 3.0

BD_MODULE = '''
import os


class Keeper:
    def __init__(self):
        self.kept = []

    def keep(self, box):
        self.kept.extend(box)
        return len(self.kept)

    def pid(self):
        return os.getpid()
'''


JAVA_OWNER = """
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;

public class JavaBorrowerDeathOwner {
  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1])).setNamespace("chaos"));
    PyActorHandle keeper = PolyRay.actor(PyActorClass.of("bd_mod", "Keeper")).remote();
    ObjectRef<byte[]> ref = PolyRay.put(new byte[1 << 20]);
    List<Object> box = new ArrayList<>();
    box.add(ref);
    long kept = PolyRay.get(keeper.task(PyActorMethod.of("keep", Long.class), box).remote(), 120000);
    long pid = PolyRay.get(keeper.task(PyActorMethod.of("pid", Long.class)).remote(), 120000);
    System.out.println("{\\"pid\\": " + pid + ", \\"kept\\": " + kept + "}");
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    in.readLine();
    ref = null;
    box = null;
    for (int i = 0; i < 5; i++) {  // dropped Java refs are counted down by a Cleaner
      System.gc();
      Thread.sleep(50);
    }
    System.out.println("dropped");
    System.out.flush();
    in.readLine();
  }
}
"""


@polyray.remote
class Keeper:
    def __init__(self) -> None:
        self.kept: list = []

    def keep(self, box: list) -> int:
        self.kept.extend(box)
        return len(self.kept)

    def pid(self) -> int:
        return os.getpid()


BORROWING_DRIVER = """
import os, sys
import polyray

polyray.init(address=sys.argv[1], namespace="chaos")
giver = polyray.get_actor("giver", namespace="chaos")
box = polyray.get(giver.give.remote(), timeout=120)  # [ref]: borrowed from the actor
print(os.getpid(), flush=True)
sys.stdin.readline()  # SIGKILLed meanwhile
"""


@polyray.remote
class Giver:
    """Owns an object and hands out refs to it."""

    def __init__(self) -> None:
        self.ref = None

    def give(self) -> list:
        self.ref = polyray.put(b"x" * SIZE)
        return [self.ref]

    def drop(self) -> bool:
        self.ref = None
        gc.collect()
        return True


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    with driving_head(tmp_path_factory.mktemp("borrower_death"), java_sources=["Keeper.java"],
                      cpp=("chaos_keeper", "keeper_funcs.cc")) as h:
        yield h


def _new_keeper(lang: str):
    if lang == "python":
        k = Keeper.remote()
        return k, lambda box: k.keep.remote(box), lambda: k.pid.remote()
    if lang == "java":
        k = polyray.java_actor_class("chaostest.Keeper").remote()
        return k, lambda box: k.keep.remote(box), lambda: k.pid.remote()
    k = polyray.cpp_actor_class("Keeper::Create", "Keeper").remote()
    return k, lambda box: k.Keep.remote(box), lambda: k.Pid.remote()


def _wait_store(head: Head, want: tuple[int, int], timeout: float) -> bool:
    return wait_until(lambda: head.store() == want, timeout, interval=0.05)


@pytest.mark.parametrize("lang", ["python", "java", "cpp"])
def test_killed_borrower_releases_the_drivers_object(head, lang):
    before = head.store()
    ref = polyray.put(b"x" * SIZE)
    keeper, keep, pid_of = _new_keeper(lang)
    live = Keeper.remote() if lang == "python" else None
    assert polyray.get(keep([ref]), timeout=120) == 1  # its borrow reached the owner before the reply
    if live is not None:
        assert polyray.get(live.keep.remote([ref]), timeout=60) == 1
    pid = polyray.get(pid_of(), timeout=60)
    objects, used = head.store()
    assert objects == before[0] + 1 and used >= before[1] + SIZE, "the object is not in the store"

    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    del ref
    gc.collect()
    if live is not None:
        # The live borrower keeps it through several rounds of the watch.
        time.sleep(KEEP_S)
        assert head.store() == (objects, used), "freed while a live borrower holds it"
        live_pid = polyray.get(live.pid.remote(), timeout=60)
        t0 = time.monotonic()
        os.kill(live_pid, signal.SIGKILL)
    assert _wait_store(head, before, BOUND_S), (
        f"{lang}: the store holds {head.store()} {BOUND_S} s after the borrower's SIGKILL, not {before}")
    took = time.monotonic() - t0
    print(f"{lang} borrower SIGKILLed -> object freed in {took:.2f} s")
    del keeper


def test_actor_ended_by_kill_releases_the_drivers_object(head):
    """polyray.kill: the GCS ends the actor and its raylet stops the worker (a stop,
    not a crash), which the raylet still records with the GCS for owners."""
    before = head.store()
    ref = polyray.put(b"x" * SIZE)
    keeper = Keeper.remote()
    assert polyray.get(keeper.keep.remote([ref]), timeout=60) == 1
    assert head.store()[0] == before[0] + 1
    t0 = time.monotonic()
    polyray.kill(keeper)
    del ref
    gc.collect()
    assert _wait_store(head, before, BOUND_S), f"the store holds {head.store()} {BOUND_S} s after kill, not {before}"
    print(f"killed actor -> object freed in {time.monotonic() - t0:.2f} s")


def test_killed_driver_borrower_releases_a_workers_object(head, tmp_path):
    """The borrower is another job's driver (SIGKILLed: its raylet's pid poll
    reports it); the owner is a Python actor."""
    before = head.store()
    giver = Giver.options(name="giver", namespace="chaos").remote()
    script = tmp_path / "borrowing_driver.py"
    script.write_text(BORROWING_DRIVER)
    proc = subprocess.Popen([PYTHON, str(script), head.address], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=driver_env(), start_new_session=True)
    try:
        pid = int(read_line(proc, 120))
        assert head.store()[0] == before[0] + 1
        assert polyray.get(giver.drop.remote(), timeout=60)
        time.sleep(KEEP_S)
        assert head.store()[0] == before[0] + 1, "freed while the driver still borrows it"
        assert pid == proc.pid
        t0 = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)  # reaped: a zombie's pid still looks alive to its raylet
        assert _wait_store(head, before, BOUND_S), (
            f"the store holds {head.store()} {BOUND_S} s after the borrowing driver's SIGKILL, not {before}")
        print(f"driver borrower SIGKILLed -> object freed in {time.monotonic() - t0:.2f} s")
    finally:
        stop_process(proc)
        polyray.kill(giver)


def _owner_cmd(lang: str, tmp_path) -> list[str]:
    if lang == "cpp":
        from xlang_support import build_cpp

        return [build_cpp("chaos_borrower_death_driver",
                          [os.path.join(HERE, "cpp_src", "borrower_death_driver.cc")], "exe")]
    classpath = polyray.sdk.java_classpath()
    src = tmp_path / "JavaBorrowerDeathOwner.java"
    src.write_text(JAVA_OWNER)
    classes = tmp_path / "owner_classes"
    build = subprocess.run(["javac", "-cp", ":".join(classpath), "-d", str(classes), str(src)],
                           capture_output=True, text=True, timeout=240)
    assert build.returncode == 0, build.stderr[-3000:]
    return ["java", "-cp", ":".join([str(classes), *classpath]), "JavaBorrowerDeathOwner"]


@pytest.mark.parametrize("lang", ["cpp", "java"])
def test_killed_python_borrower_releases_a_cpp_or_java_drivers_object(head, tmp_path, lang):
    (tmp_path / "bd_mod.py").write_text(BD_MODULE)
    cmd = _owner_cmd(lang, tmp_path)
    before = head.store()
    owner = subprocess.Popen([*cmd, head.address, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=driver_env({"POLYRAY_PYTHON": PYTHON}),
                             start_new_session=True)
    try:
        info = json.loads(read_line(owner, 180))
        assert info["kept"] == 1
        objects, used = head.store()
        assert objects == before[0] + 1 and used >= before[1] + SIZE, "the object is not in the store"
        t0 = time.monotonic()
        os.kill(info["pid"], signal.SIGKILL)
        owner.stdin.write(b"drop\n")
        owner.stdin.flush()
        assert read_line(owner, 30).strip() == "dropped"
        assert _wait_store(head, before, BOUND_S), (
            f"{lang} owner: the store holds {head.store()} {BOUND_S} s after the borrower's SIGKILL, not {before}")
        print(f"{lang} owner, python borrower SIGKILLed -> object freed in {time.monotonic() - t0:.2f} s")
    finally:
        stop_process(owner)
