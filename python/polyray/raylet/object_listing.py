"""ListObjects: the object references of every process of this node.

The state API's `list objects` and `memory` (docs/observability.md,
"Objects") ask each alive node's raylet; the raylet asks every registered
worker and driver of its node for a page of its references
(CoreWorkerService/GetObjectRefs), all at once, and answers with the replies
that came within the bound. A process that does not answer in time (stopped,
busy, gone) or fails is named in ``unanswered``: the listing is partial, never
late. Rows over ``limit`` in all are cut (the processes' ``total`` still
counts every reference), so one reply stays bounded whatever the node holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from polyray.protocol import auth, raylet_pb2
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol.runtime_spec import (
    RPC_MAX_MESSAGE_BYTES,
    STATE_LIST_OBJECTS_TIMEOUT_MS,
    STATE_MAX_OBJECT_REFS_PER_REPLY,
)

#: The longest wait a caller may ask for.
MAX_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Process:
    """A worker or driver of this node, and where its CoreWorkerService listens."""

    worker_id: bytes
    target: str


#: Asks one process: (process, request, timeout in s) -> its reply (raises when it fails).
Ask = Callable[[Process, cw.GetObjectRefsRequest, float], Awaitable[cw.GetObjectRefsReply]]


def bounds(limit: int, timeout_ms: int, time_remaining: float | None) -> tuple[int, float]:
    """The rows and the wait (s) of one ListObjects: 0 means the spec's default;
    the caller's own deadline, when sooner, cuts the wait (with a little left to answer)."""
    cap = STATE_MAX_OBJECT_REFS_PER_REPLY
    rows = cap if limit <= 0 or limit > cap else limit
    wait = min(timeout_ms or STATE_LIST_OBJECTS_TIMEOUT_MS, MAX_TIMEOUT_MS) / 1000
    if time_remaining is not None:
        wait = max(0.0, min(wait, time_remaining - 0.1))
    return rows, wait


async def list_objects(node_id: bytes, processes: Sequence[Process], ask: Ask, limit: int,
                       timeout_s: float) -> raylet_pb2.ListObjectsReply:
    """Ask every process at once; answer with what came within ``timeout_s``
    (at most ``limit`` rows in all, in the order of ``processes``)."""
    reply = raylet_pb2.ListObjectsReply(node_id=node_id, asked=len(processes))
    if not processes:
        return reply
    request = cw.GetObjectRefsRequest(limit=limit)
    calls = [asyncio.ensure_future(ask(p, request, timeout_s)) for p in processes]
    _, pending = await asyncio.wait(calls, timeout=timeout_s)
    for call in pending:
        call.cancel()
    room = limit
    for p, call in zip(processes, calls, strict=True):
        if call in pending or call.cancelled() or call.exception() is not None:
            reply.unanswered.append(p.worker_id)
            continue
        got: cw.GetObjectRefsReply = call.result()
        if len(got.objects) > room:
            del got.objects[room:]
            if room:
                got.next_page_token = got.objects[-1].object_id
        room -= len(got.objects)
        reply.processes.append(got)
    return reply


async def ask_over_grpc(process: Process, request: cw.GetObjectRefsRequest,
                        timeout_s: float) -> cw.GetObjectRefsReply:
    """One GetObjectRefs over a fresh channel (closed after)."""
    options = [("grpc.max_receive_message_length", RPC_MAX_MESSAGE_BYTES)]
    async with auth.aio_channel(process.target, options=options) as channel:
        return await cw_grpc.CoreWorkerServiceStub(channel).GetObjectRefs(request, timeout=timeout_s)
