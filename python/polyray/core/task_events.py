"""Task events of this process, buffered and sent to the GCS (docs/observability.md).

Owners record SUBMITTED when the user submits (on the user's thread) and
PENDING_NODE when the task is queued for a lease or its actor (on the io
loop); a retry records PENDING_NODE for the next attempt, and a failure the
owner decides (a crashed worker, a dead actor, a lease failure, a cancel)
records FAILED. The worker that runs an attempt records RUNNING, then
FINISHED or FAILED (an error return: its kind and message).

Recording appends one small tuple to a deque (thread-safe, no protobuf
built, no lock); the spec it names is the one the owner or executor already
holds. The io loop sends what is buffered every ``events.flush_interval_ms``
with ``AddTaskEvents``, ``events.max_per_batch`` events per call, and once
more at shutdown. At most ``events.max_buffered_per_process`` events wait;
past that new ones are dropped and counted per job, and the count goes to
the GCS with the next batch (as do the events of a batch the GCS did not
take). ``POLYRAY_TASK_EVENTS=0`` turns recording off for the process.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2
from polyray.protocol import runtime_spec as rspec

FLUSH_INTERVAL_S = rspec.EVENTS_FLUSH_INTERVAL_MS / 1000.0
MAX_PER_BATCH = rspec.EVENTS_MAX_PER_BATCH
MAX_BUFFERED = rspec.EVENTS_MAX_BUFFERED_PER_PROCESS
#: Error messages are cut to this many characters (the GCS's name limit, in UTF-8 bytes at most 4 per char).
MAX_MESSAGE_CHARS = rspec.LIMITS_MAX_NAME_BYTES // 4

SUBMITTED = gcs_pb2.SUBMITTED
PENDING_ARGS = gcs_pb2.PENDING_ARGS
PENDING_NODE = gcs_pb2.PENDING_NODE
RUNNING = gcs_pb2.RUNNING
FINISHED = gcs_pb2.FINISHED
FAILED = gcs_pb2.FAILED


def _varint(n: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative int (64 bits at most)."""
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def _message(record: pb.ErrorRecord) -> str:
    message = record.message or record.type_name
    if record.type_name and record.message:
        message = f"{record.type_name}: {record.message}"
    return message[:MAX_MESSAGE_CHARS]


def enabled() -> bool:
    """Whether this process records task events (``POLYRAY_TASK_EVENTS``, default on)."""
    return os.environ.get("POLYRAY_TASK_EVENTS", "1") != "0"


def error_of(returns: Iterable[pb.ReturnObject]) -> pb.ErrorRecord | None:
    """The error a task's returns carry (an error return), else None."""
    for r in returns:
        if r.WhichOneof("kind") == "value" and r.value.format == pb.FORMAT_ERROR:
            record = pb.ErrorRecord()
            try:
                record.ParseFromString(r.value.body)
            except Exception:  # noqa: BLE001 - a body we cannot read still says the task failed
                record.kind = pb.RUNTIME_ERROR
            return record
        return None
    return None


