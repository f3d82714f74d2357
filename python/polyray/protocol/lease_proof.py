"""Lease proofs: a worker runs normal tasks only from the holder of its lease.

The raylet gives every worker it starts a random key (``POLYRAY_LEASE_KEY``,
hex) and returns with each grant a proof, HMAC-SHA256(key, lease_id ‖ holder
‖ seq as 8 bytes big-endian), where holder is the requester's worker id and
seq grows with every grant of the raylet. The holder shows the proof in the
first PushTasksRequest of each stream of the lease; the worker checks it once
per stream (constant time) and refuses the stream's normal tasks when the
proof is missing or wrong, when a task's caller is not the holder, or when the
worker has since seen a newer lease (docs/fault-tolerance.md, "Bad input").
Actor tasks are not leases and are not checked. Same rules in Java
(``LeaseProofs``) and C++ (``lease_proof.h``); cases in
``proto/vectors/lease_proof.json``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os

from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw

KEY_ENV = "POLYRAY_LEASE_KEY"
KEY_BYTES = 32

#: Grant numbers of this process's raylets: only their order per worker matters.
_seq = itertools.count(1)


def new_key() -> bytes:
    """A worker's lease key."""
    return os.urandom(KEY_BYTES)


def next_seq() -> int:
    """The next grant number."""
    return next(_seq)


def sign(key: bytes, lease_id: bytes, holder: bytes, seq: int) -> bytes:
    """HMAC-SHA256(key, lease_id ‖ holder ‖ seq as 8 bytes big-endian)."""
    return hmac.new(key, lease_id + holder + seq.to_bytes(8, "big"), hashlib.sha256).digest()


def make(key: bytes, lease_id: bytes, holder: bytes) -> pb.LeaseProof:
    """The proof of a new grant of ``lease_id`` to ``holder``."""
    seq = next_seq()
    return pb.LeaseProof(lease_id=lease_id, holder=holder, seq=seq, proof=sign(key, lease_id, holder, seq))


def verify(key: bytes, lease: pb.LeaseProof) -> bool:
    """Whether ``lease`` was signed with ``key`` (constant-time comparison)."""
    return hmac.compare_digest(sign(key, lease.lease_id, lease.holder, lease.seq), lease.proof)


class StreamLease:
    """What one push stream proved: its lease, or why it proved none."""

    __slots__ = ("holder", "seq", "missing")

    def __init__(self, holder: bytes = b"", seq: int = 0, missing: str = "no lease proof was shown") -> None:
        self.holder = holder
        self.seq = seq
        #: Why the stream holds no lease ("" once a proof verified).
        self.missing = missing


class LeaseGuard:
    """A worker's check of pushed normal tasks. Without a key (a driver, or a
    worker not started by a raylet) nothing is checked."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        #: The newest grant this worker has seen.
        self.newest = 0

    @classmethod
    def from_env(cls) -> LeaseGuard:
        raw = os.environ.get(KEY_ENV, "")
        try:
            return cls(bytes.fromhex(raw) if raw else None)
        except ValueError:
            return cls(None)

    def open(self, request: cw.PushTasksRequest, current: StreamLease) -> StreamLease:
        """The stream's lease after ``request`` (which may carry a proof)."""
        if self.key is None or not request.HasField("lease"):
            return current
        lease = request.lease
        if not verify(self.key, lease):
            return StreamLease(missing=f"the lease proof of lease {lease.lease_id.hex()} does not verify "
                                       f"(not a grant of this worker to {lease.holder.hex()})")
        if lease.seq < self.newest:
            return StreamLease(missing=f"lease {lease.lease_id.hex()} is stale: grant {lease.seq}, "
                                       f"the worker was leased again since (grant {self.newest})")
        self.newest = lease.seq
        return StreamLease(lease.holder, lease.seq, "")

    def refusal(self, stream: StreamLease, spec: pb.TaskSpec) -> str | None:
        """Why ``spec`` is refused on a stream that proved ``stream``, or None."""
        if self.key is None or spec.type != pb.NORMAL_TASK:
            return None
        if stream.missing:
            return stream.missing
        if stream.seq < self.newest:
            return (f"the stream's lease is stale: grant {stream.seq}, the worker was leased again since "
                    f"(grant {self.newest})")
        if spec.caller.worker_id != stream.holder:
            return (f"the caller {spec.caller.worker_id.hex()} is not the lease holder {stream.holder.hex()}")
        return None


def refused_result(spec: pb.TaskSpec, why: str, worker: str = "") -> cw.TaskResult:
    """The reply to a refused task: every return is a RUNTIME_ERROR of type
    LeaseRefused naming the reason, and ``lease_refused`` is set."""
    record = pb.ErrorRecord(kind=pb.RUNTIME_ERROR, type_name="LeaseRefused", language=pb.PYTHON,
                            message=f"the task was refused by worker {worker}: {why}")
    env = pb.Envelope(format=pb.FORMAT_ERROR, body=record.SerializeToString())
    tid = spec.task_id
    return cw.TaskResult(task_id=tid, lease_refused=True, returns=[
        pb.ReturnObject(object_id=tid + i.to_bytes(4, "little"), value=env)
        for i in range(1, spec.num_returns + 1)])


def checking() -> bool:
    """Whether raylets give their workers lease keys (``POLYRAY_LEASE_CHECK``,
    default on; 0 turns the check off for every worker they start)."""
    return os.environ.get("POLYRAY_LEASE_CHECK", "1") != "0"


#: This process's guard (its key from the environment the raylet started it with).
GUARD = LeaseGuard.from_env()
