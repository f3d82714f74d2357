"""The job table: one entry per driver. AddJob hands out JobIDs, MarkJobFinished
ends a job (listeners then kill its non-detached actors).

JobIDs are 4 bytes, a counter from 1 encoded as a little-endian uint32, the
layout polyray.protocol.ids.JobID.from_int/to_int use (job 1 is ``01000000``
in hex). The counter persists, so a GCS restarted on the same storage never
reuses an ID.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc

from polyray.protocol import gcs_pb2

from .background import BackgroundTasks, log
from .errors import GcsError, invalid_argument, not_found
from .storage import Storage
from .validation import JOB_ID_SIZE, check_id

JobFinishedListener = Callable[[bytes], None]

_MAX_JOB = 2**32 - 1


def job_id_from_int(value: int) -> bytes:
    """The JobID of the ``value``-th job (1-based)."""
    return value.to_bytes(JOB_ID_SIZE, "little")


class JobTable:
    """Jobs by ID. Serves the job RPCs."""

    TABLE = "jobs"
    META_TABLE = "meta"
    COUNTER_KEY = b"next_job_id"

    def __init__(self, storage: Storage) -> None:
        """Create an empty table over ``storage``."""
        self._storage = storage
        self._jobs: dict[bytes, gcs_pb2.JobInfo] = {}
        self._next = 1
        self._write_lock = asyncio.Lock()
        self._tasks = BackgroundTasks()
        self.finished_listeners: list[JobFinishedListener] = []

    async def load(self) -> None:
        """Read jobs and the ID counter back from storage."""
        for key, value in (await self._storage.get_all(self.TABLE)).items():
            self._jobs[key] = gcs_pb2.JobInfo.FromString(value)
        counter = await self._storage.get(self.META_TABLE, self.COUNTER_KEY)
        if counter is not None:
            self._next = int.from_bytes(counter, "big")

    async def stop(self) -> None:
        """Cancel pending writes."""
        await self._tasks.cancel_all()

    def get(self, job_id: bytes) -> gcs_pb2.JobInfo | None:
        """The job, or None."""
        return self._jobs.get(job_id)

    async def AddJob(self, request: gcs_pb2.AddJobRequest, context: grpc.aio.ServicerContext) -> gcs_pb2.AddJobReply:
        """Record a new job and assign its ID."""
        if request.job.job_id:
            raise invalid_argument("job.job_id must be empty: the GCS assigns JobIDs")
        if request.job.driver_pid < 0:
            raise invalid_argument(f"job.driver_pid must be >= 0, got {request.job.driver_pid}")
        if self._next > _MAX_JOB:
            raise GcsError(grpc.StatusCode.RESOURCE_EXHAUSTED, "every 4-byte JobID is used")
        # Allocate before any await so concurrent AddJobs never share an ID.
        job_id = job_id_from_int(self._next)
        self._next += 1
        job = gcs_pb2.JobInfo()
        job.CopyFrom(request.job)
        job.job_id = job_id
        job.start_time = job.start_time or time.time()
        job.end_time = 0.0
        job.finished = False
        self._jobs[job_id] = job
        async with self._write_lock:
            await self._storage.put(self.META_TABLE, self.COUNTER_KEY, self._next.to_bytes(8, "big"))
            await self._storage.put(self.TABLE, job_id, job.SerializeToString())
        log.info("job %s added (driver pid %d)", job_id.hex(), job.driver_pid)
        return gcs_pb2.AddJobReply(job_id=job_id)

    async def MarkJobFinished(
        self, request: gcs_pb2.MarkJobFinishedRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.MarkJobFinishedReply:
        """End a job (idempotent); its non-detached actors are killed."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE)
        if request.job_id not in self._jobs:
            raise not_found(f"job {request.job_id.hex()} is not registered")
        await self.finish(request.job_id, "its driver said so")
        return gcs_pb2.MarkJobFinishedReply()

    async def finish(self, job_id: bytes, why: str) -> bool:
        """End a job (idempotent; MarkJobFinished, or its driver died); True if it was running."""
        job = self._jobs.get(job_id)
        if job is None or job.finished:
            return False
        job.finished = True
        job.end_time = time.time()
        log.info("job %s finished: %s", job.job_id.hex(), why)
        # Listeners first: the job's actors die now, not after the write.
        for listener in self.finished_listeners:
            listener(job.job_id)
        async with self._write_lock:
            await self._storage.put(self.TABLE, job.job_id, job.SerializeToString())
        return True

    async def GetAllJobs(
        self, request: gcs_pb2.GetAllJobsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetAllJobsReply:
        """Every job, running or finished."""
        return gcs_pb2.GetAllJobsReply(jobs=list(self._jobs.values()))
