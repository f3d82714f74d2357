"""Java and C++ owners and drivers when copies of an object are lost (issue 13, Deliver 4).

Real daemons on this machine: a head with custom resource ``h``, node B with
``b`` and node C with ``c``. Each test runs a real Java driver (a JVM) or a C++
driver (tests/chaos/cpp_src/copies_driver.cc) and SIGKILLs B's process group
at the driver's READY, then starts a new node with ``b``. A task that makes
the object appends a line to a marker file each time it runs, so the test
counts executions.

* **probe** (the owner probes every known copy): the driver owns ``x`` (1 MB,
  made on B); a task on C takes ``x`` as its argument, so C pulls a copy and
  tells the owner (``AddObjectLocation``); the driver owns ``y``, a 1 MB
  function of ``x`` made on B. B dies with the primary copy of ``x`` and the
  only copy of ``y``. The driver's get of ``y`` re-runs its task; before that
  the owner probes ``x``'s copies: B's is gone, C's is there, so ``x`` is not
  recomputed (one run of its task), and the driver then reads ``x`` from C.
* **borrow** (a Java / C++ driver borrows a lost object): a Python actor on
  the head owns a task's 1 MB return made on B and lends the ref to the
  driver, which waits until it is ready. B dies with the only copy; the
  driver's get fails to pull it, asks the owner with ``GetObjectRequest.lost``
  and gets the recomputed value (two runs of the task).
"""

from __future__ import annotations

import os

import pytest
from chaos_util import compile_java_driver, drive_through_node_death
from cluster_util import Cluster
from xlang_support import build_cpp

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.timeout(900)  # the first use may compile the drivers
#: From the kill of B to the driver's answer.
ANSWER_BOUND_S = 60.0
MB = 1 << 20

LC_MODULE = """
import polyray


@polyray.remote(resources={"b": 1}, max_retries=3)
def make(n, marker):
    with open(marker, "a") as f:
        f.write("make\\n")
    return bytes(range(256)) * (n // 256)


class Lender:
    def lend(self, n, marker):
        return [make.remote(n, marker)]
"""

JAVA_DRIVER = """
package copiestest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.exception.ObjectLostException;
import java.io.BufferedReader;
import java.io.FileWriter;
import java.io.InputStreamReader;
import java.util.Arrays;
import java.util.List;

/** args: address, probe|borrow, marker file, code search path... (the protocol of copies_driver.cc). */
public final class CopiesDriver {
  public static byte[] make(Long n, String marker) throws Exception {
    try (FileWriter w = new FileWriter(marker, true)) {
      w.write("make\\n");
    }
    byte[] out = new byte[n.intValue()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) i;
    }
    return out;
  }

  public static long length(byte[] data) {
    return data.length;
  }

  public static byte[] reverse(byte[] data) {
    byte[] out = new byte[data.length];
    for (int i = 0; i < data.length; i++) {
      out[i] = data[data.length - 1 - i];
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws Exception {
    String mode = args[1];
    String marker = args[2];
    List<String> path = Arrays.asList(Arrays.copyOfRange(args, 3, args.length));
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(path).setLogToDriver(false));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    long n = 1 << 20;
    long t0 = System.nanoTime();
    try {
      if (mode.equals("probe")) {
        ObjectRef<byte[]> x = PolyRay.task(CopiesDriver::make, n, marker).setResource("b", 1).setMaxRetries(3)
            .remote();
        long len = PolyRay.get(PolyRay.task(CopiesDriver::length, x).setResource("c", 1).remote(), 120_000);
        if (len != n) {
          throw new IllegalStateException("length returned " + len);
        }
        ObjectRef<byte[]> y = PolyRay.task(CopiesDriver::reverse, x).setResource("b", 1).setMaxRetries(3).remote();
        if (PolyRay.wait(List.of(y), 1, 120_000).getReady().size() != 1) {
          throw new IllegalStateException("the task did not finish");
        }
        System.out.println("READY");
        System.out.flush();
        in.readLine();
        t0 = System.nanoTime();
        byte[] yv = PolyRay.get(y, 90_000);
        byte[] xv = PolyRay.get(x, 90_000);
        System.out.println("VALUE " + yv.length + " " + (yv[0] & 0xff) + " " + (yv[yv.length - 1] & 0xff) + " "
            + (xv[0] & 0xff) + " " + (xv[xv.length - 1] & 0xff) + " " + (System.nanoTime() - t0) / 1_000_000);
      } else {
        PyActorHandle a = PolyRay.actor(PyActorClass.of("lc_mod", "Lender")).setResource("h", 1).remote();
        List<Object> lent = PolyRay.get(a.task(PyActorMethod.of("lend", List.class), n, marker).remote(), 120_000);
        ObjectRef<byte[]> inner = (ObjectRef<byte[]>) lent.get(0);
        if (PolyRay.wait(List.of(inner), 1, 120_000).getReady().size() != 1) {
          throw new IllegalStateException("the borrowed object did not become ready");
        }
        System.out.println("READY");
        System.out.flush();
        in.readLine();
        t0 = System.nanoTime();
        byte[] v = PolyRay.get(inner, 90_000);
        System.out.println("VALUE " + v.length + " " + (v[0] & 0xff) + " " + (v[v.length - 1] & 0xff) + " "
            + (System.nanoTime() - t0) / 1_000_000);
      }
    } catch (ObjectLostException e) {
      System.out.println("LOST " + e.getReason() + " " + (System.nanoTime() - t0) / 1_000_000);
      System.err.println(e);
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
"""


