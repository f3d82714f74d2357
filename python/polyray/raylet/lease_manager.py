"""The scheduler: worker leases against the node's resources.

A lease request waits in a FIFO queue of its scheduling class (language, job,
resources, and the class for actor creation) until the resources it asks for
are available; then a worker is taken from the pool (or started) and the
lease is granted. ReturnWorker gives the resources back and lets the next
queued request in. A request that exceeds the node's total can never fit and
fails at once.

Before queueing, a request that may spill (``grant_or_reject`` unset) is
placed by ``scheduling_policy.decide``: it may be answered with ``retry_at``
(another node's raylet), wait as infeasible until a node that fits joins
(the driver is warned through the job's log channel), or fail. Queued
requests that do not fit here are spilled when the cluster view shows room
elsewhere (``respill``). Requests in a placement group bundle draw on the
bundle's pool (``bundles.py``) instead of the node's.

Resources of a lease: a normal task asks for its spec's resources, with
{"CPU": 1} added when the spec names no CPU amount (Ray's default). An actor
creation task asks for exactly the resources in its spec: the driver puts
what the actor holds for its lifetime there (Ray's default being none), so
an actor with no resources neither waits for nor holds a CPU.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from polyray.protocol import common_pb2, lease_proof, raylet_pb2
from polyray.raylet.bundles import BundleTable, GroupLookup, bundle_pool, unschedulable
from polyray.raylet.cluster_view import ClusterView, RemoteNode
from polyray.raylet.resources import NodeResources, ResourceSet, format_resources
from polyray.raylet.scheduling_policy import Where, decide
from polyray.raylet.worker_pool import WorkerPool
from polyray.raylet.worker_process import WorkerProcess, WorkerStartError, WorkerState

log = logging.getLogger(__name__)

LEASE_ID_SIZE = 16


def lease_resources(spec: common_pb2.TaskSpec) -> ResourceSet:
    """The resources a lease for ``spec`` holds (ValueError for a negative amount)."""
    amounts = dict(spec.resources)
    if spec.type == common_pb2.NORMAL_TASK and "CPU" not in amounts:
        amounts["CPU"] = 1.0
    return ResourceSet(amounts)


def runtime_error(message: str, type_name: str) -> common_pb2.ErrorRecord:
    """An ErrorRecord of kind RUNTIME_ERROR raised by the raylet."""
    return common_pb2.ErrorRecord(
        kind=common_pb2.RUNTIME_ERROR,
        type_name=type_name,
        message=message,
        language=common_pb2.PYTHON,
    )


def start_failure(exc: WorkerStartError) -> common_pb2.ErrorRecord:
    """The failure of a lease whose worker did not come up. A process that
    exited, was killed or missed its registration deadline is WORKER_CRASHED
    (the caller charges its task one attempt and asks again; the policy
    "lease_failure" of the runtime spec); a launcher that cannot start
    anything stays RUNTIME_ERROR (the caller fails the scheduling class)."""
    if not exc.crashed:
        return runtime_error(str(exc), "WorkerStartError")
    record = common_pb2.ErrorRecord(
        kind=common_pb2.WORKER_CRASHED,
        type_name="WorkerCrashedError",
        message=str(exc),
        language=common_pb2.PYTHON,
        reason=common_pb2.REASON_PROCESS_EXITED,
    )
    if exc.exit_code is not None:
        record.exit_code = exc.exit_code
    return record


class _State(enum.Enum):
    QUEUED = "queued"
    STARTING = "starting"  # resources held, worker being found or started
    DONE = "done"


@dataclass
class Lease:
    """A granted lease: a worker and the resources it holds."""

    lease_id: bytes
    worker: WorkerProcess
    resources: ResourceSet
    task_id: bytes
    granted_at: float = field(default_factory=time.monotonic)
    #: What the lease holds now: its resources, less the CPUs lent back to
    #: the node while its worker is blocked in get().
    held: ResourceSet | None = None
    blocked: bool = False
    #: Orders blocked leases: a later block has a higher number (lease_manager's _block_seq).
    blocked_seq: int = 0
    #: The worker or driver that asked for the lease (TaskSpec.caller): when it
    #: dies, its leases come back. Empty for actor leases (the GCS owns those).
    owner: bytes = b""
    #: The pool the resources came from: the node's, or a placement group bundle's.
    pool: NodeResources | None = None
    #: The holder's CoreWorker address (TaskSpec.caller), watched by
    #: lease_holders.py; None for actor leases.
    holder: common_pb2.Address | None = None
    #: The node's GPU indices the lease holds (its worker's CUDA_VISIBLE_DEVICES).
    gpu_ids: tuple[str, ...] = ()

    def holding(self) -> ResourceSet:
        """The resources to give back when the lease ends."""
        return self.resources if self.held is None else self.held


@dataclass(eq=False)
class _Request:
    spec: common_pb2.TaskSpec
    resources: ResourceSet
    key: tuple[object, ...]
    reply: asyncio.Future[raylet_pb2.RequestWorkerLeaseReply]
    pool: NodeResources
    state: _State = _State.QUEUED
    #: May go to another node while queued (DEFAULT strategy, not spilled here).
    spillable: bool = False
    #: Waiting for a node that can ever hold it (no queue, no resources).
    infeasible: bool = False
    #: GPU indices assigned when the resources were taken (STARTING).
    gpu_ids: tuple[str, ...] = ()
    #: The other nodes it may spill to (its label selector); None: any.
    allow: Callable[[RemoteNode], bool] | None = None


#: Tells a job's driver something (job id, line).
Warn = Callable[[bytes, str], None]


class LeaseManager:
    """Queues lease requests, grants them as resources allow, takes leases back."""

    def __init__(self, node_id: bytes, host: str, resources: NodeResources, pool: WorkerPool,
                 view: ClusterView | None = None, lookup_group: GroupLookup | None = None,
                 refresh_view: Callable[[], Awaitable[None]] | None = None,
                 warn: Warn | None = None, labels: dict[str, str] | None = None) -> None:
        self._node_id = node_id
        #: This node's labels (label_selector, docs/cluster.md "Node labels").
        self.labels = dict(labels or {})
        self._host = host
        self.resources = resources
        self._pool = pool
        self.view = view or ClusterView(node_id)
        self.bundles = BundleTable(resources)
        self._lookup_group = lookup_group
        self._refresh_view = refresh_view
        self._warn = warn or (lambda job, line: log.warning("%s", line))
        self._queues: dict[tuple[object, ...], collections.deque[_Request]] = {}
        self._by_task: dict[bytes, _Request] = {}
        self.leases: dict[bytes, Lease] = {}
        self._grants: set[asyncio.Task[None]] = set()
        #: When a caller last asked for or returned a lease (caller worker id -> monotonic s).
        self._heard: dict[bytes, float] = {}
        #: Workers blocked in get() while holding a lease: worker id -> when (a sequence number).
        self._blocked: dict[bytes, int] = {}
        self._block_seq = 0

    # -- requests ------------------------------------------------------------

    async def request(
        self, spec: common_pb2.TaskSpec, grant_or_reject: bool = False
    ) -> raylet_pb2.RequestWorkerLeaseReply:
        """Wait for and return a lease for ``spec`` (or a retry_at, failure or
        canceled reply).

        Raises ValueError for a request that is malformed. If the caller is
        cancelled, its request is dropped (and a lease granted in that very
        moment is returned).
        """
        if spec.type == common_pb2.ACTOR_TASK:
            raise ValueError("actor tasks go to their actor's worker; they take no lease")
        if not spec.task_id:
            raise ValueError("the task spec has no task_id")
        if spec.task_id in self._by_task:
            raise ValueError(f"a lease request for task {spec.task_id.hex()} is already pending")
        if spec.type != common_pb2.ACTOR_CREATION_TASK and spec.caller.worker_id:
            self._heard[spec.caller.worker_id] = time.monotonic()
        resources = lease_resources(spec)
        pool = self.resources
        spillable = False
        allow: Callable[[RemoteNode], bool] | None = None
        if spec.scheduling.kind == common_pb2.SCHEDULING_PLACEMENT_GROUP:
            found = await self._placement_group_pool(spec, resources, grant_or_reject)
            if isinstance(found, raylet_pb2.RequestWorkerLeaseReply):
                return found
            pool = found
        elif not grant_or_reject:
            decision = decide(spec, resources, self.resources, self._node_id, self.view, self.labels)
            if decision.where is Where.FAIL and self._refresh_view is not None:
                await self._refresh_view()  # a node that joined a moment ago
                decision = decide(spec, resources, self.resources, self._node_id, self.view, self.labels)
            if decision.where is Where.SPILL and decision.node is not None:
                return self._spill(decision.node, resources)
            if decision.where is Where.FAIL:
                return raylet_pb2.RequestWorkerLeaseReply(
                    failure=runtime_error(decision.message, "TaskUnschedulableError"))
            if decision.where is Where.INFEASIBLE:
                return await self._wait_feasible(spec, resources, decision.message)
            spillable = spec.scheduling.kind == common_pb2.SCHEDULING_DEFAULT
            allow = decision.allow
        if not pool.can_ever_fit(resources):
            missing = resources.missing_from(pool.total)
            what = "this node" if pool is self.resources else "its placement group bundle"
            return raylet_pb2.RequestWorkerLeaseReply(
                failure=runtime_error(
                    f"task {spec.name or spec.task_id.hex()} asks for {resources}, which {what} "
                    f"can never provide: its total is {pool.total} "
                    f"(short of {format_resources(missing)})",
                    "ResourcesInfeasibleError",
                )
            )
        key: tuple[object, ...] = (spec.language, spec.job_id, resources.key(), id(pool))
        if spec.type == common_pb2.ACTOR_CREATION_TASK:
            key += (spec.function.SerializeToString(deterministic=True),)
        req = _Request(spec, resources, key, asyncio.get_running_loop().create_future(), pool,
                       spillable=spillable, allow=allow)
        self._queues.setdefault(key, collections.deque()).append(req)
        self._by_task[spec.task_id] = req
        self._dispatch()
        try:
            return await asyncio.shield(req.reply)
        except asyncio.CancelledError:
            self._abandon(req)
            raise

    def _spill(self, node: RemoteNode, resources: ResourceSet) -> raylet_pb2.RequestWorkerLeaseReply:
        self.view.charge(node, resources.to_dict())
        return raylet_pb2.RequestWorkerLeaseReply(retry_at=node.address)

    # -- infeasible requests and spill-over of queued ones ------------------------

    async def _wait_feasible(
        self, spec: common_pb2.TaskSpec, resources: ResourceSet, why: str = ""
    ) -> raylet_pb2.RequestWorkerLeaseReply:
        """No node can ever hold ``resources`` (or none matches the label
        selectors, ``why``): warn the driver, then wait until one joins
        (answered by :meth:`respill`) or the request is canceled."""
        req = _Request(spec, resources, (), asyncio.get_running_loop().create_future(), self.resources,
                       infeasible=True)
        self._by_task[spec.task_id] = req
        why = why or (f"it asks for {resources}, and no node of the cluster has that much "
                      f"(this node: {self.resources.total}; {self.view.describe()})")
        self._warn(spec.job_id, (
            f"Warning: the task {spec.name or spec.task_id.hex()} cannot be scheduled right now: "
            f"{why}. It will run as soon as a node that fits joins the cluster."))
        try:
            return await asyncio.shield(req.reply)
        except asyncio.CancelledError:
            self._abandon(req)
            raise

    def respill(self) -> None:
        """The cluster view changed: send infeasible requests to a node that now
        fits, and queued requests that do not fit here now to a node with room."""
        for req in list(self._by_task.values()):
            if req.infeasible and req.state is _State.QUEUED:
                decision = decide(req.spec, req.resources, self.resources, self._node_id, self.view, self.labels)
                if decision.where is Where.SPILL and decision.node is not None:
                    self._finish(req, self._spill(decision.node, req.resources))
        for key in list(self._queues):
            queue = self._queues[key]
            while queue and queue[0].spillable and not queue[0].pool.fits(queue[0].resources):
                node = self.view.best_available(queue[0].resources.to_dict(), queue[0].allow)
                if node is None:
                    break
                req = queue.popleft()
                self._finish(req, self._spill(node, req.resources))
            if not queue:
                del self._queues[key]

    # -- placement groups -------------------------------------------------------

    async def _placement_group_pool(
        self, spec: common_pb2.TaskSpec, resources: ResourceSet, grant_or_reject: bool
    ) -> NodeResources | raylet_pb2.RequestWorkerLeaseReply:
        return await bundle_pool(self.bundles, self.view, self._node_id, spec, resources, grant_or_reject,
                                 self._lookup_group, self._refresh_view)

    def prepare_bundles(self, bundles: list[raylet_pb2.Bundle]) -> tuple[bool, str]:
        """Reserve placement group bundles here (all or none)."""
        ok, why = self.bundles.prepare(bundles)
        return ok, why

    def cancel_bundles(self, pg_id: bytes) -> int:
        """Release a group's bundles; stop the workers leased in them and fail
        requests queued for them. Returns how many bundles were released."""
        pools = self.bundles.cancel(pg_id)
        ids = {id(p) for p in pools}
        for req in list(self._by_task.values()):
            if id(req.pool) in ids and req.state is not _State.DONE:
                self._cancel(req, unschedulable(f"placement group {pg_id.hex()} was removed"))
        for lease in [held for held in self.leases.values() if id(held.pool) in ids]:
            if lease.worker.actor_id:
                # Killed, not stopped: the death is reported, so the GCS ends the actor.
                lease.worker.kill_reason = f"its placement group {pg_id.hex()} was removed"
                self._pool.kill(lease.worker, True)
            else:
                self.return_worker(lease.lease_id, b"", disconnect=True)
        self._dispatch()
        return len(pools)

    def _abandon(self, req: _Request) -> None:
        # The caller went away (RPC cancelled or past its deadline).
        if req.reply.done():
            reply = req.reply.result()
            if reply.lease_id:
                self.return_worker(reply.lease_id, reply.worker_address.worker_id, disconnect=False)
            return
        self._cancel(req)

    def cancel(self, task_id: bytes) -> bool:
        """CancelWorkerLease: drop a request not granted yet; True if there was one."""
        req = self._by_task.get(task_id)
        if req is None or req.state is _State.DONE:
            return False
        self._cancel(req)
        return True

    def _cancel(self, req: _Request, reply: raylet_pb2.RequestWorkerLeaseReply | None = None) -> None:
        if req.state is _State.QUEUED and not req.infeasible:
            queue = self._queues.get(req.key)
            if queue is not None:
                queue.remove(req)
                if not queue:
                    del self._queues[req.key]
        elif req.state is _State.STARTING:
            # The worker being started still comes up and joins the idle pool.
            req.pool.release(req.resources, req.gpu_ids)
        self._finish(req, reply or raylet_pb2.RequestWorkerLeaseReply(canceled=True))
        self._dispatch()

    def _finish(self, req: _Request, reply: raylet_pb2.RequestWorkerLeaseReply) -> None:
        req.state = _State.DONE
        if self._by_task.get(req.spec.task_id) is req:
            del self._by_task[req.spec.task_id]
        if not req.reply.done():
            req.reply.set_result(reply)

    @property
    def pending_count(self) -> int:
        """Requests not granted yet (queued or waiting for a worker)."""
        return len(self._by_task)

    # -- granting --------------------------------------------------------------

    def _dispatch(self) -> None:
        # Per class, the head of the queue goes first; a head that does not
        # fit blocks its class (FIFO) but not the other classes. Every request
        # of a class asks for the same resources, so when the head fits, any
        # does: the children of the most recently blocked caller go first
        # (_next), so a CPU lent by a task blocked in get() runs the tasks it
        # waits for, and a tree of blocking tasks is run depth first rather
        # than breadth first (fewer tasks blocked at once, fewer workers).
        for key in list(self._queues):
            queue = self._queues[key]
            while queue and queue[0].pool.fits(queue[0].resources):
                req = self._next(queue)
                req.gpu_ids = req.pool.acquire(req.resources)
                req.state = _State.STARTING
                task = asyncio.create_task(self._grant(req))
                self._grants.add(task)
                task.add_done_callback(self._grants.discard)
            if not queue:
                del self._queues[key]

    def _next(self, queue: collections.deque[_Request]) -> _Request:
        """Take the request to grant next from a non-empty queue: the oldest
        one made by the most recently blocked caller, else the head."""
        blocked = self._blocked
        if blocked:
            best: _Request | None = None
            best_seq = 0
            for req in queue:
                seq = blocked.get(req.spec.caller.worker_id, 0)
                if seq > best_seq:
                    best, best_seq = req, seq
            if best is not None:
                queue.remove(best)
                return best
        return queue.popleft()

    async def _grant(self, req: _Request) -> None:
        spec = req.spec
        try:
            worker = await self._pool.pop_worker(
                spec.language, spec.job_id, tuple(spec.code_search_path), spec.runtime_env,
                gpu_ids=req.gpu_ids,
            )
        except WorkerStartError as exc:
            if req.state is _State.STARTING:
                req.pool.release(req.resources, req.gpu_ids)
                self._finish(req, raylet_pb2.RequestWorkerLeaseReply(failure=start_failure(exc)))
                self._dispatch()
            return
        if req.state is not _State.STARTING:
            # Cancelled while the worker was coming up: keep it for the next lease.
            self._pool.push_idle(worker)
            return
        lease = Lease(os.urandom(LEASE_ID_SIZE), worker, req.resources, spec.task_id, pool=req.pool,
                      gpu_ids=req.gpu_ids)
        if spec.type != common_pb2.ACTOR_CREATION_TASK:
            lease.owner = spec.caller.worker_id
            lease.holder = common_pb2.Address()
            lease.holder.CopyFrom(spec.caller)
        worker.state = WorkerState.LEASED
        worker.lease_id = lease.lease_id
        if spec.type == common_pb2.ACTOR_CREATION_TASK:
            worker.actor_id = spec.actor_id
        self.leases[lease.lease_id] = lease
        self._finish(
            req,
            raylet_pb2.RequestWorkerLeaseReply(
                lease_id=lease.lease_id,
                worker_address=common_pb2.Address(
                    node_id=self._node_id, host=self._host, port=worker.port,
                    worker_id=worker.worker_id, push_port=worker.push_port,
                ),
                worker_pid=worker.reported_pid or worker.pid,
                proof=lease_proof.make(worker.lease_key, lease.lease_id, spec.caller.worker_id)
                if worker.lease_key else None,
                gpu_ids=lease.gpu_ids,
            ),
        )

    # -- returning -------------------------------------------------------------

    def return_worker(self, lease_id: bytes, worker_id: bytes, disconnect: bool) -> bool:
        """Take a lease back; the worker goes idle, or is stopped when
        ``disconnect`` is set or it hosted an actor. False for an unknown lease
        (already returned, or its worker died): returning is idempotent."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return False
        if worker_id and worker_id != lease.worker.worker_id:
            raise ValueError(
                f"lease {lease_id.hex()} is held by worker {lease.worker.worker_id.hex()}, "
                f"not {worker_id.hex()}"
            )
        del self.leases[lease_id]
        self._blocked.pop(lease.worker.worker_id, None)
        if lease.owner:
            self._heard[lease.owner] = time.monotonic()
        self._pool_of(lease).release(lease.holding(), lease.gpu_ids)
        worker = lease.worker
        worker.lease_id = None
        if disconnect or worker.actor_id or not worker.alive:
            why = "returned with disconnect" if disconnect else "its actor's lease ended"
            self._pool.stop_worker(worker, why)
        else:
            self._pool.push_idle(worker)
        self._dispatch()
        return True

    def on_worker_exit(self, worker: WorkerProcess) -> Lease | None:
        """Drop the lease of a worker that exited; the lease it had, if any."""
        lease = self.leases.pop(worker.lease_id, None) if worker.lease_id else None
        self._blocked.pop(worker.worker_id, None)
        if lease is not None:
            self._pool_of(lease).release(lease.holding(), lease.gpu_ids)
            self._dispatch()
        return lease

    def release_owner(self, owner: bytes) -> int:
        """A caller exited: drop its queued requests and take back its leases,
        stopping their workers (one may still run the caller's task, whose
        result nobody reads; pushed idle it would hold up the next lease).
        Returns how many leases came back."""
        if not owner:
            return 0
        for req in list(self._by_task.values()):
            if req.state is _State.DONE:
                continue
            if req.spec.type != common_pb2.ACTOR_CREATION_TASK and req.spec.caller.worker_id == owner:
                self._cancel(req)
        owned = [held for held in self.leases.values() if held.owner == owner]
        for lease in owned:
            self.return_worker(lease.lease_id, b"", disconnect=True)
        self._heard.pop(owner, None)
        return len(owned)

    # -- holders (watched by lease_holders.py) -------------------------------------

    def holders(self) -> dict[bytes, common_pb2.Address]:
        """The holders of leases and of pending requests: caller worker id (a
        lease id for a lease whose caller named none) -> caller address."""
        found: dict[bytes, common_pb2.Address] = {}
        for lease in self.leases.values():
            if lease.holder is not None:
                found.setdefault(lease.owner or lease.lease_id, lease.holder)
        for req in self._by_task.values():
            spec = req.spec
            if req.state is not _State.DONE and spec.type != common_pb2.ACTOR_CREATION_TASK \
                    and spec.caller.worker_id:
                found.setdefault(spec.caller.worker_id, spec.caller)
        for key in [k for k in self._heard if k not in found]:
            del self._heard[key]
        return found

    def last_heard(self, key: bytes) -> float:
        """When the holder ``key`` last asked for or returned a lease (monotonic s)."""
        heard = self._heard.get(key)
        if heard is not None:
            return heard
        lease = self.leases.get(key)
        return lease.granted_at if lease is not None else float("-inf")

    def release_holder(self, key: bytes, why: str) -> int:
        """The holder ``key`` is gone (``why``): return its leases (stopping
        their workers) and cancel its pending requests. Returns how many
        leases came back."""
        lease = self.leases.get(key)
        if lease is not None and not lease.owner:
            log.warning("lease %s: %s; returning it", key.hex(), why)
            return int(self.return_worker(key, b"", disconnect=True))
        log.warning("the caller %s holding leases here is gone: %s", key.hex(), why)
        return self.release_owner(key)

    def set_blocked(self, worker_id: bytes, blocked: bool) -> bool:
        """Lend a blocked worker's CPUs to the node, or take them back (as far
        as they are free: a resumed worker may briefly oversubscribe the node,
        as in Ray). False when the worker holds no lease."""
        lease = next((held for held in self.leases.values() if held.worker.worker_id == worker_id), None)
        if lease is None or lease.blocked == blocked:
            return lease is not None
        held = lease.holding()
        pool = self._pool_of(lease)
        if blocked:
            cpu = held.get("CPU")
            lent = ResourceSet({"CPU": cpu}) if cpu else ResourceSet()
            lease.held = held - lent
            lease.blocked = True
            self._block_seq += 1
            lease.blocked_seq = self._block_seq
            self._blocked[worker_id] = self._block_seq
            pool.release(lent)
            self._dispatch()
        else:
            self._blocked.pop(worker_id, None)
            want = lease.resources.get("CPU") - held.get("CPU")
            take = min(want, pool.available.get("CPU"))
            back = ResourceSet({"CPU": take}) if take > 0 else ResourceSet()
            pool.acquire(back)
            lease.held = held + back
            lease.blocked = False
        return True

    def fail_all(self, message: str) -> None:
        """Fail every pending request (the raylet is stopping)."""
        for req in list(self._by_task.values()):
            if req.state is _State.STARTING:
                req.pool.release(req.resources, req.gpu_ids)
            self._finish(
                req,
                raylet_pb2.RequestWorkerLeaseReply(failure=runtime_error(message, "RayletStoppedError")),
            )
        self._queues.clear()

    def _pool_of(self, lease: Lease) -> NodeResources:
        return lease.pool if lease.pool is not None else self.resources

