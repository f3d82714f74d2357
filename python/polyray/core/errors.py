"""Turning error records into exceptions and exceptions into error records.

An error crosses processes and languages as a ``common_pb2.ErrorRecord``. A
Python consumer gets a ``TaskError`` that is also an instance of the original
class when that class was Python's; a Java or C++ error becomes a
``CrossLanguageError``; system failures map to their own types.
"""

from __future__ import annotations

import pickle
import traceback
from typing import cast

from polyray import exceptions as exc
from polyray.protocol import common_pb2 as pb

_LANG_NAME = {pb.PYTHON: "PYTHON", pb.JAVA: "JAVA", pb.CPP: "CPP"}

_SYSTEM_TYPES = {
    pb.WORKER_CRASHED: exc.WorkerCrashedError,
    pb.ACTOR_DIED: exc.ActorDiedError,
    pb.OBJECT_LOST: exc.ObjectLostError,
    pb.TASK_CANCELLED: exc.TaskCancelledError,
    pb.NODE_DIED: exc.NodeDiedError,
    pb.OBJECT_STORE_FULL: exc.ObjectStoreFullError,
    pb.GET_TIMEOUT: exc.GetTimeoutError,
    pb.OWNER_DIED: exc.OwnerDiedError,
    pb.GCS_UNAVAILABLE: exc.GcsUnavailableError,
}

# Cache of dynamic "TaskError that is also ZeroDivisionError" classes.
_dual_classes: dict[type, type | None] = {}


def record_from_exception(
    error: BaseException, *, kind: pb.ErrorKind = pb.TASK_ERROR, function_name: str = ""
) -> pb.ErrorRecord:
    """Describe a Python exception raised by user code as an error record.

    A TaskError raised by a nested ``get()`` keeps its record as the cause, so
    a chain of hops shows every frame and language.
    """
    if isinstance(error, exc.TaskError) and getattr(error, "_record", None) is not None:
        inner: pb.ErrorRecord = error._record  # type: ignore[attr-defined]
        outer = pb.ErrorRecord(
            kind=inner.kind,
            type_name=inner.type_name,
            message=inner.message,
            language=pb.PYTHON,
            traceback="".join(traceback.format_exception(error)),
            native=inner.native,  # still "a ValueError" one hop further
        )
        outer.cause.CopyFrom(inner)
        return outer
    record = pb.ErrorRecord(
        kind=kind,
        type_name=type(error).__name__,
        message=str(error),
        language=pb.PYTHON,
        traceback="".join(traceback.format_exception(error)),
    )
    try:
        record.native = pickle.dumps(error, protocol=5)
    except Exception:
        try:  # classes defined in functions or __main__ travel by value
            import cloudpickle
            record.native = cloudpickle.dumps(error, protocol=5)
        except Exception:  # unpicklable exceptions still travel as text
            pass
    return record


def system_record(kind: pb.ErrorKind, message: str, type_name: str = "",
                  cause: pb.ErrorRecord | None = None) -> pb.ErrorRecord:
    """An error record for a runtime failure (no user exception behind it)."""
    cls = _SYSTEM_TYPES.get(kind)
    record = pb.ErrorRecord(
        kind=kind,
        type_name=type_name or (cls.__name__ if cls else "RuntimeError"),
        message=message,
        language=pb.PYTHON,
    )
    if cause is not None:
        record.cause.CopyFrom(cause)
    return record


def _format_chain(record: pb.ErrorRecord) -> str:
    parts = []
    depth = 0
    r: pb.ErrorRecord | None = record
    while r is not None and depth < 32:
        lang = _LANG_NAME.get(r.language, "?")
        header = f"[{lang}] {r.type_name}: {r.message}"
        parts.append(header + ("\n" + r.traceback.rstrip() if r.traceback else ""))
        r = r.cause if r.HasField("cause") else None
        depth += 1
    return "\n\nCaused by:\n".join(parts)


