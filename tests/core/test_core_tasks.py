"""Tasks: definition sites, .remote()/.options(), returns, arguments, nesting, volume, await."""

from __future__ import annotations

import asyncio
import time

import pytest
from core_util import run_driver, wait_for_file

import polyray
from polyray import ObjectRef

pytestmark = pytest.mark.usefixtures("cluster")

T = 60  # seconds any single get may take


@polyray.remote
def add(a, b=0):
    return a + b


@polyray.remote
def echo(*args, **kwargs):
    return args, kwargs


@polyray.remote
def describe_args(*args, **kwargs):
    def kind(v):
        return type(v).__name__
    return [kind(a) for a in args], {k: kind(v) for k, v in kwargs.items()}


@polyray.remote(num_returns=2)
def two():
    return "first", "second"


@polyray.remote
def three(x):
    return x, x * 2, x * 3


@polyray.remote(num_returns=0)
def touch0(path):
    with open(path, "w") as f:
        f.write("ran")


@polyray.remote
def touch(path):
    with open(path, "w") as f:
        f.write("ran")


def test_module_level_function():
    ref = add.remote(1, 2)
    assert isinstance(ref, ObjectRef)
    assert polyray.get(ref, timeout=T) == 3


def test_closure_function():
    offset = 40

    def make():
        secret = {"value": 2}

        @polyray.remote
        def inner(x):
            return x + offset + secret["value"]
        return inner

    inner = make()
    assert polyray.get(inner.remote(0), timeout=T) == 42
    assert polyray.get([inner.remote(i) for i in range(5)], timeout=T) == [42, 43, 44, 45, 46]


def test_closure_of_remote_function_calls_another():
    @polyray.remote
    def outer(x):
        return polyray.get(add.remote(x, 1), timeout=30) * 10

    assert polyray.get(outer.remote(1), timeout=T) == 20


def test_kwargs_and_defaults():
    assert polyray.get(add.remote(1, b=5), timeout=T) == 6
    assert polyray.get(add.remote(a=2, b=3), timeout=T) == 5
    assert polyray.get(add.remote(7), timeout=T) == 7
    args, kwargs = polyray.get(echo.remote(1, "two", x=3.5, y=None), timeout=T)
    assert tuple(args) == (1, "two")
    assert kwargs == {"x": 3.5, "y": None}


def test_options_override_and_keep_function():
    assert polyray.get(add.options(num_cpus=1).remote(1, 1), timeout=T) == 2
    assert polyray.get(add.options(num_cpus=0.5, max_retries=1, name="renamed").remote(2, 2), timeout=T) == 4
    # .options() does not change the function itself
    assert polyray.get(add.remote(3, 3), timeout=T) == 6


def test_num_returns_two():
    refs = two.remote()
    assert isinstance(refs, list) and len(refs) == 2
    assert all(isinstance(r, ObjectRef) for r in refs)
    assert polyray.get(refs, timeout=T) == ["first", "second"]
    assert polyray.get(refs[1], timeout=T) == "second"


def test_num_returns_via_options():
    a, b, c = three.options(num_returns=3).remote(5)
    assert polyray.get([a, b, c], timeout=T) == [5, 10, 15]


def test_num_returns_zero(tmp_path):
    path = str(tmp_path / "touched")
    assert touch0.remote(path) is None
    wait_for_file(path, timeout=T)
    with open(path) as f:
        assert f.read() == "ran"
    path2 = str(tmp_path / "touched2")
    # num_returns=0 set through .options() on a function declared with the default
    assert touch.options(num_returns=0).remote(path2) is None
    wait_for_file(path2, timeout=T)


def test_top_level_object_ref_args_are_resolved():
    x = polyray.put(10)
    y = add.remote(1, 2)
    assert polyray.get(add.remote(x, y), timeout=T) == 13
    assert polyray.get(add.remote(x, b=y), timeout=T) == 13
    kinds, kw = polyray.get(describe_args.remote(x, y, k=x), timeout=T)
    assert kinds == ["int", "int"]
    assert kw == {"k": "int"}


def test_chained_tasks():
    ref = add.remote(0, 1)
    for _ in range(10):
        ref = add.remote(ref, 1)
    assert polyray.get(ref, timeout=T) == 11


@polyray.remote
def inspect_nested(container):
    """Returns the type of each nested value and the values got from them."""
    if isinstance(container, dict):
        kinds = {k: type(v).__name__ for k, v in container.items()}
        values = {k: polyray.get(v, timeout=30) for k, v in container.items()}
    else:
        kinds = [type(v).__name__ for v in container]
        values = polyray.get(list(container), timeout=30)
    return kinds, values


