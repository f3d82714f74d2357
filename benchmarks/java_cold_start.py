"""Java worker start-up: first call of a new Java actor, cold and with a warm pool, per JVM flag set.

    .venv/bin/python benchmarks/java_cold_start.py [--rounds 3] [--configs base,tiered1,cds,cds+tiered1]

Each round starts a fresh embedded head per configuration (configurations
alternate inside a round, so load on the machine hits them alike), creates a
Java actor (``java.util.ArrayList``: no user code to compile) and times
``ArrayList.size()`` from ``.remote()`` to the value: the cold figure (a JVM
starts). Then it waits for the JVM the raylet prestarts beside the job's
first Java worker and times a second actor the same way: the warm figure.
Medians (and the range) per configuration are printed at the end.

Configurations set ``$POLYRAY_JAVA_WORKER_OPTS`` (the raylet's Java launcher
uses it instead of its defaults, python/polyray/raylet/launchers.py):

- base:        -XX:+UseSerialGC -Xshare:auto (the JDK's default CDS archive)
- noshare:     -XX:+UseSerialGC -Xshare:off
- tiered1:     base + -XX:TieredStopAtLevel=1
- cds:         base + -XX:SharedArchiveFile=build/java-cds/worker.jsa (AppCDS of the SDK's classes;
               built by `make setup`, or ``--build-cds`` here)
- cds+tiered1: both
- parallel:    -XX:+UseParallelGC -Xshare:auto (what SerialGC replaced)
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import polyray
from polyray.raylet.launchers import java_cds_archive

BASE = "-XX:+UseSerialGC -Xshare:auto"
TIMEOUT = 120


def configs(archive: str) -> dict[str, str]:
    cds = f"-XX:SharedArchiveFile={archive} -Xlog:cds=off -Xlog:cds+dynamic=off"
    return {
        "base": BASE,
        "noshare": "-XX:+UseSerialGC -Xshare:off",
        "tiered1": f"{BASE} -XX:TieredStopAtLevel=1",
        "cds": f"{BASE} {cds}",
        "cds+tiered1": f"{BASE} {cds} -XX:TieredStopAtLevel=1",
        "parallel": "-XX:+UseParallelGC -Xshare:auto",
    }


def _java_workers(session_logs: str) -> int:
    """Java workers of this head: processes running WorkerMain whose environment names its session."""
    n = 0
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                if b"io.polyray.runtime.WorkerMain" not in f.read():
                    continue
            with open(path.replace("cmdline", "environ"), "rb") as f:
                if session_logs.encode() in f.read():
                    n += 1
        except OSError:
            continue
    return n


def one_round(opts: str, warm: bool = True) -> tuple[float, float | None]:
    """(cold, warm) seconds of the first call of a new Java actor under ``opts``."""
    os.environ["POLYRAY_JAVA_WORKER_OPTS"] = opts
    try:
        polyray.init(num_cpus=2, include_dashboard=False,
                     _system_config={"warm_workers": {"java": 1} if warm else 0})
    finally:
        del os.environ["POLYRAY_JAVA_WORKER_OPTS"]
    try:
        cls = polyray.java_actor_class("java.util.ArrayList")
        t0 = time.monotonic()
        a = cls.remote()
        assert polyray.get(a.size.remote(), timeout=TIMEOUT) == 0
        cold = time.monotonic() - t0
        if not warm:
            return cold, None
        from polyray import api
        logs = os.path.join(api._state["head"].session_dir, "logs")
        deadline = time.monotonic() + TIMEOUT
        while _java_workers(logs) < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("the prestarted Java worker did not come up")
            time.sleep(0.05)
        time.sleep(1.0)  # let it finish registering and settle (its own start is not what is timed)
        t0 = time.monotonic()
        b = cls.remote()
        assert polyray.get(b.size.remote(), timeout=TIMEOUT) == 0
        return cold, time.monotonic() - t0
    finally:
        polyray.shutdown()


def build_cds(archive: str) -> float:
    """Dump the AppCDS archive of a Java worker that ran one task (atomically into place).

    The JVM writes it at its own exit: the worker leaves when the raylet asks
    an idle worker to (1 s idle timeout, no warm pool), not SIGTERMed or killed.
    """
    os.makedirs(os.path.dirname(archive), exist_ok=True)
    tmp = f"{archive}.tmp-{os.getpid()}"
    t0 = time.monotonic()
    os.environ["POLYRAY_JAVA_WORKER_OPTS"] = f"{BASE} -XX:ArchiveClassesAtExit={tmp} -Xlog:cds=off"
    try:
        polyray.init(num_cpus=2, include_dashboard=False,
                     _system_config={"idle_worker_timeout_s": 1, "warm_workers": 0})
    finally:
        del os.environ["POLYRAY_JAVA_WORKER_OPTS"]
    try:
        sep = polyray.get(polyray.java_function("java.lang.System", "lineSeparator").remote(), timeout=TIMEOUT)
        assert sep == "\n", repr(sep)
        deadline = time.monotonic() + 60
        while not os.path.isfile(tmp) and time.monotonic() < deadline:
            time.sleep(0.1)
        size = -1
        while os.path.isfile(tmp) and os.path.getsize(tmp) != size and time.monotonic() < deadline:
            size = os.path.getsize(tmp)
            time.sleep(0.5)  # still being written
    finally:
        polyray.shutdown()
    if not os.path.isfile(tmp):
        raise RuntimeError(f"no archive was written at {tmp}")
    os.replace(tmp, archive)
    return time.monotonic() - t0


DRIVER = """
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.util.List;

