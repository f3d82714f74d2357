"""The interface through which submitters report what became of a task.

A submitter (normal or actor) never touches the owner's tables itself: it
says that a task completed (with its returns), failed (with an error record
for every return) or is retried, and the owner's side (OwnedObjects in
production, a recording fake in unit tests) carries it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from polyray.protocol import common_pb2 as pb


class TaskFinisher(Protocol):
    """What a submitter reports; every submitted task ends in exactly one complete or fail."""

    def complete(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        """The task ran: record its returns, release its arguments."""

    def fail(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        """The task will not run (again): every return becomes ``record``; release its arguments."""

    def retry(self, spec: pb.TaskSpec, why: str) -> None:
        """The task is submitted again (``spec.attempt`` already counts the new attempt)."""
