"""Fakes shared by the CoreWorker component tests: a manual clock, raylets, a GCS, streams, a finisher.

Nothing here opens a socket to another process or starts a thread: a fake
stub's call awaits a future the test resolves (``FakeRaylet.grant``,
``FakeGcs.answer``), a fake stream records what the submitter pushes and
yields the replies the test writes, and ``ManualLoop`` is an asyncio loop
whose clock moves only when the test advances it. The actions a test takes
through these fakes run the loop until it is idle, so a test reads as a
sequence of steps, each followed by the submitter's decision.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from polyray.core.pending_task import PendingTask
from polyray.core.push_port import PushStreamError
from polyray.core.task_submitter import scheduling_key
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import runtime_spec as rspec

LOCAL_NODE = b"L" * rspec.IDS_NODE_BYTES
LOCAL_RAYLET = pb.Address(node_id=LOCAL_NODE, host="local", port=7000)


def rpc_error(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    """The error a grpc.aio call raises (what the components catch)."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


# -- the clock -------------------------------------------------------------------

class ManualLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` moves only by ``advance``.

    The loop is never left running: ``settle`` runs it one iteration at a
    time (each with a zero select timeout, so no real time passes) until
    nothing is ready and no timer is due. Time is kept in integer
    microseconds so that a timer set for "now + linger" falls due exactly
    when the test has advanced by the linger.
    """

    def __init__(self) -> None:
        super().__init__()
        self._now_us = 0

    def time(self) -> float:
        return self._now_us / 1e6

    def _due(self) -> bool:
        now = self.time() + self._clock_resolution  # type: ignore[attr-defined]
        return any(not h.cancelled() and h.when() < now for h in self._scheduled)  # type: ignore[attr-defined]

    def _step(self) -> None:
        # stop() queued behind what is ready: run_forever does exactly one iteration.
        self.call_soon(self.stop)
        self.run_forever()

    def settle(self, max_steps: int = 1000) -> None:
        """Run ready callbacks and due timers until the loop is idle."""
        for _ in range(max_steps):
            self._step()
            if not self._ready and not self._due():  # type: ignore[attr-defined]
                return
        raise AssertionError(f"the loop did not become idle in {max_steps} iterations")

    def advance(self, *, s: float = 0, ms: float = 0, us: int = 0) -> None:
        """Move the clock forward, firing every timer that falls due on the way, in order."""
        target = self._now_us + round(s * 1e6) + round(ms * 1e3) + us
        self.settle()
        for _ in range(10_000):
            whens = [h.when() for h in self._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
            nxt = min((w for w in whens if w * 1e6 <= target + 1e-6), default=None)
            if nxt is None:
                break
            # Stop at each timer in turn: one that fires may set another within this advance.
            # (ceil less a hair: the timer's float `when` is due at its microsecond.)
            self._now_us = max(self._now_us, min(target, math.ceil(nxt * 1e6 - 1e-6)))
            self.settle()
        self._now_us = target
        self.settle()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the loop (components call get_running_loop), then settle."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn(*args)
            except BaseException as e:  # re-raised in the test
                box["error"] = e
        self.call_soon(run)
        self.settle()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def run_coro(self, coro: Any) -> Any:
        """Run a coroutine that must finish without outside help; its result."""
        task = self.create_task(coro)
        self.settle()
        assert task.done(), "the coroutine still waits on something the test has not done"
        return task.result()

    def shut(self) -> None:
        """Cancel what still waits (fake RPCs nobody answered) and close the loop."""
        tasks = [t for t in asyncio.all_tasks(self) if not t.done()]
        for t in tasks:
            t.cancel()
        self.settle()
        self.close()


# -- what the submitters report ---------------------------------------------------

class RecordingFinisher:
    """A TaskFinisher that records every report, keyed by task name."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []  # (complete|fail|retry, name), in order
        self.completed: dict[str, list[pb.ReturnObject]] = {}
        self.failed: dict[str, pb.ErrorRecord] = {}
        self.retried: list[tuple[str, int, str]] = []  # (name, attempt at the retry, why)
        self.released: list[bytes] = []  # arg ids handed back by complete/fail/release_args
        self.held: list[bytes] = []  # arg ids counted again by hold_args (an executor's death)

    def complete(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        assert spec.name not in self.completed and spec.name not in self.failed, f"{spec.name} ended twice"
        self.events.append(("complete", spec.name))
        self.completed[spec.name] = list(returns)
        self.released += arg_ids

    def fail(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        assert spec.name not in self.completed and spec.name not in self.failed, f"{spec.name} ended twice"
        self.events.append(("fail", spec.name))
        self.failed[spec.name] = record
        self.released += arg_ids

    def hold_args(self, arg_ids: list[bytes]) -> None:
        self.held += arg_ids

    def release_args(self, arg_ids: list[bytes]) -> None:
        self.released += arg_ids

    def counted(self, arg_id: bytes) -> int:
        """Counts of an argument taken (the submit's and hold_args') and not released."""
        return 1 + self.held.count(arg_id) - self.released.count(arg_id)

    def retry(self, spec: pb.TaskSpec, why: str) -> None:
        self.events.append(("retry", spec.name))
        # The spec is the submitter's own and changes later: copy what matters now.
        self.retried.append((spec.name, spec.attempt, why))

    def ended(self, name: str) -> bool:
        return name in self.completed or name in self.failed


# -- raylets ----------------------------------------------------------------------

class LeaseCall:
    """One RequestWorkerLease the fake raylet has not answered yet (or has)."""

    def __init__(self, request: rl.RequestWorkerLeaseRequest, reply: asyncio.Future) -> None:
        self.request = request
        self.reply = reply


class FakeRaylet:
    """A raylet stub: lease requests wait until the test answers them, oldest first."""

    _workers = itertools.count(1)

    def __init__(self, loop: ManualLoop, address: pb.Address) -> None:
        self.loop = loop
        self.address = address
        self.requests: list[LeaseCall] = []
        self.returned: list[rl.ReturnWorkerRequest] = []
        self.alive = True  # False: GetNodeStats fails as for a dead node
        self.unreachable = False  # True: RequestWorkerLease fails UNAVAILABLE

    async def RequestWorkerLease(self, request: rl.RequestWorkerLeaseRequest, timeout: float | None = None,
                                 **_: Any) -> rl.RequestWorkerLeaseReply:
        if self.unreachable:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, f"{self.address.host} is gone")
        call = LeaseCall(request, self.loop.create_future())
        self.requests.append(call)
        return await call.reply

    async def ReturnWorker(self, request: rl.ReturnWorkerRequest, timeout: float | None = None,
                           **_: Any) -> rl.ReturnWorkerReply:
        self.returned.append(request)
        return rl.ReturnWorkerReply()

    async def GetNodeStats(self, request: rl.GetNodeStatsRequest, timeout: float | None = None,
                           **_: Any) -> rl.GetNodeStatsReply:
        if not self.alive:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "node down")
        return rl.GetNodeStatsReply(node_id=self.address.node_id)

    def waiting(self) -> list[LeaseCall]:
        """Lease requests not answered yet, oldest first."""
        return [c for c in self.requests if not c.reply.done()]

    def _answer(self, reply: rl.RequestWorkerLeaseReply) -> LeaseCall:
        pending = self.waiting()
        assert pending, f"no lease request is waiting at the raylet {self.address.host}"
        pending[0].reply.set_result(reply)
        self.loop.settle()
        return pending[0]

    def grant(self) -> pb.Address:
        """Grant the oldest waiting request a new worker on this node; that worker's address."""
        n = next(self._workers)
        worker = pb.Address(node_id=self.address.node_id, host=self.address.host, port=20000 + n,
                            worker_id=n.to_bytes(4, "big") * 7)
        proof = pb.LeaseProof(lease_id=b"lease-%d" % n, seq=n, proof=b"proof-%d" % n)
        self._answer(rl.RequestWorkerLeaseReply(lease_id=b"lease-%d" % n, worker_address=worker, worker_pid=n,
                                                proof=proof))
        return worker

    def spill_to(self, address: pb.Address) -> None:
        self._answer(rl.RequestWorkerLeaseReply(retry_at=address))

    def fail_with(self, record: pb.ErrorRecord) -> None:
        self._answer(rl.RequestWorkerLeaseReply(failure=record))


# -- push streams -----------------------------------------------------------------

_END = object()


class FakeStream:
    """Both halves of a PushTasks stream to one worker.

    The request half (``put_nowait``) records each list of specs the
    submitter pushes (None: it has nothing more to push). The call half is
    an async iterator over the replies the test writes; the test can end it
    cleanly or break it (a dead worker).
    """

    def __init__(self, loop: ManualLoop, worker: pb.Address, own_channel: bool) -> None:
        self.loop = loop
        self.worker = worker
        self.own_channel = own_channel
        self.lease: pb.LeaseProof | None = None
        self.sent: list[list[pb.TaskSpec]] = []
        self.half_closed = False
        self._replies: asyncio.Queue = asyncio.Queue()

    # request side (what the submitter calls)
    def put_nowait(self, specs: list[pb.TaskSpec] | None) -> None:
        if specs is None:
            self.half_closed = True
            return
        assert not self.half_closed, "pushed after the stream was half-closed"
        # Copies: the submitter later changes a spec in place (attempt on retry).
        self.sent.append([self._copy(s) for s in specs])

    @staticmethod
    def _copy(spec: pb.TaskSpec) -> pb.TaskSpec:
        c = pb.TaskSpec()
        c.CopyFrom(spec)
        return c

    # call side
    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> cw.PushTasksReply:
        item = await self._replies.get()
        if item is _END:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    # what the test does
    def tasks(self) -> list[pb.TaskSpec]:
        """Every spec pushed on this stream, in order."""
        return [s for batch in self.sent for s in batch]

    def names(self) -> list[str]:
        return [s.name for s in self.tasks()]

    def reply(self, *results: cw.TaskResult) -> None:
        self._replies.put_nowait(cw.PushTasksReply(results=list(results)))
        self.loop.settle()

    def succeed(self, *specs: pb.TaskSpec) -> None:
        """One reply with a result (one return) for each of ``specs``."""
        self.reply(*(cw.TaskResult(task_id=s.task_id, returns=[pb.ReturnObject(object_id=s.task_id + b"r")])
                     for s in specs))

    def break_it(self, error: BaseException | None = None) -> None:
        """The worker died: the read fails as a broken push connection does."""
        self._replies.put_nowait(error or PushStreamError("push connection reset by the worker"))
        self.loop.settle()

    def end(self) -> None:
        """The worker closed its side normally."""
        self._replies.put_nowait(_END)
        self.loop.settle()


# -- the GCS (actor state) ---------------------------------------------------------

class FakeGcs:
    """A GCS stub whose GetActorInfo waits until the test answers, oldest first."""

    def __init__(self, loop: ManualLoop) -> None:
        self.loop = loop
        self.requests: list[tuple[gcs.GetActorInfoRequest, asyncio.Future]] = []
        #: The node table GetAllNodes answers with (set by the test).
        self.nodes: list[gcs.NodeInfo] = []
        self.node_reads = 0

    async def GetAllNodes(self, request: gcs.GetAllNodesRequest, timeout: float | None = None,
                          **_: Any) -> gcs.GetAllNodesReply:
        self.node_reads += 1
        return gcs.GetAllNodesReply(nodes=self.nodes)

    async def GetActorInfo(self, request: gcs.GetActorInfoRequest, timeout: float | None = None,
                           **_: Any) -> gcs.GetActorInfoReply:
        fut = self.loop.create_future()
        self.requests.append((request, fut))
        return await fut

    def waiting(self) -> list[gcs.GetActorInfoRequest]:
        return [r for r, f in self.requests if not f.done()]

    def _resolve(self, set_it: Callable[[gcs.GetActorInfoRequest, asyncio.Future], None]) -> gcs.GetActorInfoRequest:
        waiting = [(r, f) for r, f in self.requests if not f.done()]
        assert waiting, "nobody is waiting on GetActorInfo"
        request, fut = waiting[0]
        set_it(request, fut)
        self.loop.settle()
        return request

    def answer(self, state: int, address: pb.Address | None = None,
               death_cause: pb.ErrorRecord | None = None) -> gcs.GetActorInfoRequest:
        """Answer the oldest waiting GetActorInfo; returns the request it answered."""
        def set_it(request: gcs.GetActorInfoRequest, fut: asyncio.Future) -> None:
            info = gcs.ActorInfo(actor_id=request.actor_id, state=state)  # type: ignore[arg-type]
            if address is not None:
                info.address.CopyFrom(address)
            if death_cause is not None:
                info.death_cause.CopyFrom(death_cause)
            fut.set_result(gcs.GetActorInfoReply(actor=info))
        return self._resolve(set_it)

    def raise_(self, code: grpc.StatusCode) -> gcs.GetActorInfoRequest:
        """Fail the oldest waiting GetActorInfo with ``code``."""
        return self._resolve(lambda _, fut: fut.set_exception(rpc_error(code)))


# -- connections --------------------------------------------------------------------

class FakeWorkerStub:
    """A worker's CoreWorkerService stub: records cancels."""

    def __init__(self) -> None:
        self.cancels: list[cw.CancelTaskRequest] = []

    async def CancelTask(self, request: cw.CancelTaskRequest, timeout: float | None = None,
                         **_: Any) -> cw.CancelTaskReply:
        self.cancels.append(request)
        return cw.CancelTaskReply()


class FakeConnections:
    """LeaseConnections and ActorConnections over the fakes above."""

    def __init__(self, loop: ManualLoop) -> None:
        self.loop = loop
        self.raylet_address = f"{LOCAL_RAYLET.host}:{LOCAL_RAYLET.port}"
        self.local = FakeRaylet(loop, LOCAL_RAYLET)
        self.others: dict[int, FakeRaylet] = {}  # other nodes' raylets by port
        self.gcs = FakeGcs(loop)
        self.streams: list[FakeStream] = []
        self.workers: dict[int, FakeWorkerStub] = {}

    @property
    def raylet(self) -> FakeRaylet:
        return self.local

    def raylet_at(self, address: pb.Address) -> FakeRaylet:
        if address.port == LOCAL_RAYLET.port:
            return self.local
        r = self.others.get(address.port)
        if r is None:
            r = self.others[address.port] = FakeRaylet(self.loop, address)
        return r

    def worker(self, address: pb.Address) -> FakeWorkerStub:
        return self.workers.setdefault(address.port, FakeWorkerStub())

    def open_push_stream(self, worker: pb.Address, on_reply: Callable[[Any], None],
                         own_channel: bool = False, lease: pb.LeaseProof | None = None,
                         ) -> tuple[FakeStream, FakeStream, None]:
        # Replies come through the iteration, as on a gRPC stream; on_reply is the push port's path.
        s = FakeStream(self.loop, worker, own_channel)
        s.lease = lease  # the lease proof the stream shows first
        self.streams.append(s)
        return s, s, None

    @property
    def last_stream(self) -> FakeStream:
        assert self.streams, "no stream was opened"
        return self.streams[-1]


# -- tasks ------------------------------------------------------------------------

_task_ids = itertools.count(1)


def task_spec(name: str, *, max_retries: int = 0, resources: dict[str, float] | None = None,
              retry_exceptions: bool = False, actor_id: bytes = b"") -> pb.TaskSpec:
    """A task spec with a fresh task id."""
    n = next(_task_ids)
    task_id = n.to_bytes(4, "big") + bytes(rspec.IDS_TASK_BYTES - 4)
    return pb.TaskSpec(task_id=task_id, name=name, language=pb.PYTHON, max_retries=max_retries,
                       resources={"CPU": 1.0} if resources is None else resources,
                       retry_exceptions=retry_exceptions, actor_id=actor_id,
                       type=pb.ACTOR_TASK if actor_id else pb.NORMAL_TASK)


def pending(spec: pb.TaskSpec, arg_ids: list[bytes] | None = None) -> PendingTask:
    return PendingTask(spec, list(arg_ids or []), scheduling_key(spec))


# -- owners of borrowed objects -----------------------------------------------------

class FakeCall:
    """A unary call the test answers: awaitable, cancellable (raises CANCELLED, as grpc.aio)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, request: Any) -> None:
        self.request = request
        self._fut: asyncio.Future = loop.create_future()
        self.cancelled = False

    def __await__(self):
        return self._fut.__await__()

    def answer(self, reply: Any) -> None:
        self._fut.set_result(reply)

    def fail(self, code: grpc.StatusCode, details: str = "") -> None:
        self._fut.set_exception(rpc_error(code, details))

    @property
    def open(self) -> bool:
        return not self._fut.done()

    def cancel(self) -> bool:
        if self._fut.done():
            return False
        self.cancelled = True
        self._fut.set_exception(rpc_error(grpc.StatusCode.CANCELLED, "cancelled by the caller"))
        return True


class FakeOwnerStub:
    """An owner's CoreWorkerService: records GetObjects / GetObject / UpdateBorrows
    calls; the test answers each (``answer_ready`` answers ids by ``values``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.calls: list[FakeCall] = []       # GetObjects
        self.singles: list[FakeCall] = []     # GetObject
        self.borrows: list[FakeCall] = []     # UpdateBorrows
        self.unimplemented = False

    def GetObjects(self, request: cw.GetObjectsRequest, timeout: float | None = None, **_: Any) -> FakeCall:
        call = FakeCall(self.loop, request)
        self.calls.append(call)
        if self.unimplemented:
            call.fail(grpc.StatusCode.UNIMPLEMENTED)
        return call

    def GetObject(self, request: cw.GetObjectRequest, timeout: float | None = None, **_: Any) -> FakeCall:
        call = FakeCall(self.loop, request)
        self.singles.append(call)
        return call

    def UpdateBorrows(self, request: cw.UpdateBorrowsRequest, timeout: float | None = None,
                      **_: Any) -> FakeCall:
        call = FakeCall(self.loop, request)
        self.borrows.append(call)
        return call

    @property
    def open_calls(self) -> list[FakeCall]:
        return [c for c in self.calls if c.open]

    @staticmethod
    def inline_reply(oid: bytes, value: bytes = b"v") -> cw.GetObjectReply:
        return cw.GetObjectReply(found=True, object=pb.ReturnObject(
            object_id=oid, value=pb.Envelope(format=pb.FORMAT_RAW, body=value), size=len(value)))
