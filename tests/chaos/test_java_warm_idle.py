"""Java workers through quiet periods (issue 19 Deliver 3, and the GOAWAY bug).

One embedded head for the module, started with ``_system_config``: a 2 s idle
timeout and a warm pool of one Java worker. The first Java actor starts a JVM
(cold) and the raylet prestarts one more for the job (the warm pool keeps it).

- After 15 s of quiet (seven idle timeouts) a new Java actor lands on the warm
  JVM: its first call is measured against the cold one of the same test, by
  ratio.
- A Java worker idle for 35 s is called and answers, with no GOAWAY
  "too_many_pings" in its log. Before the fix its raylet channel pinged every
  10 s on an idle connection and the raylet's gRPC server counted each ping as a
  strike: the third (~30 s) ended the connection with GOAWAY. The trigger is
  the gRPC server's fixed strike count, so the wait cannot be shortened: this
  module takes ~40 s, most of it the quiet the two tests share.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time

import pytest

import polyray
import polyray.sdk
from polyray import api

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "java_src", "warmtest", "Pinger.java")
TIMEOUT = 90
QUIET_S = 15.0
GOAWAY_IDLE_S = 35.0


def _java_workers(classes: str) -> set[int]:
    """Pids of the Java workers started with ``classes`` on their class path (this module's)."""
    pids = set()
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"io.polyray.runtime.WorkerMain" in cmd and classes.encode() in cmd:
            pids.add(int(path.split("/")[2]))
    return pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup` (it installs a JDK)"
    out = str(tmp_path_factory.mktemp("java_warm_idle"))
    subprocess.run([javac, "-cp", ":".join(polyray.sdk.java_classpath()), "-d", out, SOURCE],
                   check=True, capture_output=True)
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[out], include_dashboard=False,
                 _system_config={"idle_worker_timeout_s": 2, "warm_workers": {"java": 1}})
    cls = polyray.java_actor_class("warmtest.Pinger")
    t0 = time.monotonic()
    first = cls.remote()
    pid = polyray.get(first.pid.remote(), timeout=TIMEOUT)
    cold_s = time.monotonic() - t0
    state = {"cls": cls, "first": first, "first_pid": pid, "cold_s": cold_s, "classes": out,
             "last_call": time.monotonic(), "logs": os.path.join(api._state["head"].session_dir, "logs")}
    yield state
    polyray.shutdown()


def _log_text(logs: str, pid: int) -> str:
    text = ""
    for path in glob.glob(os.path.join(logs, f"*-{pid}.*")):
        with open(path, errors="replace") as f:
            text += f.read()
    return text


def test_new_java_actor_after_quiet_lands_on_a_warm_jvm(warm):
    # The job's first Java lease prestarted a second JVM, which the warm pool keeps.
    _wait(lambda: len(_java_workers(warm["classes"])) == 2, 60, "the prestarted Java worker")
    (spare,) = _java_workers(warm["classes"]) - {warm["first_pid"]}
    time.sleep(QUIET_S)  # the quiet being tested: seven idle timeouts of 2 s
    assert _alive(spare), "the warm Java worker was stopped as idle"
    t0 = time.monotonic()
    second = warm["cls"].remote()
    pid = polyray.get(second.pid.remote(), timeout=TIMEOUT)
    warm_s = time.monotonic() - t0
    print(f"first call of a new Java actor: cold {warm['cold_s']:.2f} s, warm (after {QUIET_S:g} s quiet) "
          f"{warm_s:.2f} s")
    assert pid == spare, "the new actor did not get the warm JVM"
    assert warm_s * 2 < warm["cold_s"], f"warm {warm_s:.2f} s is not under half the cold {warm['cold_s']:.2f} s"


def test_java_worker_idle_past_the_ping_strikes_answers_without_goaway(warm):
    left = GOAWAY_IDLE_S - (time.monotonic() - warm["last_call"])
    if left > 0:
        time.sleep(left)  # the idle period under test (the raylet's strikes came at ~10, 20, 30 s)
    assert polyray.get(warm["first"].ping.remote(41), timeout=TIMEOUT) == 42
    text = _log_text(warm["logs"], warm["first_pid"])
    assert text or glob.glob(os.path.join(warm["logs"], f"*-{warm['first_pid']}.*")), "no log of the worker"
    assert "too_many_pings" not in text and "GOAWAY" not in text, text[-3000:]
