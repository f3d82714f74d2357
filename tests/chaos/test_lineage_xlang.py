"""Lineage reconstruction with a Java and a C++ owner (issue 13, Deliver 4).

Real daemons on this machine: a head and a node B with custom resource ``b``.
A Java driver (a real JVM) and a C++ driver (tests/chaos/cpp_src/
lineage_driver.cc) each submit a task pinned to B (``b: 1``) whose return is
larger than the inline limit (1 MB, so it lives only in B's store), wait for
it without reading it, and print READY. The test SIGKILLs B's process group
and starts a new node with ``b``; the driver's get must then return the
recomputed value (its owner re-runs the task on the new node). With
``max_retries=0`` the get raises ObjectLostException / ObjectLostError whose
reason is REASON_RETRIES_EXHAUSTED. And the borrower side: a Java and a C++
worker whose argument (a Python driver's object) was lost with B ask the
owner again with ``GetObjectRequest.lost``; the owner recomputes it and the
task reads the new copy.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from chaos_util import compile_java_driver, drive_through_node_death
from cluster_util import Cluster
from xlang_support import CPP_SRC, build_cpp, xlang_java_classes  # noqa: F401  (pytest fixture)

import polyray
from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.timeout(900)  # the first use may compile the drivers
#: From READY (B alive, the value computed) to the driver's answer after the kill.
ANSWER_BOUND_S = 60.0

JAVA_DRIVER = """
package lineagetest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.exception.ObjectLostException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Arrays;
import java.util.List;

/** args: address, max_retries, get|arg, code search path... Prints READY, waits for a line, gets
 * (arg: first passes the ref to a Java task). */
public final class LineageDriver {
  public static byte[] make(Long seed) {
    byte[] out = new byte[1 << 20];
    Arrays.fill(out, (byte) (seed % 101));
    return out;
  }

  public static long length(byte[] data) {
    return data.length;
  }

