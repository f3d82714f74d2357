"""The public functions of polyray (README.md): init, remote, get, put, wait, ...

A driver calls ``init()`` once: with no address it starts an embedded head
(GCS + raylet) for the life of the driver; with ``"host:port"`` it joins a
running cluster. Everything else goes through the process's CoreWorker.
"""

from __future__ import annotations

import atexit
import inspect
import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import grpc

from polyray.actor import ActorClass, ActorHandle
from polyray.core import object_ref
from polyray.core.core_worker import CoreWorker
from polyray.core.object_ref import ObjectRef, get_core
from polyray.protocol import auth
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import gcs_pb2_grpc as gcs_grpc
from polyray.protocol.ids import WorkerID
from polyray.remote_function import RemoteFunction

_lock = threading.RLock()
_state: dict[str, Any] = {"core": None, "head": None}


def is_initialized() -> bool:
    """True between ``init()`` and ``shutdown()``."""
    return _state["core"] is not None


def init(address: str | None = None, *, num_cpus: float | None = None, num_gpus: float | None = None,
         resources: dict[str, float] | None = None, object_store_memory: int | None = None,
         namespace: str | None = None, code_search_path: Sequence[str] | None = None,
         ignore_reinit_error: bool = False, log_to_driver: bool = True, include_dashboard: bool = True,
         _lineage_max_bytes: int | None = None, runtime_env: dict[str, Any] | None = None,
         _system_config: dict[str, Any] | None = None, labels: dict[str, str] | None = None,
         job_config: Any = None) -> dict[str, Any]:
    """Connect this process to a polyray cluster as a driver.

    ``address=None`` connects to ``$POLYRAY_ADDRESS`` when set (as Ray), else
    starts an embedded local head (stopped at ``shutdown()`` or interpreter
    exit); ``"local"`` always starts one; ``"host:port"`` connects to a running
    head (``polyray start --head``); ``"auto"`` uses ``$POLYRAY_ADDRESS``, else
    the cluster ``polyray start --head`` recorded on this machine, else raises
    ConnectionError (polyray.cluster_record).
    Returns a dict with the GCS address, node id and job id, and the embedded
    head's ``dashboard_url`` (also ``info.dashboard_url``; "" when
    ``include_dashboard=False``; a running head's from its GCS). The embedded
    head starts its dashboard after the driver can connect, so init() does not
    wait for it; the URL is awaited (at most 10 s) when first read.
    ``_lineage_max_bytes`` bounds the lineage this driver keeps to recompute
    lost objects (default: $POLYRAY_LINEAGE_MAX_BYTES, else 256 MiB).
    ``runtime_env`` (else $POLYRAY_RUNTIME_ENV_JSON) is the job's: every task
    and actor of the job runs in it (docs/jobs.md, "Runtime environments");
    a bad key raises ValueError naming it.
    ``_system_config`` (embedded head only, as Ray's) sets the worker pool:
    ``idle_worker_killing_time_threshold_ms`` (Ray's key) or
    ``idle_worker_timeout_s``, and ``warm_workers`` (int, or
    {"java": 2, ...}); an unknown key raises ValueError.
    ``labels`` (embedded head only, as Ray's) are the head node's labels,
    matched by ``label_selector``; ``num_gpus`` left unset is detected.
    ``job_config`` (``polyray.job_config.JobConfig``, Ray's) adds the job's metadata and
    default actor lifetime; its namespace, runtime_env and code_search_path merge with
    these arguments (the same setting given both ways differently: ValueError naming both).
    """
    from polyray.job_config import merge as merge_job_config
    namespace, runtime_env, code_search_path = merge_job_config(
        job_config, namespace=namespace, runtime_env=runtime_env, code_search_path=code_search_path)
    from polyray.node import head_flags_from_system_config
    head_flags = head_flags_from_system_config(_system_config or {})
    with _lock:
        if _state["core"] is not None:
            if ignore_reinit_error:
                return _state["info"]
            raise RuntimeError("polyray.init() was already called in this process; call polyray.shutdown() "
                               "first, or pass ignore_reinit_error=True")
        from polyray.cluster_record import resolve_address
        address = resolve_address(address)  # "auto", $POLYRAY_ADDRESS, the recorded cluster (cluster_record.py)
        head = None
        if address is None:
            from polyray.node import start_embedded_head
            head = start_embedded_head(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                                       object_store_memory=object_store_memory, include_dashboard=include_dashboard,
                                       extra_flags=head_flags, labels=labels)
            address = head.address
        else:
            for key, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("resources", resources),
                           ("object_store_memory", object_store_memory),
                           ("_system_config", _system_config or None), ("labels", labels)):
                if v is not None:
                    raise ValueError(f"{key} can only be set when init() starts a local cluster, not when "
                                     f"connecting to {address}")
        try:
            from polyray.runtime_env import validate as validate_runtime_env
            from polyray.runtime_env.resolve import job_runtime_env
            validate_runtime_env(runtime_env)  # a bad key fails before anything is uploaded
            job_env = job_runtime_env(runtime_env, address)
            core = _connect(address, namespace or "", list(code_search_path or _env_code_search_path()),
                            log_to_driver, _lineage_max_bytes, job_env, job_config)
        except BaseException:
            if head is not None:
                head.stop()
            raise
        _state["core"] = core
        _state["head"] = head
        _state["info"] = InitInfo(head, address=address, node_id=core.node_id.hex(), job_id=core.job_id.hex())
        return _state["info"]


