"""Issue 13, Deliver 5: Java and C++ callers keep their calls across actor restarts.

A Java driver (a real JVM, PolyRay.init with an embedded cluster) calls the
Java Counter of tests/xlang/java_src, and a C++ driver
(tests/chaos/cpp_src/restart_driver.cc) calls the C++ Counter of
tests/xlang/cpp_src, each created with max_restarts=-1 and
max_task_retries=-1. The driver prints the actor's pid; the test SIGKILLs it
and tells the driver to go on, 10 times, while the driver keeps sending
calls (20 before each kill, 20 right after it, which meet the restart). Every
call returns, and the values in submission order are those of a counter
whose state resets on restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from polyray import sdk

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang"))
from xlang_support import build_cpp, cpp_lib, xlang_java_classes  # noqa: E402,F401  (pytest fixtures)

pytestmark = pytest.mark.timeout(1200)  # the first use may compile the driver
HERE = os.path.dirname(os.path.abspath(__file__))
KILLS = 10

JAVA_DRIVER = """
package chaostest;

import io.polyray.api.ActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import xlangtest.Counter;

/** args: kills, code search path... (protocol as tests/chaos/cpp_src/restart_driver.cc). */
public final class RestartDriver {
  public static void main(String[] args) throws Exception {
    int kills = Integer.parseInt(args[0]);
    List<String> path = Arrays.asList(Arrays.copyOfRange(args, 1, args.length));
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(path));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    try {
      long t = 120_000;
      ActorHandle<Counter> c = PolyRay.actor(Counter::new, 0L).setMaxRestarts(-1).setMaxTaskRetries(-1).remote();
      List<ObjectRef<Long>> refs = new ArrayList<>();
      for (int k = 0; k < kills; k++) {
        System.out.println("PID " + PolyRay.get(c.task(Counter::pid).remote(), t));
        System.out.flush();
        for (int i = 0; i < 20; i++) {
          refs.add(c.task(Counter::increment, 1L).remote());
        }
        in.readLine();
        for (int i = 0; i < 20; i++) {
          refs.add(c.task(Counter::increment, 1L).remote());
        }
      }
      System.out.println("PID " + PolyRay.get(c.task(Counter::pid).remote(), t));
      StringBuilder sb = new StringBuilder();
      for (ObjectRef<Long> r : refs) {
        sb.append(sb.length() > 0 ? "," : "").append(PolyRay.get(r, t));
      }
      System.out.println("VALUES " + sb);
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
"""


def check_counter_values(values: list[int]) -> int:
    assert values and values[0] == 1
    resets = 0
    for i in range(1, len(values)):
        if values[i] == 1:
            resets += 1
        else:
            assert values[i] == values[i - 1] + 1, f"call {i}: {values[i]} after {values[i - 1]}: lost or reordered"
    assert resets <= KILLS
    return resets


def drive(cmd: list[str], label: str) -> None:
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable  # the embedded head runs with this interpreter
    env.pop("POLYRAY_ADDRESS", None)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    assert proc.stdin is not None and proc.stdout is not None
    pids: list[int] = []
    restart_s: list[float] = []
    values: list[int] = []
    last_kill = 0.0
    try:
        for line in proc.stdout:
            if line.startswith("PID "):
                if last_kill:
                    restart_s.append(time.monotonic() - last_kill)
                pids.append(int(line.split()[1]))
                if len(pids) <= KILLS:
                    os.kill(pids[-1], signal.SIGKILL)
                    last_kill = time.monotonic()
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
            elif line.startswith("VALUES "):
                values = [int(v) for v in line.split()[1].split(",")]
            elif line.startswith("DONE"):
                break
        rc = proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert rc == 0, f"{label} driver failed ({rc}):\n{proc.stderr.read() if proc.stderr else ''}"
    assert len(pids) == KILLS + 1 and len(set(pids)) == KILLS + 1, f"pids: {pids}"
    assert len(values) == KILLS * 40, "every call returned"
    resets = check_counter_values(values)
    print(f"\n{label} caller -> {label} actor: {len(values)} calls sent, {len(values)} returned, 0 failed; "
          f"{KILLS} kills, {resets} state resets seen by calls; restart (kill -> pid call answered) "
          f"mean {sum(restart_s) / len(restart_s) * 1000:.0f} ms, max {max(restart_s) * 1000:.0f} ms")


def test_java_driver_calls_survive_10_restarts(xlang_java_classes, tmp_path):  # noqa: F811
    src = tmp_path / "chaostest" / "RestartDriver.java"
    src.parent.mkdir()
    src.write_text(JAVA_DRIVER)
    cp = sdk.java_classpath() + [xlang_java_classes]
    out = tmp_path / "classes"
    subprocess.run(["javac", "-cp", ":".join(cp), "-d", str(out), str(src)], check=True, capture_output=True,
                   timeout=300)
    drive(["java", "-cp", ":".join(cp + [str(out)]), "chaostest.RestartDriver", str(KILLS), xlang_java_classes],
          "Java")


def test_cpp_driver_calls_survive_10_restarts(cpp_lib):  # noqa: F811
    driver = build_cpp("restart_driver", [os.path.join(HERE, "cpp_src", "restart_driver.cc")], "exe")
    drive([driver, str(KILLS), cpp_lib], "C++")
