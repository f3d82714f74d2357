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
from polyray.protocol import runtime_spec as rspec


class TaskFinisher(Protocol):
    """What a submitter reports; every submitted task ends in exactly one complete or fail."""

    def complete(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        """The task ran: record its returns, release its arguments."""

    def fail(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        """The task will not run (again): every return becomes ``record``; release its arguments."""

    def retry(self, spec: pb.TaskSpec, why: str) -> None:
        """The task is submitted again (``spec.attempt`` already counts the new attempt)."""

    def hold_args(self, arg_ids: list[bytes]) -> None:
        """Count the arguments once more (a task whose executor died: see ``ARGS_GRACE_S``)."""

    def release_args(self, arg_ids: list[bytes]) -> None:
        """Let go of one count taken by ``hold_args``."""


#: How long a caller keeps a task's arguments after the task's executor died
#: running it (crash, broken stream, dead node), beyond the failure or retry:
#: the executor may have handed an argument on (a child task, a value another
#: process read) whose holder's "added" is still on its way to the owner. The
#: same grace an owner's BorrowerWatch gives a dead borrower: two
#: ``borrowers.death_watch_ms`` rounds (docs/ownership.md, Deaths).
ARGS_GRACE_S = 2 * rspec.BORROWERS_DEATH_WATCH_MS / 1000.0
