"""Long-poll helpers: wake waiters on a change, or reply just before the deadline.

A waiting RPC answers a little before the caller's deadline with the
unchanged state, so the caller gets an answer ("nothing changed yet")
instead of DEADLINE_EXCEEDED; callers should still treat DEADLINE_EXCEEDED
the same way, since the reply can be late on a loaded machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# Reply this long before the deadline at most (or 20% of the time left).
_MARGIN_S = 0.2


def wait_deadline(time_remaining: float | None) -> float | None:
    """The loop time at which a long poll should give up (None: never)."""
    if time_remaining is None:
        return None
    margin = min(_MARGIN_S, max(0.0, time_remaining) * 0.2)
    return asyncio.get_running_loop().time() + max(0.0, time_remaining - margin)


class Notifier:
    """Wakes every current waiter on :meth:`notify`."""

    def __init__(self) -> None:
        """Create a notifier with no waiters."""
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake the current waiters; later waiters wait for the next notify."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_while(self, condition: Callable[[], bool], deadline: float | None) -> None:
        """Wait while ``condition()`` holds, re-checking on each notify, until ``deadline``."""
        loop = asyncio.get_running_loop()
        while condition():
            event = self._event
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                return
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except asyncio.TimeoutError:
                return