class InitInfo(dict):
    """What init() returns: a dict (address, node_id, job_id, dashboard_url) whose
    ``dashboard_url`` is read from the embedded head when first asked for."""

    def __init__(self, head: Any, **values: Any) -> None:
        super().__init__(**values)
        self._head = head

    def __missing__(self, key: str) -> Any:
        if key != "dashboard_url":
            raise KeyError(key)
        self[key] = self._head.dashboard_url() if self._head is not None else _dashboard_of(self["address"])
        return self[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key == "dashboard_url" else super().get(key, default)

    @property
    def dashboard_url(self) -> str:
        return str(self["dashboard_url"])


def _dashboard_of(address: str) -> str:
    """The dashboard URL a running head put in its GCS (polyray.node.DASHBOARD_KV); "" when none."""
    import grpc

    from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc
    with auth.channel(address) as channel:
        try:
            reply = gcs_pb2_grpc.GcsServiceStub(channel).KVGet(
                gcs_pb2.KVGetRequest(namespace="cluster", key=b"dashboard_url"), timeout=10)
        except grpc.RpcError:
            return ""
    return reply.value.decode() if reply.found else ""


def _env_code_search_path() -> list[str]:
    raw = os.environ.get("POLYRAY_CODE_SEARCH_PATH", "")
    return [p for p in raw.split(":") if p]


def _connect(address: str, namespace: str, code_search_path: list[str], log_to_driver: bool,
             lineage_max_bytes: int | None = None, runtime_env: str = "", job_config: Any = None) -> CoreWorker:
    if ":" not in address:
        raise ValueError(f"address must be host:port, got {address!r}")
    host = address.rsplit(":", 1)[0]
    channel = auth.channel(address)
    stub = gcs_grpc.GcsServiceStub(channel)
    try:
        nodes = stub.GetAllNodes(gcs.GetAllNodesRequest(), timeout=5).nodes
        alive = [n for n in nodes if n.alive]
        if not alive:
            raise ConnectionError(f"the polyray cluster at {address} has no alive node")
        local = [n for n in alive if n.raylet_address.host in (host, "127.0.0.1", "localhost")] or alive
        node = local[0]
        # The jobs REST API's entrypoint: this driver's command line (at most 1,000 characters).
        entrypoint = " ".join(["python", *sys.argv])[:1000]
        job = gcs.JobInfo(driver_language=pb.PYTHON, driver_pid=os.getpid(), namespace=namespace,
                          entrypoint=entrypoint)
        job.code_search_path.extend(code_search_path)
        if job_config is not None:
            job.metadata.update(job_config.metadata)
            job.default_actor_lifetime = job_config.default_actor_lifetime
        job_id = stub.AddJob(gcs.AddJobRequest(job=job), timeout=10).job_id
        paths = [os.getcwd()] + [p for p in sys.path if p]
        main = sys.modules.get("__main__")
        main_file = getattr(main, "__file__", None)
        if main_file:
            paths.insert(0, os.path.dirname(os.path.abspath(main_file)))
        stub.KVPut(gcs.KVPutRequest(namespace="job", key=job_id + b":sys_path", value=json.dumps(paths).encode(),
                                    overwrite=True), timeout=10)
    except grpc.RpcError as e:
        raise ConnectionError(f"could not reach a polyray GCS at {address}: {e.code().name}: {e.details()}") from None
    finally:
        channel.close()
    raylet = node.raylet_address
    core = CoreWorker(is_driver=True, gcs_address=address, raylet_address=f"{raylet.host}:{raylet.port}",
                      node_id=node.node_id, store_name=node.store_name, job_id=job_id,
                      worker_id=WorkerID.from_random().binary(), host=raylet.host or "127.0.0.1",
                      namespace=namespace, code_search_path=code_search_path, lineage_max_bytes=lineage_max_bytes,
                      runtime_env=runtime_env)
    core.actor_handle_factory = ActorHandle
    core._polyray_default_lifetime = job_config.default_actor_lifetime if job_config is not None else ""  # type: ignore[attr-defined]
    core.start(subscribe_logs=log_to_driver)
    return core


def shutdown() -> None:
    """Disconnect the driver; stops the embedded head and its workers if init() started one."""
    with _lock:
        core, head = _state["core"], _state["head"]
        _state["core"] = _state["head"] = None
        if core is not None:
            core.shutdown()
        if head is not None:
            head.stop()


atexit.register(shutdown)


def _auto_init() -> None:
    init()


object_ref.set_auto_init(_auto_init)


def _core(auto_init: bool = True) -> CoreWorker:
    if auto_init:
        # Ray's auto-init: the first call initializes polyray (object_ref.require_core).
        return object_ref.require_core()
    core = get_core()
    if core is None:
        raise RuntimeError("polyray is not initialized: call polyray.init() first")
    return core


def remote(*args: Any, **options: Any) -> Any:
    """Make a function a remote function, or a class an actor class.

    ``@polyray.remote`` or ``@polyray.remote(num_cpus=2, num_returns=2, ...)``.
    """
    if len(args) == 1 and not options and (inspect.isfunction(args[0]) or inspect.isclass(args[0])
                                           or callable(args[0])):
        return _make_remote(args[0], {})
    if args or not options:
        # As Ray: '@remote()' with empty parentheses is an error too.
        raise TypeError("the @polyray.remote decorator must be applied either with no arguments and no "
                        "parentheses ('@polyray.remote'), or with keyword options "
                        "('@polyray.remote(num_cpus=1)')")

    def decorate(target: Any) -> Any:
        return _make_remote(target, options)
    return decorate


def _make_remote(target: Any, options: dict[str, Any]) -> Any:
    if inspect.isclass(target):
        return ActorClass(target, options)
    if callable(target):
        return RemoteFunction(target, options)
    raise TypeError(f"@polyray.remote needs a function or a class, got {type(target).__name__}")


def get(refs: ObjectRef | Sequence[ObjectRef], *, timeout: float | None = None) -> Any:
    """The value of an ObjectRef, or the list of values of a list of refs.

    Raises the task's error (TaskError, WorkerCrashedError, ...) or
    GetTimeoutError when ``timeout`` seconds pass first.
    """
    core = _core()
    if isinstance(refs, ObjectRef):
        return core.get([refs], timeout)[0]
    if isinstance(refs, (list, tuple)):
        for i, r in enumerate(refs):
            if not isinstance(r, ObjectRef):
                raise TypeError(f"get() takes an ObjectRef or a list of ObjectRefs; item {i} is a {type(r).__name__}")
        return core.get(list(refs), timeout)
    raise TypeError(f"get() takes an ObjectRef or a list of ObjectRefs, got {type(refs).__name__}")


def put(value: Any) -> ObjectRef:
    """Store a value in the cluster; returns an ObjectRef owned by this process."""
    return _core().put(value)


def wait(refs: Sequence[ObjectRef], *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Wait until ``num_returns`` refs are ready or ``timeout`` passes; returns (ready, not_ready).

    With ``fetch_local=True`` (the default, as in Ray) a value held on another
    node counts as ready once it is copied to this node; ``False`` reports it
    ready as soon as it exists anywhere. ``wait([])`` is ``([], [])``.
    """
    if isinstance(refs, ObjectRef) or not isinstance(refs, (list, tuple)):
        raise TypeError(f"wait() takes a list of ObjectRefs, got {type(refs).__name__}")
    if not refs:
        return [], []
    for i, r in enumerate(refs):
        if not isinstance(r, ObjectRef):
            raise TypeError(f"wait() takes a list of ObjectRefs; item {i} is a {type(r).__name__}")
    # Compare ids, not refs: hashing through ObjectRef.__hash__ dominated
    # "wait 1k refs" once the core's waits stopped rescanning.
    if len({r._id for r in refs}) != len(refs):
        raise ValueError("wait() got duplicate ObjectRefs")
    if not 0 <= num_returns <= len(refs):
        raise ValueError(f"num_returns must be between 0 and {len(refs)} (the number of refs), got {num_returns}")
    ready = _core().getter.wait(list(refs), num_returns, timeout, fetch_local=bool(fetch_local))
    ready_ids = {r._id for r in ready}
    return ready, [r for r in refs if r._id not in ready_ids]


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """Stop an actor now; its pending and later calls fail with ActorDiedError."""
    if not isinstance(actor, ActorHandle):
        raise TypeError(f"kill() takes an ActorHandle, got {type(actor).__name__}")
    _core().kill_actor(actor._actor_id, no_restart)


def cancel(ref: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task that produces ``ref``, as Ray's ``ray.cancel``: a queued one never runs;
    a running Python task gets ``KeyboardInterrupt`` (polyray's ``TaskCancelled``) raised in it,
    and ``force=True`` stops its worker instead. ``recursive`` (the default) also cancels the
    tasks it submitted. A ref this process did not create is cancelled through its owner.
    Actor calls: one not started never runs; a running async method's asyncio task is
    cancelled; a running sync method is not interrupted (it sees ``is_canceled()``); force=True
    is a ValueError. Its get() raises TaskCancelledError."""
    if not isinstance(ref, ObjectRef):
        raise TypeError(f"cancel() takes an ObjectRef, got {type(ref).__name__}")
    _core().cancel(ref, force, recursive)


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of a named actor; ValueError when there is none."""
    core = _core()
    ns = core.namespace if namespace is None else namespace
    reply = core.rpc(lambda: core.gcs.GetNamedActor(gcs.GetNamedActorRequest(name=name, namespace=ns), timeout=30),
                     timeout=35)
    if not reply.found or reply.actor.state == gcs.DEAD:
        raise ValueError(f"no actor named {name!r} in namespace {ns!r}")
    # As Ray: a handle looked up by name (and its copies) does not keep the actor alive.
    handle = pb.ActorHandle()
    handle.CopyFrom(reply.actor.handle)
    handle.detached = True
    return ActorHandle(handle)


def _all_nodes() -> list:
    core = _core()
    return list(core.rpc(lambda: core.gcs.GetAllNodes(gcs.GetAllNodesRequest(), timeout=30), timeout=35).nodes)


def nodes() -> list[dict[str, Any]]:
    """One dict per node (alive and dead): NodeID, Alive, Resources, AvailableResources,
    address (the raylet's host:port), NodeManagerAddress/Port, ObjectStoreName, Labels."""
    out = []
    for n in _all_nodes():
        out.append({
            "NodeID": n.node_id.hex(),
            "Alive": n.alive,
            "Resources": dict(n.resources_total),
            "AvailableResources": dict(n.resources_available),
            "address": f"{n.raylet_address.host}:{n.raylet_address.port}",
            "NodeManagerAddress": n.raylet_address.host,
            "NodeManagerPort": n.raylet_address.port,
            "ObjectStoreName": n.store_name,
            "Labels": dict(n.labels),
        })
    return out


def cluster_resources() -> dict[str, float]:
    """Total resources of the alive nodes."""
    total: dict[str, float] = {}
    for n in _all_nodes():
        if n.alive:
            for k, v in n.resources_total.items():
                total[k] = total.get(k, 0.0) + v
    return total


def available_resources() -> dict[str, float]:
    """Resources not held by tasks or actors now, over the alive nodes."""
    total: dict[str, float] = {}
    for n in _all_nodes():
        if n.alive:
            for k, v in n.resources_available.items():
                total[k] = total.get(k, 0.0) + v
    return total


class RuntimeContext:
    """What the current process is: its job, node, actor and task."""

    def __init__(self, core: CoreWorker) -> None:
        self._core = core

    def get_job_id(self) -> str:
        """The job id (hex)."""
        return self._core.job_id.hex()

    def get_node_id(self) -> str:
        """The id (hex) of the node this process runs on."""
        return self._core.node_id.hex()

    def get_worker_id(self) -> str:
        """This process's worker id (hex)."""
        return self._core.worker_id.hex()

    def get_actor_id(self) -> str | None:
        """The actor id (hex) when called inside an actor, else None."""
        return self._core.actor_id.hex() if self._core.actor_id else None

    def get_task_id(self) -> str | None:
        """The running task's id (hex); None in a driver."""
        if self._core.is_driver:
            return None
        return self._core.current_task_id().hex()

    @property
    def namespace(self) -> str:
        """The job's namespace."""
        return self._core.namespace

    def get_assigned_resources(self) -> dict[str, float]:
        """The resources this worker was given (Ray's API): the running task's request
        (``{'CPU': 1.0}`` by default), or inside an actor what the actor was created
        with (``{}`` for the default 0 CPUs). RuntimeError in a driver."""
        if self._core.is_driver:
            raise RuntimeError("get_assigned_resources() is only available in a worker (a task or an actor)")
        executor = self._core.executor
        creation = executor.actor_creation_spec
        if creation is not None:
            return {k: float(v) for k, v in creation.resources.items() if v}
        from polyray.core.worker_context import current_task
        ctx = current_task.get()
        spec = ctx.spec if ctx is not None else None
        return {k: float(v) for k, v in spec.resources.items() if v} if spec is not None else {}

    def get_node_labels(self) -> dict[str, str]:
        """The labels of the node this process runs on (Ray's ``get_node_labels()``;
        ``polyray.io/node-id`` included), asked of the GCS."""
        me = self._core.node_id
        return next((dict(n.labels) for n in _all_nodes() if n.node_id == me), {})

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        """Ray's ``get_accelerator_ids()``: ``{"GPU": [indices as str]}`` of this worker
        (empty list in a driver or a worker with no GPU)."""
        ids = [] if self._core.is_driver else [v for v in os.environ.get("POLYRAY_GPU_IDS", "").split(",") if v]
        return {"GPU": ids}

    @property
    def was_current_actor_reconstructed(self) -> bool:
        """Whether the actor this worker hosts was restarted (Ray's API): its creation
        ran again after a death (``max_restarts``); False outside an actor."""
        if self._core.is_driver:
            return False
        creation = self._core.executor.actor_creation_spec
        return creation is not None and creation.attempt > 0

    @property
    def current_actor(self) -> ActorHandle:
        """This actor's own handle, inside one of its methods (Ray's API); RuntimeError
        elsewhere. Calls through it queue behind the running call."""
        creation = self._core.executor.actor_creation_spec if not self._core.is_driver else None
        if creation is None:
            raise RuntimeError("current_actor is only available inside an actor")
        from polyray.actor import handle_of_creation
        instance = self._core.executor._actor
        return handle_of_creation(creation, type(instance) if instance is not None else None)

    def is_canceled(self) -> bool:
        """Whether ``cancel()`` was requested for the running task (Ray's API). A task sees
        True while it handles the interruption (polyray raises TaskCancelled in it), or when
        it checks before the interruption lands. RuntimeError in a driver or an async actor."""
        core = self._core
        if core.is_driver:
            raise RuntimeError("is_canceled() is only available in a task or an actor method, not in a driver")
        if core.executor._actor_is_async:
            raise RuntimeError("is_canceled() is not available in an async actor (use asyncio cancellation)")
        from polyray.core.worker_context import current_task
        ctx = current_task.get()
        return ctx is not None and ctx.task_id in core.executor.cancel_requested


def get_gpu_ids() -> list[int] | list[str]:
    """The GPU indices the raylet gave this worker's lease (Ray's API): what its
    ``CUDA_VISIBLE_DEVICES`` was set to when it started, as ints (strings when
    an index is not a number). ``[]`` in a driver and in a worker of a task or
    actor that asked for no GPU."""
    core = _core(auto_init=False)
    if core.is_driver:
        return []
    ids = [v for v in os.environ.get("POLYRAY_GPU_IDS", "").split(",") if v]
    return [int(v) for v in ids] if all(v.isdigit() for v in ids) else ids


def get_runtime_context() -> RuntimeContext:
    """The runtime context of this driver or worker."""
    return RuntimeContext(_core(auto_init=False))
