"""Errors raised by polyray, the same family in every language (docs/protocol.md §7.6).

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
    """The actor's process died or the actor was killed.

    ``reason`` says why, as the protocol's ErrorReason name: ``"REASON_PROCESS_EXITED"``
    (``exit_code`` is the code; negative: killed by signal ``-exit_code``),
    ``"REASON_NODE_DIED"``, ``"REASON_OWNER_DIED"``, ``"REASON_KILLED"`` (``kill()``),
    ``"REASON_CREATION_FAILED"``; None when unknown.
    """

    reason: str | None = None
    exit_code: int | None = None


class ObjectLostError(PolyrayError):
    """Every copy of an object is gone (its node died or it was freed) and it
    could not be recomputed from its lineage.

    ``reason`` says why, as the protocol's ErrorReason name: ``"REASON_PUT"``
    (made by ``put``, so it has no lineage), ``"REASON_RETRIES_EXHAUSTED"``
    (recomputing it used up its task's ``max_retries``),
    ``"REASON_LINEAGE_EVICTED"`` (its lineage was dropped to keep lineage
    memory bounded), ``"REASON_OWNER_DIED"``, ``"REASON_NODE_DIED"``; None
    when unknown.
    """

    reason: str | None = None


class OwnerDiedError(ObjectLostError):
    """The process that owned the object (the one that created it by ``put``
    or by calling the task) died, so the object is gone. A subclass of
    ObjectLostError, as in Ray."""


class GcsUnavailableError(PolyrayError):
    """The GCS did not answer within its deadline."""


class TaskCancelledError(PolyrayError):
    """The task was cancelled before it produced a value."""


class TaskCancelled(KeyboardInterrupt):
    """Raised inside a running task by ``cancel()`` (non-forced). A ``KeyboardInterrupt``, as Ray
    raises, so ``except KeyboardInterrupt`` catches it; its caller's ``get()`` raises
    TaskCancelledError."""


class NodeDiedError(PolyrayError):
    """The node that ran a task or held an object died."""


class TaskError(PolyrayError):
    """A task or actor method raised; carries the remote traceback.

    When the original exception was a Python exception, the raised object is
    also an instance of the original class (``except ZeroDivisionError``
    still works): see :func:`TaskError.from_record`.
    """

    def __init__(self, message: str = "", *, type_name: str = "", language: str = "PYTHON",
                 remote_traceback: str = "", cause: BaseException | None = None,
                 function_name: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.language = language
        self.remote_traceback = remote_traceback
        self.cause = cause
        self.function_name = function_name

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


class UnserializableException(PolyrayError):
    """Stands in for a task's exception that could not be pickled in the worker or
    unpickled in the caller: the ``cause`` of the TaskError ``get()`` raises then.

    Keeps the original's class name (``type_name``), message (``message``) and
    formatted traceback (``original_stack_trace``), as Ray's UnserializableException.
    """

    def __init__(self, type_name: str = "", message: str = "", original_stack_trace: str = "") -> None:
        super().__init__(type_name, message, original_stack_trace)
        self.type_name = type_name
        self.message = message
        self.original_stack_trace = original_stack_trace

    def __str__(self) -> str:
        head = f"{self.type_name}: {self.message}" if self.message else self.type_name
        return (f"{head}\n(the original exception could not be serialized; its traceback follows)\n"
                f"{self.original_stack_trace}").rstrip()


class CrossLanguageError(TaskError):
    """An exception raised in Java or C++ code (or a chain that crossed languages)."""
