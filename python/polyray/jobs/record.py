"""A submitted job's record and its states (docs/jobs.md "States").

``JobRecord`` is what the job manager keeps per submission and stores in the
GCS KV (namespace ``job_submission``, one JSON value per submission id); its
``details()`` is the JSON shape of Ray's Jobs REST API (``JobDetails`` with
``type: SUBMISSION``).

States move PENDING -> RUNNING -> SUCCEEDED | FAILED | STOPPED, or straight
from PENDING to FAILED (could not start) or STOPPED (stopped before it
started). A terminal state never changes again.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import secrets
import time
from typing import Any


class JobStatus(str, enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    def is_terminal(self) -> bool:
        return self in (JobStatus.STOPPED, JobStatus.SUCCEEDED, JobStatus.FAILED)


#: The moves a record may make; anything else is a bug (InvalidTransition).
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.STOPPED: frozenset(),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
}

#: A submission id a caller may choose: what fits in a file name and a URL path segment.
SUBMISSION_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
PREFIX = "polyjob_"


class InvalidTransition(RuntimeError):
    """A record was asked to move where TRANSITIONS does not allow."""


def new_submission_id() -> str:
    """``polyjob_<16 hex>``: random, so two heads never hand out the same one."""
    return PREFIX + secrets.token_hex(8)


def check_submission_id(value: str) -> str:
    if not isinstance(value, str) or not SUBMISSION_ID_RE.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"submission_id must be 1-128 characters of letters, digits, '_', '.' or '-', "
                         f"got {value!r}")
    return value


@dataclasses.dataclass
class JobRecord:
    submission_id: str
    entrypoint: str
    status: JobStatus = JobStatus.PENDING
    message: str = "Job is waiting to start."
    runtime_env: dict = dataclasses.field(default_factory=dict)
    metadata: dict = dataclasses.field(default_factory=dict)
    entrypoint_num_cpus: float = 0.0
    entrypoint_num_gpus: float = 0.0
    entrypoint_memory: int = 0
    entrypoint_resources: dict = dataclasses.field(default_factory=dict)
    #: Seconds since the epoch (ms in the REST shape, as Ray's).
    submit_time: float = dataclasses.field(default_factory=time.time)
    start_time: float = 0.0
    end_time: float = 0.0
    #: The driver's job id (hex) once the entrypoint's driver connected to the cluster.
    driver_job_id: str | None = None
    driver_pid: int = 0
    driver_language: str = ""
    driver_node_id: str = ""
    #: The entrypoint process's pid (also its process group id); 0 until it started.
    pid: int = 0
    exit_code: int | None = None
    error_type: str | None = None
    log_path: str = ""

    # ------------------------------------------------------------ transitions

    def move(self, status: JobStatus, message: str, *, now: float | None = None,
             error_type: str | None = None) -> None:
        """Move to ``status`` (raises InvalidTransition when not allowed)."""
        if status not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"job {self.submission_id}: {self.status.value} -> {status.value}")
        now = time.time() if now is None else now
        self.status = status
        self.message = message
        if status is JobStatus.RUNNING:
            self.start_time = now
        if status.is_terminal():
            self.end_time = now
            self.error_type = error_type

    # ------------------------------------------------------------ storage

    def to_json(self) -> bytes:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> JobRecord:
        d = json.loads(data)
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}  # a newer writer's extra fields are dropped
        d["status"] = JobStatus(d["status"])
        return cls(**d)

    # ------------------------------------------------------------ REST shape

    def details(self) -> dict[str, Any]:
        """Ray's JobDetails (type SUBMISSION); times in ms since the epoch."""
        driver_info = None
        if self.driver_job_id:
            driver_info = {"id": self.driver_job_id, "pid": str(self.driver_pid), "node_ip_address": "",
                           "language": self.driver_language}
        return {
            "type": "SUBMISSION", "job_id": self.driver_job_id, "submission_id": self.submission_id,
            "status": self.status.value, "entrypoint": self.entrypoint, "message": self.message,
            "error_type": self.error_type,
            "start_time": int((self.start_time or self.submit_time) * 1000),
            "end_time": int(self.end_time * 1000) if self.end_time else None,
            "metadata": self.metadata, "runtime_env": self.runtime_env,
            "entrypoint_num_cpus": self.entrypoint_num_cpus, "entrypoint_num_gpus": self.entrypoint_num_gpus,
            "entrypoint_memory": self.entrypoint_memory, "entrypoint_resources": self.entrypoint_resources,
            "driver_info": driver_info, "driver_node_id": self.driver_node_id or None,
            "driver_exit_code": self.exit_code, "driver_agent_http_address": None,
            "pid": self.pid or None,
        }
