"""Task events of this process, buffered and sent to the GCS (docs/observability.md).

Owners record SUBMITTED when the user submits (on the user's thread) and
PENDING_NODE when the task is queued for a lease or its actor (on the io
loop); a retry records PENDING_NODE for the next attempt, and a failure the
owner decides (a crashed worker, a dead actor, a lease failure, a cancel)
records FAILED. The worker that runs an attempt records RUNNING, then
FINISHED or FAILED (an error return: its kind and message).

Recording appends one small tuple to a deque (thread-safe, no protobuf
built, no lock); the spec it names is the one the owner or executor already
holds. An owner's SUBMITTED is folded into its PENDING_NODE event, a
worker's RUNNING into its FINISHED/FAILED event while that is not sent. The
io loop sends what is buffered every ``events.flush_interval_ms`` with
``AddTaskEvents``, ``events.max_per_batch`` events per call, packed in
columns (``PackedTaskEvents``: each kind of task's shared fields once, one
52-byte record per event), and once more at shutdown. At most ``events.max_buffered_per_process`` events wait;
past that new ones are dropped and counted per job, and the count goes to
the GCS with the next batch (as do the events of a batch the GCS did not
take). ``POLYRAY_TASK_EVENTS=0`` turns recording off for the process.
"""

from __future__ import annotations

import asyncio
import collections
import os
import struct
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
_high: list = [-1, b""]  # the varint of the last ``n >> 28`` _varint_ns made (it changes every 0.27 s)


def _varint_ns(n: int) -> bytes:
    """The varint of a wall-clock time in ns (n >= 2**28): its low 28 bits as four
    7-bit groups by hand, the rest (the same for 0.27 s) from a one-entry cache;
    ~0.3 us rather than ~1.5 us for the loop of ``_varint``."""
    high = n >> 28
    cached = _high
    if cached[0] != high:
        cached[1] = _varint(high)
        cached[0] = high
    return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, ((n >> 14) & 0x7F) | 0x80,
                  ((n >> 21) & 0x7F) | 0x80)) + cached[1]


#: ``state = <s>`` then the tag of ``timestamp_ns`` (fields 4 and 14), by state.
_STATE_FIELD = [b"\x20" + bytes((s,)) + b"\x70" for s in range(8)]
#: ``prior_state = <s>`` then the tag of ``prior_timestamp_ns`` (fields 16 and 17), by state.
_PRIOR_FIELD = [b"\x80\x01" + bytes((s,)) + b"\x88\x01" for s in range(8)]
_NS_MIN = 1 << 28
#: One event in a PackedTaskEvents batch (gcs.proto; the GCS's task_events.PACKED_RECORD).
_RECORD = struct.Struct("<24sIiBBxxqq")


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

    def waiting_args(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        """(On the loop.) PENDING_ARGS, with SUBMITTED folded in: argument refs owned here are not ready."""
        if len(self._events) < self._max_buffered:
            self._events.append([PENDING_ARGS, self._clock(), spec, spec.attempt, 0, "", SUBMITTED, submitted_ns,
                                 False])
        else:
            self.record(PENDING_ARGS, spec)

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

    def _head(self, key: tuple) -> bytes:
        """The serialized fields a task shares with others of its function (job, language,
        type, name, actor, parent) and this process's (node, worker, pid); cached per kind."""
        head = self._templates.get(key)
        if head is None:
            if len(self._templates) > 10_000:
                self._templates.clear()
            head = self._templates[key] = gcs_pb2.TaskEvent(
                job_id=key[0], language=key[1], type=key[2], name=key[3], actor_id=key[4], parent_task_id=key[5],
                node_id=self._node_id, worker_id=self._worker_id, worker_pid=self._pid).SerializeToString()
        return head

    def _encode(self, item: list) -> bytes:
        """One TaskEvent's wire bytes: the cached head (``_head``), then the task id, attempt,
        state and time appended by hand (a message's fields may come in any order)."""
        state, ts, spec, attempt, kind, message, prior, prior_ts, _ = item
        head = self._head((spec.job_id, spec.language, spec.type, spec.name, spec.actor_id, spec.parent_task_id))
        tid = spec.task_id
        out = b"".join((head, b"\x0a", _SMALL[len(tid)] if len(tid) < 0x80 else _varint(len(tid)), tid,
                        _STATE_FIELD[state], _varint_ns(ts) if ts >= _NS_MIN else _varint(ts)))
        if attempt:
            out += b"\x18" + _varint(attempt)
        if prior:
            out += b"".join((_PRIOR_FIELD[prior], _varint_ns(prior_ts) if prior_ts >= _NS_MIN else _varint(prior_ts)))
        if state == FAILED:
            out += gcs_pb2.TaskEvent(error_kind=kind, error_message=message).SerializeToString()
        return out

    def _batch(self, items: list[list]) -> bytes:
        """An AddTaskEventsRequest's bytes for ``items`` (without ``dropped``): events in columns
        (``PackedTaskEvents``: each kind's head once, one 52-byte record per event, packed in C),
        and FAILED events, which carry an error, as TaskEvents. ~1 us per event to build, and the
        GCS unpacks the records in C rather than reading a message's fields one by one."""
        heads: dict[tuple, int] = {}
        head_parts: list[bytes] = []
        records: list[bytes] = []
        single: list[bytes] = []
        pack = _RECORD.pack
        head_of = self._head
        for state, ts, spec, attempt, kind, message, prior, prior_ts, _ in items:
            tid = spec.task_id
            if state == FAILED or len(tid) != 24 or not (0 <= attempt < 1 << 31) or ts < 0 or prior_ts < 0:
                body = self._encode([state, ts, spec, attempt, kind, message, prior, prior_ts, True])
                single.append(b"\x0a" + _varint(len(body)) + body)
                continue
            key = (spec.job_id, spec.language, spec.type, spec.name, spec.actor_id, spec.parent_task_id)
            index = heads.get(key)
            if index is None:
                index = heads[key] = len(head_parts)
                head = head_of(key)
                head_parts.append(b"\x0a" + _varint(len(head)) + head)
            records.append(pack(tid, index, attempt, state, prior, ts, prior_ts))
        if records:
            blob = b"".join(records)
            packed = b"".join(head_parts) + b"\x12" + _varint(len(blob)) + blob
            single.append(b"\x1a" + _varint(len(packed)) + packed)
        return b"".join(single)

    async def flush(self) -> None:
        """Send what is buffered now (in batches); a batch the GCS does not take is counted dropped."""
        events = self._events
        while events or self._dropped:
            n = min(len(events), self._max_per_batch)
            with self._lock:
                items = [events.popleft() for _ in range(n)]
                for item in items:
                    item[8] = True
            dropped, self._dropped = self._dropped, {}
            request = gcs_pb2.AddTaskEventsRequest.FromString(self._batch(items))
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
