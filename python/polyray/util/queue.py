"""Queue: a first-in first-out queue shared by tasks and actors (Ray's ``ray.util.queue`` API).

The items live in one async actor made by the Queue; the Queue object is a
light client of it that can be passed to tasks and actors (it pickles as its
actor handle). Blocking ``put``/``get`` wait inside the actor, so a waiting
caller holds no CPU; ``Empty`` / ``Full`` are raised in the caller.
"""

from __future__ import annotations

import asyncio
import queue as _stdlib_queue
from typing import Any


class Empty(_stdlib_queue.Empty):
    """Raised by ``get`` (non-blocking, or after its timeout) on an empty queue."""


class Full(_stdlib_queue.Full):
    """Raised by ``put`` (non-blocking, or after its timeout) on a full queue."""


class _QueueActor:
    """The actor that holds the items (an async actor: waiting calls do not block others)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)

    def qsize(self) -> int:
        return self.queue.qsize()

    def empty(self) -> bool:
        return self.queue.empty()

    def full(self) -> bool:
        return self.queue.full()

    async def put(self, item: Any, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def put_nowait_batch(self, items: list) -> bool:
        if self.maxsize > 0 and len(items) + self.queue.qsize() > self.maxsize:
            return False
        for item in items:
            self.queue.put_nowait(item)
        return True

    async def get(self, timeout: float | None = None) -> tuple[bool, Any]:
        try:
            return True, await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return False, None

    async def put_nowait(self, item: Any) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    async def get_nowait(self) -> tuple[bool, Any]:
        try:
            return True, self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return False, None

    async def get_nowait_batch(self, num_items: int) -> tuple[bool, list]:
        if num_items > self.queue.qsize():
            return False, []
        return True, [self.queue.get_nowait() for _ in range(num_items)]


_actor_class: Any = None


class Queue:
    """A FIFO queue backed by an actor, usable from the driver, tasks and actors.

    ``maxsize <= 0`` means unbounded. ``actor_options`` are passed to the
    actor's ``.options()`` (e.g. ``{"name": "q", "lifetime": "detached"}``).
    """

    def __init__(self, maxsize: int = 0, actor_options: dict[str, Any] | None = None) -> None:
        import polyray
        self.maxsize = maxsize
        global _actor_class
        if _actor_class is None:  # one actor class per process: the class is exported once per job
            _actor_class = polyray.remote(_QueueActor)
        cls = _actor_class
        options = dict(actor_options or {})
        self.actor = cls.options(**options).remote(maxsize) if options else cls.remote(maxsize)

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """How many items the queue holds now."""
        return self.qsize()

    def qsize(self) -> int:
        """How many items the queue holds now."""
        import polyray
        return int(polyray.get(self.actor.qsize.remote()))

    def empty(self) -> bool:
        """Whether the queue holds no item now."""
        import polyray
        return bool(polyray.get(self.actor.empty.remote()))

    def full(self) -> bool:
        """Whether the queue holds ``maxsize`` items now (never, when unbounded)."""
        import polyray
        return bool(polyray.get(self.actor.full.remote()))

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Add an item. ``block=False``: Full at once when there is no room; else wait for
        room (at most ``timeout`` seconds, then Full; None: as long as it takes)."""
        import polyray
        if not block:
            if not polyray.get(self.actor.put_nowait.remote(item)):
                raise Full
            return
        _check_timeout(timeout)
        if not polyray.get(self.actor.put.remote(item, timeout)):
            raise Full

    async def put_async(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """As :meth:`put`, awaitable (for async actors and async drivers)."""
        if not block:
            if not await self.actor.put_nowait.remote(item):
                raise Full
            return
        _check_timeout(timeout)
        if not await self.actor.put.remote(item, timeout):
            raise Full

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the oldest item. ``block=False``: Empty at once when there is
        none; else wait for one (at most ``timeout`` seconds, then Empty)."""
        import polyray
        if not block:
            ok, item = polyray.get(self.actor.get_nowait.remote())
        else:
            _check_timeout(timeout)
            ok, item = polyray.get(self.actor.get.remote(timeout))
        if not ok:
            raise Empty
        return item

    async def get_async(self, block: bool = True, timeout: float | None = None) -> Any:
        """As :meth:`get`, awaitable (for async actors and async drivers)."""
        if not block:
            ok, item = await self.actor.get_nowait.remote()
        else:
            _check_timeout(timeout)
            ok, item = await self.actor.get.remote(timeout)
        if not ok:
            raise Empty
        return item

    def put_nowait(self, item: Any) -> None:
        """``put(item, block=False)``: Full when there is no room."""
        self.put(item, block=False)

    def put_nowait_batch(self, items: list) -> None:
        """Add all the items at once, or none: Full when they do not all fit."""
        import polyray
        if not isinstance(items, list):
            raise TypeError(f"put_nowait_batch takes a list, got {type(items).__name__}")
        if not polyray.get(self.actor.put_nowait_batch.remote(items)):
            raise Full(f"cannot add {len(items)} items to the queue (maxsize {self.maxsize})")

    def get_nowait(self) -> Any:
        """``get(block=False)``: Empty when there is no item."""
        return self.get(block=False)

    def get_nowait_batch(self, num_items: int) -> list:
        """Remove and return the ``num_items`` oldest items at once, or none: Empty when
        fewer are there."""
        import polyray
        if not isinstance(num_items, int) or isinstance(num_items, bool):
            raise TypeError(f"num_items must be an int, got {type(num_items).__name__}")
        if num_items < 0:
            raise ValueError("num_items must be >= 0")
        ok, items = polyray.get(self.actor.get_nowait_batch.remote(num_items))
        if not ok:
            raise Empty(f"fewer than {num_items} items in the queue")
        return list(items)

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """End the queue's actor (its items go with it). ``force=False`` lets calls already
        made finish first (at most ``grace_period_s`` seconds, then it is killed)."""
        import polyray
        actor = self.actor
        if actor is None:
            return
        self.actor = None
        if force:
            polyray.kill(actor, no_restart=True)
            return
        done = actor.__polyray_terminate__.remote()
        ready, _ = polyray.wait([done], timeout=grace_period_s)
        if not ready:
            polyray.kill(actor, no_restart=True)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
