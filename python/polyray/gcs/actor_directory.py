"""The actor directory: every actor's record, its name, where it runs and why it died.

State machine (DEPENDENCIES_UNREADY is not used yet)::

    PENDING_CREATION --created--> ALIVE --worker/node died, restarts left--> RESTARTING
           |                        |                                          |
           |                        +--killed / died, no restarts left---+     +--created--> ALIVE
           +--constructor raised / lease failed / killed / job ended-----+--> DEAD

Creation: pick an alive node whose free resources fit (the caller's node
first), lease a worker from its raylet, push the creation task to that worker
over PushTasks; ``actor_ready`` makes the actor ALIVE. With no node that fits,
the actor waits in its state and is placed again when a node registers or
resources free up. The lease is kept while the actor lives and returned
(disconnect=True) when it dies.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from polyray.protocol import common_pb2, gcs_pb2, raylet_pb2

from .actor_creation import CreationPushError, Lease, WorkerRpc, creation_error
from .background import BackgroundTasks, log
from .clients import ClientPool
from .config import GcsConfig
from .errors import already_exists, error_record, failed_precondition, invalid_argument, not_found
from .job_table import JobTable
from .label_warnings import LabelWarnings
from .node_table import NodeTable
from .placement_groups import PlacementGroups, bundle_node
from .storage import Storage
from .validation import (
    ACTOR_ID_SIZE,
    JOB_ID_SIZE,
    NODE_ID_SIZE,
    WORKER_ID_SIZE,
    check_id,
    target,
    validate_creation_task,
)
from .waiting import Notifier, wait_deadline

KILLED_MESSAGE = "killed by polyray.kill"
OUT_OF_SCOPE_MESSAGE = "destroyed by its owner: all references to it (its handles) went out of scope"


def _why(record: common_pb2.ErrorRecord, reason: int, exit_code: int = 0) -> common_pb2.ErrorRecord:
    """``record`` with its reason (and exit code) set: why the actor died."""
    record.reason = reason  # type: ignore[assignment]
    if exit_code:
        record.exit_code = exit_code
    return record


def _first_reason(record: common_pb2.ErrorRecord) -> tuple[int, int]:
    """The first reason (and exit code) set along a cause chain, or (0, 0)."""
    r: common_pb2.ErrorRecord | None = record
    depth = 0
    while r is not None and depth < 32:
        if r.reason:
            return r.reason, r.exit_code
        r = r.cause if r.HasField("cause") else None
        depth += 1
    return 0, 0


@dataclass(eq=False)
class _Actor:
    """An actor's record plus what only this GCS process knows about it."""

    info: gcs_pb2.ActorInfo
    spec: common_pb2.TaskSpec
    lease: Lease | None = None
    creation: asyncio.Task[None] | None = None
    # The raylet a creation attempt is asking for a lease (to cancel the request).
    lease_raylet: common_pb2.Address | None = None
    lease_attempts: int = 0
    not_before: float = 0.0  # loop time before which no placement is tried (backoff)
    # Why the raylet says the worker died while the constructor was running.
    reported_death: common_pb2.ErrorRecord | None = None
    # The driver was told no node's labels match (once per actor).
    label_warned: bool = False
    changed: Notifier = field(default_factory=Notifier)

    @property
    def actor_id(self) -> bytes:
        """The actor's ID."""
        return self.info.actor_id

    @property
    def label(self) -> str:
        """Class name and hex ID, for messages."""
        return f"{self.info.class_name or 'actor'}({self.info.actor_id.hex()})"

    def can_restart(self) -> bool:
        """True while restarts are left (max_restarts -1 = infinite)."""
        limit = self.spec.max_restarts
        return limit < 0 or self.info.num_restarts < limit


def _class_name(spec: common_pb2.TaskSpec) -> str:
    kind = spec.function.WhichOneof("kind")
    if kind == "python":
        return spec.function.python.qualname
    if kind == "java":
        return spec.function.java.class_name
    if kind == "cpp":
        return spec.function.cpp.class_name or spec.function.cpp.function_name
    return spec.name


