"""The Python callee of SchedDriver (copied next to the compiled classes)."""


def pair(x):
    return x * 2, f"py{x}"
