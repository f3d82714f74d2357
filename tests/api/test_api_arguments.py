"""Arguments are checked against the callee's signature at ``.remote()`` (as Ray does)."""

from __future__ import annotations

import pytest

import polyray


@polyray.remote
def f0():
    return 0


@polyray.remote
def f2(a, b=2, *, c=3):
    return a + b + c


@polyray.remote
class Acc:
    def __init__(self, start):
        self.total = start

    def add(self, x, *, times=1):
        self.total += x * times
        return self.total

    @staticmethod
    def twice(x):
        return 2 * x

    @classmethod
    def name(cls):
        return cls.__name__


def test_function_arguments_checked_at_remote(cluster):
    with pytest.raises(TypeError, match="too many positional arguments"):
        f0.remote(3)
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        f2.remote()
    with pytest.raises(TypeError, match="unexpected keyword argument 'd'"):
        f2.remote(1, d=4)
    with pytest.raises(TypeError, match="f0"):
        f0.options(num_cpus=1).remote(1)
    # Well-formed calls still run.
    assert polyray.get([f0.remote(), f2.remote(1), f2.remote(1, 1, c=1)], timeout=30) == [0, 6, 3]


def test_actor_constructor_and_methods_checked_at_remote(cluster):
    with pytest.raises(TypeError, match="constructor.*missing a required argument: 'start'"):
        Acc.remote()
    with pytest.raises(TypeError, match="too many positional arguments"):
        Acc.options(name="acc-bad").remote(1, 2)
    a = Acc.remote(10)
    with pytest.raises(TypeError, match="Acc.add.*missing a required argument: 'x'"):
        a.add.remote()
    with pytest.raises(TypeError, match="too many positional arguments"):
        a.add.remote(1, 2)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        a.add.remote(1, time=2)
    with pytest.raises(TypeError, match="too many positional arguments"):
        a.twice.remote(1, 2)
    with pytest.raises(TypeError, match="too many positional arguments"):
        a.name.remote(1)
    assert polyray.get(a.add.remote(1, times=3), timeout=30) == 13
    assert polyray.get([a.twice.remote(4), a.name.remote()], timeout=30) == [8, "Acc"]
    polyray.kill(a)


def test_java_descriptor_arity_checked_at_remote(cluster):
    # With an explicit JVM descriptor the SDK knows the arity: a wrong count
    # fails before anything is sent (no Java worker is needed for this).
    f = polyray.java_function("io.polyray.examples.Calc", "add", "(JJ)J")
    with pytest.raises(TypeError, match="takes 2 argument"):
        f.remote(1)
