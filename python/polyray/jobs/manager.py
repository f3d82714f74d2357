"""The job manager: runs on the head, beside the dashboard (docs/jobs.md).

``submit()`` validates a submission, stores its record in the GCS and starts
a JobSupervisor for it; ``stop()``, ``delete()``, ``get()``, ``list()`` and
the log readers serve the REST routes (dashboard/rest_jobs.py).

Entrypoint resources (``entrypoint_num_cpus`` / ``_gpus`` / ``_memory`` /
``_resources``) are admitted against the head node's totals, counting the
other submitted jobs that hold them: a job that does not fit stays PENDING
until it does. They are the manager's accounting, not a raylet lease.

A driver the entrypoint starts is linked to its submission (``job_id``,
``driver_info``) when the GCS's job table has a driver whose pid is the
entrypoint's or in its process group; the manager looks every
``LINK_INTERVAL_S`` while the job runs and once when it ends.

A manager that starts and finds records that are not terminal (its own
earlier run died) kills what is left of their process groups and marks them
FAILED: it cannot take back a process it did not start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any, Protocol

from polyray import runtime_env as rte
from polyray.protocol import common_pb2, gcs_pb2
from polyray.runtime_env.agent import RuntimeEnvAgent

from .record import JobRecord, JobStatus, check_submission_id, new_submission_id
from .supervisor import DEFAULT_STOP_GRACE_S, JobSupervisor, Launcher, shell_launcher

log = logging.getLogger(__name__)

LINK_INTERVAL_S = 0.2
#: How often a PENDING job re-reads the head's resources when nothing else woke it.
ADMIT_POLL_S = 1.0
#: How long ``delete`` / ``shutdown`` wait for a supervisor to finish.
SHUTDOWN_GRACE_S = 1.0


class JobExists(ValueError):
    """A submission id that is already taken."""


class NotTerminal(ValueError):
    """Delete of a job that has not ended."""


class Cluster(Protocol):
    """What the manager reads and writes in the GCS (store.GcsJobStore; a fake in the unit tests)."""

    async def put(self, record: JobRecord) -> None: ...
    async def add(self, record: JobRecord) -> bool: ...
    async def get(self, submission_id: str) -> JobRecord | None: ...
    async def all(self) -> list[JobRecord]: ...
    async def delete(self, submission_id: str) -> bool: ...
    async def driver_jobs(self) -> list[gcs_pb2.JobInfo]: ...
    async def nodes(self) -> list[gcs_pb2.NodeInfo]: ...
    async def package(self, uri: str) -> bytes | None: ...


def _str_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{field} must be an object of strings to strings")
    return dict(value)


def _amount(value: Any, field: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{field} must be a number >= 0, got {value!r}")
    return float(value)


def validate(entrypoint: Any, submission_id: Any, runtime_env: Any, metadata: Any, num_cpus: Any, num_gpus: Any,
             memory: Any, resources: Any) -> None:
    """Raise ValueError naming the first bad field."""
    if not isinstance(entrypoint, str) or not entrypoint.strip():
        raise ValueError("entrypoint must be a non-empty string (a shell command)")
    if submission_id is not None:
        check_submission_id(submission_id)
    if runtime_env is not None:
        rte.validate(runtime_env, local=False)  # ValueError names the key
    _str_map(metadata, "metadata")
    _amount(num_cpus, "entrypoint_num_cpus")
    _amount(num_gpus, "entrypoint_num_gpus")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory < 0):
        raise ValueError(f"entrypoint_memory must be an integer >= 0 (bytes), got {memory!r}")
    if resources is not None:
        if not isinstance(resources, dict) or not all(isinstance(k, str) for k in resources):
            raise ValueError("entrypoint_resources must be an object of resource names to amounts")
        for k, v in resources.items():
            _amount(v, f"entrypoint_resources.{k}")


def demand(rec: JobRecord) -> dict[str, float]:
    """The head resources a job's entrypoint holds while it runs."""
    d = {"CPU": rec.entrypoint_num_cpus, "GPU": rec.entrypoint_num_gpus, "memory": float(rec.entrypoint_memory),
         **{k: float(v) for k, v in rec.entrypoint_resources.items()}}
    return {k: v for k, v in d.items() if v > 0}


