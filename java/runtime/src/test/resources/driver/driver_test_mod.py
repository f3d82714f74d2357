"""Python callees of DriverTest (a Java driver calling Python)."""

import numpy as np

import polyray

JAVA_TASKS = "io.polyray.runtime.driver.fixtures.DriverTasks"


def add(a, b):
    return a + b


@polyray.remote
def shout(s):
    return s.upper() + "!"


def echo(x):
    return x


def type_names(x):
    return [type(v).__name__ for v in x]


def boom(msg):
    raise ValueError("python says: " + msg)


def chain(msg):
    # Java driver -> this Python task -> a Java task that throws.
    f = polyray.java_function(JAVA_TASKS, "fail")
    return polyray.get(f.remote(msg))


def call_actor(handle, n):
    # A Python actor handle passed from Java: call it from here.
    return polyray.get(handle.add.remote(n))


def call_java_actor(handle, n):
    return polyray.get(handle.increment.remote(n))


def make_accumulator(start):
    return Accumulator.remote(start)


def np_scale(arr, k):
    assert isinstance(arr, np.ndarray), type(arr)
    return arr * k


def np_info(arr):
    return [str(arr.dtype), list(arr.shape), float(arr.sum())]


@polyray.remote
class Accumulator:
    def __init__(self, start=0):
        self.total = start
        self.calls = []

    def add(self, x):
        self.total += x
        self.calls.append(x)
        return self.total

    def history(self):
        return self.calls

    def fail(self):
        raise KeyError("nope")


class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting

    def greet(self, name):
        return f"{self.greeting}, {name}"
