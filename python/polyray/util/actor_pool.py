"""ActorPool: spread work over a fixed set of actors (Ray's ``ray.util.ActorPool`` API).

Each piece of work is ``fn(actor, value)``, which must call one method of the
actor with ``.remote()`` and return its ObjectRef. An actor runs one piece at
a time: work submitted while every actor is busy waits in the pool (not in the
actors' queues) and starts when an actor's result is collected. Results are
collected in submission order (``get_next``) or as they finish
(``get_next_unordered``); collecting a result frees its actor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from polyray.core.object_ref import ObjectRef

WorkFn = Callable[[Any, Any], ObjectRef]


class ActorPool:
    """A pool of actor handles that work is spread over, one piece per actor at a time.

    ``ActorPool([a1, a2])``; ``pool.map(lambda a, v: a.double.remote(v), [1, 2, 3])``.
    """

    def __init__(self, actors: Iterable[Any]) -> None:
        """Make a pool of the given (idle) actor handles."""
        self._idle: list[Any] = list(actors)
        # Submitted pieces: ref -> (submission index, actor running it).
        self._running: dict[ObjectRef, tuple[int, Any]] = {}
        self._by_index: dict[int, ObjectRef] = {}
        self._next_index = 0          # the index the next submit gets
        self._next_return = 0         # the index get_next returns next
        self._waiting: deque[tuple[WorkFn, Any]] = deque()  # submitted while no actor was idle

    # -- submitting ---------------------------------------------------------------
    def submit(self, fn: WorkFn, value: Any) -> None:
        """Run ``fn(actor, value)`` on an idle actor, or queue it in the pool until one is free.

        ``fn`` must return the ObjectRef of the actor call it made.
        """
        if self._idle:
            actor = self._idle.pop()
            ref = fn(actor, value)
            if not isinstance(ref, ObjectRef):
                self._idle.append(actor)
                raise TypeError(f"the pool's function must return an ObjectRef (the actor call's), "
                                f"got {type(ref).__name__}")
            self._running[ref] = (self._next_index, actor)
            self._by_index[self._next_index] = ref
            self._next_index += 1
        else:
            self._waiting.append((fn, value))

    def map(self, fn: WorkFn, values: Iterable[Any]) -> Iterator[Any]:
        """Apply ``fn(actor, v)`` to every value over the pool; yields the results in the
        order of ``values``. Results of earlier submits not yet collected are dropped first."""
        self._drop_pending()
        for v in values:
            self.submit(fn, v)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield self.get_next()
        return results()

    def map_unordered(self, fn: WorkFn, values: Iterable[Any]) -> Iterator[Any]:
        """As :meth:`map`, but yields each result as soon as it is ready."""
        self._drop_pending()
        for v in values:
            self.submit(fn, v)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield self.get_next_unordered()
        return results()

    # -- collecting ---------------------------------------------------------------
    def has_next(self) -> bool:
        """Whether a submitted piece's result has not been collected yet."""
        return bool(self._running) or bool(self._waiting)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order (waits for it; raises its error).

        StopIteration when there is nothing left to collect. With ``timeout``,
        TimeoutError when that result is not ready in time: the piece stays in
        the pool, unless ``ignore_if_timedout`` is set, in which case it is
        given up (its actor freed, its result never returned) before raising.
        """
        import polyray
        if not self.has_next():
            raise StopIteration("no more results to get")
        ref = self._by_index.get(self._next_return)
        if ref is None:  # pieces wait only while every actor is busy: here the pool has no actor
            raise RuntimeError("the pool has work waiting but no actor to run it (push() one)")
        if timeout is not None:
            ready, _ = polyray.wait([ref], timeout=timeout)
            if not ready:
                if ignore_if_timedout:
                    self._collect(ref)
                    raise TimeoutError(f"timed out waiting for result {ref}; the piece is ignored")
                raise TimeoutError("timed out waiting for result")
        self._collect(ref)
        return polyray.get(ref)

    def get_next_unordered(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """Any next result, the first to be ready (waits for one; raises its error).

        StopIteration when there is nothing left; TimeoutError when none is
        ready within ``timeout`` (every piece stays in the pool;
        ``ignore_if_timedout`` is accepted for Ray's signature and changes nothing here).
        """
        import polyray
        if not self.has_next():
            raise StopIteration("no more results to get")
        if not self._running:
            raise RuntimeError("the pool has work waiting but no actor to run it (push() one)")
        ready, _ = polyray.wait(list(self._running), num_returns=1, timeout=timeout)
        if not ready:
            raise TimeoutError("timed out waiting for result")
        ref = ready[0]
        self._collect(ref)
        return polyray.get(ref)

    # -- actors -------------------------------------------------------------------
    def has_free(self) -> bool:
        """Whether an actor is idle and no submitted piece waits for one."""
        return bool(self._idle) and not self._waiting

    def pop_idle(self) -> Any | None:
        """Take an idle actor out of the pool (None when none is idle)."""
        if self.has_free():
            return self._idle.pop()
        return None

    def push(self, actor: Any) -> None:
        """Add an actor to the pool (it takes a waiting piece at once, if any).

        ValueError when the actor is already in the pool.
        """
        busy = [a for _, a in self._running.values()]
        if actor in self._idle or actor in busy:
            raise ValueError("the actor is already in the pool")
        self._give_back(actor)

    # -- internals ----------------------------------------------------------------
    def _collect(self, ref: ObjectRef) -> None:
        index, actor = self._running.pop(ref)
        self._by_index.pop(index, None)
        # The next in order is the lowest index not collected yet (some may have been, unordered).
        while self._next_return < self._next_index and self._next_return not in self._by_index:
            self._next_return += 1
        self._give_back(actor)

    def _give_back(self, actor: Any) -> None:
        self._idle.append(actor)
        while self._idle and self._waiting:
            fn, value = self._waiting.popleft()
            self.submit(fn, value)

    def _drop_pending(self) -> None:
        """Forget uncollected results of earlier submits (Ray's map starts clean)."""
        self._waiting.clear()
        for _, actor in self._running.values():
            self._idle.append(actor)
        self._running.clear()
        self._by_index.clear()
        self._next_return = self._next_index