def test_nested_object_refs_arrive_as_refs():
    a = polyray.put("a-value")
    b = add.remote(20, 22)
    kinds, values = polyray.get(inspect_nested.remote([a, b]), timeout=T)
    assert kinds == ["ObjectRef", "ObjectRef"]
    assert values == ["a-value", 42]
    kinds, values = polyray.get(inspect_nested.remote({"x": a, "y": b}), timeout=T)
    assert kinds == {"x": "ObjectRef", "y": "ObjectRef"}
    assert values == {"x": "a-value", "y": 42}


def test_nested_refs_outlive_the_driver_handle():
    # The only reference the driver keeps is inside the list: the task can still get it.
    kinds, values = polyray.get(inspect_nested.remote([polyray.put(123)]), timeout=T)
    assert kinds == ["ObjectRef"] and values == [123]


@polyray.remote
def fan_out(n):
    refs = [add.remote(i, i) for i in range(n)]
    return sum(polyray.get(refs, timeout=30))


@polyray.remote
def recurse(depth):
    if depth == 0:
        return 0
    return 1 + polyray.get(recurse.remote(depth - 1), timeout=20)


@polyray.remote
def return_ref(x):
    return add.remote(x, 1)


def test_tasks_that_submit_tasks():
    assert polyray.get(fan_out.remote(20), timeout=T) == sum(2 * i for i in range(20))
    assert polyray.get([fan_out.remote(5) for _ in range(3)], timeout=T) == [20, 20, 20]


def test_recursive_tasks_deeper_than_cpus():
    # Each level blocks in get(): the worker must give its CPU back, or 2 CPUs deadlock.
    assert polyray.get(recurse.remote(4), timeout=T) == 4


def test_task_returns_ref_it_created():
    inner = polyray.get(return_ref.remote(1), timeout=T)
    assert isinstance(inner, ObjectRef)
    assert polyray.get(inner, timeout=T) == 2


@polyray.remote
def square(i):
    return i * i


def test_ten_thousand_small_tasks():
    n = 10_000
    start = time.monotonic()
    refs = [square.remote(i) for i in range(n)]
    results = polyray.get(refs, timeout=150)
    elapsed = time.monotonic() - start
    assert len(results) == n
    assert results == [i * i for i in range(n)]
    # generous: a few seconds are expected, on 2 shared cores
    assert elapsed < 90, f"10,000 tasks took {elapsed:.1f} s"


def test_await_ref_in_async_code():
    async def main():
        one = await add.remote(1, 1)
        many = await asyncio.gather(*[add.remote(i, 1) for i in range(10)])
        put = await polyray.put({"k": "v"})
        return one, many, put

    one, many, put = asyncio.run(asyncio.wait_for(main(), T))
    assert one == 2
    assert list(many) == list(range(1, 11))
    assert put == {"k": "v"}


def test_await_ref_of_failing_task_raises():
    @polyray.remote
    def boom():
        raise KeyError("missing")

    async def main():
        with pytest.raises(KeyError):
            await boom.remote()

    asyncio.run(asyncio.wait_for(main(), T))


MAIN_DRIVER = """
import os, sys
import polyray

polyray.init(num_cpus=2)

@polyray.remote
def main_fn(x):
    return x * 2

@polyray.remote(num_returns=2)
def main_pair(x):
    return x, -x

def factory(k):
    @polyray.remote
    def closure(x):
        return x + k
    return closure

@polyray.remote
class MainCounter:
    def __init__(self, start):
        self.n = start
    def incr(self):
        self.n += 1
        return self.n

@polyray.remote
def caller():
    # a task defined in __main__ that calls another __main__ function
    return polyray.get(main_fn.remote(50), timeout=30)

class MainError(Exception):
    pass

@polyray.remote
def main_raise():
    raise MainError("raised in a __main__ function")

print("fn", polyray.get(main_fn.remote(21), timeout=60))
print("pair", polyray.get(main_pair.remote(3), timeout=60))
print("closure", polyray.get(factory(100).remote(1), timeout=60))
c = MainCounter.remote(10)
c.incr.remote()
print("actor", polyray.get(c.incr.remote(), timeout=60))
print("nested", polyray.get(caller.remote(), timeout=60))
try:
    polyray.get(main_raise.remote(), timeout=60)
    print("no error")
except MainError as e:
    print("caught MainError", isinstance(e, polyray.exceptions.TaskError), "main_raise" in str(e))
except Exception as e:
    print("caught other", type(e).__mro__)
polyray.shutdown()
print("done")
"""


def test_functions_defined_in_main_script(tmp_path):
    proc = run_driver(tmp_path, MAIN_DRIVER, timeout=120)
    assert proc.returncode == 0, f"driver failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    lines = proc.stdout.splitlines()
    assert "fn 42" in lines
    assert "pair [3, -3]" in lines
    assert "closure 101" in lines
    assert "actor 12" in lines
    assert "nested 100" in lines
    # `except MainError` works for an exception class defined in __main__
    assert "caught MainError True True" in lines, proc.stdout
    assert lines[-1] == "done"
