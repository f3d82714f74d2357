"""The Python owner of the Java driver's local-read check (tests/scale/test_local_reads_java_driver.py)."""

import os

import polyray


class Owner:
    """Owns the objects it puts; a Java driver borrows them."""

    def pid(self):
        """This worker's process id (the test stops and kills it)."""
        return os.getpid()

    def put_many(self, n, size):
        """Puts n values of ``size`` bytes (in the node's store) and returns their refs."""
        self.refs = [polyray.put(bytes([i % 251]) * size) for i in range(n)]
        return self.refs

    def put_small(self):
        """One small value (inline: only the owner can answer for it)."""
        self.small = [polyray.put(b"small")]
        return self.small
