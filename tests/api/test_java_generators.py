"""Generator tasks across the Java boundary (issues 17 and 19), real JVM and Python workers on one
local cluster: a Java caller (a Java task) streams a Python generator function, a Java generator
method, a Java actor's method and a Stream; a Python caller streams a Java generator; errors come
at their place; a Java caller's early close releases the items it did not take.

"Items arrive before the task ends" is proven by order, not by clock: the generators wait after
their first item for a file only the caller makes once it read that item."""

from __future__ import annotations

import os
import signal
import sys
import time

import java_support
import pytest

import polyray
from polyray.core.object_ref import get_core
from polyray.exceptions import TaskError, WorkerCrashedError
from polyray.util.state import list_objects

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

JAVA_SRC = os.path.join(HERE, "java_gen_src")
PY_SRC = os.path.join(HERE, "java_gen_py")
T = 60
BIG = 200 * 1024  # above the inline limit: items in the node's store


@pytest.fixture(scope="module")
def gen_cluster():
    out = java_support.compiled_java("api_java_gen", JAVA_SRC)  # tests/prebuild.py compiles it ahead
    # The C++ generators of test_cpp_generators (same cached library), for Java callers of C++ ones.
    lib = build_cpp("generator_funcs", [os.path.join(HERE, "cpp_src", "generator_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=4, code_search_path=[out, PY_SRC, lib])
    yield
    polyray.shutdown()


def _java(name: str):
    return polyray.java_function("gens.Gens", name)


def _wait_for(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_java_caller_streams_a_python_generator(gen_cluster, tmp_path):
    out = polyray.get(_java("javaToPython").remote(str(tmp_path / "gate")), timeout=T)
    assert out == "0|running,10,20|count=3", out


def test_java_caller_streams_a_java_generator(gen_cluster, tmp_path):
    out = polyray.get(_java("javaToJava").remote(str(tmp_path / "gate")), timeout=T)
    assert out == "0|running,10,20|count=3", out


def test_java_caller_streams_a_cpp_generator(gen_cluster):
    out = polyray.get(_java("javaToCpp").remote(), timeout=T)
    assert out == "0,1,2,end / 0,1,E:CrossLanguageException:boom,end / 7,8,end", out


def test_java_caller_actor_method_stream_and_non_sequence(gen_cluster):
    out = polyray.get(_java("actorAndStream").remote(), timeout=T)
    assert out == "item0,item1|w0,w1,w2|refused", out


def test_java_caller_sees_errors_at_their_place(gen_cluster, tmp_path):
    out = polyray.get(_java("errors").remote(str(tmp_path / "gate")), timeout=T)
    java, python = out.split(" / ")
    assert java == "0,10,E:TaskException:boom,end", out
    assert python == "0,E:CrossLanguageException:boom,end", out


def test_python_caller_streams_a_java_generator(gen_cluster, tmp_path):
    gate = tmp_path / "gate"
    gen = _java("count").options(num_returns="streaming").remote(3, str(gate), -1)
    assert polyray.get(next(gen), timeout=T) == 0
    ready, _ = polyray.wait([gen.completed()], timeout=0)
    assert not ready, "the Java generator waits for the gate: its first item came before its end"
    gate.write_text("")
    assert [polyray.get(r, timeout=T) for r in gen] == [10, 20]
    assert polyray.get(gen.completed(), timeout=T) == 3
    # A Java actor's method, and an error in the middle at its place.
    src = polyray.java_actor_class("gens.Gens$Source").remote()
    items = src.items.options(num_returns="streaming").remote(2)
    assert [polyray.get(r, timeout=T) for r in items] == ["item0", "item1"]
    refs = list(_java("count").options(num_returns="streaming").remote(5, "", 2))
    assert len(refs) == 3, "two items, then the error's ref, then the end"
    assert polyray.get(refs[:2], timeout=T) == [0, 10]
    with pytest.raises(TaskError, match="java boom at 2"):
        polyray.get(refs[2], timeout=T)
    with pytest.raises(ValueError, match="num_returns='dynamic'"):
        _java("count").options(num_returns="dynamic").remote(1, "", -1)


def test_java_caller_close_releases_the_items_not_taken(gen_cluster):
    out = polyray.get(_java("closeEarly").remote(4, BIG), timeout=T)
    end_hex, size, count, has_next = out.split("|")
    assert (int(size), int(count), has_next) == (BIG, 4, "false"), out
    task_id = bytes.fromhex(end_hex)[:-4]
    items = [task_id + (k + 2).to_bytes(4, "little") for k in range(4)]
    store = get_core().node_store.store
    # The three items not taken: no owner holds them and their store copies are freed.
    assert _wait_for(lambda: not any(store.contains(oid) for oid in items[1:])), "store copies freed"
    assert _wait_for(lambda: not [r for r in list_objects(limit=10_000, detail=True)
                                  if r["object_id"] in {oid.hex() for oid in items[1:]}])


def kill_waiting(marks: str) -> None:
    """SIGKILLs the generator's worker once it paused (its pid in marks/waiting): a real crash."""
    path = os.path.join(marks, "waiting")
    assert _wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0), "the generator did not pause"
    with open(path) as f:
        os.kill(int(f.read()), signal.SIGKILL)


def attempts(marks: str) -> int:
    with open(os.path.join(marks, "attempts")) as f:
        return len(f.read().split())


def test_a_java_generator_is_retried_when_its_worker_dies(gen_cluster, tmp_path):
    """A Python caller's retry of a Java generator (issue 17): the retry yields from item 0 again;
    the caller keeps what it has and drops the repeats, so every item arrives once, in order; the
    big items the dead attempt sealed in the store are reused (no "object exists")."""
    gen = _java("paced").options(num_returns="streaming", max_retries=1).remote(5, 3, str(tmp_path), BIG)
    taken = [next(gen), next(gen)]
    kill_waiting(str(tmp_path))
    got = polyray.get(taken + list(gen), timeout=T)
    assert [(len(v), v[0]) for v in got] == [(BIG, i) for i in range(5)], "every item once, in order"
    assert polyray.get(gen.completed(), timeout=T) == 5
    assert attempts(str(tmp_path)) == 2


def test_without_retries_a_java_generator_s_crash_ends_the_stream_at_its_place(gen_cluster, tmp_path):
    gen = _java("paced").options(num_returns="streaming", max_retries=0).remote(5, 2, str(tmp_path), 8)
    kill_waiting(str(tmp_path))
    refs = list(gen)
    assert len(refs) == 3, "two items, then the crash"
    assert [v[0] for v in polyray.get(refs[:2], timeout=T)] == [0, 1]
    with pytest.raises(WorkerCrashedError):
        polyray.get(refs[2], timeout=T)
    assert attempts(str(tmp_path)) == 1


def test_a_java_caller_s_generator_call_is_retried_or_fails_at_its_place(gen_cluster, tmp_path):
    """A Java caller's generator call (issue 17): retried when its worker dies (the repeats are
    dropped: every item once, in order), or with maxRetries 0 the crash comes at its place."""
    retried, once = tmp_path / "retried", tmp_path / "once"
    retried.mkdir()
    once.mkdir()
    ref = _java("javaRetried").remote(str(retried), BIG, 1)
    kill_waiting(str(retried))
    assert polyray.get(ref, timeout=T) == ",".join(f"{BIG}:{i}" for i in range(5)) + "|count=5"
    assert attempts(str(retried)) == 2
    ref = _java("javaRetried").remote(str(once), 8, 0)
    kill_waiting(str(once))
    assert polyray.get(ref, timeout=T) == "8:0,8:1,8:2,E:WorkerCrashedException|failed"
    assert attempts(str(once)) == 1
