"""Which processes are dead, for owners that count their borrows and lends.

An owner that counts borrows or lends of other processes asks
``GetDeadWorkers`` with those processes' addresses every
``borrowers.death_watch_ms`` and releases what each dead one held
(docs/ownership.md, "The reference protocol", Deaths). A process is dead when
a raylet reported it (``ReportWorkerDeath``: a worker's exit, a driver whose
pid vanished), when it was the driver of a finished job, or when the GCS
declared its node dead. Only ids are kept: 28 bytes each, the oldest
forgotten beyond ``MAX_REMEMBERED`` (an owner asking about a forgotten one
then keeps its borrows: a leak, never an early free).
"""

from __future__ import annotations

from collections import OrderedDict

import grpc

from polyray.protocol import gcs_pb2

from .errors import invalid_argument
from .job_table import JobTable
from .node_table import NodeTable

MAX_REMEMBERED = 1_000_000
MAX_ASKED = 100_000


class DeadWorkers:
    """Dead worker and driver ids. Serves GetDeadWorkers."""

    def __init__(self, nodes: NodeTable, jobs: JobTable) -> None:
        self._nodes = nodes
        self._jobs = jobs
        self._dead: OrderedDict[bytes, None] = OrderedDict()

    def record(self, worker_id: bytes) -> None:
        """A worker or driver died (or, a driver, finished its job)."""
        if not worker_id:
            return
        self._dead[worker_id] = None
        if len(self._dead) > MAX_REMEMBERED:
            self._dead.popitem(last=False)

    def on_job_finished(self, job_id: bytes) -> None:
        """A finished job's driver borrows nothing any more."""
        job = self._jobs.get(job_id)
        if job is not None:
            self.record(job.driver.worker_id)

    def is_dead(self, worker_id: bytes, node_id: bytes) -> bool:
        if worker_id in self._dead:
            return True
        node = self._nodes.get(node_id) if node_id else None
        return node is not None and not node.alive

    async def GetDeadWorkers(
        self, request: gcs_pb2.GetDeadWorkersRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetDeadWorkersReply:
        """The ids of the asked processes that are dead (the others may be alive)."""
        if len(request.workers) > MAX_ASKED:
            raise invalid_argument(f"workers: at most {MAX_ASKED} entries, got {len(request.workers)}")
        return gcs_pb2.GetDeadWorkersReply(
            dead_worker_ids=[w.worker_id for w in request.workers if self.is_dead(w.worker_id, w.node_id)])