public final class ColdDriver {
  public static int one() {
    return 1;
  }

  public static void main(String[] args) {
    long t0 = System.nanoTime();
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(List.of(args[0])).setNumCpus(2.0));
    long t1 = System.nanoTime();
    int v = PolyRay.get(PolyRay.task(ColdDriver::one).remote(), 120_000);
    long t2 = System.nanoTime();
    System.out.println("INIT_S=" + (t1 - t0) / 1e9 + " FIRST_TASK_S=" + (t2 - t1) / 1e9 + " V=" + v);
    PolyRay.shutdown();
  }
}
"""


def java_driver_rounds(rounds: int, table: dict[str, str], names: list[str]) -> None:
    """A Java driver's PolyRay.init() (embedded head) and its first Java task, per worker flag set
    (the driver's own JVM runs with the JDK's defaults: its flags are the user's)."""
    from polyray import sdk

    javac = shutil.which("javac")
    assert javac, "no javac"
    out = tempfile.mkdtemp(prefix="java-cold-driver-")
    src = os.path.join(out, "ColdDriver.java")
    with open(src, "w") as f:
        f.write(DRIVER)
    cp = ":".join(sdk.java_classpath())
    subprocess.run([javac, "-cp", cp, "-d", out, src], check=True, capture_output=True)
    res: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names:
            env = dict(os.environ, POLYRAY_JAVA_WORKER_OPTS=table[name], POLYRAY_PYTHON=sys.executable)
            env.pop("POLYRAY_ADDRESS", None)
            t0 = time.monotonic()
            proc = subprocess.run(["java", "-cp", f"{cp}:{out}", "ColdDriver", out], env=env,
                                  capture_output=True, text=True, timeout=180)
            wall = time.monotonic() - t0
            line = [x for x in proc.stdout.splitlines() if x.startswith("INIT_S=")]
            assert proc.returncode == 0 and line, proc.stdout + proc.stderr
            vals = dict(kv.split("=") for kv in line[0].split())
            init_s, task_s = float(vals["INIT_S"]), float(vals["FIRST_TASK_S"])
            res[name].append((init_s, task_s, wall))
            print(f"round {r + 1} java driver, workers {name:12s} init {init_s:.2f} s  first task "
                  f"{task_s:.2f} s  (init to first task {init_s + task_s:.2f} s, process {wall:.2f} s)",
                  flush=True)
    print(f"\njava driver: {'workers':12s}  init median   first task median   init+task median (range)")
    for name in names:
        inits = [a for a, _, _ in res[name]]
        tasks = [b for _, b, _ in res[name]]
        both = [a + b for a, b, _ in res[name]]
        print(f"             {name:12s}  {statistics.median(inits):5.2f} s      {statistics.median(tasks):5.2f} s"
              f"            {statistics.median(both):5.2f} s ({min(both):.2f}-{max(both):.2f})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--configs", default="base,tiered1,cds,cds+tiered1")
    p.add_argument("--build-cds", action="store_true", help="(re)build the archive first")
    p.add_argument("--build-cds-only", action="store_true", help="build the archive and exit (make setup)")
    p.add_argument("--java-driver", action="store_true",
                   help="measure a Java driver's init() and first Java task instead of actors")
    args = p.parse_args()
    os.environ.pop("POLYRAY_ADDRESS", None)  # every round starts its own embedded head
    archive = java_cds_archive()
    if args.build_cds or args.build_cds_only or not os.path.isfile(archive):
        took = build_cds(archive)
        print(f"AppCDS archive {archive}: {os.path.getsize(archive) / 2**20:.1f} MiB in {took:.1f} s")
        if args.build_cds_only:
            return 0
    table = configs(archive)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    if args.java_driver:
        java_driver_rounds(args.rounds, table, names)
        return 0
    results: dict[str, list[tuple[float, float | None]]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names:
            cold, warm = one_round(table[name])
            results[name].append((cold, warm))
            print(f"round {r + 1} {name:12s} cold {cold:.2f} s  warm {warm:.2f} s", flush=True)
    print(f"\n{'config':12s}  cold median (range)      warm median (range)   [{args.rounds} rounds, load "
          f"{os.getloadavg()[0]:.1f}]")
    for name in names:
        colds = [c for c, _ in results[name]]
        warms = [w for _, w in results[name] if w is not None]
        print(f"{name:12s}  {statistics.median(colds):5.2f} s ({min(colds):.2f}-{max(colds):.2f})   "
              f"{statistics.median(warms):5.2f} s ({min(warms):.2f}-{max(warms):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
