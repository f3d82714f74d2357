"""ActorPool's bookkeeping (issue 17) without a cluster: fake actors whose calls return
ObjectRefs that a fake get/wait resolves when the test says so."""

from __future__ import annotations

import os

import pytest

import polyray
from polyray.core.object_ref import ObjectRef
from polyray.util.actor_pool import ActorPool


class FakeCluster:
    """Refs made by fake actor calls; a ref is ready once finish() is called for it."""

    def __init__(self) -> None:
        self.values: dict[bytes, object] = {}
        self.ready_values: list[object] = []
        self.calls: list[tuple[str, object]] = []

    def call(self, actor: str, value: object) -> ObjectRef:
        ref = ObjectRef(os.urandom(28), _counted=False)
        self.values[ref.binary()] = value
        self.calls.append((actor, value))
        return ref

    def finish(self, value: object) -> None:
        """Calls with this value are done (those made already and later ones)."""
        self.ready_values.append(value)

    def is_ready(self, ref: ObjectRef) -> bool:
        return any(self.values[ref.binary()] is v or self.values[ref.binary()] == v for v in self.ready_values)

    def get(self, ref: ObjectRef, timeout: float | None = None) -> object:
        assert self.is_ready(ref), "the pool waited on a ref that is not ready"
        v = self.values[ref.binary()]
        if isinstance(v, Exception):
            raise v
        return v

    def wait(self, refs: list[ObjectRef], num_returns: int = 1, timeout: float | None = None):
        ready = [r for r in refs if self.is_ready(r)][:num_returns]
        if not ready and timeout is None:
            # Blocking forever would hang the test: the pool must only block when something can finish.
            raise AssertionError("the pool blocked with nothing that can finish")
        return ready, [r for r in refs if r not in ready]


@pytest.fixture
def fake(monkeypatch):
    c = FakeCluster()
    monkeypatch.setattr(polyray, "get", c.get, raising=False)
    monkeypatch.setattr(polyray, "wait", c.wait, raising=False)
    return c


def test_pieces_wait_in_the_pool_and_start_when_an_actor_frees(fake):
    pool = ActorPool(["a1", "a2"])
    for v in (1, 2, 3):
        pool.submit(fake.call, v)
    assert [v for _, v in fake.calls] == [1, 2], "one piece per actor; the third waits in the pool"
    assert not pool.has_free() and pool.has_next()
    fake.finish(1)
    assert pool.get_next() == 1
    assert [v for _, v in fake.calls] == [1, 2, 3], "collecting a result started the waiting piece"
    assert fake.calls[2][0] == fake.calls[0][0], "on the actor that was freed"
    fake.finish(3)
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0)          # in order: 2 is next and not ready
    assert pool.get_next_unordered() == 3
    fake.finish(2)
    assert pool.get_next() == 2
    assert not pool.has_next() and pool.has_free()
    with pytest.raises(StopIteration):
        pool.get_next()


def test_ordered_after_unordered_skips_collected(fake):
    pool = ActorPool(["a1", "a2", "a3"])
    for v in ("x", "y", "z"):
        pool.submit(fake.call, v)
    fake.finish("y")
    assert pool.get_next_unordered() == "y"
    fake.finish("x")
    fake.finish("z")
    assert pool.get_next() == "x"
    assert pool.get_next() == "z"


def test_ignore_if_timedout_gives_the_piece_up(fake):
    pool = ActorPool(["a1"])
    pool.submit(fake.call, "slow")
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0, ignore_if_timedout=True)
    assert not pool.has_next() and pool.has_free()


def test_error_is_raised_to_the_collector_and_frees_the_actor(fake):
    pool = ActorPool(["a1"])
    boom = ValueError("boom")
    pool.submit(fake.call, boom)
    fake.finish(boom)
    with pytest.raises(ValueError):
        pool.get_next()
    assert pool.has_free()


def test_push_pop_idle_and_bad_functions(fake):
    pool = ActorPool([])
    assert not pool.has_free() and pool.pop_idle() is None
    pool.push("a1")
    with pytest.raises(ValueError):
        pool.push("a1")
    with pytest.raises(TypeError):
        pool.submit(lambda a, v: v, 1)    # must return the call's ObjectRef
    assert pool.has_free(), "a refused piece gives its actor back"
    assert pool.pop_idle() == "a1" and pool.pop_idle() is None
    pool.submit(fake.call, 1)             # no actor: it waits
    with pytest.raises(RuntimeError):
        pool.get_next()
    pool.push("a2")                       # a new actor takes the waiting piece at once
    assert fake.calls == [("a2", 1)]


def test_map_drops_uncollected_results_and_keeps_order(fake):
    pool = ActorPool(["a1", "a2"])
    pool.submit(fake.call, "old")         # never finishes: map drops it
    out = pool.map(fake.call, [30, 20, 10])
    for v in (10, 20, 30):
        fake.finish(v)
    assert list(out) == [30, 20, 10]
    assert not pool.has_next()
