"""Python callees of the scale tests' Java and C++ drivers."""

import polyray


def put_many(n):
    """Puts n integers (owned by this worker) and returns their refs."""
    return [polyray.put(i) for i in range(n)]


def total(b):
    """The sum of the bytes of ``b`` (a stored value put by a Java or C++ driver)."""
    return sum(b)


def store_objects():
    """How many objects the node's shared store holds now."""
    from polyray.store import Store
    with Store.open(polyray.nodes()[0]["ObjectStoreName"]) as store:
        return store.stats().objects
