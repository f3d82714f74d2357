"""Submitting normal tasks: leases per scheduling class, pushed over streams.

Invariants: a task is in exactly one place at a time — the queue of its
scheduling class, the in-flight table of one lease, or finished (reported
to the TaskFinisher exactly once). A lease's stream carries tasks in queue
order; when a worker dies its in-flight tasks are retried (up to
max_retries) or failed with WorkerCrashedError. Everything here runs on the
CoreWorker's event loop; time is the loop's clock (a manual one in unit
tests). The numbers and rules come from the runtime spec (submit_policy.py).
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Callable
from typing import Any, Protocol

import grpc

from polyray.core import errors
from polyray.core.pending_task import PendingTask
from polyray.core.push_port import PushConnection, PushStreamError
from polyray.core.submit_policy import (
    FAIL_CLASS,
    RETRY_TASK,
    can_retry,
    inflight_limit,
    lease_failure,
    lease_requests_to_start,
    next_task_time_average,
)
from polyray.core.task_finisher import ARGS_GRACE_S, TaskFinisher
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2 as gcs_pb
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import runtime_spec as rspec

# A lease with no work is kept this long before it is returned (the spec says why).
LEASE_LINGER_S = rspec.LEASE_LINGER_MS / 1000
# A worker's idle lease while the worker runs no task of its own is returned at once (docs/protocol.md
# §7.1, issue 14): in a tree of nested tasks each level's children waited for the CPUs that the finished
# callers of the level before kept lingering. A worker still running the task that submits (a loop, or a
# blocked get on its children) lingers as a driver does.
WORKER_IDLE_LEASE_LINGER_S = 0.0
# Pause before asking again when the raylet a lease request was spilled to is gone.
SPILL_RETRY_S = rspec.LEASE_SPILL_RETRY_MS / 1000
# How long the raylet of a lost worker gets to answer before its node counts as dead.
NODE_PROBE_S = rspec.LEASE_NODE_PROBE_MS / 1000
# While tasks run on other nodes, the GCS's node table is read this often.
NODE_WATCH_S = rspec.LEASE_NODE_WATCH_MS / 1000
# A task pipelined behind the one a dead worker was running goes back to the
# queue without spending an attempt at most this often.
SPARE_LIMIT = 3
# Deadline of returning a worker to its raylet.
RETURN_WORKER_TIMEOUT_S = 10.0


class LeaseConnections(Protocol):
    """What the submitter needs of the CoreWorker's connections (a fake in unit tests)."""

    raylet_address: str

    @property
    def raylet(self) -> Any:
        """The local raylet's stub."""

    @property
    def gcs(self) -> Any:
        """The GCS's stub (GetAllNodes: which nodes are dead)."""

    def raylet_at(self, address: pb.Address) -> Any:
        """A stub to the raylet at ``address``."""

    def worker(self, address: pb.Address) -> Any:
        """A stub to another process's CoreWorkerService."""

    def open_push_stream(self, worker: pb.Address, on_reply: Callable[[Any], None],
                         own_channel: bool = False, lease: pb.LeaseProof | None = None) -> tuple[Any, Any, Any]:
        """A PushTasks stream to a worker: ``(call, queue, channel)``."""


class _Lease:
    __slots__ = ("lease_id", "worker_id", "address", "key", "queue", "inflight", "call",
                 "reader", "dead", "linger", "avg_us", "last_result", "raylet", "raylet_address",
                 "single_use", "used", "node_died", "proof", "refused")

    def __init__(self, reply: rl.RequestWorkerLeaseReply, key: tuple, raylet=None, raylet_address: str = "") -> None:
        # The raylet that granted the lease (another node's after a spill-over):
        # the worker is returned there.
        self.raylet = raylet
        self.raylet_address = raylet_address
        self.lease_id = reply.lease_id
        #: Shown to the worker first on the lease's stream (lease_proof.py).
        self.proof = reply.proof if reply.HasField("proof") else None
        #: The worker refused the lease: to be returned once nothing is in flight.
        self.refused = False
        # SPREAD tasks each get a lease of their own (the raylet places each
        # one), so a lease is not reused for the next task of its class.
        self.single_use = key[2] == _SPREAD
        self.used = False
        self.worker_id = reply.worker_address.worker_id
        self.address = reply.worker_address
        self.key = key
        self.queue: Any = None  # the stream's request side (Connections.open_push_stream)
        self.inflight: dict[bytes, PendingTask] = {}
        self.call: Any = None
        self.reader: asyncio.Task | None = None
        self.dead = False
        self.linger: asyncio.TimerHandle | None = None
        # Moving average of how long a task takes on this worker, in
        # microseconds; unknown (slow) until the first result.
        self.avg_us: float = rspec.PIPELINING_UNKNOWN_AVG_US
        self.last_result = 0.0
        # Set when the GCS declared the worker's node dead: why.
        self.node_died: str | None = None

    def limit(self, queued: int, leases: int) -> int:
        """How many tasks may be in flight on this worker (submit_policy.inflight_limit)."""
        return inflight_limit(self.avg_us, queued, leases)