class TaskEventBuffer:
    """This process's task events until they are sent (see module docstring)."""

    def __init__(self, *, job_id: bytes, worker_id: bytes, node_id: bytes, gcs: Callable[[], Any],
                 language: int = pb.PYTHON, flush_interval_s: float = FLUSH_INTERVAL_S,
                 max_per_batch: int = MAX_PER_BATCH, max_buffered: int = MAX_BUFFERED,
                 clock: Callable[[], int] = time.time_ns, rpc_timeout_s: float = 5.0) -> None:
        """``gcs`` returns the GCS stub (its channel may open after this is made)."""
        self._job_id = job_id
        self._worker_id = worker_id
        self._node_id = node_id
        self._gcs = gcs
        self._language = language
        self._interval = flush_interval_s
        self._max_per_batch = max_per_batch
        self._max_buffered = max_buffered
        self._clock = clock
        self._timeout = rpc_timeout_s
        self._pid = os.getpid()
        # [state, time ns, spec, attempt, error kind, error message, prior state, prior time ns, taken]
        self._events: collections.deque[list] = collections.deque()
        # Orders a worker's folding of FINISHED into its RUNNING item with the flush taking it.
        self._lock = threading.Lock()
        self._dropped: dict[bytes, int] = {}
        self._templates: dict[tuple, bytes] = {}
        self._task: asyncio.Task | None = None
        self._closed = False
        self.sent = 0     # events the GCS took (tests, debugging)
        self.calls = 0    # AddTaskEvents calls made

    # -- recording (any thread) ----------------------------------------------
    def record(self, state: int, spec: pb.TaskSpec, attempt: int | None = None,
               error_kind: int = 0, error_message: str = "") -> None:
        """Append one event of ``spec`` (cheap: one tuple, no protobuf)."""
        if len(self._events) >= self._max_buffered:
            job = spec.job_id
            self._dropped[job] = self._dropped.get(job, 0) + 1
            return
        self._events.append([state, self._clock(), spec, spec.attempt if attempt is None else attempt,
                             error_kind, error_message, 0, 0, False])

    def submitted(self, spec: pb.TaskSpec) -> None:
        """SUBMITTED alone (an actor creation: the GCS queues it)."""
        self.record(SUBMITTED, spec)

    def queued(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        """(On the loop.) PENDING_NODE, with SUBMITTED folded in: one event for both."""
        if len(self._events) < self._max_buffered:
            self._events.append([PENDING_NODE, self._clock(), spec, spec.attempt, 0, "", SUBMITTED, submitted_ns,
                                 False])
        else:
            self.record(PENDING_NODE, spec)

    def running(self, spec: pb.TaskSpec) -> list | None:
        """RUNNING; returns the item, for ``ended`` to fold FINISHED into while it is not sent."""
        if len(self._events) < self._max_buffered:
            item = [RUNNING, self._clock(), spec, spec.attempt, 0, "", 0, 0, False]
            self._events.append(item)
            return item
        self.record(RUNNING, spec)
        return None

    def ended(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], running: list | None = None) -> None:
        """The attempt ran here: FINISHED, or FAILED when its returns carry an error.
        Folded into its RUNNING item (one event for both) when that is not sent yet."""
        err = error_of(returns)
        state, kind, message = FINISHED, 0, ""
        if err is not None:
            state, kind, message = FAILED, err.kind, _message(err)
        if running is not None:
            with self._lock:
                if not running[8]:
                    running[6] = RUNNING
                    running[7] = running[1]
                    running[0], running[1], running[4], running[5] = state, self._clock(), kind, message
                    return
        self.record(state, spec, error_kind=kind, error_message=message)

    def failed(self, spec: pb.TaskSpec, record: pb.ErrorRecord) -> None:
        self.record(FAILED, spec, error_kind=record.kind, error_message=_message(record))

    @property
    def buffered(self) -> int:
        return len(self._events)

    def dropped(self) -> dict[bytes, int]:
        """Events dropped and not yet reported to the GCS, per job."""
        return dict(self._dropped)

    # -- sending (on the io loop) ---------------------------------------------
    def start(self) -> None:
        """(On the loop.) Send every flush interval until closed."""
        if self._task is None and not self._closed:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - events are best effort; never stop the loop
                pass

    def _encode(self, item: list) -> bytes:
        """One TaskEvent's wire bytes. The fields a task shares with others of
        its function (job, language, type, name, actor, parent) and this
        process's (node, worker, pid) are serialized once per kind and cached;
        the task id, attempt, state and time are appended by hand (a message's
        fields may come in any order): a few string operations per event, not
        a protobuf message (measured: ~2 us rather than 11-30 us per event)."""
        state, ts, spec, attempt, kind, message, prior, prior_ts, _ = item
        key = (spec.job_id, spec.language, spec.type, spec.name, spec.actor_id, spec.parent_task_id)
        head = self._templates.get(key)
        if head is None:
            if len(self._templates) > 10_000:
                self._templates.clear()
            head = self._templates[key] = gcs_pb2.TaskEvent(
                job_id=key[0], language=key[1], type=key[2], name=key[3], actor_id=key[4], parent_task_id=key[5],
                node_id=self._node_id, worker_id=self._worker_id, worker_pid=self._pid).SerializeToString()
        tid = spec.task_id
        out = head + b"\x0a" + _varint(len(tid)) + tid + b"\x20" + _varint(state) + b"\x70" + _varint(ts)
        if attempt:
            out += b"\x18" + _varint(attempt)
        if prior:
            out += b"\x80\x01" + _varint(prior) + b"\x88\x01" + _varint(prior_ts)
        if state == FAILED:
            out += gcs_pb2.TaskEvent(error_kind=kind, error_message=message).SerializeToString()
        return out

    async def flush(self) -> None:
        """Send what is buffered now (in batches); a batch the GCS does not take is counted dropped."""
        events = self._events
        encode = self._encode
        while events or self._dropped:
            n = min(len(events), self._max_per_batch)
            with self._lock:
                items = [events.popleft() for _ in range(n)]
                for item in items:
                    item[8] = True
            parts = []
            for item in items:
                body = encode(item)
                parts.append(b"\x0a" + _varint(len(body)) + body)
            dropped, self._dropped = self._dropped, {}
            request = gcs_pb2.AddTaskEventsRequest.FromString(b"".join(parts))
            request.dropped.extend(gcs_pb2.DroppedTaskEvents(job_id=j, count=c) for j, c in dropped.items())
            self.calls += 1
            try:
                await self._gcs().AddTaskEvents(request, timeout=self._timeout)
            except (grpc.aio.AioRpcError, RuntimeError):
                for item in items:
                    job = item[2].job_id
                    dropped[job] = dropped.get(job, 0) + 1
                for j, c in dropped.items():
                    self._dropped[j] = self._dropped.get(j, 0) + c
                return
            self.sent += n
            if n < self._max_per_batch:
                return

    async def close(self) -> None:
        """(On the loop.) Stop the periodic send and send what is left."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        try:
            await self.flush()
        except Exception:  # noqa: BLE001
            pass


class EventingFinisher:
    """A TaskFinisher that records what the owner decides: FAILED for a failure
    no worker reported (crash, dead actor, lease failure, cancel), PENDING_NODE
    for the next attempt of a retried task; then hands over to ``inner``."""

    def __init__(self, inner: Any, events: TaskEventBuffer) -> None:
        self._inner = inner
        self._events = events

    def complete(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        self._inner.complete(spec, returns, arg_ids)

    def fail(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        self._events.failed(spec, record)
        self._inner.fail(spec, record, arg_ids)

    def retry(self, spec: pb.TaskSpec, why: str) -> None:
        self._events.record(PENDING_NODE, spec)
        self._inner.retry(spec, why)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
