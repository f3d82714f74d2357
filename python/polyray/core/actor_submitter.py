"""Submitting actor method calls: one ordered stream per (caller, actor).

Invariants: calls to one actor are written to its stream in submission
order (sequence numbers rise by one per call). Calls made before the actor is
ALIVE, or while it restarts, wait in `pending` (no retry spent). When the
stream breaks, each call in flight is decided by the spec's policy
"actor_call" (`submit_policy.actor_call`): retried on the next incarnation
while its `max_task_retries` allows (attempt + 1; -1 forever), ahead of the
waiting calls and in sequence order, else failed. Once the actor is DEAD
every pending and later call fails with ActorDiedError carrying the death
cause (and its reason). Every call is reported to the TaskFinisher exactly
once. Runs on the event loop.

Arguments are resolved here, before a call enters its stream (as Ray's
caller-side dependency resolution): a call whose top-level ref arguments
(owned here or borrowed) are not ready yet waits in ``unresolved``, so the
actor never blocks on it and other callers' calls run meanwhile; this
caller's later calls wait behind it (a caller's calls start in submission
order). ``resolve(task, on_ready)`` says whether a call must wait and then
calls ``on_ready`` on the loop once its arguments are ready (value or error).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any, Protocol

import grpc

from polyray.core import errors, submit_policy
from polyray.core.pending_task import PendingTask
from polyray.core.push_port import PushConnection, PushStreamError
from polyray.core.task_finisher import ARGS_GRACE_S, TaskFinisher
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs


class ActorConnections(Protocol):
    """What the actor submitter needs of the CoreWorker's connections (a fake in unit tests)."""

    @property
    def gcs(self) -> Any:
        """The GCS's stub (actor state)."""

    def open_push_stream(self, worker: pb.Address, on_reply: Callable[[Any], None],
                         own_channel: bool = False) -> tuple[Any, Any, Any]:
        """A PushTasks stream to a worker: ``(call, queue, channel)``."""

# How long one wait on the GCS for an actor's state change may last; the
# wait is repeated, so an actor that takes longer to start is not an error.
ACTOR_WATCH_S = 30.0


class _ActorQueue:
    __slots__ = ("actor_id", "state", "address", "death", "pending", "inflight", "queue",
                 "call", "channel", "watching", "reader", "recovering", "unresolved", "waiting")

    def __init__(self, actor_id: bytes) -> None:
        self.actor_id = actor_id
        self.state = gcs.PENDING_CREATION
        self.address: pb.Address | None = None
        self.death: pb.ErrorRecord | None = None
        self.pending: collections.deque[PendingTask] = collections.deque()
        self.inflight: dict[bytes, PendingTask] = {}
        self.queue = None  # the stream's request side (CoreWorker.open_push_stream)
        self.call = None
        self.channel: grpc.aio.Channel | None = None
        self.watching = False
        self.reader: asyncio.Task | None = None
        # True from a stream break until its calls in flight are requeued:
        # only that path connects to the next incarnation, retried calls first.
        self.recovering = False
        # Calls (in submission order) held until their own and every earlier
        # call's arguments are ready; ``waiting``: the task ids still waiting.
        self.unresolved: collections.deque[PendingTask] = collections.deque()
        self.waiting: set[bytes] = set()


# resolve(task, on_ready) -> True when the task must wait (on_ready is then called on the loop once).
ArgResolver = Callable[[PendingTask, Callable[[], None]], bool]


