"""Submitting actor method calls: one ordered stream per (caller, actor).

Invariants: calls to one actor are written to its stream in submission
order (sequence numbers rise by one per call). Calls made before the actor is
ALIVE wait in `pending`; once the actor is DEAD every pending and later call
fails with ActorDiedError carrying the death cause. Every call is reported to
the TaskFinisher exactly once. Runs on the event loop.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any, Protocol

import grpc

from polyray.core import errors
from polyray.core.pending_task import PendingTask
from polyray.core.push_port import PushConnection, PushStreamError
from polyray.core.task_finisher import TaskFinisher
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
                 "call", "channel", "watching", "reader")

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


class ActorTaskSubmitter:
    """Orders and pushes actor calls; learns actor state from the GCS."""

    def __init__(self, *, connections: ActorConnections, finisher: TaskFinisher) -> None:
        self._connections = connections
        self._finisher = finisher
        self._closed = False
        self._actors: dict[bytes, _ActorQueue] = {}

    def submit(self, task: PendingTask) -> None:
        aq = self._actors.get(task.spec.actor_id)
        if aq is None:
            aq = self._actors[task.spec.actor_id] = _ActorQueue(task.spec.actor_id)
        if aq.state == gcs.DEAD:
            self._finisher.fail(task.spec, self._died(aq, task.spec), task.arg_ids)
            return
        if aq.state == gcs.ALIVE and aq.queue is not None:
            self._push(aq, [task])
        else:
            aq.pending.append(task)
            self._watch(aq)

    def _died(self, aq: _ActorQueue, spec: pb.TaskSpec) -> pb.ErrorRecord:
        cause = aq.death
        msg = f"the actor {aq.actor_id.hex()} died before it could run {spec.name}"
        if cause is not None and cause.kind == pb.ACTOR_DIED:
            inner = cause.cause if cause.HasField("cause") else None
            return errors.system_record(pb.ACTOR_DIED, cause.message or msg, cause=inner)
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
            t = aq.inflight.pop(result.task_id, None)
            if t is not None:
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
        # flight cannot be known to have run; fail them, then learn the state.
        inflight = list(aq.inflight.values())
        aq.inflight.clear()
        if aq.queue is not None:
            aq.queue.put_nowait(None)  # ends the request generator
        aq.queue = None
        if aq.channel is not None:
            await aq.channel.close(grace=None)
            aq.channel = None
        info_state, cause = await self._final_state(aq)
        if info_state == gcs.DEAD:
            self._mark_dead(aq, cause, extra=inflight)
            return
        for t in inflight:
            self._finisher.fail(t.spec, errors.system_record(
                pb.ACTOR_DIED, f"the actor {aq.actor_id.hex()} died while running {t.spec.name}; it is restarting",
                cause=cause), t.arg_ids)
        aq.state = info_state
        self._watch(aq)

    async def _final_state(self, aq: _ActorQueue) -> tuple[gcs.ActorState, pb.ErrorRecord | None]:
        for _ in range(60):
            try:
                reply = await self._connections.gcs.GetActorInfo(
                    gcs.GetActorInfoRequest(actor_id=aq.actor_id, wait_for_change=True, known_state=gcs.ALIVE),
                    timeout=5)
                info = reply.actor
                if info.state == gcs.ALIVE and aq.address is not None and info.address.port == aq.address.port:
                    continue
                return info.state, (info.death_cause if info.HasField("death_cause") else None)
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    continue
                break
        return gcs.DEAD, errors.system_record(pb.ACTOR_DIED, f"lost contact with actor {aq.actor_id.hex()}")

    def _mark_dead(self, aq: _ActorQueue, cause: pb.ErrorRecord | None, extra: list | None = None) -> None:
        aq.state = gcs.DEAD
        aq.death = cause
        failed = list(extra or []) + list(aq.pending) + list(aq.inflight.values())
        aq.pending.clear()
        aq.inflight.clear()
        for t in failed:
            self._finisher.fail(t.spec, self._died(aq, t.spec), t.arg_ids)

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
