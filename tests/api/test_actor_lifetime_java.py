"""Java SDK: an actor goes when its last handle goes (issue 17). A Java handle holds its
reference until the garbage collector clears it (a Cleaner, as Ray's Java API does with a
phantom reference), so the destruction follows a collection, not the line that drops it.
A real Java driver joined to the test's cluster owns a Python actor, hands the handle to a
Python actor that keeps it, drops its own (and collects every 100 ms): the actor stays
while the Python borrower keeps it and is DEAD with REASON_OUT_OF_SCOPE once it lets go."""

from __future__ import annotations

import os
import sys
import time

import pytest

from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))
from chaos_util import compile_java_driver, end_driver, start_driver  # noqa: E402

sys.path.insert(0, HERE)
from lifetime_support import GONE_S, MODULE, destroyed_within  # noqa: E402
from lifetime_support import actor_info as _info  # noqa: E402
from lifetime_support import alive as _alive  # noqa: E402

pytestmark = pytest.mark.timeout(300)

JAVA_DRIVER = """
package lifetimetest;

import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.List;

/** args: address, code search path. Commands on stdin, one answer line each. */
public final class LifetimeDriver {
  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1])).setLogToDriver(false));
    Thread gc = new Thread(() -> {
      while (true) {
        System.gc();
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    gc.setDaemon(true);
    gc.start();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    PyActorHandle target = PolyRay.actor(PyActorClass.of("lifetime_jmod", "Target")).remote();
    PyActorHandle keeper = PolyRay.actor(PyActorClass.of("lifetime_jmod", "Keeper")).remote();
    long pid = PolyRay.get(target.task(PyActorMethod.of("pid", Long.class)).remote(), 60_000);
    System.out.println("MADE " + pid + " " + target.getActorIdHex());
    String line;
    while ((line = in.readLine()) != null) {
      if (line.equals("give")) {
        long n = PolyRay.get(keeper.task(PyActorMethod.of("keep", Long.class), target).remote(), 60_000);
        System.out.println("KEPT " + n);
      } else if (line.equals("drop")) {
        target = null;
        System.out.println("DROPPED");
      } else if (line.equals("keeper_drop")) {
        boolean ok = PolyRay.get(keeper.task(PyActorMethod.of("drop", Boolean.class)).remote(), 60_000);
        System.out.println("KEEPER_DROPPED " + ok);
      } else {
        break;
      }
    }
    PolyRay.shutdown();
    System.out.println("DONE");
  }
}
"""


def test_java_handle_released_after_collection_and_borrower(cluster, tmp_path):
    (tmp_path / "lifetime_jmod.py").write_text(MODULE)
    cmd, _ = compile_java_driver(tmp_path / "java", "lifetimetest.LifetimeDriver", JAVA_DRIVER)
    proc = start_driver([*cmd, cluster["address"], str(tmp_path)])
    assert proc.stdin is not None and proc.stdout is not None
    answers: list[str] = []

    def ask(command: str | None, prefix: str) -> list[str]:
        if command is not None:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
        line = proc.stdout.readline().strip()
        answers.append(line)
        assert line.startswith(prefix), f"{command!r} -> {line!r}"
        return line.split()

    try:
        _, pid_s, aid = ask(None, "MADE")
        pid = int(pid_s)
        assert ask("give", "KEPT")[1] == "1"
        ask("drop", "DROPPED")
        time.sleep(2.0)  # ~20 collections in the driver
        assert _alive(pid) and _info(aid).state == gcs.ALIVE, "the Python borrower keeps it"
        assert ask("keeper_drop", "KEEPER_DROPPED")[1] == "true"
        assert destroyed_within(pid, aid) is not None, f"still alive after {GONE_S} s"
        assert _info(aid).death_cause.reason == pb.REASON_OUT_OF_SCOPE
    finally:
        try:
            proc.stdin.write("exit\n")
            proc.stdin.flush()
        except OSError:
            pass
        end_driver(proc, answers)
