"""Java driver -> Python (and Java): a real Java program as the driver of a job.

A small Java driver is compiled with javac against the SDK class path
(``polyray.sdk.java_classpath()``) and run as its own JVM, (a) with an embedded
cluster (``PolyRay.init()``) and (b) against a head started with
``python -m polyray.node --head``. It calls a Python function and a Python
actor and prints results that the test checks. Named actors cross between a
Python driver and the Java driver in both directions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

import polyray
from polyray import sdk

TIMEOUT = 240

PY_MODULE = '''
"""Python callees of the Java driver program."""
import polyray


def square(x):
    return x * x


@polyray.remote
def describe(values):
    return {"n": len(values), "sum": sum(values)}


class Acc:
    def __init__(self, start):
        self.total = start

    def add(self, x):
        self.total += x
        return self.total
'''

JAVA_SOURCES = {
    "jdtest/JCounter.java": '''
package jdtest;

/** A Java actor a Python driver creates by name; the Java driver finds it. */
public class JCounter {
  private long value;

  public JCounter(long start) {
    value = start;
  }

  public long incr(long by) {
    value += by;
    return value;
  }

  /** When the JVM running this task started (ms since the epoch). */
  public static long jvmStart() {
    return java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
  }
}
''',
    "jdtest/DriverMain.java": '''
package jdtest;

import io.polyray.api.ActorHandle;
import io.polyray.api.ActorLifetime;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.PyFunction;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** args: embedded|<host:port> <code search path dir>... [--named] */
public final class DriverMain {
  public static void main(String[] args) {
    String mode = args[0];
    boolean named = List.of(args).contains("--named");
    List<String> path = new java.util.ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      if (!args[i].startsWith("--")) {
        path.add(args[i]);
      }
    }
    PolyRayConfig cfg = new PolyRayConfig().setCodeSearchPath(path).setNamespace("jdtest");
    if (!mode.equals("embedded")) {
      cfg.setAddress(mode);
    }
    PolyRay.init(cfg);
    try {
      long t = 120_000;
      ObjectRef<Long> sq = PolyRay.task(PyFunction.of("jd_mod", "square", Long.class), 7).remote();
      System.out.println("RESULT square=" + PolyRay.get(sq, t));
      Map<?, ?> d = PolyRay.get(PolyRay.task(PyFunction.of("jd_mod", "describe", Map.class), List.of(1, 2, 3))
          .remote(), t);
      System.out.println("RESULT describe=" + d.get("n") + "," + d.get("sum"));
      PyActorHandle acc = PolyRay.actor(PyActorClass.of("jd_mod", "Acc"), 10).remote();
      PolyRay.get(acc.task(PyActorMethod.of("add", Long.class), 2).remote(), t);
      System.out.println("RESULT acc=" + PolyRay.get(acc.task(PyActorMethod.of("add", Long.class), 3).remote(), t));
      // The first Java task: its JVM was prestarted when this driver registered (issue 19),
      // so it started before this submit (a worker the lease had to start could not have).
      long javaSubmit = System.currentTimeMillis();
      long jvmStart = PolyRay.get(PolyRay.task(JCounter::jvmStart).remote(), t);
      System.out.println("RESULT java_worker_started_before_submit=" + (jvmStart < javaSubmit));
      if (named) {
        Optional<ActorHandle<JCounter>> c = PolyRay.getActor("py-made-java-counter", "shared");
        System.out.println("RESULT found_java_counter=" + c.isPresent());
        System.out.println("RESULT named_java=" + PolyRay.get(c.get().task(JCounter::incr, 1).remote(), t));
        PyActorHandle mine = PolyRay.actor(PyActorClass.of("jd_mod", "Acc"), 100)
            .setName("java-made-py-acc").setNamespace("shared").setLifetime(ActorLifetime.DETACHED).remote();
        System.out.println("RESULT created_named=" + PolyRay.get(mine.task(PyActorMethod.of("add", Long.class), 1)
            .remote(), t));
      }
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
''',
}


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """Compiles the driver program; returns (class path, Python module dir, classes dir)."""
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup` (it installs a JDK)"
    classpath = sdk.java_classpath()
    assert classpath, "the Java SDK is not built: run `make setup`"
    root = tmp_path_factory.mktemp("java_driver")
    src = root / "src"
    out = root / "classes"
    pydir = root / "py"
    for d in (src, out, pydir):
        d.mkdir()
    (pydir / "jd_mod.py").write_text(textwrap.dedent(PY_MODULE))
    files = []
    for rel, text in JAVA_SOURCES.items():
        f = src / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        files.append(str(f))
    subprocess.run([javac, "-cp", ":".join(classpath), "-d", str(out), *files], check=True, capture_output=True,
                   timeout=TIMEOUT)
    return ":".join(classpath + [str(out)]), str(pydir), str(out)


def run_driver(program, mode: str, *extra: str) -> str:
    cp, pydir, classes = program
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable  # the embedded head runs with this interpreter
    proc = subprocess.run(["java", "-cp", cp, "jdtest.DriverMain", mode, pydir, classes, *extra],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert proc.returncode == 0, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def results(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            k, _, v = line[len("RESULT "):].partition("=")
            out[k] = v
    return out


def test_java_driver_with_embedded_cluster(program):
    stdout = run_driver(program, "embedded")
    r = results(stdout)
    assert r["square"] == "49"
    assert r["describe"] == "3,6"
    assert r["acc"] == "15"
    # The node's default --prestart-java-workers 1: the driver's first Java task ran on a
    # JVM started when the driver registered, before that task was submitted.
    assert r["java_worker_started_before_submit"] == "true"
    assert "DONE" in stdout


@pytest.fixture()
def head():
    """A head started like a user would: python -m polyray.node --head --port 0."""
    session = tempfile.mkdtemp(prefix="polyray-jd-")
    address_file = os.path.join(session, "address")
    log = open(os.path.join(session, "head.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "2",
                             "--address-file", address_file], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while not os.path.exists(address_file):
        assert proc.poll() is None, open(os.path.join(session, "head.log")).read()
        assert time.monotonic() < deadline, "the head did not start within 60 s"
        time.sleep(0.05)
    with open(address_file) as f:
        address = f.read().strip()
    yield address
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    shutil.rmtree(session, ignore_errors=True)


def test_java_driver_against_running_head_and_named_actors(program, head):
    _, _, classes = program
    polyray.init(address=head, code_search_path=[classes], namespace="shared")
    try:
        # A Java actor named from Python, found by the Java driver.
        counter = polyray.java_actor_class("jdtest.JCounter").options(
            name="py-made-java-counter", namespace="shared").remote(40)
        assert polyray.get(counter.incr.remote(1), timeout=TIMEOUT) == 41
        stdout = run_driver(program, head, "--named")
        r = results(stdout)
        assert r["square"] == "49"
        assert r["acc"] == "15"
        assert r["found_java_counter"] == "true"
        assert r["named_java"] == "42"
        assert r["created_named"] == "101"
        assert polyray.get(counter.incr.remote(1), timeout=TIMEOUT) == 43
        # A Python actor named (and detached) by the Java driver, found from Python.
        acc = polyray.get_actor("java-made-py-acc", namespace="shared")
        assert polyray.get(acc.add.remote(1), timeout=TIMEOUT) == 102
        polyray.kill(acc)
    finally:
        polyray.shutdown()