class RuntimeEnvSetup:
    """The entrypoint's side of a job's runtime env, prepared on the head by the runtime_env agent
    (packages fetched from the GCS and unpacked once, pip venvs; docs/jobs.md "Runtime env")."""

    def __init__(self, cache_dir: str, cluster: Cluster) -> None:
        self._agent = RuntimeEnvAgent(cache_dir, cluster.package)

    async def __call__(self, rec: JobRecord) -> tuple[str | None, dict[str, str]]:
        if not rec.runtime_env:
            return None, {}
        prepared = await self._agent.prepare(rte.canonical_json(rec.runtime_env))
        extra = dict(prepared.env_vars)
        if prepared.python_path:
            old = extra.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
            extra["PYTHONPATH"] = os.pathsep.join([*prepared.python_path, *([old] if old else [])])
        if prepared.python:  # pip: the venv's python comes first on PATH
            extra["PATH"] = os.path.dirname(prepared.python) + os.pathsep + os.environ.get("PATH", "")
        return prepared.cwd, extra


def _is_entrypoint_of(pid: int, submission_id: str) -> bool:
    """Whether ``pid`` is still that job's entrypoint (not a process that reused its pid)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"POLYRAY_JOB_SUBMISSION_ID={submission_id}".encode() in f.read().split(b"\0")
    except OSError:
        return False


class JobManager:
    def __init__(self, gcs_address: str, log_dir: str, cluster: Cluster, *, launcher: Launcher = shell_launcher,
                 stop_grace_s: float = DEFAULT_STOP_GRACE_S, setup_timeout_s: float | None = None,
                 base_env: Mapping[str, str] | None = None, head_host: str | None = None) -> None:
        self.gcs_address = gcs_address
        self.log_dir = log_dir
        self.cluster = cluster
        self._launcher = launcher
        self.stop_grace_s = stop_grace_s
        self._setup_timeout_s = setup_timeout_s
        self._base_env = dict(os.environ if base_env is None else base_env)
        if base_env is None:  # `python` in an entrypoint is the head's interpreter, as `python` in Ray's is Ray's
            bindir = os.path.dirname(sys.executable)
            if os.access(os.path.join(bindir, "python"), os.X_OK):
                self._base_env["PATH"] = bindir + os.pathsep + self._base_env.get("PATH", "")
        self._head_host = head_host if head_host is not None else gcs_address.rpartition(":")[0]
        self._setup = RuntimeEnvSetup(os.path.join(log_dir, "runtime_resources"), cluster)
        self._sups: dict[str, JobSupervisor] = {}
        #: The records an earlier manager left (read once at start; None: the GCS did not answer then).
        self._earlier: dict[str, JobRecord] | None = None
        self._tasks: dict[str, asyncio.Task] = {}
        self._held: dict[str, dict[str, float]] = {}
        self._freed = asyncio.Event()
        self._linker: asyncio.Task | None = None
        self._submit_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Take over what an earlier manager left (see the module docstring)."""
        os.makedirs(self.log_dir, exist_ok=True)
        self._linker = asyncio.ensure_future(self._link_loop())
        try:
            earlier = await self.cluster.all()
        except Exception as e:  # the GCS away: nothing to take over; submissions will say so
            log.warning("job manager: could not read the job records from the GCS: %s", e)
            return
        self._earlier = {r.submission_id: r for r in earlier}
        left = [r for r in earlier if not r.status.is_terminal()]
        for rec in left:
            if rec.pid and _is_entrypoint_of(rec.pid, rec.submission_id):
                try:
                    os.killpg(rec.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            rec.move(JobStatus.FAILED, f"the job manager restarted while the job was {rec.status.value}; "
                                       f"its entrypoint was killed", error_type="JOB_MANAGER_RESTARTED")
            await self._changed(rec)

    async def shutdown(self) -> None:
        """Stop every job that still runs (the head is going away) and wait briefly for them."""
        if self._linker is not None:
            self._linker.cancel()
        for sup in list(self._sups.values()):
            sup.stop(grace_s=min(sup.stop_grace_s, SHUTDOWN_GRACE_S))
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S + 2)
        close = getattr(self.cluster, "close", None)
        if close is not None:
            await close()

    # ------------------------------------------------------------------ submit

    def log_path(self, submission_id: str) -> str:
        return os.path.join(self.log_dir, f"job-driver-{submission_id}.log")

    async def submit(self, entrypoint: str, submission_id: str | None = None, runtime_env: dict | None = None,
                     metadata: dict | None = None, entrypoint_num_cpus: float | None = None,
                     entrypoint_num_gpus: float | None = None, entrypoint_memory: int | None = None,
                     entrypoint_resources: dict | None = None) -> str:
        """Start a job; its submission id (``polyjob_<hex>`` unless given). ValueError names a bad field."""
        validate(entrypoint, submission_id, runtime_env, metadata, entrypoint_num_cpus, entrypoint_num_gpus,
                 entrypoint_memory, entrypoint_resources)
        sid = submission_id or new_submission_id()
        rec = JobRecord(submission_id=sid, entrypoint=entrypoint,
                        runtime_env=rte.validate(runtime_env, local=False) if runtime_env else {},
                        metadata=dict(metadata or {}), entrypoint_num_cpus=_amount(entrypoint_num_cpus, ""),
                        entrypoint_num_gpus=_amount(entrypoint_num_gpus, ""),
                        entrypoint_memory=int(entrypoint_memory or 0),
                        entrypoint_resources={k: float(v) for k, v in (entrypoint_resources or {}).items()},
                        log_path=self.log_path(sid))
        async with self._submit_lock:
            if sid in self._sups or not await self.cluster.add(rec):
                raise JobExists(f"submission_id {sid!r} already exists")
        with open(rec.log_path, "wb"):
            pass  # readable (empty) from the start
        env = dict(self._base_env)
        env.update({"POLYRAY_ADDRESS": self.gcs_address, "POLYRAY_JOB_SUBMISSION_ID": sid,
                    "POLYRAY_RUNTIME_ENV_JSON": json.dumps(rec.runtime_env)})
        kwargs: dict[str, Any] = {}
        if self._setup_timeout_s is not None:
            kwargs["setup_timeout_s"] = self._setup_timeout_s
        sup = JobSupervisor(rec, env=env, on_change=self._changed, launcher=self._launcher, setup=self._setup,
                            wait_ready=lambda: self._admit(rec), stop_grace_s=self.stop_grace_s, **kwargs)
        self._sups[sid] = sup
        self._tasks[sid] = asyncio.ensure_future(self._supervise(sup))
        return sid

    async def _supervise(self, sup: JobSupervisor) -> None:
        try:
            await sup.run()
        except Exception:
            log.exception("job %s: the supervisor failed", sup.record.submission_id)
            if not sup.record.status.is_terminal():
                sup.record.move(JobStatus.FAILED, "the job supervisor failed (see the head's log)",
                                error_type="JOB_SUPERVISOR_FAILED")
                await self._changed(sup.record)
        finally:
            if self._held.pop(sup.record.submission_id, None):
                self._freed.set()
            await self._link(sup.record, final=True)

    async def _changed(self, rec: JobRecord) -> None:
        try:
            await self.cluster.put(rec)
        except Exception as e:  # the GCS away: the in-memory record still serves the REST
            log.warning("job %s: could not store its record: %s", rec.submission_id, e)

    # ------------------------------------------------------------------ admission

    async def _head_capacity(self) -> dict[str, float] | None:
        nodes = [n for n in await self.cluster.nodes() if n.alive and n.raylet_address.host == self._head_host]
        if not nodes:
            return None
        head = min(nodes, key=lambda n: n.start_time)
        return dict(head.resources_total)

    async def _admit(self, rec: JobRecord) -> None:
        need = demand(rec)
        if not need:
            return
        waited = False
        while True:
            try:
                total = await self._head_capacity()
            except Exception as e:
                log.debug("job %s: head resources unknown: %s", rec.submission_id, e)
                total = None
            if total is not None:
                used: dict[str, float] = {}
                for held in self._held.values():
                    for k, v in held.items():
                        used[k] = used.get(k, 0.0) + v
                if all(total.get(k, 0.0) - used.get(k, 0.0) >= v - 1e-9 for k, v in need.items()):
                    self._held[rec.submission_id] = need
                    return
                if not waited:
                    waited = True
                    rec.message = (f"Job is waiting for entrypoint resources {need} on the head "
                                   f"(head total {total}, held by other jobs {used}).")
                    await self._changed(rec)
            self._freed.clear()
            try:
                await asyncio.wait_for(self._freed.wait(), ADMIT_POLL_S)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ drivers

    async def _link(self, rec: JobRecord, final: bool = False) -> None:
        if rec.driver_job_id or not rec.pid:
            return
        try:
            drivers = await self.cluster.driver_jobs()
        except Exception:
            return
        for j in drivers:
            pid = j.driver_pid
            mine = pid == rec.pid
            if not mine and not final and j.driver.host in ("", self._head_host, "127.0.0.1", "localhost"):
                try:
                    mine = os.getpgid(pid) == rec.pid
                except (ProcessLookupError, PermissionError, OSError):
                    mine = False
            if mine:
                rec.driver_job_id = j.job_id.hex()
                rec.driver_pid = pid
                rec.driver_language = common_pb2.Language.Name(j.driver_language)
                rec.driver_node_id = j.driver.node_id.hex()
                await self._changed(rec)
                return

    async def _link_loop(self) -> None:
        while True:
            await asyncio.sleep(LINK_INTERVAL_S)
            for sup in list(self._sups.values()):
                if sup.record.status is JobStatus.RUNNING and not sup.record.driver_job_id:
                    await self._link(sup.record)

    # ------------------------------------------------------------------ queries, stop, delete

    async def get(self, submission_id: str) -> JobRecord | None:
        sup = self._sups.get(submission_id)
        if sup is not None:
            return sup.record
        if self._earlier is not None:
            return self._earlier.get(submission_id)
        return await self.cluster.get(submission_id)

    async def find(self, job_or_submission_id: str) -> JobRecord | None:
        """A record by submission id, or by its driver's job id (as Ray's routes accept either)."""
        rec = await self.get(job_or_submission_id)
        if rec is not None:
            return rec
        for r in await self.list():
            if r.driver_job_id == job_or_submission_id:
                return r
        return None

    async def list(self) -> list[JobRecord]:
        """Every submitted job: this manager's and those an earlier one left in the GCS (read at start;
        only one manager writes a GCS's records, the head's)."""
        if self._earlier is None:
            by_id = {r.submission_id: r for r in await self.cluster.all()}
        else:
            by_id = dict(self._earlier)
        for sid, sup in self._sups.items():
            by_id[sid] = sup.record
        return sorted(by_id.values(), key=lambda r: r.submit_time)

    def stop(self, submission_id: str, grace_s: float | None = None) -> bool:
        """Stop a job of this manager; False when it has ended or is not known here."""
        sup = self._sups.get(submission_id)
        return sup.stop(grace_s) if sup is not None else False

    async def wait(self, submission_id: str, timeout: float) -> JobRecord | None:
        """Wait up to ``timeout`` for a job of this manager to end; its record."""
        sup = self._sups.get(submission_id)
        if sup is not None:
            try:
                await asyncio.wait_for(sup.done.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return await self.get(submission_id)

    async def delete(self, submission_id: str) -> bool:
        """Forget a job that has ended, and its log; NotTerminal when it has not."""
        rec = await self.get(submission_id)
        if rec is None:
            return False
        if not rec.status.is_terminal():
            raise NotTerminal(f"job {submission_id} is {rec.status.value}: only a job that has ended can be "
                              f"deleted (stop it first)")
        task = self._tasks.pop(submission_id, None)
        if task is not None:
            await asyncio.wait([task], timeout=SHUTDOWN_GRACE_S + 2)
        self._sups.pop(submission_id, None)
        if self._earlier is not None:
            self._earlier.pop(submission_id, None)
        await self.cluster.delete(submission_id)
        try:
            os.unlink(rec.log_path or self.log_path(submission_id))
        except OSError:
            pass
        return True

    # ------------------------------------------------------------------ logs

    def read_log(self, rec: JobRecord, offset: int = 0, limit: int = -1) -> tuple[bytes, int]:
        """Bytes of a job's log from ``offset`` (``limit`` < 0: to the end); the bytes and the new offset."""
        path = rec.log_path or self.log_path(rec.submission_id)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read() if limit < 0 else f.read(limit)
        except FileNotFoundError:
            return b"", offset
        return data, offset + len(data)
