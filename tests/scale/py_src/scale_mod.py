"""Python callees of the scale tests' Java and C++ drivers."""

import polyray


def put_many(n):
    """Puts n integers (owned by this worker) and returns their refs."""
    return [polyray.put(i) for i in range(n)]