_SPREAD = pb.SchedulingStrategy(kind=pb.SCHEDULING_SPREAD).SerializeToString()


def stream_error_detail(error: BaseException | None) -> str:
    """What ended a PushTasks stream, for the error a caller sees."""
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error) if error is not None else "stream closed"


def scheduling_key(spec: pb.TaskSpec) -> tuple:
    """Tasks with equal keys can share a worker lease."""
    return (spec.language, tuple(sorted(spec.resources.items())), spec.scheduling.SerializeToString(deterministic=True),
            tuple(spec.code_search_path), spec.runtime_env)


class NormalTaskSubmitter:
    """Queues normal tasks per scheduling class and pushes them to leased workers."""

    def __init__(self, *, connections: LeaseConnections, finisher: TaskFinisher, node_id: bytes,
                 lingers: Callable[[], bool] | None = None) -> None:
        self._connections = connections
        #: Whether an idle lease lingers now (None: always, a driver); when not, it goes back at once.
        #: A worker's: while it runs a task (TaskExecutor.busy).
        self._lingers = lingers
        self._finisher = finisher
        self._node_id = node_id
        self._closed = False
        self._queues: dict[tuple, collections.deque] = collections.defaultdict(collections.deque)
        self._leases: dict[tuple, list[_Lease]] = collections.defaultdict(list)
        self._requesting: dict[tuple, int] = collections.defaultdict(int)
        self._tasks: dict[bytes, PendingTask] = {}
        # Tasks sent back to the queue uncharged from a dead worker's pipeline: how often.
        self._spared: dict[bytes, int] = {}
        self._node_watch: asyncio.Task | None = None
        #: on_generator_item(spec, item, k): a generator task's item k arrived (core/generators.py).
        self.on_generator_item: Callable[[pb.TaskSpec, pb.ReturnObject, int], None] | None = None

    # -- submission ----------------------------------------------------------
    def submit(self, task: PendingTask) -> None:
        """Queue a task (on the loop) and get it running."""
        self._tasks[task.spec.task_id] = task
        self._queues[task.key].append(task)
        self._dispatch(task.key)

    def hold(self, task: PendingTask) -> None:
        """Know a task that waits for its arguments (PENDING_ARGS): cancel() finds it; release() queues it."""
        self._tasks[task.spec.task_id] = task

    def release(self, task: PendingTask) -> None:
        """(On the loop.) Its arguments are ready: queue it, unless it was cancelled meanwhile."""
        if not task.cancelled and self._tasks.get(task.spec.task_id) is task:
            self._queues[task.key].append(task)
            self._dispatch(task.key)

    def _dispatch(self, key: tuple) -> None:
        q = self._queues[key]
        nleases = len(self._leases[key])
        for lease in self._leases[key]:
            if not q:
                break
            if lease.dead or lease.used:
                continue
            batch: list[PendingTask] = []
            limit = lease.limit(len(q), nleases)
            while q and len(lease.inflight) + len(batch) < limit:
                t = q.popleft()
                if t.cancelled:
                    continue
                batch.append(t)
            if batch:
                self._push(lease, batch)
                lease.used = lease.single_use
        # cancel() takes a queued task out of the queue itself; only drop
        # cancelled ones at the head (an O(n) rescan here made batches O(n^2)).
        while q and q[0].cancelled:
            q.popleft()
        for _ in range(lease_requests_to_start(len(q), self._requesting[key]) if q else 0):
            self._requesting[key] += 1
            asyncio.ensure_future(self._request_lease(key, q[0].spec, q[0].spec.attempt))
        for lease in self._leases[key]:
            self._maybe_linger(lease)

    def _push(self, lease: _Lease, batch: list[PendingTask]) -> None:
        if lease.linger is not None:
            lease.linger.cancel()
            lease.linger = None
        now = asyncio.get_running_loop().time()
        for t in batch:
            t.lease = lease
            t.pushed_at = now
            lease.inflight[t.spec.task_id] = t
        lease.queue.put_nowait([t.spec for t in batch])

    # -- leases --------------------------------------------------------------
    async def _request_lease(self, key: tuple, spec: pb.TaskSpec, attempt: int) -> None:
        """Ask the local raylet for a lease; when it answers ``retry_at`` (spill-over),
        ask that node's raylet, which grants or rejects (docs/protocol.md §7.1)."""
        conns = self._connections
        raylet, where = conns.raylet, conns.raylet_address
        view = _lease_view(spec)
        try:
            reply = await raylet.RequestWorkerLease(rl.RequestWorkerLeaseRequest(task=view))
            if (not reply.lease_id and not reply.HasField("failure") and not reply.canceled
                    and reply.retry_at.port):
                raylet, where = conns.raylet_at(reply.retry_at), f"{reply.retry_at.host}:{reply.retry_at.port}"
                reply = await raylet.RequestWorkerLease(
                    rl.RequestWorkerLeaseRequest(task=view, grant_or_reject=True))
        except grpc.aio.AioRpcError as e:
            self._requesting[key] -= 1
            if self._closed:
                return
            if raylet is not conns.raylet and e.code() in (grpc.StatusCode.UNAVAILABLE,
                                                          grpc.StatusCode.DEADLINE_EXCEEDED):
                # The node we were sent to went away: ask the local raylet again
                # (its view drops the node once the GCS declares it dead).
                await asyncio.sleep(SPILL_RETRY_S)
                self._dispatch(key)
                return
            record = errors.system_record(pb.RUNTIME_ERROR, f"the raylet at {where} did not grant a worker lease: "
                                                            f"{e.code().name}: {e.details()}")
            self._fail_queue(key, record)
            return
        self._requesting[key] -= 1
        if reply.HasField("failure") and (reply.failure.message or reply.failure.type_name):
            self._on_lease_failure(key, reply.failure, spec.task_id, attempt)
            return
        if reply.canceled:
            self._dispatch(key)
            return
        lease = _Lease(reply, key, raylet, where)
        q = self._queues[key]
        if not any(not t.cancelled for t in q) or self._closed:
            await self._return_lease(lease, disconnect=False)
            return
        self._leases[key].append(lease)
        self._open_stream(lease)
        if lease.address.node_id and lease.address.node_id != self._node_id and self._node_watch is None:
            self._node_watch = asyncio.ensure_future(self._watch_nodes())
        self._dispatch(key)

    def _on_lease_failure(self, key: tuple, failure: pb.ErrorRecord, task_id: bytes, attempt: int) -> None:
        """The raylet could not grant a lease (submit_policy.lease_failure). A
        worker that died before registering costs one attempt to the task the
        request was made for (``task_id`` at ``attempt``), and only while that
        task still waits in the queue at that attempt: a task already pushed
        elsewhere, or charged by another request's failure, is not charged
        again, so one task never absorbs the start failures of the requests
        made for it in one go. Once its retries are spent it fails alone. Any
        other failure fails the class."""
        q = self._queues[key]
        while q and q[0].cancelled:
            q.popleft()
        if failure.kind != pb.WORKER_CRASHED:
            self._fail_queue(key, failure)
            return
        t = self._tasks.get(task_id)
        if t is None or t.lease is not None or t.cancelled or t.spec.attempt != attempt or t.key != key:
            self._dispatch(key)  # nobody to charge: just ask again
            return
        spec = t.spec
        action = lease_failure(failure.kind, spec.attempt, spec.max_retries)
        if action == RETRY_TASK and not self._closed:
            spec.attempt += 1
            self._finisher.retry(spec, f"its worker died before registering: {failure.message}")
        elif action != FAIL_CLASS:
            try:
                q.remove(t)
            except ValueError:
                pass
            rec = pb.ErrorRecord()
            rec.CopyFrom(failure)
            rec.message = (f"the worker for task {spec.name} died before it registered, "
                           f"after {spec.attempt + 1} attempt(s): {failure.message}")
            self._finish_with_error(t, rec)
        self._dispatch(key)

    def _fail_queue(self, key: tuple, record: pb.ErrorRecord) -> None:
        q = self._queues[key]
        while q:
            t = q.popleft()
            self._finish_with_error(t, record)

    def _open_stream(self, lease: _Lease) -> None:
        lease.call, lease.queue, _ = self._connections.open_push_stream(
            lease.address, lambda reply: self._on_reply(lease, reply), lease=lease.proof)
        lease.reader = asyncio.ensure_future(self._read_replies(lease))

    async def _read_replies(self, lease: _Lease) -> None:
        error: BaseException | None = None
        try:
            async for reply in lease.call:
                self._on_reply(lease, reply)
        except (grpc.aio.AioRpcError, PushStreamError) as e:
            error = e
        except asyncio.CancelledError:
            return
        if error is None and lease.dead and not lease.inflight:
            return  # retired on purpose (linger expired or shutdown)
        self._on_stream_closed(lease, error)

    def _on_reply(self, lease: _Lease, reply: cw.PushTasksReply) -> None:
        for result in reply.results:
            self._on_result(lease, result)
        if lease.refused and not lease.inflight:
            lease.refused = False
            lease.queue.put_nowait(None)
            asyncio.ensure_future(self._return_lease(lease, disconnect=False))
        self._dispatch(lease.key)

    def _on_result(self, lease: _Lease, result: cw.TaskResult) -> None:
        if result.generator_item:
            running = lease.inflight.get(result.task_id)
            if running is not None and result.returns and self.on_generator_item is not None:
                self.on_generator_item(running.spec, result.returns[0], result.generator_item)
            return
        pipelined = len(lease.inflight) > 1
        t = lease.inflight.pop(result.task_id, None)
        if t is None:
            return
        now = asyncio.get_running_loop().time()
        # With several in flight, a task's own time is the gap since the
        # previous result; otherwise push-to-result.
        took = now - (max(lease.last_result, t.pushed_at) if pipelined else t.pushed_at)
        lease.last_result = now
        lease.avg_us = next_task_time_average(lease.avg_us, took * 1e6)
        if result.lease_refused:
            self._on_refused(lease, t, result)
            return
        spec = t.spec
        if (result.is_application_error and spec.retry_exceptions and can_retry(spec.attempt, spec.max_retries)
                and not t.cancelled):
            self._retry(t, "the task raised and retry_exceptions is set")
            return
        if result.worker_exiting:
            lease.dead = True
        self._finisher.complete(spec, result.returns, t.arg_ids)
        self._tasks.pop(spec.task_id, None)
        self._spared.pop(spec.task_id, None)

    def _on_refused(self, lease: _Lease, t: PendingTask, result: cw.TaskResult) -> None:
        """The worker refused the task: this caller's lease on it is missing,
        wrong or stale (docs/fault-tolerance.md, "Bad input"). The lease is
        dropped (returned once its stream is idle) and the task goes back to
        the queue for a new lease, charged as a retry; with none left it fails
        with the refusal (a LeaseRefused error)."""
        lease.dead = True
        if lease in self._leases[lease.key]:
            self._leases[lease.key].remove(lease)
            lease.refused = True  # returned by _on_reply once nothing is in flight
        spec = t.spec
        if can_retry(spec.attempt, spec.max_retries) and not t.cancelled:
            why = "the worker refused the lease"
            if result.returns:
                why += ": " + pb.ErrorRecord.FromString(result.returns[0].value.body).message
            self._retry(t, why)
            return
        self._finisher.complete(spec, result.returns, t.arg_ids)
        self._tasks.pop(spec.task_id, None)
        self._spared.pop(spec.task_id, None)

    # -- nodes the GCS declares dead ---------------------------------------------
    def _remote_leases(self) -> list[_Lease]:
        return [lease for leases in self._leases.values() for lease in leases
                if not lease.dead and lease.address.node_id and lease.address.node_id != self._node_id]

    async def _watch_nodes(self) -> None:
        """While leases are held on other nodes, read the GCS's node table every
        NODE_WATCH_S: a node declared dead ends its leases' streams (a vanished
        machine may never close them), so their tasks are retried or fail with
        NODE_DIED within the node timeout plus this interval."""
        try:
            while not self._closed and self._remote_leases():
                await asyncio.sleep(NODE_WATCH_S)
                if self._closed:
                    return
                try:
                    reply = await self._connections.gcs.GetAllNodes(gcs_pb.GetAllNodesRequest(),
                                                                    timeout=max(NODE_WATCH_S, NODE_PROBE_S))
                except grpc.aio.AioRpcError:
                    continue  # the GCS is away for a moment: ask again next time
                dead = {n.node_id: n.death_reason for n in reply.nodes if not n.alive}
                for lease in self._remote_leases():
                    if lease.address.node_id in dead:
                        self._on_node_died(lease, dead[lease.address.node_id] or "declared dead by the GCS")
        finally:
            self._node_watch = None

    def _on_node_died(self, lease: _Lease, why: str) -> None:
        """The GCS declared ``lease``'s node dead: end its stream now."""
        lease.node_died = why
        if lease.reader is not None:
            lease.reader.cancel()
        if isinstance(lease.call, PushConnection):
            lease.call.close()
        elif lease.call is not None and hasattr(lease.call, "cancel"):
            lease.call.cancel()
        self._on_stream_closed(lease, None)

    def _on_stream_closed(self, lease: _Lease, error: BaseException | None) -> None:
        lease.dead = True
        lease.queue.put_nowait(None)  # ends the request generator
        if lease in self._leases[lease.key]:
            self._leases[lease.key].remove(lease)
        pending = list(lease.inflight.values())
        lease.inflight.clear()
        # The worker runs its tasks one after another and sends each result at
        # once, so only the oldest task in flight was running when it died; the
        # ones pipelined behind it never started there and go back to the queue
        # uncharged (at most SPARE_LIMIT times each, in case results were lost).
        spare = [] if self._closed else [
            t for t in pending[1:]
            if not t.cancelled and self._spared.get(t.spec.task_id, 0) < SPARE_LIMIT]
        for t in reversed(spare):
            self._spared[t.spec.task_id] = self._spared.get(t.spec.task_id, 0) + 1
            t.lease = None
            self._queues[t.key].appendleft(t)
        spared = {id(t) for t in spare}
        for t in pending:
            if id(t) in spared:
                continue
            self._hold_args_after_death(t)
            spec = t.spec
            if t.cancelled:
                rec = errors.system_record(pb.TASK_CANCELLED, f"task {spec.name} was cancelled")
                self._finish_with_error(t, rec)
            elif can_retry(spec.attempt, spec.max_retries) and not self._closed:
                what = f"its node died: {lease.node_died}" if lease.node_died else "its worker died"
                self._retry(t, f"{what}: {stream_error_detail(error)}")
            elif lease.node_died is not None:
                self._finish_with_error(t, errors.system_record(
                    pb.NODE_DIED,
                    f"the node {lease.address.node_id.hex()} running task {spec.name} died (the GCS declared "
                    f"it dead: {lease.node_died}) after {spec.attempt + 1} attempt(s)"))
            else:
                detail = stream_error_detail(error)
                asyncio.ensure_future(self._fail_lost(t, lease, detail))
        asyncio.ensure_future(self._return_lease(lease, disconnect=True))
        self._dispatch(lease.key)

    async def _fail_lost(self, t: PendingTask, lease: _Lease, detail: str) -> None:
        """Fail a task whose worker is gone: NODE_DIED when the worker's raylet
        does not answer either (its node died), else WORKER_CRASHED."""
        spec = t.spec
        node_dead = False
        if lease.address.node_id and lease.address.node_id != self._node_id and lease.raylet is not None:
            try:
                await lease.raylet.GetNodeStats(rl.GetNodeStatsRequest(), timeout=NODE_PROBE_S)
            except grpc.aio.AioRpcError:
                node_dead = True
        if node_dead:
            rec = errors.system_record(
                pb.NODE_DIED,
                f"the node {lease.address.node_id.hex()} running task {spec.name} died (its raylet at "
                f"{lease.raylet_address} does not answer) after {spec.attempt + 1} attempt(s): {detail}")
        else:
            rec = errors.system_record(
                pb.WORKER_CRASHED,
                f"the worker running task {spec.name} (worker {lease.worker_id.hex()[:12]}) died "
                f"after {spec.attempt + 1} attempt(s): {detail}")
        self._finish_with_error(t, rec)

    def _retry(self, t: PendingTask, why: str) -> None:
        t.spec.attempt += 1
        t.lease = None
        self._finisher.retry(t.spec, why)
        self._queues[t.key].appendleft(t)

    def _maybe_linger(self, lease: _Lease) -> None:
        if lease.used and not lease.dead and not lease.inflight:
            self._expire(lease, force=True)
            return
        if lease.dead or lease.inflight or lease.linger is not None or self._queues[lease.key]:
            return
        loop = asyncio.get_running_loop()
        delay = LEASE_LINGER_S if self._lingers is None or self._lingers() else WORKER_IDLE_LEASE_LINGER_S
        # A zero linger still waits for the loop's next turn: tasks submitted in this one reuse the lease.
        lease.linger = loop.call_later(delay, self._expire, lease)

    def _expire(self, lease: _Lease, force: bool = False) -> None:
        lease.linger = None
        if lease.inflight or (self._queues[lease.key] and not force) or lease.dead:
            return
        lease.dead = True
        if lease in self._leases[lease.key]:
            self._leases[lease.key].remove(lease)
        lease.queue.put_nowait(None)
        asyncio.ensure_future(self._return_lease(lease, disconnect=False))

    async def _return_lease(self, lease: _Lease, disconnect: bool) -> None:
        try:
            await (lease.raylet or self._connections.raylet).ReturnWorker(
                rl.ReturnWorkerRequest(lease_id=lease.lease_id, worker_id=lease.worker_id, disconnect=disconnect),
                timeout=RETURN_WORKER_TIMEOUT_S)
        except grpc.aio.AioRpcError:
            pass

    # -- completion ----------------------------------------------------------
    def _hold_args_after_death(self, t: PendingTask) -> None:
        """The executor died running ``t``: keep its arguments ARGS_GRACE_S past
        the failure or retry, for the "added" of a process it handed one to."""
        if t.arg_ids:
            self._finisher.hold_args(t.arg_ids)
            asyncio.get_running_loop().call_later(ARGS_GRACE_S, self._finisher.release_args, list(t.arg_ids))

    def _finish_with_error(self, t: PendingTask, record: pb.ErrorRecord) -> None:
        self._tasks.pop(t.spec.task_id, None)
        self._spared.pop(t.spec.task_id, None)
        self._finisher.fail(t.spec, record, t.arg_ids)

    # -- cancellation --------------------------------------------------------
    async def cancel(self, task_id: bytes, force: bool, recursive: bool = False) -> bool:
        """Cancel a queued or running task; False when it is unknown (finished). ``recursive``:
        the worker running it also cancels the tasks it submitted (CancelTaskRequest.recursive)."""
        t = self._tasks.get(task_id)
        if t is None:
            return False
        t.cancelled = True
        if t.lease is None:
            self._queues[t.key] = collections.deque(x for x in self._queues[t.key] if x is not t)
            self._finish_with_error(t, errors.system_record(
                pb.TASK_CANCELLED, f"task {t.spec.name} was cancelled before it ran"))
            return True
        t.force_cancelled = force
        stub = self._connections.worker(t.lease.address)
        try:
            await stub.CancelTask(cw.CancelTaskRequest(task_id=task_id, force=force, recursive=recursive), timeout=10)
        except grpc.aio.AioRpcError:
            pass
        return True

    async def cancel_children(self, parent_task_id: bytes, force: bool) -> int:
        """Cancel (recursively) the tasks this process submitted from task ``parent_task_id``:
        Ray's recursive cancel, on the worker whose task was cancelled. Returns how many."""
        children = [tid for tid, t in self._tasks.items() if t.spec.parent_task_id == parent_task_id]
        for tid in children:
            await self.cancel(tid, force, recursive=True)
        return len(children)

    async def close(self) -> None:
        """Return every lease (shutdown; the CoreWorker closes the channels)."""
        self._closed = True
        if self._node_watch is not None:
            self._node_watch.cancel()
        for leases in list(self._leases.values()):
            for lease in list(leases):
                lease.dead = True
                lease.queue.put_nowait(None)
                if isinstance(lease.call, PushConnection):
                    lease.call.close()
                if lease.linger is not None:
                    lease.linger.cancel()
                await self._return_lease(lease, disconnect=False)


def _lease_view(spec: pb.TaskSpec) -> pb.TaskSpec:
    """The task as the raylet needs it: without argument values (they can be big)."""
    view = pb.TaskSpec()
    view.CopyFrom(spec)
    del view.args[:]
    del view.kwargs[:]
    # Each lease request is its own (the raylet keys requests by task id);
    # the lease then serves whichever queued tasks come first.
    view.task_id = os.urandom(20) + spec.task_id[20:]
    return view
