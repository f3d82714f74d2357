"""Lease proofs (protocol/lease_proof.py): the shared vectors, and the
worker's LeaseGuard over streams — no proof, a wrong one, another caller, a
stale lease after a newer grant, and actor tasks left unchecked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import lease_proof
from polyray.protocol.lease_proof import LeaseGuard, StreamLease

CASES = json.loads((Path(__file__).resolve().parents[3] / "proto" / "vectors" / "lease_proof.json")
                   .read_text(encoding="utf-8"))["cases"]

KEY = bytes(range(32))
HOLDER = b"h" * 28
OTHER = b"o" * 28


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vectors(case: dict) -> None:
    lease = pb.LeaseProof(lease_id=bytes.fromhex(case["lease_id"]), holder=bytes.fromhex(case["holder"]),
                          seq=case["seq"], proof=bytes.fromhex(case["proof"]))
    assert lease_proof.verify(bytes.fromhex(case["key"]), lease) is case["valid"]


def _spec(caller: bytes = HOLDER, kind: int = pb.NORMAL_TASK) -> pb.TaskSpec:
    return pb.TaskSpec(type=kind, task_id=b"t" * 24, num_returns=2, caller=pb.Address(worker_id=caller))


def _open(guard: LeaseGuard, lease: pb.LeaseProof | None) -> StreamLease:
    req = cw.PushTasksRequest(tasks=[_spec()])
    if lease is not None:
        req.lease.CopyFrom(lease)
    return guard.open(req, StreamLease())


def test_the_holder_with_its_proof_runs() -> None:
    guard = LeaseGuard(KEY)
    stream = _open(guard, lease_proof.make(KEY, b"l" * 16, HOLDER))
    assert guard.refusal(stream, _spec()) is None


def test_no_proof_wrong_proof_other_caller_refused() -> None:
    guard = LeaseGuard(KEY)
    assert "no lease proof" in (guard.refusal(_open(guard, None), _spec()) or "")
    forged = lease_proof.make(bytes(32), b"l" * 16, HOLDER)
    assert "does not verify" in (guard.refusal(_open(guard, forged), _spec()) or "")
    stream = _open(guard, lease_proof.make(KEY, b"l" * 16, HOLDER))
    assert "not the lease holder" in (guard.refusal(stream, _spec(caller=OTHER)) or "")


def test_stale_lease_refused_after_a_newer_grant() -> None:
    guard = LeaseGuard(KEY)
    old = lease_proof.make(KEY, b"a" * 16, HOLDER)
    old_stream = _open(guard, old)
    new_stream = _open(guard, lease_proof.make(KEY, b"b" * 16, OTHER))
    assert guard.refusal(new_stream, _spec(caller=OTHER)) is None
    # The old holder's open stream, and a new stream with its old proof.
    assert "stale" in (guard.refusal(old_stream, _spec()) or "")
    assert "stale" in (guard.refusal(_open(guard, old), _spec()) or "")


def test_actor_tasks_and_keyless_workers_unchecked() -> None:
    guard = LeaseGuard(KEY)
    none = _open(guard, None)
    assert guard.refusal(none, _spec(kind=pb.ACTOR_TASK)) is None
    assert guard.refusal(none, _spec(kind=pb.ACTOR_CREATION_TASK)) is None
    assert LeaseGuard(None).refusal(StreamLease(), _spec()) is None


def test_refused_result_names_the_reason() -> None:
    res = lease_proof.refused_result(_spec(), "no lease proof was shown", "w1")
    assert res.lease_refused and len(res.returns) == 2
    rec = pb.ErrorRecord.FromString(res.returns[0].value.body)
    assert rec.type_name == "LeaseRefused" and "no lease proof" in rec.message


# -- the caller's side (NormalTaskSubmitter over fakes) ------------------------------

def _refuse(spec: pb.TaskSpec) -> cw.TaskResult:
    spec = pb.TaskSpec(task_id=spec.task_id, num_returns=1)
    return lease_proof.refused_result(spec, "lease l is stale: grant 1, the worker was leased again since", "w")


def test_submitter_shows_the_grant_proof_on_the_lease_stream() -> None:
    from .test_task_submitter import Harness
    h = Harness()
    try:
        spec = h.submit("t", max_retries=0)
        h.raylet.grant()
        s = h.conns.last_stream
        assert s.lease is not None and s.lease.proof == b"proof-1"
        s.succeed(spec)
        assert "t" in h.finisher.completed
    finally:
        h.loop.shut()


def test_a_refused_task_gets_a_new_lease_and_runs() -> None:
    from .test_task_submitter import Harness
    h = Harness()
    try:
        spec = h.submit("t", max_retries=1)
        h.raylet.grant()
        first = h.conns.last_stream
        first.reply(_refuse(first.tasks()[0]))
        assert not h.finisher.ended("t")
        assert [r[0] for r in h.finisher.retried] == ["t"] and "refused the lease" in h.finisher.retried[0][2]
        assert h.raylet.returned and not h.raylet.returned[-1].disconnect, "the refused lease goes back"
        assert len(h.raylet.waiting()) == 1, "a new lease is asked for"
        h.raylet.grant()
        second = h.conns.last_stream
        assert second is not first and second.names() == ["t"]
        second.succeed(spec)
        assert "t" in h.finisher.completed
    finally:
        h.loop.shut()


def test_a_refused_task_without_retries_fails_with_the_refusal() -> None:
    from .test_task_submitter import Harness
    h = Harness()
    try:
        h.submit("t", max_retries=0)
        h.raylet.grant()
        s = h.conns.last_stream
        s.reply(_refuse(s.tasks()[0]))
        rec = pb.ErrorRecord.FromString(h.finisher.completed["t"][0].value.body)
        assert rec.type_name == "LeaseRefused" and "stale" in rec.message
    finally:
        h.loop.shut()
