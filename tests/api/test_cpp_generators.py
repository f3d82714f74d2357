"""Generator tasks across the C++ boundary (issues 17 and 19): C++ callers stream the items of
Python and C++ generators (polyray::ObjectRefGenerator), and C++ generators (polyray::Yield)
stream to Python callers (num_returns="streaming").

One embedded cluster (2 CPUs) for the module; the C++ driver (cpp_src/generator_driver.cc,
linked with cpp_src/generator_funcs.cc, whose library the workers load) joins it once and
prints what it saw as one JSON line. That items come before the task ends is shown without a
clock: the generator waits on a file nobody has created until its caller read item 0 and saw
the task's end not ready.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time

import java_support
import pytest

import polyray
from polyray.exceptions import CrossLanguageError, TaskError, WorkerCrashedError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

TIMEOUT = 60
pytestmark = pytest.mark.timeout(900)  # the first run compiles the library and the driver

MODULE = '''
import os
import time


def _wait_for(path):
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gate {path} never opened")
        time.sleep(0.01)


def gated(gate, n):
    yield 1
    _wait_for(gate)
    for i in range(2, n + 1):
        yield i


def fails_after(n):
    for i in range(n):
        yield 10 + i
    raise ValueError(f"bad {10 + n}")


class Gen:
    def count(self, n):
        for i in range(n):
            yield i
'''


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    lib = build_cpp("generator_funcs", [os.path.join(HERE, "cpp_src", "generator_funcs.cc")], "shared")
    exe = build_cpp("generator_driver", [os.path.join(HERE, "cpp_src", "generator_driver.cc"),
                                         os.path.join(HERE, "cpp_src", "generator_funcs.cc")], "exe")
    moddir = tmp_path_factory.mktemp("genmod")
    (moddir / "gen_mod.py").write_text(MODULE)
    # test_java_generators' Java generators (tests/prebuild.py compiles them ahead), for the C++ driver's job.
    java = java_support.compiled_java("api_java_gen", os.path.join(HERE, "java_gen_src"))
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2, code_search_path=[lib, str(moddir)])
    try:
        yield {"address": info["address"], "lib": lib, "exe": exe, "moddir": str(moddir), "java": java,
               "scratch": tmp_path_factory.mktemp("gates")}
    finally:
        gc.collect()
        polyray.shutdown()


@pytest.fixture(scope="module")
def seen(env) -> dict:
    """The C++ driver's JSON line."""
    e = dict(os.environ)
    e.pop("POLYRAY_ADDRESS", None)
    from polyray.core.object_ref import get_core
    store = get_core().store_name  # this node's: the driver looks into it
    p = subprocess.run([env["exe"], env["address"], env["lib"], env["moddir"], str(env["scratch"]), store,
                        env["java"]], env=e,
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr[-4000:]
    r = json.loads([line for line in p.stdout.splitlines() if line.startswith("{")][-1])
    assert "fatal" not in r, r["fatal"]
    return r


def test_cpp_caller_streams_a_python_generator_before_it_ends(seen):
    assert seen["py_first"] == 1
    assert seen["py_blocked"] is True, "item 0 came while the generator still waited on its gate"
    assert "did not arrive within 50 ms" in seen["py_timeout"]  # Next(50) is bounded
    assert seen["py_rest"] == [2, 3] and seen["py_count"] == 3 and seen["py_taken"] == 3
    assert seen["py_actor"] == [0, 1, 2]  # a Python actor's generator method


def test_cpp_caller_gets_a_python_generator_s_error_at_its_place(seen):
    assert seen["py_err_items"] == [10, 11]
    assert "bad 12" in seen["py_err"] and "ValueError" in seen["py_err"]
    assert seen["py_err_end"] is True


def test_cpp_caller_streams_a_cpp_generator(seen):
    assert seen["cpp_first"] == "before" and seen["cpp_blocked"] is True
    assert seen["cpp_second"] == "after" and seen["cpp_end"] is True and seen["cpp_count"] == 2
    assert seen["cpp_by_name"] == [0, 1, 2, 3]  # CppFunction + RemoteGenerator, range-for
    assert seen["cpp_err_items"] == [0, 1] and "boom after 2 items" in seen["cpp_err"]
    assert "std::runtime_error" in seen["cpp_err"]
    assert seen["cpp_actor"] == [100, 101, 102] and seen["cpp_actor_by_name"] == [7, 8]


def test_cpp_caller_streams_a_java_generator(seen):
    assert seen["java_items"] == [0, 10, 20] and seen["java_count"] == 3
    assert seen["java_err_items"] == [0, 10] and "java boom at 2" in seen["java_err"]
    assert seen["java_actor"] == "item0,item1"  # a Java actor's method


def test_cpp_caller_s_generator_call_is_retried_or_fails_at_its_place(seen):
    items = ",".join(f"{200 * 1024}:{i}" for i in range(5))
    assert seen["retry1"] == items and seen["retry1_attempts"] == 2, "every item once, in order"
    got = seen["retry0"].split(",", 3)
    assert got[:3] == [f"{200 * 1024}:{i}" for i in range(3)] and seen["retry0_attempts"] == 1
    assert got[3].startswith("E:") and "died after 1 attempt" in got[3], got[3]


def test_cpp_caller_destroys_a_generator_early(seen):
    assert seen["early_first"] == [2 << 20, 0]  # a large item, through the store
    assert seen["early_count"] == 4 and seen["early_held"] == 3  # the 3 not taken: held by the stream
    assert seen["early_left"] == 0, "the items not taken were freed when the generator went"
    assert seen["after_early"] == [0, 1]  # the items not taken were let go; the runtime goes on


def test_cpp_bad_generator_calls_are_errors_naming_the_cause(seen):
    assert "was called as a streaming generator" in seen["not_a_generator"]
    assert "is a generator" in seen["generator_as_plain"]
    plain = seen["py_generator_as_plain"]  # a Python generator function called with Remote()
    assert "returned a generator" in plain and "RemoteGenerator()" in plain
    assert "SetNumReturns(2)" in seen["multi_refused"]


def test_python_caller_streams_a_cpp_generator_before_it_ends(env):
    gate = os.path.join(str(env["scratch"]), "py_caller_gate")
    gen = polyray.cpp_function("Gated").options(num_returns="streaming").remote(gate)
    assert polyray.get(next(gen), timeout=TIMEOUT) == "before"
    ready, _ = polyray.wait([gen.completed()], timeout=0)
    assert not ready, "item 0 came while the C++ generator still waited on its gate"
    with open(gate, "w") as f:
        f.write("open")
    assert [polyray.get(r, timeout=TIMEOUT) for r in gen] == ["after"]
    assert polyray.get(gen.completed(), timeout=TIMEOUT) == 2
    actor = polyray.cpp_actor_class("Streamer::Create", "Streamer").remote(5)
    refs = list(actor.Range.options(num_returns="streaming").remote(3))
    assert polyray.get(refs, timeout=TIMEOUT) == [5, 6, 7]


def test_python_caller_gets_a_cpp_generator_s_error_and_drops_early(env):
    gen = polyray.cpp_function("FailsAfter").options(num_returns="streaming").remote(3)
    got = [polyray.get(next(gen), timeout=TIMEOUT) for _ in range(3)]
    assert got == [0, 1, 2]
    with pytest.raises(CrossLanguageError, match="boom after 3 items"):
        polyray.get(next(gen), timeout=TIMEOUT)
    with pytest.raises(StopIteration):
        next(gen)
    big = polyray.cpp_function("BigItems").options(num_returns="streaming").remote(3, 2 << 20)
    first = polyray.get(next(big), timeout=TIMEOUT)
    assert len(first) == 2 << 20 and first[0] == 0
    del big, first  # the rest are let go as they come
    assert list(polyray.get(list(polyray.cpp_function("CountUp").options(num_returns="streaming").remote(2)),
                            timeout=TIMEOUT)) == [0, 1]
    with pytest.raises(ValueError, match="'streaming' for Java and C\\+\\+ ones"):
        polyray.cpp_function("CountUp").options(num_returns="dynamic").remote(2)
    with pytest.raises(TaskError, match="was called as a streaming generator"):
        polyray.get(next(polyray.cpp_function("Plain").options(num_returns="streaming").remote(1)), timeout=TIMEOUT)
    with pytest.raises(TaskError, match="is a generator"):
        polyray.get(polyray.cpp_function("CountUp").remote(1), timeout=TIMEOUT)


def _kill_waiting(marks: str) -> None:
    """SIGKILLs the generator's worker once it paused (its pid in marks/waiting): a real crash."""
    path = os.path.join(marks, "waiting")
    deadline = time.monotonic() + 30
    while not (os.path.exists(path) and os.path.getsize(path) > 0):
        assert time.monotonic() < deadline, "the generator did not pause"
        time.sleep(0.05)
    with open(path) as f:
        os.kill(int(f.read()), signal.SIGKILL)


def _attempts(marks: str) -> int:
    with open(os.path.join(marks, "attempts")) as f:
        return len(f.read().split())


def test_a_cpp_generator_is_retried_when_its_worker_dies(env, tmp_path):
    """A Python caller's retry of a C++ generator (issue 17): every item once, in order; the big
    items the dead attempt sealed in the store are reused (no "object exists")."""
    big = 200 * 1024
    gen = polyray.cpp_function("Paced").options(num_returns="streaming", max_retries=1).remote(5, 3, str(tmp_path), big)
    taken = [next(gen), next(gen)]
    _kill_waiting(str(tmp_path))
    got = polyray.get(taken + list(gen), timeout=TIMEOUT)
    assert [(len(v), v[0]) for v in got] == [(big, i) for i in range(5)], "every item once, in order"
    assert polyray.get(gen.completed(), timeout=TIMEOUT) == 5
    assert _attempts(str(tmp_path)) == 2


def test_without_retries_a_cpp_generator_s_crash_ends_the_stream_at_its_place(env, tmp_path):
    gen = polyray.cpp_function("Paced").options(num_returns="streaming", max_retries=0).remote(5, 2, str(tmp_path), 8)
    _kill_waiting(str(tmp_path))
    refs = list(gen)
    assert len(refs) == 3, "two items, then the crash"
    assert [v[0] for v in polyray.get(refs[:2], timeout=TIMEOUT)] == [0, 1]
    with pytest.raises(WorkerCrashedError):
        polyray.get(refs[2], timeout=TIMEOUT)
    assert _attempts(str(tmp_path)) == 1