class ActorTaskSubmitter:
    """Orders and pushes actor calls; learns actor state from the GCS."""

    def __init__(self, *, connections: ActorConnections, finisher: TaskFinisher,
                 resolve: ArgResolver | None = None) -> None:
        self._connections = connections
        self._finisher = finisher
        self.resolve = resolve
        self._closed = False
        self._actors: dict[bytes, _ActorQueue] = {}
        #: discard_returns(returns): a result nobody reads (a cancelled call's value): free and release it.
        self.discard_returns: Callable[[list[pb.ReturnObject]], None] | None = None
        #: on_generator_item(spec, item, k): a generator method's item k arrived (core/generators.py).
        self.on_generator_item: Callable[[pb.TaskSpec, pb.ReturnObject, int], None] | None = None

    def submit(self, task: PendingTask) -> None:
        aq = self._actors.get(task.spec.actor_id)
        if aq is None:
            aq = self._actors[task.spec.actor_id] = _ActorQueue(task.spec.actor_id)
        if task.arg_ids and self.resolve is not None and aq.state != gcs.DEAD \
                and self.resolve(task, lambda: self._args_ready(aq, task)):
            aq.waiting.add(task.spec.task_id)
        if aq.unresolved or aq.waiting:
            aq.unresolved.append(task)
            if aq.state != gcs.ALIVE and not aq.recovering:
                self._watch(aq)  # the stream is ready by the time the arguments are
            return
        self._enqueue(aq, task)

    def _args_ready(self, aq: _ActorQueue, task: PendingTask) -> None:
        """(On the loop.) ``task``'s arguments are ready: send the calls at the head that wait for nothing."""
        aq.waiting.discard(task.spec.task_id)
        while aq.unresolved and aq.unresolved[0].spec.task_id not in aq.waiting:
            self._enqueue(aq, aq.unresolved.popleft())

    def _enqueue(self, aq: _ActorQueue, task: PendingTask) -> None:
        if aq.state == gcs.DEAD:
            self._finisher.fail(task.spec, self._died(aq, task.spec), task.arg_ids)
            return
        if aq.state == gcs.ALIVE and aq.queue is not None:
            self._push(aq, [task])
        else:
            aq.pending.append(task)
            if not aq.recovering:
                self._watch(aq)

    def _died(self, aq: _ActorQueue, spec: pb.TaskSpec) -> pb.ErrorRecord:
        cause = aq.death
        msg = f"the actor {aq.actor_id.hex()} died before it could run {spec.name}"
        if cause is not None and cause.kind == pb.ACTOR_DIED:
            inner = cause.cause if cause.HasField("cause") else None
            record = errors.system_record(pb.ACTOR_DIED, cause.message or msg, cause=inner)
            record.reason = cause.reason
            record.exit_code = cause.exit_code
            return record
        return errors.system_record(pb.ACTOR_DIED, msg, cause=cause)

    def _watch(self, aq: _ActorQueue) -> None:
        if not aq.watching:
            aq.watching = True
            asyncio.ensure_future(self._watch_loop(aq))

    async def _watch_loop(self, aq: _ActorQueue) -> None:
        known = aq.state
        try:
            while not self._closed:
                try:
                    reply = await self._connections.gcs.GetActorInfo(
                        gcs.GetActorInfoRequest(actor_id=aq.actor_id, wait_for_change=True, known_state=known),
                        timeout=ACTOR_WATCH_S)
                except grpc.aio.AioRpcError as e:
                    if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                        continue
                    if e.code() == grpc.StatusCode.NOT_FOUND:
                        self._mark_dead(aq, errors.system_record(
                            pb.ACTOR_DIED, f"the GCS does not know actor {aq.actor_id.hex()}"))
                        return
                    await asyncio.sleep(0.5)
                    continue
                info = reply.actor
                known = info.state
                if info.state == gcs.DEAD:
                    self._mark_dead(aq, info.death_cause if info.HasField("death_cause") else None)
                    return
                if info.state == gcs.ALIVE:
                    if not aq.recovering:
                        self._connect(aq, info.address)
                    return
        finally:
            aq.watching = False

    def _connect(self, aq: _ActorQueue, address: pb.Address) -> None:
        aq.state = gcs.ALIVE
        aq.address = address
        aq.call, aq.queue, aq.channel = self._connections.open_push_stream(
            address, lambda reply: self._on_reply(aq, reply), own_channel=True)
        aq.reader = asyncio.ensure_future(self._read(aq, aq.call))
        batch = list(aq.pending)
        aq.pending.clear()
        if batch:
            self._push(aq, batch)

    def _push(self, aq: _ActorQueue, batch: list[PendingTask]) -> None:
        for t in batch:
            aq.inflight[t.spec.task_id] = t
        assert aq.queue is not None
        aq.queue.put_nowait([t.spec for t in batch])

    def _on_reply(self, aq: _ActorQueue, reply) -> None:
        for result in reply.results:
            if result.generator_item:
                running = aq.inflight.get(result.task_id)
                if running is not None and result.returns and self.on_generator_item is not None:
                    self.on_generator_item(running.spec, result.returns[0], result.generator_item)
                continue
            t = aq.inflight.pop(result.task_id, None)
            if t is not None:
                if t.cancelled and not any(r.WhichOneof("kind") == "value" and r.value.format == pb.FORMAT_ERROR
                                           for r in result.returns):
                    # As Ray: a sync method cancelled while it ran is not interrupted (it sees
                    # is_canceled()); what it returns after that is TaskCancelledError to its caller.
                    self._finisher.fail(t.spec, errors.system_record(
                        pb.TASK_CANCELLED, f"task {t.spec.name} was cancelled while running"), t.arg_ids)
                    if self.discard_returns is not None:
                        self.discard_returns(list(result.returns))
                else:
                    self._finisher.complete(t.spec, result.returns, t.arg_ids)
            if result.worker_exiting:
                aq.state = gcs.RESTARTING

    async def _read(self, aq: _ActorQueue, call) -> None:
        try:
            async for reply in call:
                self._on_reply(aq, reply)
            if aq.state == gcs.ALIVE and not self._closed:
                aq.state = gcs.RESTARTING
        except (grpc.aio.AioRpcError, PushStreamError):
            aq.state = gcs.RESTARTING
        except asyncio.CancelledError:
            return
        if self._closed:
            return
        # The stream broke: the actor's process is gone (or going). Calls in
        # flight cannot be known to have run: learn the state, then retry
        # those whose max_task_retries allows and fail the rest.
        aq.recovering = True
        try:
            await self._recover(aq)
        finally:
            aq.recovering = False

    async def _recover(self, aq: _ActorQueue) -> None:
        inflight = sorted(aq.inflight.values(), key=lambda t: t.spec.sequence_no)
        aq.inflight.clear()
        loop = asyncio.get_running_loop()
        for t in inflight:  # the actor may have handed an argument on before it died
            if t.arg_ids:
                self._finisher.hold_args(t.arg_ids)
                loop.call_later(ARGS_GRACE_S, self._finisher.release_args, list(t.arg_ids))
        if aq.queue is not None:
            aq.queue.put_nowait(None)  # ends the request generator
        aq.queue = None
        if aq.channel is not None:
            await aq.channel.close(grace=None)
            aq.channel = None
        info = await self._final_state(aq)
        cause = info.death_cause if info.HasField("death_cause") else None
        if info.state == gcs.DEAD:
            self._mark_dead(aq, cause, extra=inflight)
            return
        retry: list[PendingTask] = []
        for t in inflight:
            if t.cancelled:  # as Ray: a cancelled call is not run again
                self._finisher.fail(t.spec, errors.system_record(
                    pb.TASK_CANCELLED, f"task {t.spec.name} was cancelled"), t.arg_ids)
                continue
            decision = submit_policy.actor_call(True, "RESTARTING", t.spec.max_task_retries, t.spec.attempt)
            if decision == submit_policy.RETRY:
                t.spec.attempt += 1
                retry.append(t)
            else:
                last = info.last_death_cause if info.HasField("last_death_cause") else cause
                record = errors.system_record(
                    pb.ACTOR_DIED, f"the actor {aq.actor_id.hex()} died while running {t.spec.name} "
                    f"(attempt {t.spec.attempt}, max_task_retries={t.spec.max_task_retries}); it is restarting",
                    cause=last)
                if last is not None:
                    record.reason = last.reason
                    record.exit_code = last.exit_code
                self._finisher.fail(t.spec, record, t.arg_ids)
        # Retried calls go first: they were sent before anything still waiting.
        aq.pending.extendleft(reversed(retry))
        if info.state == gcs.ALIVE:
            self._connect(aq, info.address)
            return
        aq.state = info.state
        self._watch(aq)

    async def _final_state(self, aq: _ActorQueue) -> gcs.ActorInfo:
        for _ in range(60):
            try:
                reply = await self._connections.gcs.GetActorInfo(
                    gcs.GetActorInfoRequest(actor_id=aq.actor_id, wait_for_change=True, known_state=gcs.ALIVE),
                    timeout=5)
                info = reply.actor
                if info.state == gcs.ALIVE and aq.address is not None and info.address.port == aq.address.port:
                    continue
                return info
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    continue
                break
        return gcs.ActorInfo(actor_id=aq.actor_id, state=gcs.DEAD, death_cause=errors.system_record(
            pb.ACTOR_DIED, f"lost contact with actor {aq.actor_id.hex()}"))

    def _mark_dead(self, aq: _ActorQueue, cause: pb.ErrorRecord | None, extra: list | None = None) -> None:
        aq.state = gcs.DEAD
        aq.death = cause
        failed = list(extra or []) + list(aq.pending) + list(aq.inflight.values()) + list(aq.unresolved)
        aq.unresolved.clear()
        aq.waiting.clear()
        aq.pending.clear()
        aq.inflight.clear()
        for t in failed:
            self._finisher.fail(t.spec, self._died(aq, t.spec), t.arg_ids)

    def knows(self, task_id: bytes) -> bool:
        """Whether ``task_id`` is a call of this caller not finished yet."""
        return any(task_id in aq.inflight or any(t.spec.task_id == task_id for t in (*aq.unresolved, *aq.pending))
                   for aq in self._actors.values())

    def cancel(self, task_id: bytes) -> pb.Address | None | bool:
        """Cancel a call of this caller: one not sent yet (waiting for its arguments or for the
        actor) fails with TaskCancelledError now; for one sent, the actor's address is returned
        (the caller asks the actor: an async call's asyncio task is cancelled, a queued call
        never runs). False: not a call of this caller (finished, or never made here)."""
        for aq in self._actors.values():
            for waiting in (aq.unresolved, aq.pending):
                for t in waiting:
                    if t.spec.task_id == task_id:
                        waiting.remove(t)
                        aq.waiting.discard(task_id)
                        t.cancelled = True
                        self._finisher.fail(t.spec, errors.system_record(
                            pb.TASK_CANCELLED, f"task {t.spec.name} was cancelled before it ran"), t.arg_ids)
                        # Calls behind it that wait for nothing else go now, in order.
                        while aq.unresolved and aq.unresolved[0].spec.task_id not in aq.waiting:
                            self._enqueue(aq, aq.unresolved.popleft())
                        return None
            sent = aq.inflight.get(task_id)
            if sent is not None and aq.address is not None:
                sent.cancelled = True
                return aq.address
        return False

    def children_of(self, parent_task_id: bytes) -> list[bytes]:
        """The unfinished calls of this caller submitted by task ``parent_task_id`` (waiting or
        sent), in submission order per actor: what Ray's recursive cancel reaches."""
        found: list[bytes] = []
        for aq in self._actors.values():
            for t in (*aq.inflight.values(), *aq.pending, *aq.unresolved):
                if t.spec.parent_task_id == parent_task_id:
                    found.append(t.spec.task_id)
        return found

    def actor_state(self, actor_id: bytes) -> int | None:
        """This caller's view of the actor's state (None if never called)."""
        aq = self._actors.get(actor_id)
        return aq.state if aq else None

    async def close(self) -> None:
        """Close every actor stream (shutdown)."""
        self._closed = True
        for aq in self._actors.values():
            if aq.queue is not None:
                aq.queue.put_nowait(None)
            if isinstance(aq.call, PushConnection):
                aq.call.close()
            if aq.reader is not None:
                aq.reader.cancel()
            if aq.channel is not None:
                await aq.channel.close(grace=None)
