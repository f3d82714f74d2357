"""A Java and a C++ driver whose task runs on a node that dies (issue 13, Deliver 1).

Real daemons on this machine: a head and a node B with custom resource
``b``. Each driver (a real JVM; tests/chaos/cpp_src/node_death_driver.cc)
submits a task pinned to B with ``max_retries=0`` that records its worker's
pid and then sleeps 600 s. Once the task runs (its pid is in the file), the
test SIGKILLs B's process group and tells the driver to get: it must raise
NodeDiedException / polyray::NodeDiedError (not WorkerCrashed, not a
timeout) within the node timeout + 5 s.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from chaos_util import compile_java_driver, end_driver, start_driver
from cluster_util import NODE_TIMEOUT_S
from xlang_support import build_cpp

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.timeout(900)  # the first use may compile the drivers
#: From the SIGKILL of B to the driver's error (the GCS's node timeout + 5 s).
BOUND_S = NODE_TIMEOUT_S + 5.0

JAVA_DRIVER = """
package nodedeathtest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.exception.NodeDiedException;
import java.io.BufferedReader;
import java.io.FileWriter;
import java.io.InputStreamReader;
import java.util.Arrays;
import java.util.List;

/** args: address, pid file, code search path... Prints READY, waits for a line, gets. */
public final class NodeDeathDriver {
  public static Long nap(String pids, Long ms) throws Exception {
    try (FileWriter w = new FileWriter(pids, true)) {
      w.write(ProcessHandle.current().pid() + "\\n");
    }
    Thread.sleep(ms);
    return 49L;
  }

  public static void main(String[] args) throws Exception {
    List<String> path = Arrays.asList(Arrays.copyOfRange(args, 2, args.length));
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(path).setLogToDriver(false));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    try {
      ObjectRef<Long> ref = PolyRay.task(NodeDeathDriver::nap, args[1], 600_000L).setResource("b", 1)
          .setMaxRetries(0).remote();
      System.out.println("READY");
      System.out.flush();
      in.readLine();
      long t0 = System.nanoTime();
      try {
        System.out.println("VALUE " + PolyRay.get(ref, 60_000));
      } catch (NodeDiedException e) {
        System.out.println("DIED NodeDiedException " + (System.nanoTime() - t0) / 1_000_000);
        System.err.println(e);
      } catch (RuntimeException e) {
        System.out.println("OTHER " + e.getClass().getSimpleName() + " " + (System.nanoTime() - t0) / 1_000_000);
        System.err.println(e);
      }
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
"""


def drive(cmd: list[str], b, pid_file: str) -> tuple[str, float]:
    """Runs a driver; once its task runs on B, SIGKILLs B's process group and lets
    the driver get. Returns its answer line and the seconds from the kill to it."""
    proc = start_driver(cmd)
    assert proc.stdin is not None and proc.stdout is not None
    answer, killed, took = "", 0.0, 0.0
    try:
        for line in proc.stdout:
            if line.startswith("READY"):
                deadline = time.monotonic() + 120
                while not (os.path.exists(pid_file) and open(pid_file).read().strip()):
                    assert time.monotonic() < deadline, "the task never started on B"
                    time.sleep(0.05)
                killed = time.monotonic()
                os.killpg(b.process.pid, signal.SIGKILL)
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif line.startswith(("VALUE", "DIED", "OTHER")):
                answer, took = line.strip(), time.monotonic() - killed
            elif line.startswith("DONE"):
                break
    finally:
        err = end_driver(proc, answer)
    assert answer, f"no answer:\n{err[-4000:]}"
    return answer, took


@pytest.fixture(scope="module")
def java_driver(tmp_path_factory) -> tuple[list[str], str]:
    return compile_java_driver(tmp_path_factory.mktemp("node_death_java"), "nodedeathtest.NodeDeathDriver",
                               JAVA_DRIVER)


@pytest.fixture(scope="module")
def cpp_driver() -> tuple[str, str]:
    lib = build_cpp("chaos_sleepy_funcs", [os.path.join(HERE, "cpp_src", "sleepy_funcs.cc")], "shared")
    exe = build_cpp("node_death_driver", [os.path.join(HERE, "cpp_src", "node_death_driver.cc")], "exe")
    return exe, lib


def test_java_driver_s_task_on_a_dead_node_raises_node_died(two_nodes, java_driver, tmp_path):
    c, b = two_nodes
    cmd, classes = java_driver
    pid_file = str(tmp_path / "pids")
    answer, took = drive([*cmd, c.address, pid_file, classes], b, pid_file)
    assert answer.split()[:2] == ["DIED", "NodeDiedException"], answer
    print(f"\nJava driver: NodeDiedException {took:.2f} s after its task's node was SIGKILLed")
    assert took < BOUND_S


def test_cpp_driver_s_task_on_a_dead_node_raises_node_died(two_nodes, cpp_driver, tmp_path):
    c, b = two_nodes
    exe, lib = cpp_driver
    pid_file = str(tmp_path / "pids")
    answer, took = drive([exe, c.address, pid_file, lib], b, pid_file)
    assert answer.split()[:2] == ["DIED", "NodeDiedError"], answer
    print(f"\nC++ driver: NodeDiedError {took:.2f} s after its task's node was SIGKILLed")
    assert took < BOUND_S
