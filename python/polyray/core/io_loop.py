"""The CoreWorker's event loop thread: all gRPC I/O of a process runs on it.

User threads hand work to the loop (``call_soon``, ``run``, ``rpc``) and wait
for its results; components that live on the loop schedule their own work
with asyncio directly.

Invariants: calls handed over with ``call_soon`` run on the loop in the
order they were made, from whichever threads; a burst of them costs one
wake-up of the loop; ``run`` never waits longer than its timeout.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from polyray.core.spin_selector import SpinSelector

T = TypeVar("T")


class IoLoop:
    """One asyncio loop on its own daemon thread."""

    def __init__(self, *, spin_s: float = 0.0, spin_while: Callable[[], bool] | None = None) -> None:
        # A driver's loop polls briefly before sleeping while a user thread
        # waits for a result: the reply usually comes within the spin
        # (spin_selector.py). Not a worker's loop: its tasks' pushes come to
        # the main thread, and many spinning loops would take the cores.
        self.loop = asyncio.SelectorEventLoop(SpinSelector(spin_s, spin_while))
        self._thread = threading.Thread(target=self.loop.run_forever, name="polyray-io", daemon=True)
        self._thread_ident = -1  # the io thread's ident while it runs
        self._posted: collections.deque = collections.deque()
        self._drain_pending = False

    def start(self) -> None:
        """Start the loop's thread."""
        self._thread.start()
        self._thread_ident = self._thread.ident or -1

    def stop(self, join_timeout: float = 5.0) -> None:
        """Stop the loop and wait (bounded) for its thread to end."""
        if self._thread_ident == -1:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=join_timeout)
        self._thread_ident = -1  # a later thread may reuse the ident

    def on_io_thread(self) -> bool:
        """Whether the caller runs on the loop's thread."""
        return threading.get_ident() == self._thread_ident

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop from a user thread and wait for its result."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise

    def rpc(self, make_call: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Make a gRPC call on the loop (aio calls must be created there) and wait for its reply."""
        async def go() -> T:
            return await make_call()
        return self.run(go(), timeout)

    def spawn(self, make_coro: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Start a coroutine on the loop (from any thread); its result is not awaited."""
        self.call_soon(lambda: asyncio.ensure_future(make_coro()))

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the loop, soon (from any thread), in call order.

        Calls from other threads queue up and the loop is woken once per
        batch: only the call that finds the queue without a drain pending
        writes to the loop's self-pipe (a system call that also hands the GIL
        to the loop thread), so a burst of submissions costs one wake-up.
        """
        if threading.get_ident() == self._thread_ident:
            fn(*args)
            return
        self._posted.append((fn, args))
        if not self._drain_pending:
            self._drain_pending = True
            self.loop.call_soon_threadsafe(self._drain_posted)

    def call_later(self, delay: float, fn: Callable[[], Any]) -> None:
        """Run fn() on the loop after ``delay`` seconds (from any thread)."""
        self.call_soon(lambda: self.loop.call_later(delay, fn))

    def _drain_posted(self) -> None:
        # Cleared before draining: a call queued after this point schedules
        # another drain, one queued before it is run by this one.
        self._drain_pending = False
        posted = self._posted
        while posted:
            fn, args = posted.popleft()
            try:
                fn(*args)
            except Exception as e:  # as the loop does for a failing callback
                self.loop.call_exception_handler({
                    "message": f"Exception in callback {getattr(fn, '__qualname__', fn)!s}",
                    "exception": e})
