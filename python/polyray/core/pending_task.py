"""A submitted task as its submitter tracks it.

Invariants: ``arg_ids`` are the object ids the task's arguments reference,
counted as "submitted" by the owner's ReferenceCounter until the task is
reported complete or failed; ``lease`` is set exactly while the task is in
flight on a leased worker.
"""

from __future__ import annotations

from typing import Any

from polyray.protocol import common_pb2 as pb


class PendingTask:
    """A submitted task with the argument references it holds."""

    __slots__ = ("spec", "arg_ids", "cancelled", "force_cancelled", "lease", "pushed_at", "key")

    def __init__(self, spec: pb.TaskSpec, arg_ids: list[bytes], key: tuple) -> None:
        self.spec = spec
        self.arg_ids = arg_ids
        self.cancelled = False
        self.force_cancelled = False
        self.lease: Any | None = None
        self.pushed_at = 0.0
        self.key = key
