"""Generator tasks (issue 17), on a real local cluster: ``num_returns="streaming"`` (the default for
generator functions and methods) gives an ObjectRefGenerator whose items come as they are yielded;
``num_returns="dynamic"`` gives a ref to an ObjectRefGenerator of them all; an exception comes at
its place in the stream; a dropped generator releases its items."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

import polyray
from polyray import ObjectRefGenerator
from polyray.core.generators import item_id
from polyray.core.object_ref import get_core
from polyray.exceptions import ActorDiedError, TaskError, WorkerCrashedError

T = 60
BIG = 300 * 1024  # larger than the inline limit: items in the node's store


@polyray.remote
def numbers(n: int, fail_at: int = -1, pause: float = 0.0, size: int = 0):
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"boom at {i}")
        yield bytes(size) if size else i * 10
        if pause:
            time.sleep(pause)


@polyray.remote
class Source:
    def items(self, n: int):
        for i in range(n):
            yield f"item{i}"

    def plain(self) -> int:
        return 7


def _wait_for(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_streaming_items_come_as_they_are_yielded(cluster):
    gen = numbers.remote(3, pause=1.5)
    assert isinstance(gen, ObjectRefGenerator)
    first = next(gen)
    assert polyray.get(first, timeout=T) == 0
    ready, _ = polyray.wait([gen.completed()], timeout=0)
    assert not ready, "the first item came while the generator still ran"
    assert [polyray.get(r, timeout=T) for r in gen] == [10, 20]
    with pytest.raises(StopIteration):
        next(gen)
    assert polyray.get(gen.completed(), timeout=T) == 3
    explicit = numbers.options(num_returns="streaming").remote(2)
    assert [polyray.get(r, timeout=T) for r in explicit] == [0, 10]


def test_an_exception_comes_at_its_place_in_the_stream(cluster):
    gen = numbers.remote(5, fail_at=2)
    refs = list(gen)
    assert len(refs) == 3, "two items, then the error's ref, then the end"
    assert polyray.get(refs[:2], timeout=T) == [0, 10]
    with pytest.raises(TaskError, match="boom at 2") as info:
        polyray.get(refs[2], timeout=T)
    assert isinstance(info.value, ValueError)


def test_dynamic_gives_a_ref_to_a_generator_of_every_item(cluster):
    ref = numbers.options(num_returns="dynamic").remote(4)
    assert isinstance(ref, polyray.ObjectRef)
    gen = polyray.get(ref, timeout=T)
    assert isinstance(gen, ObjectRefGenerator) and len(gen) == 4
    assert polyray.get(list(gen), timeout=T) == [0, 10, 20, 30]
    with pytest.raises(TaskError, match="boom at 1"):
        polyray.get(numbers.options(num_returns="dynamic").remote(3, fail_at=1), timeout=T)


def test_actor_methods_stream_and_go_dynamic(cluster):
    src = Source.remote()
    gen = src.items.remote(3)
    assert isinstance(gen, ObjectRefGenerator)
    assert [polyray.get(r, timeout=T) for r in gen] == ["item0", "item1", "item2"]
    dyn = polyray.get(src.items.options(num_returns="dynamic").remote(2), timeout=T)
    assert polyray.get(list(dyn), timeout=T) == ["item0", "item1"]
    assert polyray.get(src.plain.remote(), timeout=T) == 7
    with pytest.raises(TypeError, match="not a generator"):
        polyray.get(src.plain.options(num_returns="streaming").remote().completed(), timeout=T)


@polyray.remote
class AsyncSource:
    async def items(self, n: int):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    def sync_items(self, n: int):
        yield from range(n)


def test_async_actor_generators(cluster):
    src = AsyncSource.remote()
    assert [polyray.get(r, timeout=T) for r in src.items.remote(3)] == [0, 1, 2]
    assert [polyray.get(r, timeout=T) for r in src.sync_items.remote(2)] == [0, 1]


def test_a_dropped_generator_releases_its_items(cluster):
    core = get_core()
    gen = numbers.remote(4, size=BIG)
    taken = next(gen)  # the consumer holds this one
    end = gen.completed()
    task_id = end.binary()[:-4]
    ids = [item_id(task_id, k) for k in range(4)]
    assert polyray.get(end, timeout=T) == 4
    assert all(core.references.is_owned(oid) for oid in ids)
    store = core.node_store.store
    assert _wait_for(lambda: all(store.contains(oid) for oid in ids)), "big items live in the node's store"
    del gen
    assert _wait_for(lambda: not any(core.references.is_owned(oid) for oid in ids[1:]))
    assert _wait_for(lambda: not any(store.contains(oid) for oid in ids[1:])), "their store copies are freed"
    assert len(polyray.get(taken, timeout=T)) == BIG, "the item taken is the consumer's"
    # Dropped while the task still runs: the items that come later are freed too.
    late = numbers.remote(3, pause=0.5, size=BIG)
    end2 = late.completed()
    late_ids = [item_id(end2.binary()[:-4], k) for k in range(3)]
    del late
    assert polyray.get(end2, timeout=T) == 3
    assert _wait_for(lambda: not any(core.references.is_owned(oid) or store.contains(oid) for oid in late_ids))


def test_generators_need_python_callees(cluster):
    # Java callees stream ("streaming": tests/api/test_java_generators.py) but have no "dynamic".
    with pytest.raises(ValueError, match="num_returns='dynamic'"):
        polyray.java_function("some.Cls", "m").options(num_returns="dynamic").remote()
    with pytest.raises(ValueError, match="num_returns='dynamic'"):
        polyray.cpp_function("Fn").options(num_returns="dynamic").remote()


def _paced(n: int, at: int, marks: str, size: int):
    """Yields 0..n-1 (``size`` bytes of each when given); its first attempt stops before item
    ``at`` and waits to be killed, after writing its pid to ``marks``/waiting."""
    with open(os.path.join(marks, "attempts"), "a") as f:
        f.write(f"{os.getpid()}\n")
    with open(os.path.join(marks, "attempts")) as f:
        first = len(f.read().split()) == 1
    for i in range(n):
        if first and i == at:
            with open(os.path.join(marks, "waiting"), "w") as f:
                f.write(str(os.getpid()))
            time.sleep(120)
        yield bytes([i]) * size if size else i


@polyray.remote
def paced(n: int, at: int, marks: str, size: int = 0):
    yield from _paced(n, at, marks, size)


@polyray.remote(max_restarts=2, max_task_retries=1)
class PacedSource:
    def items(self, n: int, at: int, marks: str, size: int = 0):
        yield from _paced(n, at, marks, size)

    def plain(self) -> int:
        return 7


def _kill_waiting(marks: str) -> None:
    path = os.path.join(marks, "waiting")
    assert _wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0), "the generator did not pause"
    with open(path) as f:
        os.kill(int(f.read()), signal.SIGKILL)   # a real crash of the worker process, mid-stream


def _values(refs: list) -> list:
    return [v if isinstance(v, int) else (v[0], len(v)) for v in polyray.get(refs, timeout=T)]


def _attempts(marks: str) -> int:
    with open(os.path.join(marks, "attempts")) as f:
        return len(f.read().split())


def test_a_generator_task_is_retried_and_every_item_arrives_once_in_order(cluster, tmp_path):
    """As Ray's streaming generator retries: the task runs again after its worker is killed, and
    the caller keeps the items it has (two taken, one held in the stream) and skips them when the
    retry yields them again; big items (in the store) too."""
    for size, marks in ((0, tmp_path / "small"), (BIG, tmp_path / "big")):
        marks.mkdir()
        gen = paced.options(max_retries=1).remote(6, 3, str(marks), size)
        taken = [next(gen), next(gen)]
        _kill_waiting(str(marks))
        rest = list(gen)
        want = list(range(6)) if not size else [(i, BIG) for i in range(6)]
        assert _values(taken + rest) == want, "every item once, in order"
        assert gen._stream.items == {}, "the retry's copies of the items taken are not held again"
        assert polyray.get(gen.completed(), timeout=T) == 6
        assert _attempts(str(marks)) == 2


def test_without_retries_the_crash_ends_the_stream_at_its_place(cluster, tmp_path):
    gen = paced.options(max_retries=0).remote(6, 3, str(tmp_path))
    _kill_waiting(str(tmp_path))
    refs = list(gen)
    assert len(refs) == 4, "three items, then the crash"
    assert polyray.get(refs[:3], timeout=T) == [0, 1, 2]
    with pytest.raises(WorkerCrashedError):
        polyray.get(refs[3], timeout=T)
    assert _attempts(str(tmp_path)) == 1


def test_an_actor_generator_method_is_retried_when_the_actor_restarts(cluster, tmp_path):
    src = PacedSource.remote()
    gen = src.items.remote(5, 2, str(tmp_path))
    first = next(gen)
    _kill_waiting(str(tmp_path))
    assert _values([first, *gen]) == [0, 1, 2, 3, 4]
    assert gen._stream.items == {}
    assert _attempts(str(tmp_path)) == 2
    assert polyray.get(src.plain.remote(), timeout=T) == 7
    # max_task_retries=0: the actor restarts, the call is not run again; the stream ends at its place.
    marks = tmp_path / "no-retry"
    marks.mkdir()
    gen = src.items.options(max_task_retries=0).remote(5, 2, str(marks))
    _kill_waiting(str(marks))
    refs = list(gen)
    assert polyray.get(refs[:2], timeout=T) == [0, 1] and len(refs) == 3
    with pytest.raises(ActorDiedError):
        polyray.get(refs[2], timeout=T)
    assert polyray.get(src.plain.remote(), timeout=T) == 7
    polyray.kill(src)
