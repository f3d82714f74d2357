"""RayletServer: the node's raylet, a grpc.aio server, and its lifecycle.

Invariants: the server creates every part of the node (object manager, GCS
client, log forwarder, worker pool, cluster view, lease manager) once, in
``__init__``, and wires them into each other and into the RayletServicer by
explicit arguments; no part holds the server itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import cast

import grpc

from polyray.protocol import auth, common_pb2, gcs_pb2
from polyray.raylet.cluster_view import ClusterView
from polyray.raylet.config import NodeConfig
from polyray.raylet.gcs_client import GcsClient
from polyray.raylet.launchers import LauncherRegistry
from polyray.raylet.lease_holders import LeaseHolderWatch, WorkerIdentity
from polyray.raylet.lease_manager import LeaseManager
from polyray.raylet.log_forwarder import LogForwarder
from polyray.raylet.object_manager import ObjectManager
from polyray.raylet.resources import NodeResources, ResourceSet
from polyray.raylet.service import RayletServicer, generic_handler
from polyray.raylet.worker_pool import DriverRecord, WorkerPool
from polyray.raylet.worker_process import WorkerProcess, describe_exit
from polyray.runtime_env.agent import RuntimeEnvAgent

log = logging.getLogger(__name__)

#: Lines of a dead worker's stderr quoted in its death report.
_DEATH_STDERR_LINES = 10
_MAX_MESSAGE = 64 * 1024 * 1024


#: Where daemon nodes keep their sessions (config._default_session_dir).
SESSIONS_ROOT = os.path.join("/tmp", "polyray")


def link_latest_session(log_dir: str) -> None:
    """Point ``/tmp/polyray/session_latest`` at this node's session folder
    (the parent of ``log_dir``) when it is one of ``/tmp/polyray/session_*``:
    daemon nodes; embedded heads keep theirs in a temporary folder."""
    session = os.path.dirname(os.path.abspath(log_dir))
    if os.path.dirname(session) != SESSIONS_ROOT or not os.path.basename(session).startswith("session_"):
        return
    link = os.path.join(SESSIONS_ROOT, "session_latest")
    tmp = f"{link}.{os.getpid()}"
    try:
        os.symlink(session, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        log.warning("cannot link %s to %s: %s", link, session, exc)


class _LogSink:
    """Workers' lines to the forwarder, labelled "(name pid=N, node=ip)"; its
    ``room`` slows a pipe reader down while the forwarder is full."""

    def __init__(self, logs: LogForwarder, host: str) -> None:
        self._logs = logs
        self._host = host
        self.room = logs.room

    def __call__(self, w: WorkerProcess, is_err: bool, line: str) -> None:
        self._logs.push(w.job_id, w.pid, f"{w.label}, node={self._host}", is_err, line)


class RayletServer:
    """One node's raylet: leases, worker pool, shared store, GCS membership.

    ``await start()`` creates the store, serves RayletService, registers the
    node with the GCS and starts heartbeating; ``await stop()`` stops every
    worker, unregisters, and unlinks the store.
    """

    def __init__(self, config: NodeConfig, launchers: LauncherRegistry | None = None) -> None:
        self.config = config
        self.launchers = launchers or LauncherRegistry.default()
        self.port = 0
        self.objects = ObjectManager(config.store_name, config.object_store_memory)
        self.gcs = GcsClient(config.gcs_address, config.gcs_rpc_timeout_s)
        self.logs = LogForwarder(config.node_id, self.gcs.publish_logs, config.log_flush_interval_s,
                                 node_ip=config.host)
        self.pool = WorkerPool(
            config,
            self.launchers,
            raylet_address=lambda: self.address,
            on_exit=self._on_worker_exit,
            on_driver_exit=self._on_driver_exit,
            log_sink=_LogSink(self.logs, config.host),
            # Packages and venvs of runtime envs, once per node, under the session folder.
            runtime_envs=RuntimeEnvAgent(os.path.join(config.session_dir, "runtime_resources"),
                                         self.gcs.get_package),
        )
        self.view = ClusterView(config.node_id)
        self.leases = LeaseManager(
            config.node_id, config.host, NodeResources(ResourceSet(config.resources), config.gpu_ids), self.pool,
            view=self.view, lookup_group=self.gcs.get_placement_group, refresh_view=self.refresh_view,
            warn=lambda job_id, line: self.logs.push(job_id, 0, "scheduler", True, line),
            labels=config.labels,
        )
        # Leases whose holder is gone (its node dead, or it does not answer) come back.
        self.holders = LeaseHolderWatch(
            self.leases.holders, self.leases.last_heard, self.view.is_dead, self.leases.release_holder,
            # A holder is its worker id, not just a port that answers (lease_holders.py).
            identify=WorkerIdentity(config.node_id, lambda: self.pool.workers.keys() | self.pool.drivers.keys(),
                                    lambda node_id: n.address if (n := self.view.get(node_id)) else None),
        )
        self._server: grpc.aio.Server | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._started = False
        self._node_dead = False

    @property
    def address(self) -> str:
        """"host:port" of this raylet."""
        return f"{self.config.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> int:
        """Create the store, serve, register with the GCS; return the bound port."""
        if self._started:
            return self.port
        self._started = True
        os.makedirs(self.config.session_dir, exist_ok=True)
        link_latest_session(self.config.session_dir)
        self.objects.start()
        try:
            self._server = grpc.aio.server(
                options=[
                    ("grpc.max_send_message_length", _MAX_MESSAGE),
                    ("grpc.max_receive_message_length", _MAX_MESSAGE),
                    # As the CoreWorkers' servers (core/rpc.py SERVER_OPTIONS): a
                    # client's keepalive ping on an idle connection every 5 s or
                    # slower is no strike (the default allowed none: GOAWAY
                    # "too_many_pings" after three).
                    ("grpc.keepalive_permit_without_calls", 1),
                    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                    auth.NO_REUSEPORT,
                ],
                interceptors=auth.server_interceptors(),
            )
            servicer = RayletServicer(
                config=self.config, leases=self.leases, pool=self.pool, objects=self.objects,
                request_stop=self.request_stop, flush_logs=self.flush_logs,
                job_code_search_path=self.gcs.job_code_search_path,
            )
            self._server.add_generic_rpc_handlers((generic_handler(servicer),))
            self.port = auth.bind(self._server, f"{self.config.host}:{self.config.port}", "the raylet")
            await self._server.start()
            self.pool.start()
            self.logs.start()
            reply = await self.gcs.register_node(self._node_info(), self.config.gcs_connect_timeout_s)
            await self.refresh_view()
        except BaseException:
            await self._teardown(unregister=False)
            raise
        interval = reply.heartbeat_interval_s or self.config.heartbeat_interval_s
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(interval), name="raylet-heartbeat")
        self.holders.start()
        log.info(
            "raylet %s listening on %s (store %s, resources %s)",
            self.config.node_id_hex[:12], self.address, self.config.store_name,
            self.leases.resources.total,
        )
        return self.port

    async def flush_logs(self, timeout_ms: int) -> bool:
        """Read what every worker wrote to its pipes up to now and publish it
        (DrainLogs); False when ``timeout_ms`` passed first."""
        deadline = time.monotonic() + timeout_ms / 1000
        workers = [w for w in self.pool.workers.values() if w.pid]
        caught_up = await asyncio.gather(*(w.caught_up(deadline) for w in workers))
        try:
            await asyncio.wait_for(self.logs.flush(), max(0.05, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return False
        return all(caught_up) and self.logs.pending == 0

    def _node_info(self) -> gcs_pb2.NodeInfo:
        total = self.leases.resources.total.to_dict()
        return gcs_pb2.NodeInfo(
            node_id=self.config.node_id,
            raylet_address=common_pb2.Address(
                node_id=self.config.node_id, host=self.config.host, port=self.port
            ),
            store_name=self.config.store_name,
            resources_total=total,
            resources_available=self.leases.resources.available.to_dict(),
            alive=True,
            start_time=time.time(),
            labels=self.config.labels,
        )

    async def _heartbeat_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                reply = await self.gcs.heartbeat(
                    self.config.node_id, self.leases.resources.available.to_dict()
                )
            except grpc.aio.AioRpcError as exc:
                log.warning("heartbeat to the GCS failed: %s %s", exc.code().name, exc.details())
                continue
            if reply.node_dead:
                log.error("the GCS declared node %s dead; shutting down", self.config.node_id_hex)
                self._node_dead = True
                self.request_stop("the GCS declared this node dead")
                return
            await self.refresh_view()

    async def refresh_view(self) -> None:
        """Reload the other nodes from the GCS and spill queued requests that fit elsewhere."""
        try:
            nodes = await self.gcs.get_all_nodes()
        except grpc.aio.AioRpcError as exc:
            log.warning("GetAllNodes from the GCS failed: %s %s", exc.code().name, exc.details())
            return
        self.view.update(nodes)
        self.leases.respill()

    def request_stop(self, reason: str) -> None:
        """Start stopping in the background (from a handler or the heartbeat)."""
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self.stop(reason), name="raylet-stop")

    async def stop(self, reason: str = "stopped") -> None:
        """Stop every worker, unregister from the GCS, unlink the store (idempotent)."""
        if self._stopped.is_set():
            return
        current = asyncio.current_task()
        if self._stop_task is not None and self._stop_task is not current:
            await asyncio.shield(self._stop_task)
            return
        if self._stop_task is None:
            self._stop_task = current  # type: ignore[assignment]
        await self._teardown(unregister=not self._node_dead, reason=reason)

    async def _teardown(self, unregister: bool, reason: str = "stopped") -> None:
        if self._heartbeat is not None and self._heartbeat is not asyncio.current_task():
            self._heartbeat.cancel()
        await self.holders.stop()
        self.leases.fail_all(f"the raylet of node {self.config.node_id_hex} is stopping ({reason})")
        await self.pool.stop()
        if self._server is not None:
            # A moment for replies in flight (e.g. the Shutdown RPC's own).
            await self._server.stop(grace=0.5)
        await self.logs.stop()
        if unregister:
            try:
                await self.gcs.unregister_node(self.config.node_id, reason)
            except grpc.aio.AioRpcError as exc:
                log.warning("could not unregister from the GCS: %s", exc.details())
        await self.gcs.close()
        self.objects.stop()
        self._stopped.set()
        log.info("raylet %s stopped: %s", self.config.node_id_hex[:12], reason)

    async def wait_stopped(self) -> None:
        """Return once the raylet has stopped (by stop(), Shutdown, or the GCS)."""
        await self._stopped.wait()

    @property
    def stopped(self) -> bool:
        """True once stop() finished."""
        return self._stopped.is_set()

    # -- process exits -------------------------------------------------------------

    async def _on_worker_exit(self, worker: WorkerProcess, code: int) -> None:
        self.leases.on_worker_exit(worker)
        self.leases.release_owner(worker.worker_id)
        for pid in {worker.pid, worker.reported_pid}:
            try:
                self.objects.reclaim(pid)
            except Exception as exc:
                log.warning("reclaiming the pins of pid %d failed: %s", pid, exc)
        self.objects.free_owned_by(worker.worker_id)
        if worker.stop_reason is not None:
            # The raylet stopped it (idle, returned with disconnect, its actor's
            # lease ended, shutdown): not a crash, but owners still release what
            # it borrowed (GetDeadWorkers). At shutdown the node's death says it.
            if self._stop_task is None:
                try:
                    await self.gcs.report_worker_death(worker.worker_id, self.config.node_id, b"",
                                                       common_pb2.ErrorRecord(), stopped_by_raylet=True)
                except grpc.aio.AioRpcError as exc:
                    log.info("could not record the stop of %r with the GCS: %s", worker, exc.details())
            return
        # Even an idle worker that crashed is reported: it may own actors and
        # objects (created by the tasks it ran), which die with it.
        await self._report_death(worker, code)

    async def _report_death(self, worker: WorkerProcess, code: int) -> None:
        pid = worker.reported_pid or worker.pid
        what = "the actor's worker" if worker.actor_id else "the leased worker"
        message = (
            f"{what} {worker.worker_id.hex()} (pid {pid}) on node "
            f"{self.config.node_id_hex} {describe_exit(code)}"
        )
        kind, type_name = common_pb2.WORKER_CRASHED, "WorkerCrashedError"
        if worker.kill_reason:
            message += f"; it was killed: {worker.kill_reason}"
        elif worker.disconnect_intentional and worker.actor_id:
            # exit_actor() and the like: the actor is gone on purpose.
            kind, type_name = common_pb2.ACTOR_DIED, "ActorDiedError"
            message += " after exiting intentionally"
        tail = list(worker.stderr_tail)[-_DEATH_STDERR_LINES:]
        if tail:
            message += "\n--- last lines of its stderr ---\n" + "\n".join(tail)
        cause = common_pb2.ErrorRecord(
            kind=kind, type_name=type_name, message=message,
            language=cast(common_pb2.Language, worker.language),
            # The exit code (negative: the signal), so the GCS and callers can say why.
            reason=common_pb2.REASON_PROCESS_EXITED, exit_code=code,
        )
        try:
            await self.gcs.report_worker_death(
                worker.worker_id, self.config.node_id, worker.actor_id, cause
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("could not report the death of %r to the GCS: %s", worker, exc.details())

    async def _on_driver_exit(self, record: DriverRecord) -> None:
        """A driver's pid is gone without DisconnectWorker (SIGKILL, crash): free
        what it held here and tell the GCS, which ends its job, kills the actors
        it owned and frees its objects on the other nodes."""
        log.warning("driver %s (pid %d, job %s) died without disconnecting",
                    record.worker_id.hex(), record.pid, record.job_id.hex())
        self.leases.release_owner(record.worker_id)
        self.objects.reclaim(record.pid)
        self.objects.free_owned_by(record.worker_id)
        cause = common_pb2.ErrorRecord(
            kind=common_pb2.OWNER_DIED, type_name="OwnerDiedError", reason=common_pb2.REASON_OWNER_DIED,
            message=f"the driver {record.worker_id.hex()} (pid {record.pid}) on node "
                    f"{self.config.node_id_hex} died without disconnecting",
            language=cast(common_pb2.Language, record.language),
        )
        try:
            await self.gcs.report_worker_death(
                record.worker_id, self.config.node_id, b"", cause, driver_job_id=record.job_id
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("could not report the death of driver pid %d to the GCS: %s", record.pid, exc.details())
