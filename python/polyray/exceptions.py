"""Errors raised by polyray, the same family in every language (DESIGN §5).

System failures each have their own type so callers can tell a crashed
worker from a lost object; every wait in polyray ends in a value or in one
of these, never in a hang.
"""

from __future__ import annotations


class PolyrayError(Exception):
    """Base class of every error polyray raises."""


class ObjectStoreFullError(PolyrayError):
    """The node's shared store has no room, even after evicting unpinned objects."""


class GetTimeoutError(PolyrayError, TimeoutError):
    """`get()` or `wait()` did not finish within its timeout."""


class WorkerCrashedError(PolyrayError):
    """The worker process running a task died (after the task's retries)."""


class ActorDiedError(PolyrayError):
    """The actor's process died or the actor was killed."""


class ObjectLostError(PolyrayError):
    """Every copy of an object is gone (its node died or it was freed)."""


class TaskCancelledError(PolyrayError):
    """The task was cancelled before it produced a value."""


class NodeDiedError(PolyrayError):
    """The node that ran a task or held an object died."""
