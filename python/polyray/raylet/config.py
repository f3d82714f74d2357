"""The raylet's configuration: one frozen description of a node."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from polyray.protocol import common_pb2
from polyray.protocol.labels import NODE_ID_LABEL, check_labels
from polyray.raylet.gpus import detect_gpu_ids, gpu_ids_for

#: Length of a NodeID / WorkerID on the wire (docs/protocol.md §IDs).
NODE_ID_SIZE = 28


def _default_cpus() -> float:
    return float(os.cpu_count() or 1)


def _default_session_dir() -> str:
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    return os.path.join("/tmp", "polyray", f"session_{stamp}_{os.getpid()}", "logs")


def validate_resources(resources: dict[str, float]) -> dict[str, float]:
    """Return a clean copy of ``resources``; raise ValueError naming a bad one.

    Negative, NaN and infinite amounts are rejected; zero amounts are dropped
    (a resource of amount 0 is the same as not having it).
    """
    clean: dict[str, float] = {}
    for name, amount in resources.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"resource names must be non-empty strings, got {name!r}")
        value = float(amount)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"resource {name!r} must be a finite number, got {amount!r}")
        if value < 0:
            raise ValueError(f"resource {name!r} must not be negative, got {amount!r}")
        if value > 0:
            clean[name] = value
    return clean


def parse_warm_workers(text: str) -> dict[int, int] | None:
    """``--warm-workers``: "N" (every language), "java=2,python=1,cpp=0"
    (languages not named keep none) or "auto"/"" (None: the CPU count each).
    ValueError naming what is wrong."""
    text = text.strip()
    if text in ("", "auto"):
        return None
    names = {name.lower(): value for name, value in common_pb2.Language.items()}
    names["c++"] = names["cpp"]
    if "=" not in text:
        n = int(text)
        if n < 0:
            raise ValueError(f"--warm-workers must not be negative, got {n}")
        return {lang: n for lang in common_pb2.Language.values()}
    counts: dict[int, int] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        lang = names.get(name.strip().lower())
        if not sep or lang is None:
            raise ValueError(f"--warm-workers: {part!r} is not LANGUAGE=COUNT (python, java, cpp)")
        count = int(value)
        if count < 0:
            raise ValueError(f"--warm-workers: {part!r} must not be negative")
        counts[lang] = count
    return counts


@dataclass
class NodeConfig:
    """Everything a raylet needs to know about its node.

    ``resources`` holds every resource the node offers by name: "CPU",
    "GPU", "memory" (bytes) and any custom ones. Use :meth:`build` to make
    one from separate CPU/GPU/memory/custom amounts.
    """

    gcs_address: str
    node_id: bytes = field(default_factory=lambda: os.urandom(NODE_ID_SIZE))
    host: str = "127.0.0.1"
    #: Port to bind; 0 picks a free one (``RayletServer.start`` returns it).
    port: int = 0
    resources: dict[str, float] = field(default_factory=lambda: {"CPU": _default_cpus()})
    #: Bytes of the node's shared store.
    object_store_memory: int = 256 * 1024 * 1024
    #: Shared-memory segment name; unique per node (derived from node id and pid).
    store_name: str = ""
    #: Seconds a started worker has to call RegisterWorker.
    worker_start_timeout_s: float = 30.0
    #: Per-language overrides of the start timeout (a JVM starts slower).
    worker_start_timeout_by_language: dict[int, float] = field(
        default_factory=lambda: {common_pb2.JAVA: 60.0}
    )
    #: Idle workers are stopped after this many seconds without a lease.
    idle_worker_timeout_s: float = 10.0
    #: At most this many workers are between spawn and registration at once.
    max_starting_workers: int = 0
    #: Idle workers kept past the idle timeout (node-wide, most recent first).
    prestart_workers: int = 0
    #: Warm pool: per language, up to this many idle workers (most recent
    #: first) are kept past the idle timeout while their job is live on this
    #: node (its driver registered here, or a worker of it leased here). None:
    #: the node's CPU count for every language; a language missing from a
    #: given dict keeps none.
    warm_workers: dict[int, int] | None = None
    #: Start one idle Java worker beside the first Java worker a job's lease
    #: starts, so its next Java actor finds a JVM up (joins the warm pool).
    prestart_java_on_first_use: bool = True
    #: Python workers started for a job as soon as its driver registers, so
    #: the first tasks do not wait for interpreter start-up (Ray does the same).
    prestart_on_driver: int = 0
    #: Start those ``prestart_on_driver`` workers with the node already, as
    #: standbys (interpreters that import the runtime, then wait for a job):
    #: the first Python driver adopts them, so its first tasks wait for no
    #: interpreter start at all (Ray prestarts its workers with the node too).
    prestart_standby: bool = True
    #: Per language other than Python (Java, C++): workers started for a job
    #: as soon as a driver of that language registers, with the job's code
    #: search path, so its first task of its own language finds one starting
    #: or up (a missing language: none).
    prestart_on_driver_by_language: dict[int, int] = field(default_factory=dict)
    #: Per-worker log files go here.
    session_dir: str = field(default_factory=_default_session_dir)
    #: Deadline of every call the raylet makes to the GCS.
    gcs_rpc_timeout_s: float = 5.0
    #: How long start() keeps trying to reach the GCS before giving up.
    gcs_connect_timeout_s: float = 10.0
    #: Heartbeat period when the GCS does not say one.
    heartbeat_interval_s: float = 1.0
    #: Worker output is forwarded to the GCS at most this often.
    log_flush_interval_s: float = 0.1
    #: Grace period between SIGTERM and SIGKILL when stopping workers.
    worker_kill_grace_s: float = 2.0
    #: The node's labels (``--labels``), matched by label_selector; every node
    #: also carries ``polyray.io/node-id``.
    labels: dict[str, str] = field(default_factory=dict)
    #: The GPU indices the node hands to leases (None: 0..GPU-1, or the
    #: detected ones; gpus.py).
    gpu_ids: list[str] | None = None

    def __post_init__(self) -> None:
        if len(self.node_id) != NODE_ID_SIZE:
            raise ValueError(
                f"node_id must be {NODE_ID_SIZE} bytes, got {len(self.node_id)}"
            )
        self.resources = validate_resources(self.resources)
        self.labels = check_labels(self.labels, "--labels")
        self.labels.setdefault(NODE_ID_LABEL, self.node_id.hex())
        self.gpu_ids = gpu_ids_for(self.resources.get("GPU", 0.0), self.gpu_ids)
        if self.object_store_memory <= 0:
            raise ValueError(
                f"object_store_memory must be positive, got {self.object_store_memory}"
            )
        for name in ("worker_start_timeout_s", "idle_worker_timeout_s", "gcs_rpc_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.warm_workers is None:
            cpus = max(0, int(self.resources.get("CPU", 0)))
            self.warm_workers = {lang: cpus for lang in common_pb2.Language.values()}
        for lang, count in self.warm_workers.items():
            if count < 0:
                raise ValueError(f"warm_workers must not be negative, got {count} for language {lang}")
        for lang, count in self.prestart_on_driver_by_language.items():
            if count < 0:
                raise ValueError(f"prestart_on_driver_by_language must not be negative, got {count} "
                                 f"for language {lang}")
        if self.prestart_workers < 0:
            raise ValueError(f"prestart_workers must not be negative, got {self.prestart_workers}")
        if self.max_starting_workers <= 0:
            # Like Ray's maximum_startup_concurrency: one per CPU, at least one.
            self.max_starting_workers = max(1, int(self.resources.get("CPU", 1)))
        if not self.store_name:
            self.store_name = f"/polyray-{self.node_id.hex()[:12]}-{os.getpid()}"
        if not self.store_name.startswith("/") or "/" in self.store_name[1:]:
            raise ValueError(
                f"store_name must look like '/name' with no other '/', got {self.store_name!r}"
            )

    @classmethod
    def build(
        cls,
        gcs_address: str,
        *,
        num_cpus: float | None = None,
        num_gpus: float | None = 0.0,
        memory: float = 0.0,
        custom_resources: dict[str, float] | None = None,
        **kwargs: object,
    ) -> NodeConfig:
        """Make a config from Ray-style resource arguments.

        ``num_cpus`` defaults to the machine's CPU count; ``num_gpus=None``
        detects the GPUs (gpus.py). Negative amounts raise ValueError naming
        the resource.
        """
        if num_gpus is None:
            detected = detect_gpu_ids()
            num_gpus = float(len(detected))
            kwargs.setdefault("gpu_ids", detected)
        resources: dict[str, float] = {
            "CPU": _default_cpus() if num_cpus is None else num_cpus,
            "GPU": num_gpus,
            "memory": memory,
        }
        for name, amount in (custom_resources or {}).items():
            if name in ("CPU", "GPU", "memory"):
                raise ValueError(f"custom resource {name!r} clashes with a built-in resource")
            resources[name] = amount
        return cls(gcs_address=gcs_address, resources=resources, **kwargs)  # type: ignore[arg-type]

    def start_timeout_for(self, language: int) -> float:
        """The registration timeout of a worker of ``language``."""
        return self.worker_start_timeout_by_language.get(language, self.worker_start_timeout_s)

    def warm_for(self, language: int) -> int:
        """How many idle workers of ``language`` the warm pool keeps."""
        return (self.warm_workers or {}).get(language, 0)

    @property
    def node_id_hex(self) -> str:
        """The node id as shown in logs and environment variables."""
        return self.node_id.hex()
