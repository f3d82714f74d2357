"""Task events: a bounded ring of task attempts per job (docs/observability.md).

Owners and workers of every language send ``AddTaskEvents`` batches; the
events of one task attempt (task id, attempt) are folded into one
:class:`~polyray.protocol.gcs_pb2.TaskRow`: the furthest state seen (events
of one attempt may arrive out of order: an owner's SUBMITTED can come after
the worker's FINISHED), the time of each state, and the non-empty fields of
every event. Each job keeps at most ``events.ring_size_per_job`` rows; a new
row past that drops the job's oldest row, counted per job. Senders report
what they dropped themselves (a full buffer), also counted per job.

``GetTaskEvents`` answers rows oldest first, filtered, at most
``events.max_per_query`` per call; ``next_page_token`` is the sequence
number of the last row sent, so a page never repeats or skips a row that
stayed in the ring.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
from collections.abc import Iterator

import grpc

from polyray.protocol import common_pb2, gcs_pb2
from polyray.protocol import runtime_spec as spec

from .errors import invalid_argument
from .validation import ACTOR_ID_SIZE, JOB_ID_SIZE, NODE_ID_SIZE, TASK_ID_SIZE, WORKER_ID_SIZE, check_id

RING_SIZE_PER_JOB = spec.EVENTS_RING_SIZE_PER_JOB
MAX_PER_QUERY = spec.EVENTS_MAX_PER_QUERY
MAX_PER_BATCH = spec.EVENTS_MAX_PER_BATCH
#: Events folded between two yields to the loop.
FOLD_SLICE = 256

#: How far along an attempt each state is; a row keeps the furthest one.
_RANK = (0, 1, 2, 3, 4, 5, 5)  # by TaskEventState value: UNKNOWN, SUBMITTED, ..., FINISHED, FAILED
_RUNNING = gcs_pb2.RUNNING
_FAILED = gcs_pb2.FAILED
_STATES = frozenset(gcs_pb2.TaskEventState.DESCRIPTOR.values_by_number) - {gcs_pb2.TASK_STATE_UNKNOWN}
_LANGUAGES = frozenset(common_pb2.Language.DESCRIPTOR.values_by_number)
_TYPES = frozenset(common_pb2.TaskType.DESCRIPTOR.values_by_number)
_KINDS = frozenset(common_pb2.ErrorKind.DESCRIPTOR.values_by_number)
_MAX_NAME = spec.LIMITS_MAX_NAME_BYTES
_NAME_CHARS = _MAX_NAME // 4
_OPTIONAL_IDS = (("actor_id", ACTOR_ID_SIZE), ("node_id", NODE_ID_SIZE), ("worker_id", WORKER_ID_SIZE),
                 ("parent_task_id", TASK_ID_SIZE))


class _Row:
    """One task attempt, folded (plain Python: a TaskRow is built only for a reply)."""

    __slots__ = ("seq", "task_id", "job_id", "attempt", "state", "language", "type", "name", "actor_id",
                 "node_id", "worker_id", "parent_task_id", "error_kind", "error_message", "worker_pid", "times",
                 "from_worker")

    def __init__(self, seq: int, task_id: bytes, job_id: bytes, attempt: int) -> None:
        self.seq = seq
        self.task_id = task_id
        self.job_id = job_id
        self.attempt = attempt
        self.state = 0
        self.language = -1  # unknown until an event says
        self.type = 0
        self.name = ""
        self.actor_id = b""
        self.node_id = b""
        self.worker_id = b""
        self.parent_task_id = b""
        self.error_kind = 0
        self.error_message = ""
        self.worker_pid = 0
        self.times = [0, 0, 0, 0, 0, 0, 0]  # ns, by state value
        self.from_worker = False

    def to_proto(self) -> gcs_pb2.TaskRow:
        t = self.times
        return gcs_pb2.TaskRow(
            task_id=self.task_id, job_id=self.job_id, attempt=self.attempt, state=self.state,  # type: ignore[arg-type]
            language=max(self.language, 0), type=self.type, name=self.name,  # type: ignore[arg-type]
            actor_id=self.actor_id, node_id=self.node_id, worker_id=self.worker_id,
            parent_task_id=self.parent_task_id, error_kind=self.error_kind,  # type: ignore[arg-type]
            error_message=self.error_message, worker_pid=self.worker_pid, submitted_ns=t[1], pending_args_ns=t[2],
            pending_node_ns=t[3], running_ns=t[4], finished_ns=t[5], failed_ns=t[6])


class _JobRing:
    """One job's rows, oldest first: a list from ``head`` (rows before it were
    dropped; the list is compacted now and then) and a dict by (task id, attempt).
    Sequence numbers rise along the list, so a page starts by bisection."""

    __slots__ = ("keys", "order", "head", "dropped", "dropped_at_source")

    def __init__(self) -> None:
        self.keys: dict[tuple[bytes, int], _Row] = {}
        self.order: list[_Row] = []
        self.head = 0
        self.dropped = 0
        self.dropped_at_source = 0

    def __len__(self) -> int:
        return len(self.order) - self.head

    def append(self, key: tuple[bytes, int], entry: _Row, size: int) -> None:
        self.keys[key] = entry
        self.order.append(entry)
        while len(self) > size:
            old = self.order[self.head]
            self.head += 1
            del self.keys[(old.task_id, old.attempt)]
            self.dropped += 1
        if self.head > 4096 and self.head * 2 > len(self.order):
            del self.order[:self.head]
            self.head = 0

    def after(self, seq: int) -> int:
        """The index of the first live row whose sequence number is above ``seq``."""
        return bisect.bisect_right(self.order, seq, lo=self.head, key=lambda e: e.seq)


def fold(row: _Row, event: gcs_pb2.TaskEvent) -> None:
    """Fold one event of an attempt into its row: the furthest state, the
    earliest time of each state, the owner's description, the worker's place."""
    state = event.state
    ts = event.timestamp_ns
    times = row.times
    if times[state] == 0 or ts < times[state]:
        times[state] = ts
    prior = event.prior_state
    if prior:
        pts = event.prior_timestamp_ns
        if times[prior] == 0 or pts < times[prior]:
            times[prior] = pts
    rank = _RANK[state]
    current = _RANK[row.state]
    if rank > current or (rank == current and state == _FAILED):
        row.state = state
    if not row.name:
        row.name = event.name
        row.type = event.type
        row.actor_id = event.actor_id
        row.parent_task_id = event.parent_task_id
    if state >= _RUNNING:
        # The worker knows where the attempt ran and in which language.
        if not row.from_worker:
            row.from_worker = True
            row.node_id = event.node_id
            row.worker_id = event.worker_id
            row.worker_pid = event.worker_pid
            row.language = event.language
        if state == _FAILED:
            row.error_kind = event.error_kind
            row.error_message = event.error_message
    elif not row.from_worker and not row.node_id:
        row.node_id = event.node_id
        row.worker_id = event.worker_id
        row.worker_pid = event.worker_pid
    if row.language < 0:
        row.language = event.language


def check_events(request: gcs_pb2.AddTaskEventsRequest) -> None:
    """The checks of polyray.protocol.validation's walk, for this one message, in a
    fraction of its time (the walk cost ~10 us per event): ids by size, enum
    values, string lengths. INVALID_ARGUMENT naming the field."""
    if len(request.events) > MAX_PER_BATCH:
        raise invalid_argument(f"events: at most {MAX_PER_BATCH} per batch, got {len(request.events)}")
    for i, e in enumerate(request.events):
        if len(e.task_id) != TASK_ID_SIZE:
            check_id(e.task_id, f"events[{i}].task_id", TASK_ID_SIZE)
        if len(e.job_id) != JOB_ID_SIZE:
            check_id(e.job_id, f"events[{i}].job_id", JOB_ID_SIZE)
        if e.state not in _STATES:
            raise invalid_argument(f"events[{i}].state must be a known TaskEventState, got {e.state}")
        if e.prior_state and e.prior_state not in _STATES:
            raise invalid_argument(f"events[{i}].prior_state must be a known TaskEventState, got {e.prior_state}")
        if e.attempt < 0:
            raise invalid_argument(f"events[{i}].attempt must be >= 0, got {e.attempt}")
        if e.language not in _LANGUAGES or e.type not in _TYPES or e.error_kind not in _KINDS:
            raise invalid_argument(f"events[{i}]: unknown language, type or error_kind "
                                   f"({e.language}, {e.type}, {e.error_kind})")
        for name, size in _OPTIONAL_IDS:
            value = getattr(e, name)
            if value and len(value) != size:
                check_id(value, f"events[{i}].{name}", size)
        for name in ("name", "error_message"):
            text = getattr(e, name)
            if len(text) > _NAME_CHARS and len(text.encode()) > _MAX_NAME:
                raise invalid_argument(f"events[{i}].{name}: at most {_MAX_NAME} bytes")
    for i, drop in enumerate(request.dropped):
        check_id(drop.job_id, f"dropped[{i}].job_id", JOB_ID_SIZE)
        if drop.count < 0:
            raise invalid_argument(f"dropped[{i}].count must be >= 0, got {drop.count}")


class TaskEvents:
    """The per-job rings of task attempts. Serves AddTaskEvents and GetTaskEvents."""

    def __init__(self, ring_size_per_job: int = RING_SIZE_PER_JOB, max_per_query: int = MAX_PER_QUERY) -> None:
        self.ring_size_per_job = ring_size_per_job
        self.max_per_query = max_per_query
        self._jobs: dict[bytes, _JobRing] = {}
        self._seq = 0
        #: Events received and rows dropped, over every job (for tests and metrics).
        self.events_received = 0

    # -- writing ---------------------------------------------------------

    def add(self, event: gcs_pb2.TaskEvent) -> None:
        """Fold one event into its row, making the row (and dropping the job's oldest) if new."""
        self.events_received += 1
        ring = self._jobs.get(event.job_id)
        if ring is None:
            ring = self._jobs[event.job_id] = _JobRing()
        key = (event.task_id, event.attempt)
        entry = ring.keys.get(key)
        if entry is None:
            self._seq += 1
            entry = _Row(self._seq, key[0], event.job_id, key[1])
            ring.append(key, entry, self.ring_size_per_job)
        fold(entry, event)

    def add_dropped_at_source(self, job_id: bytes, count: int) -> None:
        ring = self._jobs.get(job_id)
        if ring is None:
            ring = self._jobs[job_id] = _JobRing()
        ring.dropped_at_source += count

    def dropped(self, job_id: bytes) -> tuple[int, int]:
        """(rows the ring dropped, events senders dropped) for one job."""
        ring = self._jobs.get(job_id)
        return (ring.dropped, ring.dropped_at_source) if ring is not None else (0, 0)

    def __len__(self) -> int:
        return sum(len(r) for r in self._jobs.values())

    # -- reading ---------------------------------------------------------

    def _rings(self, request: gcs_pb2.GetTaskEventsRequest) -> list[_JobRing]:
        if request.job_id:
            ring = self._jobs.get(request.job_id)
            return [ring] if ring is not None else []
        return list(self._jobs.values())

    @staticmethod
    def _filtered(request: gcs_pb2.GetTaskEventsRequest) -> bool:
        return bool(request.task_id or request.states or request.languages or request.name or request.actor_id
                    or request.node_id or request.worker_id)

    def _matching(self, request: gcs_pb2.GetTaskEventsRequest, rings: list[_JobRing]) -> Iterator[_Row]:
        states = frozenset(request.states)
        languages = frozenset(request.languages)
        merged = heapq.merge(*(r.order[r.head:] for r in rings), key=lambda e: e.seq) if len(rings) > 1 else (
            iter(rings[0].order[rings[0].head:]) if rings else iter(()))
        for row in merged:
            if request.task_id and row.task_id != request.task_id:
                continue
            if states and row.state not in states:
                continue
            if languages and row.language not in languages:
                continue
            if request.name and row.name != request.name:
                continue
            if request.actor_id and row.actor_id != request.actor_id:
                continue
            if request.node_id and row.node_id != request.node_id:
                continue
            if request.worker_id and row.worker_id != request.worker_id:
                continue
            yield row

    def query(self, request: gcs_pb2.GetTaskEventsRequest) -> gcs_pb2.GetTaskEventsReply:
        """Rows matching ``request``, one page of them."""
        if request.limit < 0:
            raise invalid_argument(f"limit must be >= 0, got {request.limit}")
        limit = self.max_per_query if request.limit <= 0 else min(request.limit, self.max_per_query)
        after = 0
        if request.page_token:
            try:
                after = int(request.page_token)
            except ValueError:
                raise invalid_argument(f"page_token {request.page_token[:64]!r} is not one this GCS gave") from None
            if after < 0:
                raise invalid_argument(f"page_token {request.page_token[:64]!r} is not one this GCS gave")
        reply = gcs_pb2.GetTaskEventsReply()
        rings = self._rings(request)
        if not self._filtered(request):
            # No row filter: the total is the rings' sizes, a page starts by bisection.
            total = sum(len(r) for r in rings)
            starts = [iter(r.order[r.after(after):]) for r in rings]
            merged = heapq.merge(*starts, key=lambda e: e.seq) if len(starts) > 1 else (
                starts[0] if starts else iter(()))
            page = list(itertools.islice(merged, limit + 1))
            reply.tasks.extend(e.to_proto() for e in page[:limit])
            if len(page) > limit:
                reply.next_page_token = str(page[limit - 1].seq)
        else:
            total = 0
            last = 0
            for entry in self._matching(request, rings):
                total += 1
                if entry.seq <= after:
                    continue
                if len(reply.tasks) < limit:
                    reply.tasks.append(entry.to_proto())
                    last = entry.seq
                else:
                    reply.next_page_token = str(last)
        reply.total = total
        for job_id, ring in self._jobs.items():
            if request.job_id and job_id != request.job_id:
                continue
            if ring.dropped:
                reply.dropped_at_gcs.add(job_id=job_id, count=ring.dropped)
            if ring.dropped_at_source:
                reply.dropped_at_source.add(job_id=job_id, count=ring.dropped_at_source)
        return reply

    # -- the RPCs ----------------------------------------------------------

    async def AddTaskEvents(
        self, request: gcs_pb2.AddTaskEventsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.AddTaskEventsReply:
        """Fold a batch of events into the rings; drops reported by the sender are counted."""
        check_events(request)
        add = self.add
        events = request.events
        # The GCS shares its loop with the head's raylet: fold in slices, so a
        # batch of 10,000 events (~30 ms) does not hold up lease grants.
        for start in range(0, len(events), FOLD_SLICE):
            if start:
                await asyncio.sleep(0)
            for event in events[start:start + FOLD_SLICE]:
                add(event)
        for drop in request.dropped:
            self.add_dropped_at_source(drop.job_id, drop.count)
        return gcs_pb2.AddTaskEventsReply()

    async def GetTaskEvents(
        self, request: gcs_pb2.GetTaskEventsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetTaskEventsReply:
        """One page of task attempts, oldest first, filtered (docs/observability.md)."""
        return self.query(request)