class ActorDirectory:
    """Actors by ID and by (namespace, name). Serves the actor RPCs."""

    ACTORS = "actors"
    SPECS = "actor_specs"
    LEASES = "actor_leases"

    def __init__(
        self, storage: Storage, config: GcsConfig, nodes: NodeTable, jobs: JobTable, pool: ClientPool
    ) -> None:
        """Create an empty directory; it places actors on ``nodes``."""
        self._storage = storage
        self._config = config
        self._nodes = nodes
        self._jobs = jobs
        self._rpc = WorkerRpc(pool, config)
        self._pool = pool
        #: Set by the server: where actors with a placement group strategy go.
        self.placement_groups: PlacementGroups | None = None
        # Called with the worker id of every ReportWorkerDeath (DeadWorkers).
        self.worker_death_listeners: list[Callable[[bytes], None]] = []
        #: Set by the server: warns a driver when no node's labels match its actor (once per actor).
        self.label_warnings: LabelWarnings | None = None
        self._actors: dict[bytes, _Actor] = {}
        self._names: dict[tuple[str, str], bytes] = {}
        self._by_worker: dict[bytes, bytes] = {}
        # Actors waiting for a node (an ordered set: first registered, first placed).
        self._pending: dict[bytes, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._write_lock = asyncio.Lock()
        self._tasks = BackgroundTasks()  # persistence and lease returns
        self._creations = BackgroundTasks()
        self._running = False

    # -- lifecycle ---------------------------------------------------------

    async def load(self) -> None:
        """Read actors back from storage (call after the node table loaded)."""
        infos = await self._storage.get_all(self.ACTORS)
        specs = await self._storage.get_all(self.SPECS)
        leases = await self._storage.get_all(self.LEASES)
        for actor_id, raw in infos.items():
            if actor_id not in specs:
                continue
            actor = _Actor(info=gcs_pb2.ActorInfo.FromString(raw), spec=common_pb2.TaskSpec.FromString(specs[actor_id]))
            self._actors[actor_id] = actor
            state = actor.info.state
            if state != gcs_pb2.DEAD and actor.info.handle.name:
                self._names[(actor.info.handle.namespace, actor.info.handle.name)] = actor_id
            if state in (gcs_pb2.PENDING_CREATION, gcs_pb2.RESTARTING):
                self._pending[actor_id] = None
            elif state == gcs_pb2.ALIVE and actor_id in leases:
                record = raylet_pb2.RequestWorkerLeaseReply.FromString(leases[actor_id])
                node = self._nodes.get(record.worker_address.node_id)
                raylet = node.raylet_address if node is not None else common_pb2.Address()
                actor.lease = Lease(
                    lease_id=record.lease_id,
                    worker=record.worker_address,
                    pid=record.worker_pid,
                    raylet=raylet,
                    node_id=record.worker_address.node_id,
                )
                self._by_worker[actor.lease.worker_id] = actor_id

    def start(self) -> None:
        """Begin placing actors; an ALIVE actor whose node died meanwhile is failed over."""
        self._running = True
        for actor in list(self._actors.values()):
            if actor.info.state == gcs_pb2.ALIVE and not self._nodes.is_alive(actor.info.node_id):
                self.on_node_dead(actor.info.node_id, "the node was not alive when the GCS started")
        self._schedule()

    async def stop(self) -> None:
        """Stop placing actors; let lease returns in flight finish briefly."""
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
        await self._creations.cancel_all()
        await self._tasks.drain(timeout=min(1.0, self._config.rpc_timeout_s))
        await self._tasks.cancel_all()
        await self._rpc.close()

    # -- RPCs ----------------------------------------------------------------

    async def RegisterActor(
        self, request: gcs_pb2.RegisterActorRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.RegisterActorReply:
        """Record an actor and start creating it; the reply does not wait for creation."""
        spec = request.creation_task
        validate_creation_task(spec)
        if spec.actor_id in self._actors:
            return gcs_pb2.RegisterActorReply()  # a retried registration
        job = self._jobs.get(spec.job_id)
        if job is not None and job.finished:
            raise failed_precondition(f"job {spec.job_id.hex()} has finished; it cannot create actors")
        namespace = spec.actor_namespace or (job.namespace if job is not None else "")
        # Everything from the name check to the index update runs without an
        # await, so two registrations cannot both take one name.
        if spec.actor_name and (namespace, spec.actor_name) in self._names:
            raise already_exists(
                f"an actor named {spec.actor_name!r} already exists in namespace {namespace!r}"
            )
        stored = common_pb2.TaskSpec()
        stored.CopyFrom(spec)
        stored.actor_namespace = namespace
        info = gcs_pb2.ActorInfo(
            actor_id=spec.actor_id,
            state=gcs_pb2.PENDING_CREATION,
            class_name=_class_name(spec),
            job_id=spec.job_id,
            handle=common_pb2.ActorHandle(
                actor_id=spec.actor_id,
                language=spec.language,
                class_descriptor=spec.function,
                owner=spec.caller,
                name=spec.actor_name,
                namespace=namespace,
                max_task_retries=spec.max_task_retries,
                is_async=spec.is_async_actor,
            ),
        )
        actor = _Actor(info=info, spec=stored)
        self._actors[spec.actor_id] = actor
        if spec.actor_name:
            self._names[(namespace, spec.actor_name)] = spec.actor_id
        self._pending[spec.actor_id] = None
        await self._persist(actor, with_spec=True)
        log.info("actor %s registered", actor.label)
        self._schedule()
        return gcs_pb2.RegisterActorReply()

    async def GetActorInfo(
        self, request: gcs_pb2.GetActorInfoRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetActorInfoReply:
        """An actor's record; with wait_for_change, once its state differs from
        known_state or just before the caller's deadline."""
        actor = self._get(request.actor_id)
        if request.wait_for_change:
            await actor.changed.wait_while(
                lambda: actor.info.state == request.known_state, wait_deadline(context.time_remaining())
            )
        return gcs_pb2.GetActorInfoReply(actor=actor.info)

    async def GetNamedActor(
        self, request: gcs_pb2.GetNamedActorRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetNamedActorReply:
        """The live actor with this name in this namespace (dead actors free their names)."""
        if not request.name:
            raise invalid_argument("name must not be empty")
        actor_id = self._names.get((request.namespace, request.name))
        if actor_id is None:
            return gcs_pb2.GetNamedActorReply(found=False)
        return gcs_pb2.GetNamedActorReply(found=True, actor=self._actors[actor_id].info)

    async def ListActors(
        self, request: gcs_pb2.ListActorsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.ListActorsReply:
        """Every actor (of one job when job_id is set), dead ones included; the first ``limit`` when set."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE, optional=True)
        if request.limit < 0:
            raise invalid_argument(f"limit must be >= 0, got {request.limit}")
        actors = (a.info for a in self._actors.values() if not request.job_id or a.info.job_id == request.job_id)
        return gcs_pb2.ListActorsReply(
            actors=list(itertools.islice(actors, request.limit) if request.limit else actors))

    async def KillActor(
        self, request: gcs_pb2.KillActorRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.KillActorReply:
        """Stop the actor's worker; the actor is DEAD, or RESTARTING when
        no_restart is false and it has restarts left."""
        actor = self._get(request.actor_id)
        if actor.info.state == gcs_pb2.DEAD:
            return gcs_pb2.KillActorReply()
        if request.out_of_scope:
            # The owner saw its last handle go (docs/fault-tolerance.md, "Actor lifetime").
            if actor.spec.detached:
                return gcs_pb2.KillActorReply()
            cause = _why(error_record(common_pb2.ACTOR_DIED, f"actor {actor.label} was {OUT_OF_SCOPE_MESSAGE}"),
                         common_pb2.REASON_OUT_OF_SCOPE)
        else:
            cause = _why(error_record(common_pb2.ACTOR_DIED, f"actor {actor.label} was {KILLED_MESSAGE}"),
                         common_pb2.REASON_KILLED)
        if (not request.no_restart and not request.out_of_scope and actor.can_restart()
                and actor.info.state == gcs_pb2.ALIVE):
            cleanup = self._worker_lost(actor, cause, exit_worker=True)
        else:
            cleanup = self._to_dead(actor, cause, exit_worker=True)
        if cleanup is not None:
            # Reply once the worker was told to exit (bounded by rpc_timeout_s);
            # shielded so a caller giving up does not stop the cleanup.
            await asyncio.shield(cleanup)
        return gcs_pb2.KillActorReply()

    async def ReportWorkerDeath(
        self, request: gcs_pb2.ReportWorkerDeathRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.ReportWorkerDeathReply:
        """A raylet saw a worker die: restart or fail its actor, and the actors it owned."""
        check_id(request.worker_id, "worker_id", WORKER_ID_SIZE)
        check_id(request.node_id, "node_id", NODE_ID_SIZE, optional=True)
        check_id(request.actor_id, "actor_id", ACTOR_ID_SIZE, optional=True)
        if request.stopped_by_raylet:
            # Not a crash: only owners watching their borrowers need to know.
            for listener in self.worker_death_listeners:
                listener(request.worker_id)
            return gcs_pb2.ReportWorkerDeathReply()
        cause = request.cause
        if cause.ByteSize() == 0:
            cause = error_record(common_pb2.WORKER_CRASHED, f"worker {request.worker_id.hex()} died")
        actor = self._actors.get(request.actor_id or self._by_worker.get(request.worker_id, b""))
        # Reports about a previous incarnation (already replaced) are ignored.
        if actor is not None and actor.lease is not None and actor.lease.worker_id == request.worker_id:
            if actor.info.state == gcs_pb2.ALIVE:
                self._worker_lost(actor, cause)
            else:
                # The constructor is running: its task stream fails next, and
                # the raylet's reason is the better cause to report then.
                actor.reported_death = cause
        for listener in self.worker_death_listeners:
            listener(request.worker_id)
        await self._owner_died(request, cause)
        return gcs_pb2.ReportWorkerDeathReply()

    async def _owner_died(self, request: gcs_pb2.ReportWorkerDeathRequest, cause: common_pb2.ErrorRecord) -> None:
        """A process died: the non-detached actors it owned die (REASON_OWNER_DIED),
        every node frees the copies it owned, and a driver's job is finished."""
        what = "driver" if request.is_driver else "worker"
        for owned in list(self._actors.values()):
            if (
                owned.info.state != gcs_pb2.DEAD
                and not owned.spec.detached
                and owned.info.handle.owner.worker_id == request.worker_id
            ):
                record = error_record(
                    common_pb2.ACTOR_DIED,
                    f"actor {owned.label} died because its owner ({what} {request.worker_id.hex()}) died",
                    cause,
                )
                record.reason = common_pb2.REASON_OWNER_DIED
                self._to_dead(owned, record, exit_worker=True)
        self._nodes.free_owned_objects(self._pool.raylet, request.worker_id)
        if request.is_driver and len(request.job_id) == JOB_ID_SIZE:
            await self._jobs.finish(request.job_id, f"its driver {request.worker_id.hex()} died: {cause.message}")

    # -- events from other tables -------------------------------------------

    def on_node_dead(self, node_id: bytes, reason: str) -> None:
        """A node died: its actors restart elsewhere or die with a NODE_DIED cause;
        creations asking its raylet for a lease try another node."""
        cause = _why(error_record(common_pb2.NODE_DIED, f"node {node_id.hex()} died: {reason}"),
                     common_pb2.REASON_NODE_DIED)
        for actor in list(self._actors.values()):
            if actor.info.state == gcs_pb2.DEAD:
                continue
            on_node = actor.lease.node_id == node_id if actor.lease is not None else (
                actor.info.state == gcs_pb2.ALIVE and actor.info.node_id == node_id
            )
            if on_node:
                # Its worker went with the node; there is no raylet to return the lease to.
                self._worker_lost(actor, cause, release=False)
            elif actor.creation is not None and actor.lease is None and actor.lease_raylet is not None and (
                actor.lease_raylet.node_id == node_id or target(actor.lease_raylet) == self._raylet_target(node_id)
            ):
                self._cancel_creation(actor)
                self._to_pending(actor, actor.info.state)

    def on_job_finished(self, job_id: bytes) -> None:
        """A job ended: its non-detached actors are killed."""
        for actor in list(self._actors.values()):
            if actor.info.job_id == job_id and not actor.spec.detached and actor.info.state != gcs_pb2.DEAD:
                self._to_dead(
                    actor,
                    _why(error_record(
                        common_pb2.ACTOR_DIED, f"actor {actor.label} was killed because its job {job_id.hex()} finished"
                    ), common_pb2.REASON_OWNER_DIED),
                    exit_worker=True,
                )

    def on_resources_changed(self) -> None:
        """A node registered or reported free resources: place waiting actors."""
        if self._pending:
            self._schedule()

    # -- placement -------------------------------------------------------------

    def _schedule(self) -> None:
        """Start a creation for every waiting actor that fits somewhere now."""
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        next_try = math.inf
        for actor_id in list(self._pending):
            actor = self._actors[actor_id]
            if actor.not_before > now:
                next_try = min(next_try, actor.not_before)
                continue
            strategy = actor.spec.scheduling if actor.spec.HasField("scheduling") else None
            if strategy is not None and strategy.kind == common_pb2.SCHEDULING_PLACEMENT_GROUP:
                # The actor goes to its bundle's node once the group is created
                # (its resources come out of the bundle, not the node).
                groups = self.placement_groups
                node_id, why = bundle_node(groups.get(strategy.placement_group_id) if groups else None, strategy)
                if why:
                    cause = _why(error_record(common_pb2.ACTOR_DIED, f"actor {actor.label} cannot be placed: {why}"),
                                 common_pb2.REASON_CREATION_FAILED)
                    self._to_dead(actor, cause)
                pg_node = self._nodes.get(node_id) if node_id else None
                if pg_node is not None and pg_node.alive:
                    del self._pending[actor_id]
                    actor.creation = self._creations.spawn(
                        self._create(actor, pg_node), name=f"create-{actor_id.hex()}"
                    )
                continue
            if (
                strategy is not None
                and strategy.kind == common_pb2.SCHEDULING_NODE_AFFINITY
                and not strategy.soft
            ):
                target_node = self._nodes.get(strategy.node_id)
                if target_node is not None and not target_node.alive:
                    self._to_dead(
                        actor,
                        _why(error_record(
                            common_pb2.ACTOR_DIED,
                            f"actor {actor.label} cannot be placed: its node affinity names "
                            f"node {strategy.node_id.hex()}, which is dead",
                        ), common_pb2.REASON_CREATION_FAILED),
                    )
                    continue
            node = self._nodes.pick(actor.spec.resources, actor.spec.caller.node_id, strategy)
            if node is None:
                if not actor.label_warned and self.label_warnings is not None:
                    why = self._nodes.unmatched_selectors(actor.spec.resources, strategy)
                    if why:
                        actor.label_warned = True
                        self.label_warnings.warn(actor.info.job_id, actor.label, why)
                continue
            del self._pending[actor_id]
            self._nodes.reserve(node.node_id, actor.spec.resources)
            actor.creation = self._creations.spawn(self._create(actor, node), name=f"create-{actor_id.hex()}")
        if next_try < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = next_try
            self._timer = loop.call_at(next_try, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self._schedule()

    async def _create(self, actor: _Actor, node: gcs_pb2.NodeInfo) -> None:
        """One creation attempt on ``node``; every outcome ends in a state change."""
        spec = actor.spec
        lease: Lease | None = None
        # The raylet this attempt is asking; kept locally so a cancelled
        # attempt withdraws its own request even after a new attempt began.
        raylet = node.raylet_address
        me = asyncio.current_task()

        def asking(address: common_pb2.Address | None) -> None:
            if actor.creation is me:
                actor.lease_raylet = address

        try:
            asking(raylet)
            try:
                reply = await self._rpc.request_lease(raylet, spec)
                if not reply.lease_id and not reply.HasField("failure") and not reply.canceled and reply.retry_at.port:
                    # Spill-back to the node the raylet names; that one must
                    # grant or reject, so a request never bounces around.
                    raylet = reply.retry_at
                    asking(raylet)
                    reply = await self._rpc.request_lease(raylet, spec, grant_or_reject=True)
            except grpc.aio.AioRpcError as err:
                self._lease_attempt_failed(
                    actor,
                    f"RequestWorkerLease to the raylet at {target(raylet)} failed "
                    f"({err.code().name}: {err.details()})",
                )
                return
            if reply.HasField("failure"):
                self._to_dead(
                    actor,
                    _why(error_record(
                        common_pb2.ACTOR_DIED,
                        f"actor {actor.label} could not be created: {reply.failure.message}",
                        reply.failure,
                    ), common_pb2.REASON_CREATION_FAILED),
                )
                return
            if not reply.lease_id or reply.canceled:
                self._lease_attempt_failed(
                    actor, f"the raylet at {target(raylet)} granted no lease (canceled={reply.canceled})"
                )
                return
            worker = common_pb2.Address()
            worker.CopyFrom(reply.worker_address)
            node_id = worker.node_id or raylet.node_id or node.node_id
            worker.node_id = node_id
            lease = Lease(lease_id=reply.lease_id, worker=worker, pid=reply.worker_pid, raylet=raylet, node_id=node_id)
            actor.lease = lease
            asking(None)
            self._by_worker[lease.worker_id] = actor.actor_id
            self._persist_soon(actor)
            try:
                result = await self._rpc.push_creation_task(worker, spec)
            except CreationPushError as err:
                cause = actor.reported_death or error_record(
                    common_pb2.WORKER_CRASHED,
                    f"the worker of actor {actor.label} (pid {lease.pid}) failed while running the constructor: {err}",
                )
                self._worker_lost(actor, cause, exit_worker=True)
                return
            error = creation_error(result)
            if error is not None:
                self._to_dead(
                    actor,
                    _why(error_record(
                        common_pb2.ACTOR_DIED,
                        f"actor {actor.label} died in its constructor: {error.type_name}: {error.message}",
                        error,
                    ), common_pb2.REASON_CREATION_FAILED),
                )
            elif not result.actor_ready:
                self._to_dead(
                    actor,
                    _why(error_record(
                        common_pb2.ACTOR_DIED,
                        f"actor {actor.label} could not be created",
                        error_record(
                            common_pb2.RUNTIME_ERROR,
                            "the worker finished the creation task without reporting the actor ready",
                        ),
                    ), common_pb2.REASON_CREATION_FAILED),
                    exit_worker=True,
                )
            else:
                self._to_alive(actor, lease)
        except asyncio.CancelledError:
            # Whoever cancelled us took the lease over if it took actor.lease;
            # otherwise undo what this attempt holds.
            if lease is None:
                self._tasks.spawn(self._rpc.cancel_lease(raylet, spec.task_id), name="cancel-lease")
            elif lease is not None and actor.lease is lease:
                self._take_lease(actor)
                self._tasks.spawn(
                    self._rpc.release(lease, exit_worker=True, reason="actor creation abandoned"), name="release"
                )
            raise
        except Exception as err:  # noqa: BLE001 - a bug here must not leave the actor waiting forever
            log.exception("creation of actor %s failed unexpectedly", actor.label)
            message = f"unexpected error while creating the actor: {type(err).__name__}: {err}"
            if lease is None:
                self._lease_attempt_failed(actor, message)
            else:
                self._worker_lost(actor, error_record(common_pb2.RUNTIME_ERROR, message), exit_worker=True)
        finally:
            if actor.creation is me:
                actor.creation = None
                actor.lease_raylet = None

    def _lease_attempt_failed(self, actor: _Actor, message: str) -> None:
        """No lease for infrastructure reasons: retry with backoff, up to a limit."""
        actor.lease_attempts += 1
        attempts = actor.lease_attempts
        if attempts >= self._config.max_lease_attempts:
            self._to_dead(
                actor,
                _why(error_record(
                    common_pb2.ACTOR_DIED,
                    f"actor {actor.label} could not get a worker after {attempts} attempts; last: {message}",
                    error_record(common_pb2.RUNTIME_ERROR, message),
                ), common_pb2.REASON_CREATION_FAILED),
            )
            return
        log.warning("actor %s: %s; retrying", actor.label, message)
        delay = min(self._config.lease_retry_max_s, self._config.lease_retry_base_s * 2 ** (attempts - 1))
        actor.not_before = asyncio.get_running_loop().time() + delay
        self._pending[actor.actor_id] = None
        self._schedule()

    # -- transitions ---------------------------------------------------------

    def _to_alive(self, actor: _Actor, lease: Lease) -> None:
        info = actor.info
        info.state = gcs_pb2.ALIVE
        info.address.CopyFrom(lease.worker)
        info.node_id = lease.node_id
        info.pid = lease.pid
        info.ClearField("death_cause")
        actor.lease_attempts = 0
        actor.reported_death = None
        log.info("actor %s is alive at %s (pid %d)", actor.label, target(lease.worker), lease.pid)
        self._changed(actor)

    def _to_pending(self, actor: _Actor, state: int) -> None:
        info = actor.info
        info.state = state  # type: ignore[assignment]
        info.ClearField("address")
        info.node_id = b""
        info.pid = 0
        actor.not_before = 0.0
        self._pending[actor.actor_id] = None
        self._changed(actor)
        self._schedule()

    def _to_dead(
        self, actor: _Actor, cause: common_pb2.ErrorRecord, *, exit_worker: bool = False, release: bool = True
    ) -> asyncio.Task[None] | None:
        """Mark DEAD with ``cause``; returns the task returning its lease, if any."""
        if actor.info.state == gcs_pb2.DEAD:
            return None
        self._cancel_creation(actor)
        lease = self._take_lease(actor)
        self._pending.pop(actor.actor_id, None)
        info = actor.info
        key = (info.handle.namespace, info.handle.name)
        if info.handle.name and self._names.get(key) == actor.actor_id:
            del self._names[key]
        info.state = gcs_pb2.DEAD
        info.death_cause.CopyFrom(cause)
        if not cause.reason:
            # Why, from the chain (a wrapped raylet report says "exited with code N").
            reason, exit_code = _first_reason(cause)
            if reason:
                _why(info.death_cause, reason, exit_code)
        info.last_death_cause.CopyFrom(info.death_cause)
        log.info("actor %s is dead: %s", actor.label, cause.message)
        self._changed(actor)
        return self._release(lease, exit_worker=exit_worker, reason=cause.message) if release else None

    def _worker_lost(
        self,
        actor: _Actor,
        cause: common_pb2.ErrorRecord,
        *,
        exit_worker: bool = False,
        release: bool = True,
    ) -> asyncio.Task[None] | None:
        """The actor's worker is gone (or going): restart it if allowed, else DEAD."""
        if not actor.can_restart():
            limit = actor.spec.max_restarts
            suffix = f" (restarted {actor.info.num_restarts} of max_restarts={limit} times)" if limit else ""
            return self._to_dead(
                actor,
                error_record(common_pb2.ACTOR_DIED, f"actor {actor.label} died: {cause.message}{suffix}", cause),
                exit_worker=exit_worker,
                release=release,
            )
        self._cancel_creation(actor)
        lease = self._take_lease(actor)
        actor.info.num_restarts += 1
        actor.info.last_death_cause.CopyFrom(cause)
        # The worker learns from `attempt` that this is a restart.
        actor.spec.attempt = actor.info.num_restarts
        actor.reported_death = None
        log.info("actor %s restarting (%d): %s", actor.label, actor.info.num_restarts, cause.message)
        self._to_pending(actor, gcs_pb2.RESTARTING)
        self._persist_soon(actor, with_spec=True)
        return self._release(lease, exit_worker=exit_worker, reason=cause.message) if release else None

    def _cancel_creation(self, actor: _Actor) -> None:
        creation = actor.creation
        if creation is not None and creation is not asyncio.current_task():
            creation.cancel()
            actor.creation = None
            actor.lease_raylet = None

    def _take_lease(self, actor: _Actor) -> Lease | None:
        lease, actor.lease = actor.lease, None
        if lease is not None and self._by_worker.get(lease.worker_id) == actor.actor_id:
            del self._by_worker[lease.worker_id]
        return lease

    def _release(self, lease: Lease | None, *, exit_worker: bool, reason: str) -> asyncio.Task[None] | None:
        if lease is None or not self._nodes.is_alive(lease.node_id):
            return None
        return self._tasks.spawn(self._rpc.release(lease, exit_worker=exit_worker, reason=reason), name="release")

    def _changed(self, actor: _Actor) -> None:
        actor.changed.notify()
        self._persist_soon(actor)

    # -- helpers ---------------------------------------------------------------

    def _get(self, actor_id: bytes) -> _Actor:
        check_id(actor_id, "actor_id", ACTOR_ID_SIZE)
        actor = self._actors.get(actor_id)
        if actor is None:
            raise not_found(f"actor {actor_id.hex()} is not registered")
        return actor

    def _raylet_target(self, node_id: bytes) -> str:
        node = self._nodes.get(node_id)
        return target(node.raylet_address) if node is not None else ""

    # -- persistence -------------------------------------------------------------

    def _persist_soon(self, actor: _Actor, *, with_spec: bool = False) -> None:
        self._tasks.spawn(self._persist(actor, with_spec=with_spec), name="persist-actor")

    async def _persist(self, actor: _Actor, *, with_spec: bool = False) -> None:
        # Serialized at write time under the lock: the last write holds the latest state.
        async with self._write_lock:
            actor_id = actor.actor_id
            await self._storage.put(self.ACTORS, actor_id, actor.info.SerializeToString())
            if with_spec:
                await self._storage.put(self.SPECS, actor_id, actor.spec.SerializeToString())
            if actor.lease is not None:
                await self._storage.put(self.LEASES, actor_id, actor.lease.to_record().SerializeToString())
            else:
                await self._storage.delete(self.LEASES, actor_id)