def _crossed_languages(record: pb.ErrorRecord) -> bool:
    r: pb.ErrorRecord | None = record
    while r is not None:
        if r.language != pb.PYTHON:
            return True
        r = r.cause if r.HasField("cause") else None
    return False


def _dual_class(cls: type) -> type | None:
    if cls in _dual_classes:
        return _dual_classes[cls]
    dual: type | None
    try:
        dual = type(f"TaskError({cls.__name__})", (exc.TaskError, cls), {
            "__init__": exc.TaskError.__init__,
            "__str__": exc.TaskError.__str__,
            "__reduce__": lambda self: (exc.TaskError, (str(self),)),
        })
    except TypeError:  # incompatible layout (e.g. OSError): plain TaskError
        dual = None
    _dual_classes[cls] = dual
    return dual


def _first_reason(record: pb.ErrorRecord) -> tuple[int, int]:
    """The first reason (and exit code) set along a cause chain, or (0, 0)."""
    r: pb.ErrorRecord | None = record
    depth = 0
    while r is not None and depth < 32:
        if r.reason:
            return r.reason, r.exit_code
        r = r.cause if r.HasField("cause") else None
        depth += 1
    return 0, 0


def exception_from_record(record: pb.ErrorRecord, function_name: str = "") -> BaseException:
    """The exception a Python `get()` raises for an error value."""
    lang = _LANG_NAME.get(record.language, "PYTHON")
    system = _SYSTEM_TYPES.get(record.kind)
    if record.kind == pb.OBJECT_LOST and record.reason == pb.REASON_OWNER_DIED:
        system = exc.OwnerDiedError
    cause = exception_from_record(record.cause) if record.HasField("cause") else None
    if system is not None:
        message = record.message
        if record.HasField("cause"):
            message += "\n\nCaused by:\n" + _format_chain(record.cause)
        err: BaseException = system(message)
        err.__cause__ = cause
        err._record = record  # type: ignore[attr-defined]
        if isinstance(err, exc.ActorDiedError):
            reason, exit_code = _first_reason(record)
            if reason:
                err.reason = pb.ErrorReason.Name(reason)
                err.exit_code = exit_code if reason == pb.REASON_PROCESS_EXITED else None
        elif isinstance(err, exc.ObjectLostError):
            reason, _ = _first_reason(record)
            if reason:
                err.reason = pb.ErrorReason.Name(reason)
        return err
    text = _format_chain(record)
    where = f" in {function_name}" if function_name else ""
    message = f"{record.type_name}{where}: {record.message}\n\nRemote traceback:\n{text}"
    def build(cls: type[exc.TaskError]) -> BaseException:
        return cls(message, type_name=record.type_name, language=lang, remote_traceback=record.traceback,
                   cause=cause, function_name=function_name)

    if _crossed_languages(record):
        err = build(exc.CrossLanguageError)
    else:
        original: type | None = None
        instance: BaseException | None = None
        if record.native:
            try:
                instance = pickle.loads(record.native)
                original = type(instance)
            except Exception:
                original = None
        if cause is None:
            # As Ray's RayTaskError.cause: the user's exception, or when it cannot cross
            # (not picklable there, not unpicklable here) a stand-in with its name, message and traceback.
            cause = instance if isinstance(instance, BaseException) else exc.UnserializableException(
                record.type_name, record.message, record.traceback)
        dual = _dual_class(original) if original is not None and original is not exc.TaskError else None
        if dual is not None:
            # Not dual(...): the original class may have its own __new__.
            err = cast(BaseException, dual.__new__(dual))  # type: ignore[call-overload]
            exc.TaskError.__init__(cast(exc.TaskError, err), message, type_name=record.type_name, language=lang,
                                   remote_traceback=record.traceback, cause=cause, function_name=function_name)
        else:
            err = build(exc.TaskError)
    err._record = record  # type: ignore[attr-defined]
    return err
