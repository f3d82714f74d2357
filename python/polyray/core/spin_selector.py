"""A selector that polls for a short while before it sleeps.

Why: on the sync path (one call, then wait for its result) every hop wakes
a sleeping thread, and on this kind of machine (a VM whose idle vCPUs halt)
waking one costs 50-70 µs, about as much as the rest of the hop. A selector
that keeps polling (epoll with a zero timeout) for ``spin_s`` before it
blocks catches the reply, or the next call, while its thread is still
running: measured with a Java actor, a cross-thread round trip went from 277
to 159 µs for about the same CPU per call (docs/performance.md). Who spins:
a driver's io loop while a user thread waits for a result (not while the user
thread runs: they would fight over the GIL), and a Python worker's main
thread between tasks. Each poll yields the core (sched_yield), so a spinner
never keeps a thread that has work from running.

Invariants: select() returns the same events a plain selector would, never
later than it would; it spins only when it would otherwise block (a
``timeout`` of 0 never spins) and ``only_while`` (if given) is true, and
never longer than ``spin_s`` (or the timeout, when that is shorter); an idle
process sleeps as before.

``POLYRAY_SPIN_US`` sets the spin in microseconds (0 turns it off).
"""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable

DEFAULT_SPIN_US = 300


def spin_seconds() -> float:
    """The spin this process uses: ``POLYRAY_SPIN_US`` or the default, in seconds."""
    raw = os.environ.get("POLYRAY_SPIN_US", "")
    try:
        us = int(raw) if raw else DEFAULT_SPIN_US
    except ValueError:
        raise ValueError(f"POLYRAY_SPIN_US must be a whole number of microseconds, not {raw!r}") from None
    if us < 0:
        raise ValueError(f"POLYRAY_SPIN_US must not be negative, got {us}")
    return us / 1e6


class SpinSelector(selectors.DefaultSelector):
    """The platform's default selector, polling up to ``spin_s`` before it
    blocks, when ``only_while()`` (if given) says so."""

    def __init__(self, spin_s: float, only_while: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self._spin_s = spin_s
        self._only_while = only_while

    def select(self, timeout: float | None = None):
        spin = self._spin_s
        if spin > 0 and (timeout is None or timeout > 0) and (self._only_while is None or self._only_while()):
            if timeout is not None and timeout < spin:
                spin = timeout
            poll = super().select
            clock = time.perf_counter
            end = clock() + spin
            while True:
                events = poll(0)
                if events:
                    return events
                now = clock()
                if now >= end:
                    break
                # A spinner gives its core to any thread that is ready to
                # run on it: with 2 cores, the thread a reply depends on.
                os.sched_yield()
            if timeout is not None:
                timeout = max(0.0, timeout - spin)
        return super().select(timeout)
