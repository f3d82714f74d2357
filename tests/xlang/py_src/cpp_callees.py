"""Python callees of C++ code in the cross-language tests (a C++ task or a C++
driver calls these through ``polyray::PyFunction`` / ``PyActorClass``)."""


def square(x):
    """x * x."""
    return x * x


def fail(message):
    """Raises ValueError(message)."""
    raise ValueError(message)


def describe(values):
    """A dict about a list: its length and sum."""
    return {"n": len(values), "sum": sum(values)}


class Acc:
    """An accumulator actor."""

    def __init__(self, start):
        self.total = start

    def add(self, x):
        """Adds x; returns the total."""
        self.total += x
        return self.total


def echo(value):
    """The value itself."""
    return value
