"""Warnings to a job's driver about actors no node's labels match (issue 17).

A task whose label_selector (and fallback selectors) no node matches waits
with a warning from the raylet to the driver; an actor waits in the GCS's
actor directory, which warns through :class:`LabelWarnings` the same way:
one line per actor (the directory remembers it warned), at most
``limit`` per job, then a single line saying that further ones are not
shown. The line goes into the job's log channel as the raylet's does
(worker label ``scheduler``, stderr), so the driver prints it.
"""

from __future__ import annotations

from collections.abc import Callable

from polyray.protocol import gcs_pb2

#: Label warnings shown per job; then one line saying further ones are not shown.
MAX_LABEL_WARNINGS_PER_JOB = 20


class LabelWarnings:
    """Bounded per-job warnings for actors that wait for a node with matching labels."""

    def __init__(self, publish: Callable[[gcs_pb2.LogBatch], None],
                 limit: int = MAX_LABEL_WARNINGS_PER_JOB) -> None:
        """``publish`` hands a batch to the job's log subscribers (LogChannel.offer)."""
        self._publish = publish
        self._limit = max(1, limit)
        self._counts: dict[bytes, int] = {}

    def warn(self, job_id: bytes, actor: str, why: str) -> None:
        """Tell the driver of ``job_id`` that ``actor`` cannot be placed now, and ``why``."""
        count = self._counts.get(job_id, 0)
        if count > self._limit:
            return
        self._counts[job_id] = count + 1
        if count < self._limit:
            line = (f"Warning: the actor {actor} cannot be scheduled right now: {why}. "
                    "It will be created as soon as a node that matches joins the cluster.")
        else:
            line = (f"Warning: more than {self._limit} actors of this job wait for a node matching their "
                    "label selectors; further such warnings are not shown.")
        self._publish(gcs_pb2.LogBatch(job_id=job_id, worker_label="scheduler", is_error=True, lines=[line]))

    def forget(self, job_id: bytes) -> None:
        """The job finished: drop its count."""
        self._counts.pop(job_id, None)
