"""Borrowers in Java and C++ of an object whose owner died (issue 13, Deliver 3).

A Java driver (a real JVM) and a C++ driver (tests/chaos/cpp_src/
borrow_driver.cc) connect to a daemon head and create a Python actor
(``max_restarts`` 0) that puts a 1 MB object and returns it inside a list:
the actor owns the object, the driver borrows it. The driver prints the
actor's pid; the test SIGKILLs the actor; the driver's get of the borrowed
ref must raise OwnerDiedException / OwnerDiedError (reason
REASON_OWNER_DIED) within a bound. The Java driver also passes the borrowed
ref to a Java task: the Java worker resolving that argument must report the
dead owner as OWNER_DIED (OwnerDiedException), not OBJECT_LOST.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from chaos_util import compile_java_driver, end_driver, start_driver
from cluster_util import Cluster
from xlang_support import build_cpp

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.timeout(900)  # the first use may compile the drivers
#: From the SIGKILL to the driver's error (a failed connection to the owner).
BOUND_S = 15.0

BD_MODULE = """
import os

import polyray


class Lender:
    def pid(self):
        return os.getpid()

    def lend(self, n):
        return [polyray.put(b"x" * n)]
"""

JAVA_DRIVER = """
package borrowtest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.exception.ObjectLostException;
import io.polyray.api.exception.PolyRayException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.List;

/** args: address, code search path (the protocol of tests/chaos/cpp_src/borrow_driver.cc, plus ARG). */
public final class BorrowDriver {
  public static long size(byte[] data) {
    return data.length;
  }

  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1], args[2]))
        .setLogToDriver(false));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    try {
      PyActorHandle a = PolyRay.actor(PyActorClass.of("bd_mod", "Lender")).remote();
      List<Object> lent = PolyRay.get(a.task(PyActorMethod.of("lend", List.class), 1 << 20).remote(), 120_000);
      ObjectRef<byte[]> inner = (ObjectRef<byte[]>) lent.get(0);
      long pid = PolyRay.get(a.task(PyActorMethod.of("pid", Long.class)).remote(), 120_000);
      System.out.println("PID " + pid);
      System.out.flush();
      in.readLine();
      long t0 = System.nanoTime();
      try {
        PolyRay.get(inner, 60_000);
        System.out.println("GET VALUE");
      } catch (ObjectLostException e) {
        System.out.println("GET " + e.getClass().getSimpleName() + " " + e.getReason() + " "
            + (System.nanoTime() - t0) / 1_000_000);
      }
      // A Java worker resolves the borrowed ref as a task argument.
      try {
        PolyRay.get(PolyRay.task(BorrowDriver::size, inner).remote(), 60_000);
        System.out.println("ARG VALUE");
      } catch (PolyRayException e) {
        String reason = e instanceof ObjectLostException ? ((ObjectLostException) e).getReason() : "NONE";
        // The worker's error names the argument it was resolving ("argument 0 of ...").
        boolean fromWorker = String.valueOf(e.getMessage()).contains("argument 0 of");
        System.out.println("ARG " + e.getClass().getSimpleName() + " " + reason + " " + fromWorker);
        System.err.println(e);
      }
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
"""


@pytest.fixture
def head(tmp_path):
    (tmp_path / "bd_mod.py").write_text(BD_MODULE)
    c = Cluster()
    try:
        c.start_head(num_cpus=2)
        c.wait_alive(1)
        yield c
    finally:
        c.shutdown()


def _wait_freed(store_name: str, oid_hex: str) -> None:
    """Until the node's raylet freed the dead owner's copy of ``oid_hex`` (bounded). A borrower
    that reads local copies (C++ local reads, docs/ownership.md "The window") may return the
    value of a just-killed owner while the copy is still sealed; once freed it must raise."""
    from polyray.store import Store
    deadline = time.monotonic() + 10
    with Store.open(store_name) as store:
        while True:
            views = store.get([bytes.fromhex(oid_hex)], timeout=0)
            if views[0] is None:
                return
            views[0].release()
            assert time.monotonic() < deadline, "the dead owner's copy was not freed"
            time.sleep(0.01)


def drive(cmd: list[str], store_name: str = "") -> tuple[list[str], float]:
    """Runs a borrow driver: SIGKILLs the actor whose pid it prints (a driver that also
    prints "OID <hex>" is let go once the copy is freed); its answer lines and the seconds
    from the kill to the GET line."""
    proc = start_driver(cmd)
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[str] = []
    killed = took = 0.0
    try:
        for line in proc.stdout:
            if line.startswith("PID "):
                pid = int(line.split()[1])
                killed = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                words = line.split()
                if store_name and "OID" in words:
                    _wait_freed(store_name, words[words.index("OID") + 1])
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif line.startswith(("GET", "ARG")):
                lines.append(line.strip())
                if line.startswith("GET"):
                    took = time.monotonic() - killed
            elif line.startswith("DONE"):
                break
    finally:
        err = end_driver(proc, lines)
    assert killed and lines, f"no answer:\n{err[-4000:]}"
    return lines, took


def test_java_borrower_gets_owner_died(head, tmp_path):
    cmd, out = compile_java_driver(tmp_path / "java", "borrowtest.BorrowDriver", JAVA_DRIVER)
    lines, took = drive([*cmd, head.address, str(tmp_path), out])
    get = lines[0].split()
    assert get[:3] == ["GET", "OwnerDiedException", "REASON_OWNER_DIED"], lines
    assert took < BOUND_S
    assert lines[1].split()[:4] == ["ARG", "OwnerDiedException", "REASON_OWNER_DIED", "true"], lines
    print(f"\nJava borrower: OwnerDiedException {took:.2f} s after the owner's SIGKILL; "
          f"a Java worker's argument fetch: {lines[1]}")


def test_cpp_borrower_gets_owner_died(head, tmp_path):
    exe = build_cpp("borrow_driver", [os.path.join(HERE, "cpp_src", "borrow_driver.cc")], "exe")
    lines, took = drive([exe, head.address, str(tmp_path)], head.nodes[0].store_name)
    assert lines[0].split()[:3] == ["GET", "OwnerDiedError", "REASON_OWNER_DIED"], lines
    assert took < BOUND_S
    print(f"\nC++ borrower: OwnerDiedError {took:.2f} s after the owner's SIGKILL")
