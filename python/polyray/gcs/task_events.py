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

import bisect
import heapq
import itertools
from collections.abc import Iterator

import grpc

from polyray.protocol import gcs_pb2
from polyray.protocol import runtime_spec as spec

from .errors import invalid_argument
from .validation import JOB_ID_SIZE, TASK_ID_SIZE, check_id

RING_SIZE_PER_JOB = spec.EVENTS_RING_SIZE_PER_JOB
MAX_PER_QUERY = spec.EVENTS_MAX_PER_QUERY
MAX_PER_BATCH = spec.EVENTS_MAX_PER_BATCH

#: How far along an attempt each state is; a row keeps the furthest one.
_RANK = {
    gcs_pb2.TASK_STATE_UNKNOWN: 0,
    gcs_pb2.SUBMITTED: 1,
    gcs_pb2.PENDING_ARGS: 2,
    gcs_pb2.PENDING_NODE: 3,
    gcs_pb2.RUNNING: 4,
    gcs_pb2.FINISHED: 5,
    gcs_pb2.FAILED: 5,
}
_TIME_FIELD = {
    gcs_pb2.SUBMITTED: "submitted_ns",
    gcs_pb2.PENDING_ARGS: "pending_args_ns",
    gcs_pb2.PENDING_NODE: "pending_node_ns",
    gcs_pb2.RUNNING: "running_ns",
    gcs_pb2.FINISHED: "finished_ns",
    gcs_pb2.FAILED: "failed_ns",
}
#: Fields copied from an event into its row when the event has them.
_COPIED = ("language", "type", "name", "actor_id", "parent_task_id")
#: Fields that describe where the attempt ran: taken from the worker's events
#: (RUNNING and later) over the owner's.
_WHERE = ("node_id", "worker_id", "worker_pid")


class _Row:
    __slots__ = ("seq", "row")

    def __init__(self, seq: int, row: gcs_pb2.TaskRow) -> None:
        self.seq = seq
        self.row = row


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
            del self.keys[(old.row.task_id, old.row.attempt)]
            self.dropped += 1
        if self.head > 4096 and self.head * 2 > len(self.order):
            del self.order[:self.head]
            self.head = 0

    def after(self, seq: int) -> int:
        """The index of the first live row whose sequence number is above ``seq``."""
        return bisect.bisect_right(self.order, seq, lo=self.head, key=lambda e: e.seq)


def fold(row: gcs_pb2.TaskRow, event: gcs_pb2.TaskEvent) -> None:
    """Fold one event of an attempt into its row."""
    state = event.state
    field = _TIME_FIELD.get(state)
    if field is not None and (getattr(row, field) == 0 or event.timestamp_ns < getattr(row, field)):
        setattr(row, field, event.timestamp_ns)
    rank = _RANK.get(state, 0)
    if rank > _RANK.get(row.state, 0) or (rank == _RANK.get(row.state, 0) and state == gcs_pb2.FAILED):
        row.state = state
    for name in _COPIED:
        value = getattr(event, name)
        if value and not getattr(row, name):
            setattr(row, name, value)
    if event.language and row.language != event.language and rank >= _RANK[gcs_pb2.RUNNING]:
        row.language = event.language  # the worker knows the language it ran in
    for name in _WHERE:
        value = getattr(event, name)
        if value and (rank >= _RANK[gcs_pb2.RUNNING] or not getattr(row, name)):
            setattr(row, name, value)
    if state == gcs_pb2.FAILED:
        row.error_kind = event.error_kind
        row.error_message = event.error_message


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
            entry = _Row(self._seq, gcs_pb2.TaskRow(task_id=event.task_id, job_id=event.job_id,
                                                     attempt=event.attempt))
            ring.append(key, entry, self.ring_size_per_job)
        fold(entry.row, event)

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
        for entry in merged:
            row = entry.row
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
            yield entry

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
            reply.tasks.extend(e.row for e in page[:limit])
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
                    reply.tasks.append(entry.row)
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
        if len(request.events) > MAX_PER_BATCH:
            raise invalid_argument(f"events: at most {MAX_PER_BATCH} per batch, got {len(request.events)}")
        for i, event in enumerate(request.events):
            check_id(event.task_id, f"events[{i}].task_id", TASK_ID_SIZE)
            check_id(event.job_id, f"events[{i}].job_id", JOB_ID_SIZE)
            if event.state == gcs_pb2.TASK_STATE_UNKNOWN:
                raise invalid_argument(f"events[{i}].state must be set")
            if event.attempt < 0:
                raise invalid_argument(f"events[{i}].attempt must be >= 0, got {event.attempt}")
        for i, drop in enumerate(request.dropped):
            check_id(drop.job_id, f"dropped[{i}].job_id", JOB_ID_SIZE)
            if drop.count < 0:
                raise invalid_argument(f"dropped[{i}].count must be >= 0, got {drop.count}")
        for event in request.events:
            self.add(event)
        for drop in request.dropped:
            self.add_dropped_at_source(drop.job_id, drop.count)
        return gcs_pb2.AddTaskEventsReply()

    async def GetTaskEvents(
        self, request: gcs_pb2.GetTaskEventsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetTaskEventsReply:
        """One page of task attempts, oldest first, filtered (docs/observability.md)."""
        return self.query(request)