@pytest.fixture
def three_nodes(tmp_path):
    """A head (``h``), node B (``b``) and node C (``c``): ``(cluster, B)``; the Python
    module lc_mod in ``tmp_path``."""
    (tmp_path / "lc_mod.py").write_text(LC_MODULE)
    c = Cluster()
    try:
        c.start_head(num_cpus=2, resources={"h": 1})
        b = c.add_node(num_cpus=1, resources={"b": 2})
        c.add_node(num_cpus=1, resources={"c": 1})
        c.wait_alive(3)
        yield c, b
    finally:
        c.shutdown()


@pytest.fixture(scope="module")
def java_driver(tmp_path_factory) -> list[str]:
    cmd, out = compile_java_driver(tmp_path_factory.mktemp("copies_java"), "copiestest.CopiesDriver", JAVA_DRIVER)
    return [*cmd, out]


@pytest.fixture(scope="module")
def cpp_driver() -> tuple[str, str]:
    lib = build_cpp("copies_funcs", [os.path.join(HERE, "cpp_src", "copies_funcs.cc")], "shared")
    exe = build_cpp("copies_driver", [os.path.join(HERE, "cpp_src", "copies_driver.cc")], "exe")
    return exe, lib


def drive(cmd: list[str], cluster: Cluster, b) -> tuple[str, float, str]:
    """Runs a driver; at READY SIGKILLs B and starts a node with ``b``; the driver's
    answer line, the seconds from the kill to it, and the end of its stderr."""
    return drive_through_node_death(cmd, cluster, b, {"num_cpus": 1, "resources": {"b": 2}})


def _runs(marker) -> int:
    return marker.read_text().count("make") if marker.exists() else 0


def test_java_owner_reads_a_pulled_copy_instead_of_recomputing(three_nodes, java_driver, tmp_path):
    c, b = three_nodes
    marker = tmp_path / "runs.txt"
    *head, out = java_driver
    answer, took, err = drive([*head, c.address, "probe", str(marker), out], c, b)
    # y = reverse(x): first byte 255 (x's last), last byte 0; x read back from C.
    assert answer.split()[:6] == ["VALUE", str(MB), "255", "0", "0", "255"], f"{answer}\n{err}"
    assert _runs(marker) == 1, f"x's task ran {_runs(marker)} times: its copy on C was not probed"
    print(f"\nJava owner: y recomputed from x's surviving copy, {took:.2f} s after the SIGKILL; x's task ran once")
    assert took < ANSWER_BOUND_S


def test_cpp_owner_reads_a_pulled_copy_instead_of_recomputing(three_nodes, cpp_driver, tmp_path):
    c, b = three_nodes
    exe, lib = cpp_driver
    marker = tmp_path / "runs.txt"
    answer, took, err = drive([exe, c.address, "probe", str(marker), lib], c, b)
    n = MB // 8
    assert answer.split()[:6] == ["VALUE", str(n), str(n - 1), "0", "0", str(n - 1)], f"{answer}\n{err}"
    assert _runs(marker) == 1, f"x's task ran {_runs(marker)} times: its copy on C was not probed"
    print(f"\nC++ owner: y recomputed from x's surviving copy, {took:.2f} s after the SIGKILL; x's task ran once")
    assert took < ANSWER_BOUND_S


def test_java_driver_borrower_asks_the_owner_to_recompute(three_nodes, java_driver, tmp_path):
    c, b = three_nodes
    marker = tmp_path / "runs.txt"
    *head, out = java_driver
    answer, took, err = drive([*head, c.address, "borrow", str(marker), str(tmp_path), out], c, b)
    assert answer.split()[:4] == ["VALUE", str(MB), "0", "255"], f"{answer}\n{err}"
    assert _runs(marker) == 2, f"the task ran {_runs(marker)} times (expected: once, and once to recompute)"
    print(f"\nJava driver borrowing a lost object: the owner recomputed it, value {took:.2f} s after the SIGKILL")
    assert took < ANSWER_BOUND_S


def test_cpp_driver_borrower_asks_the_owner_to_recompute(three_nodes, cpp_driver, tmp_path):
    c, b = three_nodes
    exe, lib = cpp_driver
    marker = tmp_path / "runs.txt"
    answer, took, err = drive([exe, c.address, "borrow", str(marker), str(tmp_path), lib], c, b)
    assert answer.split()[:4] == ["VALUE", str(MB), "0", "255"], f"{answer}\n{err}"
    assert _runs(marker) == 2, f"the task ran {_runs(marker)} times (expected: once, and once to recompute)"
    print(f"\nC++ driver borrowing a lost object: the owner recomputed it, value {took:.2f} s after the SIGKILL")
    assert took < ANSWER_BOUND_S