  public static void main(String[] args) throws Exception {
    int maxRetries = Integer.parseInt(args[1]);
    boolean asArgument = args[2].equals("arg");
    List<String> path = Arrays.asList(Arrays.copyOfRange(args, 3, args.length));
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(path).setLogToDriver(false));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    try {
      ObjectRef<byte[]> ref = PolyRay.task(LineageDriver::make, 7L).setResource("b", 1)
          .setMaxRetries(maxRetries).remote();
      if (PolyRay.wait(List.of(ref), 1, 120_000).getReady().size() != 1) {
        throw new IllegalStateException("the task did not finish");
      }
      System.out.println("READY");
      System.out.flush();
      in.readLine();
      long t0 = System.nanoTime();
      if (asArgument) {
        // A Java worker borrows the lost value: it asks this owner with `lost`.
        long n = PolyRay.get(PolyRay.task(LineageDriver::length, ref).remote(), 90_000);
        System.out.println("ARG " + n + " " + (System.nanoTime() - t0) / 1_000_000);
      }
      try {
        byte[] v = PolyRay.get(ref, 90_000);
        System.out.println("VALUE " + v.length + " " + v[0] + " " + v[v.length - 1] + " "
            + (System.nanoTime() - t0) / 1_000_000);
      } catch (ObjectLostException e) {
        System.out.println("LOST " + e.getReason() + " " + e.getClass().getSimpleName() + " "
            + (System.nanoTime() - t0) / 1_000_000);
      }
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
"""


def drive(cmd: list[str], cluster: Cluster, b, args_out: list[str] | None = None) -> tuple[str, float]:
    """Runs a driver; after READY SIGKILLs B and starts a node with ``b``; the driver's
    answer line and the seconds from the kill to it."""
    answer, took, _ = drive_through_node_death(cmd, cluster, b, {"num_cpus": 2, "resources": {"b": 2}}, args_out)
    return answer, took


@pytest.fixture(scope="module")
def java_driver(tmp_path_factory) -> list[str]:
    cmd, out = compile_java_driver(tmp_path_factory.mktemp("lineage_java"), "lineagetest.LineageDriver", JAVA_DRIVER)
    return [*cmd, out]


@pytest.fixture(scope="module")
def cpp_driver() -> tuple[str, str]:
    lib = build_cpp("cluster_funcs", [os.path.join(CPP_SRC, "cluster_funcs.cc")], "shared")
    exe = build_cpp("lineage_driver", [os.path.join(HERE, "cpp_src", "lineage_driver.cc")], "exe")
    return exe, lib


def _java_cmd(java_driver: list[str], address: str, max_retries: int, mode: str = "get") -> list[str]:
    *head, out = java_driver
    return [*head, address, str(max_retries), mode, out]


def test_java_owner_recomputes_a_return_lost_with_its_node(two_nodes, java_driver):
    c, b = two_nodes
    answer, took = drive(_java_cmd(java_driver, c.address, 3), c, b)
    parts = answer.split()
    assert parts[:4] == ["VALUE", str(1 << 20), "7", "7"], answer
    print(f"\nJava owner: 1 MB return recomputed {took:.2f} s after the SIGKILL of its node")
    assert took < ANSWER_BOUND_S


def test_java_owner_max_retries_zero_raises_retries_exhausted(two_nodes, java_driver):
    c, b = two_nodes
    answer, took = drive(_java_cmd(java_driver, c.address, 0), c, b)
    parts = answer.split()
    assert parts[:3] == ["LOST", "REASON_RETRIES_EXHAUSTED", "ObjectLostException"], answer
    print(f"\nJava owner, max_retries=0: ObjectLostException(REASON_RETRIES_EXHAUSTED) {took:.2f} s after the kill")


def test_cpp_owner_recomputes_a_return_lost_with_its_node(two_nodes, cpp_driver):
    c, b = two_nodes
    exe, lib = cpp_driver
    answer, took = drive([exe, c.address, "3", "get", lib], c, b)
    parts = answer.split()
    n = 131072  # doubles: 1 MB
    assert parts[:4] == ["VALUE", str(n), "0", str(n - 1)], answer
    print(f"\nC++ owner: 1 MB return recomputed {took:.2f} s after the SIGKILL of its node")
    assert took < ANSWER_BOUND_S


def test_cpp_owner_max_retries_zero_raises_retries_exhausted(two_nodes, cpp_driver):
    c, b = two_nodes
    exe, lib = cpp_driver
    answer, took = drive([exe, c.address, "0", "get", lib], c, b)
    parts = answer.split()
    assert parts[:3] == ["LOST", "REASON_RETRIES_EXHAUSTED", "ObjectLostError"], answer
    print(f"\nC++ owner, max_retries=0: ObjectLostError(REASON_RETRIES_EXHAUSTED) {took:.2f} s after the kill")


MB = 1 << 20


@polyray.remote(resources={"b": 1})
def make_bytes() -> bytes:
    return bytes(range(256)) * (MB // 256)


@polyray.remote(resources={"b": 1})
def make_doubles(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def test_java_and_cpp_workers_ask_the_owner_to_recompute_a_lost_argument(two_nodes, xlang_java_classes):  # noqa: F811
    """The Python driver owns two 1 MB values made on B; B dies; a Java and a C++ task
    (placed anywhere but B) take them as arguments: their pulls fail, they ask the
    owner with ``lost``, and they compute on the recomputed values."""
    c, b = two_nodes
    lib = build_cpp("cluster_funcs", [os.path.join(CPP_SRC, "cluster_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(address=c.address, code_search_path=[xlang_java_classes, lib])
    try:
        n = MB // 8
        data = make_bytes.remote()
        doubles = make_doubles.remote(n)
        polyray.wait([data, doubles], num_returns=2, timeout=120, fetch_local=False)
        killed = time.monotonic()
        b.kill(signal.SIGKILL)
        # Any copy made on the head meanwhile is dropped too, so B's copy was the only one.
        core = polyray.api._state["core"]
        ids = [data.binary(), doubles.binary()]
        with auth.channel(core.raylet_address) as ch:
            raylet_pb2_grpc.RayletServiceStub(ch).FreeObjects(raylet_pb2.FreeObjectsRequest(object_ids=ids),
                                                               timeout=10)
        assert not any(core.node_store.store.contains(i) for i in ids)
        c.add_node(num_cpus=2, resources={"b": 2})
        java_ref = polyray.java_function("xlangtest.Calc", "reverse").remote(data)
        cpp_ref = polyray.cpp_function("ClusterSum").remote(doubles)
        got_java = polyray.get(java_ref, timeout=ANSWER_BOUND_S)
        took_java = time.monotonic() - killed
        got_cpp = polyray.get(cpp_ref, timeout=ANSWER_BOUND_S)
        took_cpp = time.monotonic() - killed
        assert bytes(got_java) == (bytes(range(256)) * (MB // 256))[::-1]
        assert got_cpp == n * (n - 1) / 2
        assert core.recovery.resubmitted >= 2, "the owner recomputed both arguments"
        print(f"\nlost arguments recomputed for a Java task ({took_java:.2f} s after the kill) and a C++ task "
              f"({took_cpp:.2f} s)")
    finally:
        polyray.shutdown()


def test_java_owner_recomputes_a_lost_value_a_java_worker_borrows(two_nodes, java_driver):
    """The borrower's pull fails; it asks the Java owner with ``lost``; the owner (its
    ObjectServer) probes the copies, re-runs the task and answers with the new copy."""
    c, b = two_nodes
    args: list[str] = []
    answer, took = drive(_java_cmd(java_driver, c.address, 3, "arg"), c, b, args)
    assert args and args[0].split()[:2] == ["ARG", str(1 << 20)], (args, answer)
    assert answer.split()[:4] == ["VALUE", str(1 << 20), "7", "7"], answer
    print(f"\nJava owner: a Java worker's lost argument recomputed, task done in {args[0].split()[2]} ms")


def test_cpp_owner_recomputes_a_lost_value_a_cpp_worker_borrows(two_nodes, cpp_driver):
    c, b = two_nodes
    exe, lib = cpp_driver
    args: list[str] = []
    answer, took = drive([exe, c.address, "3", "arg", lib], c, b, args)
    n = 131072
    assert args and args[0].split()[:2] == ["ARG", str(n * (n - 1) // 2)], (args, answer)
    assert answer.split()[:4] == ["VALUE", str(n), "0", str(n - 1)], answer
    print(f"\nC++ owner: a C++ worker's lost argument recomputed, task done in {args[0].split()[2]} ms")
