"""Task events of this process, buffered and sent to the GCS (docs/observability.md).

One event per task in the common case: the owner writes what only it knows
(when the user submitted the task, when it began waiting for its arguments,
when it was queued for a lease or its actor) into the TaskSpec
(``submitted_ns``, ``pending_args_ns``, ``pending_node_ns``) and records no
event; the worker that runs the attempt records RUNNING, then FINISHED or
FAILED (an error return: its kind and message), and its event carries the
spec's owner times, so it gives the whole row. The owner keeps each task it
queued in a dict (task id -> spec, on the io loop) until its result comes
back; a flush reports, once, each that has waited a whole flush interval
(PENDING_ARGS or PENDING_NODE: a task that waits for a node, its arguments
or its actor shows before it runs). A failure the owner decides (a crashed
worker, a dead actor, a lease failure, a cancel) records FAILED with the
owner times, and a retry queues the next attempt afresh. An actor creation
records SUBMITTED (the GCS queues it).

Recording packs the event at once into its 76-byte ``PackedTaskEvents``
full record (task id, head index, attempt, state, prior state, times, the
owner's three times) and appends
the bytes to a deque: no protobuf built, no lock, no spec kept (bytes are not
tracked by the cyclic GC, so a second's worth of events adds nothing to the
collector's work). The head index names the task's kind (job, language,
type, name, actor, parent: a head) in this process's head table, which grows
to at most ``MAX_HEADS`` kinds; an event that does not fit a record (FAILED,
which carries an error; an odd id or time; a kind past a full table) waits
as a tuple and goes as a TaskEvent. An owner's SUBMITTED is folded into its
PENDING_NODE event; a worker's attempt in progress is a token in a dict, and
its end records one event with RUNNING folded in (a flush that finds it
still running sends RUNNING for it first, once). The io loop sends what is
buffered every ``events.flush_interval_ms`` with ``AddTaskEvents``,
``events.max_per_batch`` events per call: the head table (cut to the heads
the batch names when it is larger than the batch) and the records as they
are, and once more at shutdown. At most ``events.max_buffered_per_process``
events wait; past that new ones are dropped and counted per job, and the
count goes to the GCS with the next batch (as do the events of a batch the
GCS did not take). ``POLYRAY_TASK_EVENTS=0`` turns recording off for the process.
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
#: One event in a PackedTaskEvents batch's full_records (gcs.proto; the GCS's task_events.FULL_RECORD):
#: the 52-byte record, then the owner's submitted, pending-args and pending-node times.
_RECORD = struct.Struct("<24sIiBBxxqqqqq")
#: A record's head index (at byte 24).
_HEAD_OF = struct.Struct("<I").unpack_from
#: Kinds of task (job, language, type, name, actor, parent) a process packs; events of more go as TaskEvents.
MAX_HEADS = 4096


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


class _HeadTable:
    """Kinds of task (heads) by index, and the records that name them: a record is always
    read with the table it was packed against (a full table is retired whole, see ``flush``)."""

    __slots__ = ("index", "heads", "jobs", "records")

    def __init__(self) -> None:
        #: key (job, language, type, name, actor, parent) -> index; published after heads and jobs.
        self.index: dict[tuple, int] = {}
        self.heads: list[bytes] = []  # a PackedTaskEvents.heads entry's bytes (tag and length included)
        self.jobs: list[bytes] = []
        self.records: collections.deque[bytes] = collections.deque()


class TaskEventBuffer:
    """This process's task events until they are sent (see module docstring).

    An event is recorded as its PackedTaskEvents record: 52 bytes packed at once (``struct``)
    with the index of its head (the fields it shares with tasks of its kind) in this process's
    head table. A bytes object is not tracked by the cyclic GC and holds no spec, so a second's
    worth of events neither keeps specs alive nor adds to the collector's work (a deque of
    per-event lists holding specs cost ~0.9 us per event in collections). An event that does not
    fit a record (FAILED, which carries an error; an odd id or time) waits as a tuple. A worker's
    attempt in progress is a token in a dict: its end records one event with RUNNING folded
    in, and a flush that finds it still running sends RUNNING for it, once. No lock on the hot
    path (a new kind of task takes one to join the head table).
    """

    def __init__(self, *, job_id: bytes, worker_id: bytes, node_id: bytes, gcs: Callable[[], Any],
                 language: int = pb.PYTHON, flush_interval_s: float = FLUSH_INTERVAL_S,
                 max_per_batch: int = MAX_PER_BATCH, max_buffered: int = MAX_BUFFERED,
                 clock: Callable[[], int] = time.time_ns, rpc_timeout_s: float = 5.0,
                 max_heads: int = MAX_HEADS) -> None:
        """``gcs`` returns the GCS stub (its channel may open after this is made)."""
        self._job_id = job_id
        self._worker_id = worker_id
        self._node_id = node_id
        self._gcs = gcs
        self._language = language
        self._interval = flush_interval_s
        self._max_per_batch = max_per_batch
        self._max_buffered = max_buffered
        self._max_heads = max_heads
        self._clock = clock
        self._timeout = rpc_timeout_s
        self._pid = os.getpid()
        # Packed records (bytes, _RECORD) live in their head table (grows only, to max_heads kinds;
        # a full one is retired at a flush and a new one started); the events that do not fit a
        # record wait as tuples (state, time ns, head key, task id, attempt, error kind, error
        # message, prior state, prior time ns).
        self._table = _HeadTable()
        self._retired: list[tuple[_HeadTable, int]] = []  # (table, the flush that retired it)
        self._flushes = 0
        self._singles: collections.deque[tuple] = collections.deque()
        self._head_lock = threading.Lock()
        # Attempts running here whose RUNNING is not sent: id(token) -> token (spec, start ns).
        self._running: dict[int, tuple] = {}
        # (Owner, on the loop.) Tasks queued here whose result has not come back: task id -> spec,
        # oldest first; a flush reports those that waited a whole interval (``_take_pending``).
        self._pending: dict[bytes, pb.TaskSpec] = {}
        self._dropped: dict[bytes, int] = {}
        self._task: asyncio.Task | None = None
        self._closed = False
        self.sent = 0     # events the GCS took (tests, debugging)
        self.calls = 0    # AddTaskEvents calls made

    # -- recording (any thread) ----------------------------------------------
    def _drop(self, job: bytes) -> None:
        self._dropped[job] = self._dropped.get(job, 0) + 1

    def _new_head(self, table: _HeadTable, key: tuple) -> int:
        """The index of a kind of task not in ``table`` yet: added (under the lock), or -1 when
        the table is full (the event then waits as a tuple until a flush starts a new table)."""
        with self._head_lock:
            index = table.index.get(key)
            if index is not None:
                return index
            if len(table.heads) >= self._max_heads:
                return -1
            head = gcs_pb2.TaskEvent(
                job_id=key[0], language=key[1], type=key[2], name=key[3], actor_id=key[4], parent_task_id=key[5],
                node_id=self._node_id, worker_id=self._worker_id, worker_pid=self._pid).SerializeToString()
            table.heads.append(b"\x0a" + _varint(len(head)) + head)
            table.jobs.append(key[0])
            index = len(table.heads) - 1
            table.index[key] = index  # published last: a reader that finds it finds the bytes
            return index

    def _add(self, state: int, ts: int, spec: pb.TaskSpec, attempt: int, kind: int, message: str, prior: int,
             prior_ts: int) -> None:
        """Buffer one event (the common path of every recording method)."""
        table = self._table  # read once: the record goes to the table its index is of
        if len(table.records) + len(self._singles) >= self._max_buffered:
            self._drop(spec.job_id)
            return
        key = (spec.job_id, spec.language, spec.type, spec.name, spec.actor_id, spec.parent_task_id)
        tid = spec.task_id
        if state != FAILED and len(tid) == 24 and 0 <= attempt < 1 << 31 and ts >= 0 and prior_ts >= 0:
            index = table.index.get(key)
            if index is None:
                index = self._new_head(table, key)
            if index >= 0:
                table.records.append(_RECORD.pack(tid, index, attempt, state, prior, ts, prior_ts, spec.submitted_ns,
                                                  spec.pending_args_ns, spec.pending_node_ns))
                return
        self._singles.append((state, ts, key, tid, attempt, kind, message, prior, prior_ts,
                              (spec.submitted_ns, spec.pending_args_ns, spec.pending_node_ns)))

    def record(self, state: int, spec: pb.TaskSpec, attempt: int | None = None,
               error_kind: int = 0, error_message: str = "") -> None:
        """Buffer one event of ``spec`` (cheap: one record packed, no protobuf built)."""
        self._add(state, self._clock(), spec, spec.attempt if attempt is None else attempt, error_kind,
                  error_message, 0, 0)

    def submitted(self, spec: pb.TaskSpec) -> None:
        """SUBMITTED alone (an actor creation: the GCS queues it)."""
        self._add(SUBMITTED, self._clock(), spec, spec.attempt, 0, "", 0, 0)

    # -- the owner: times in the spec, an event only for a task that waits (on the loop) ------
    def owner_queued(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        """(On the loop.) The task is queued for a lease or its actor: its times go in the spec
        (the worker's event carries them); no event unless it still waits at a flush."""
        spec.submitted_ns = submitted_ns
        spec.pending_node_ns = self._clock()
        self._pending[spec.task_id] = spec

    def owner_waiting_args(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        """(On the loop.) The task waits for argument refs owned here (as ``owner_queued``)."""
        spec.submitted_ns = submitted_ns
        spec.pending_args_ns = self._clock()
        self._pending[spec.task_id] = spec

    def owner_released(self, spec: pb.TaskSpec) -> None:
        """(On the loop.) Its arguments are ready: queued for a lease (again pending, once more
        reported if it waits a whole interval)."""
        spec.pending_node_ns = self._clock()
        self._pending.pop(spec.task_id, None)
        self._pending[spec.task_id] = spec

    def owner_done(self, spec: pb.TaskSpec) -> None:
        """(On the loop.) The result came back: the worker's event gives the row."""
        self._pending.pop(spec.task_id, None)

    def owner_retry(self, spec: pb.TaskSpec) -> None:
        """(On the loop.) The next attempt is queued: its row has no submit time of its own."""
        spec.submitted_ns = 0
        spec.pending_args_ns = 0
        spec.pending_node_ns = self._clock()
        self._pending.pop(spec.task_id, None)
        self._pending[spec.task_id] = spec

    def _take_pending(self) -> None:
        """(At a flush.) PENDING_NODE (or PENDING_ARGS) for each task queued here at least a
        flush interval ago whose result has not come back, once (oldest first; stops at the
        first younger one)."""
        pending = self._pending
        if not pending:
            return
        cutoff = self._clock() - int(self._interval * 1e9)
        taken = []
        for tid, spec in pending.items():
            at = spec.pending_node_ns or spec.pending_args_ns
            if at > cutoff:
                break
            taken.append(tid)
        for tid in taken:
            spec = pending.pop(tid)
            state = PENDING_NODE if spec.pending_node_ns else PENDING_ARGS
            self._add(state, spec.pending_node_ns or spec.pending_args_ns, spec, spec.attempt, 0, "", 0, 0)

    @property
    def pending(self) -> int:
        """Tasks queued here whose event is not recorded (the worker's will carry them)."""
        return len(self._pending)

    def queued(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        """PENDING_NODE now, with SUBMITTED folded in: one event for both (the owner's own
        event, for a reporter that does not hand its times to a worker)."""
        self._add(PENDING_NODE, self._clock(), spec, spec.attempt, 0, "", SUBMITTED, submitted_ns)

    def waiting_args(self, spec: pb.TaskSpec, submitted_ns: int) -> None:
        """(On the loop.) PENDING_ARGS, with SUBMITTED folded in: argument refs owned here are not ready."""
        self._add(PENDING_ARGS, self._clock(), spec, spec.attempt, 0, "", SUBMITTED, submitted_ns)

    def running(self, spec: pb.TaskSpec) -> tuple:
        """The attempt starts: returns its token for ``ended``, which records one event for both
        states; a flush while it runs sends RUNNING for it."""
        token = (spec, self._clock())
        self._running[id(token)] = token
        return token

    def ended(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], running: tuple | None = None) -> None:
        """The attempt ran here: FINISHED, or FAILED when its returns carry an error, with RUNNING
        folded in (``running``: the token ``running`` gave; the GCS keeps a state's earliest time,
        so a RUNNING a flush sent meanwhile changes nothing)."""
        state, kind, message = FINISHED, 0, ""
        for r in returns:  # error_of's test inline: most returns are values, told in one step
            if r.WhichOneof("kind") == "value" and r.value.format == pb.FORMAT_ERROR:
                err = error_of((r,))
                if err is not None:
                    state, kind, message = FAILED, err.kind, _message(err)
            break
        if running is None:
            self._add(state, self._clock(), spec, spec.attempt, kind, message, 0, 0)
        else:
            self._running.pop(id(running), None)
            self._add(state, self._clock(), spec, spec.attempt, kind, message, RUNNING, running[1])

    def failed(self, spec: pb.TaskSpec, record: pb.ErrorRecord) -> None:
        self.record(FAILED, spec, error_kind=record.kind, error_message=_message(record))

    @property
    def buffered(self) -> int:
        return len(self._table.records) + sum(len(t.records) for t, _ in self._retired) + len(self._singles)

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

    def _encode(self, item: tuple) -> bytes:
        """One TaskEvent's wire bytes (an event that waits as a tuple)."""
        state, ts, key, tid, attempt, kind, message, prior, prior_ts, owner = item
        event = gcs_pb2.TaskEvent(
            task_id=tid, job_id=key[0], language=key[1], type=key[2], name=key[3], actor_id=key[4],
            parent_task_id=key[5], node_id=self._node_id, worker_id=self._worker_id, worker_pid=self._pid,
            attempt=attempt, state=state, timestamp_ns=ts, prior_state=prior, prior_timestamp_ns=prior_ts,
            submitted_ns=owner[0], pending_args_ns=owner[1], pending_node_ns=owner[2])
        if state == FAILED:
            event.error_kind = kind
            event.error_message = message
        return event.SerializeToString()

    def _batch(self, records: list[bytes], singles: list[tuple], table: _HeadTable | None = None) -> bytes:
        """An AddTaskEventsRequest's bytes (without ``dropped``): the tuples as TaskEvents, the
        records in columns (``PackedTaskEvents``: the head table, then the records as they are).
        A table of more heads than records is cut to the heads the records name (re-indexed)."""
        out = []
        for item in singles:
            body = self._encode(item)
            out.append(b"\x0a" + _varint(len(body)) + body)
        if records:
            all_heads = (table or self._table).heads
            n_heads = len(all_heads)
            heads = all_heads[:n_heads]  # a table that grows meanwhile: records name only these
            if n_heads > len(records) and n_heads > 64:
                used: dict[int, int] = {}
                out_records = []
                unpack, pack = _RECORD.unpack, _RECORD.pack
                for rec in records:
                    tid, index, *rest = unpack(rec)
                    new = used.get(index)
                    if new is None:
                        new = used[index] = len(used)
                    out_records.append(pack(tid, new, *rest))
                heads = [heads[i] for i in used]
                records = out_records
            blob = b"".join(records)
            packed = b"".join(heads) + b"\x1a" + _varint(len(blob)) + blob  # full_records
            out.append(b"\x1a" + _varint(len(packed)) + packed)
        return b"".join(out)

    def _take_running(self) -> None:
        """(At a flush.) RUNNING for each attempt still running here whose RUNNING is not sent."""
        running = self._running
        if not running:
            return
        for token_id in list(running):
            token = running.pop(token_id, None)
            if token is None:  # ended meanwhile: its end event carries RUNNING
                continue
            spec, start_ns = token
            self._add(RUNNING, start_ns, spec, spec.attempt, 0, "", 0, 0)

    async def flush(self) -> None:
        """Send what is buffered now (in batches); a batch the GCS does not take is counted dropped.
        A full head table is retired first (a new one takes new kinds); a retired table is sent
        from until it is empty and one more flush found nothing new in it (a thread that read
        the table just before it was retired may still add a record to it)."""
        self._take_running()
        self._take_pending()
        if len(self._table.heads) >= self._max_heads:
            self._retired.append((self._table, self._flushes))
            self._table = _HeadTable()
        self._flushes += 1
        for table in [*(t for t, _ in self._retired), self._table]:
            if not await self._send(table):
                return
        self._retired = [(t, n) for t, n in self._retired if t.records or n >= self._flushes - 1]

    async def _send(self, table: _HeadTable) -> bool:
        """Send ``table``'s records (and the tuples and drop counts); False if a call failed."""
        records, singles = table.records, self._singles
        while records or singles or self._dropped:
            n_singles = min(len(singles), self._max_per_batch)
            n = min(len(records), self._max_per_batch - n_singles)
            taken_singles = [singles.popleft() for _ in range(n_singles)]
            taken = [records.popleft() for _ in range(n)]
            dropped, self._dropped = self._dropped, {}
            request = gcs_pb2.AddTaskEventsRequest.FromString(self._batch(taken, taken_singles, table))
            request.dropped.extend(gcs_pb2.DroppedTaskEvents(job_id=j, count=c) for j, c in dropped.items())
            self.calls += 1
            try:
                await self._gcs().AddTaskEvents(request, timeout=self._timeout)
            except (grpc.aio.AioRpcError, RuntimeError):
                jobs = table.jobs
                for rec in taken:
                    job = jobs[_HEAD_OF(rec, 24)[0]]
                    dropped[job] = dropped.get(job, 0) + 1
                for item in taken_singles:
                    job = item[2][0]
                    dropped[job] = dropped.get(job, 0) + 1
                for j, c in dropped.items():
                    self._dropped[j] = self._dropped.get(j, 0) + c
                return False
            self.sent += n + n_singles
            if n + n_singles < self._max_per_batch:
                return True
        return True

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
    no worker reported (crash, dead actor, lease failure, cancel), the next
    attempt of a retried task queued afresh; a task whose result came back
    leaves the owner's pending dict (no event: the worker's gives the row).
    Then hands over to ``inner``."""

    def __init__(self, inner: Any, events: TaskEventBuffer) -> None:
        self._inner = inner
        self._events = events
        self._done = events._pending.pop  # owner_done, one call less per task

    def complete(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        self._done(spec.task_id, None)  # the worker's event gives the row
        self._inner.complete(spec, returns, arg_ids)

    def fail(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        self._events.owner_done(spec)
        self._events.failed(spec, record)  # with the owner's times: the row of a task that never ran
        self._inner.fail(spec, record, arg_ids)

    def retry(self, spec: pb.TaskSpec, why: str) -> None:
        self._events.owner_retry(spec)
        self._inner.retry(spec, why)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
