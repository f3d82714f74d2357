"""Issue 13, "Tasks, leases and nodes" for Java and C++ tasks: a Java task
(tests/chaos/java_src/chaostest/Sleepy.java) and a C++ task
(tests/chaos/cpp_src/sleepy_funcs.cc), called from Python, whose worker
process is SIGKILLed while it runs are retried on a new worker and return the
right value. Each run of the task appends its worker's pid to a file, so the
test kills exactly the worker that runs it, and sees the retry run elsewhere.
Real raylet, real JVM and polyray_cpp_worker processes.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from core_util import wait_until

import polyray

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang"))
from xlang_support import OUT_ROOT, build_cpp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.timeout(900)  # the first use may compile the C++ library

#: How long the killed run would have slept (the retry sleeps as long).
TASK_MS = 3000


@pytest.fixture(scope="module")
def sleepy_lib() -> str:
    return build_cpp("chaos_sleepy_funcs", [os.path.join(HERE, "cpp_src", "sleepy_funcs.cc")], "shared")


@pytest.fixture(scope="module")
def sleepy_java() -> str:
    """tests/chaos/java_src compiled with javac (cached by source hash)."""
    from polyray import sdk

    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup`"
    sources = sorted(glob.glob(os.path.join(HERE, "java_src", "**", "*.java"), recursive=True))
    h = hashlib.sha256()
    for src in sources:
        with open(src, "rb") as f:
            h.update(src.encode() + b"\0" + f.read())
    out = os.path.join(OUT_ROOT, f"chaos-java-{h.hexdigest()[:16]}")
    if not os.path.isdir(out):
        tmp = f"{out}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        proc = subprocess.run([javac, "-cp", ":".join(sdk.java_classpath()), "-d", tmp, *sources],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-4000:]
        os.replace(tmp, out)
    return out


@pytest.fixture
def cluster(sleepy_lib, sleepy_java):
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[sleepy_lib, sleepy_java])
    try:
        yield
    finally:
        polyray.shutdown()


def _pids(path: str) -> list[int]:
    try:
        with open(path) as f:
            return [int(line) for line in f.read().split()]
    except FileNotFoundError:
        return []


def _kill_while_running_then_get(make_ref, pids_file: str, label: str) -> None:
    ref = make_ref()
    assert wait_until(lambda: len(_pids(pids_file)) >= 1, 60), f"the {label} task never started"
    victim = _pids(pids_file)[0]
    time.sleep(0.3)  # it is asleep in the task now
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    assert polyray.get(ref, timeout=60) == 49
    took = time.monotonic() - killed_at
    runs = _pids(pids_file)
    assert len(runs) == 2, f"the {label} task ran {len(runs)} times: {runs}"
    assert runs[1] != victim, "the retry ran on the killed worker"
    print(f"\n{label} task: worker SIGKILLed while running -> retried on a new worker, right value "
          f"{took:.1f} s after the kill (the task sleeps {TASK_MS / 1000:g} s)")


def test_a_java_task_whose_worker_is_sigkilled_while_running_is_retried(cluster, tmp_path):
    pids = str(tmp_path / "java-pids")
    fn = polyray.java_function("chaostest.Sleepy", "square").options(max_retries=2)
    _kill_while_running_then_get(lambda: fn.remote(pids, TASK_MS, 7), pids, "Java")


def test_a_cpp_task_whose_worker_is_sigkilled_while_running_is_retried(cluster, tmp_path):
    pids = str(tmp_path / "cpp-pids")
    fn = polyray.cpp_function("SleepySquare").options(max_retries=2)
    _kill_while_running_then_get(lambda: fn.remote(pids, TASK_MS, 7), pids, "C++")


def test_a_task_without_retries_whose_java_worker_is_sigkilled_raises_worker_crashed(cluster, tmp_path):
    from polyray.exceptions import WorkerCrashedError

    pids = str(tmp_path / "java-pids")
    ref = polyray.java_function("chaostest.Sleepy", "square").options(max_retries=0).remote(pids, TASK_MS, 7)
    assert wait_until(lambda: len(_pids(pids)) >= 1, 60)
    time.sleep(0.3)
    os.kill(_pids(pids)[0], signal.SIGKILL)
    with pytest.raises(WorkerCrashedError):
        polyray.get(ref, timeout=60)
    assert len(_pids(pids)) == 1, "a task with max_retries=0 ran again"
