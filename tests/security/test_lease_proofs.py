"""A worker runs normal tasks only from the holder of its current lease
(issue 13, Deliver 2; docs/fault-tolerance.md, "Bad input").

One embedded cluster with Python, Java and C++ workers, started with
POLYRAY_LEASE_CHECK=1. For each language the test process, which has the
cluster token, asks the raylet for a lease itself (as the driver's worker id,
so the raylet's holder watch keeps it) and then pushes a task to the leased
worker, over its push port and over gRPC PushTasks:

* with no proof, or with a proof forged with another key → a LeaseRefused
  result naming the reason, ``lease_refused`` set, nothing ran (the Python
  task's marker file is absent; the Java and C++ tasks' values never come);
* with the grant's proof → the task runs;
* the lease is returned and granted again (the same worker): the first
  lease's proof is now stale → refused, the new one runs.

Then the normal path of each language (polyray.get of a task) still runs.
"""

from __future__ import annotations

import os
import socket
import sys
import time

import grpc
import msgpack
import pytest
from xlang_support import cpp_lib, xlang_java_classes  # noqa: F401 — fixtures

import polyray
from polyray.protocol import auth, lease_proof, raylet_pb2
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol.envelope import decode_proto

pytestmark = pytest.mark.timeout(300)

TIMEOUT = 60
HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = {pb.PYTHON: "python", pb.JAVA: "java", pb.CPP: "cpp"}


@pytest.fixture(scope="module")
def cluster(cpp_lib, xlang_java_classes):  # noqa: F811
    if polyray.is_initialized():
        polyray.shutdown()
    old = os.environ.get("POLYRAY_LEASE_CHECK")
    os.environ["POLYRAY_LEASE_CHECK"] = "1"
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    polyray.init(num_cpus=2, code_search_path=[cpp_lib, xlang_java_classes])
    try:
        yield
    finally:
        polyray.shutdown()
        if old is None:
            os.environ.pop("POLYRAY_LEASE_CHECK", None)
        else:
            os.environ["POLYRAY_LEASE_CHECK"] = old


def _core():
    from polyray.core.object_ref import get_core
    return get_core()


def _spec(lang: int, marker: str) -> pb.TaskSpec:
    """A sound normal task of ``lang`` from the driver: Python touches ``marker``
    and returns 7; Java Calc.add(2, 3) = 5; C++ Plus1(41) = 42."""
    core = _core()
    s = pb.TaskSpec(type=pb.NORMAL_TASK, language=lang, job_id=core.ctx.job_id, task_id=os.urandom(24),
                    num_returns=1, name="lease-proof-test", caller_language=pb.PYTHON, max_retries=0,
                    caller=core.ctx.address, code_search_path=_code_search_path())
    s.resources["CPU"] = 1.0
    if lang == pb.PYTHON:
        s.function.python.module = "lease_proof_funcs"
        s.function.python.qualname = "touch"
        args: list = [marker]
    elif lang == pb.JAVA:
        s.function.java.class_name = "xlangtest.Calc"
        s.function.java.method_name = "add"
        args = [2, 3]
    else:
        s.function.cpp.function_name = "Plus1"
        args = [41]
    for a in args:
        s.args.add().value.body = msgpack.packb(a)
    return s


_PATHS: list[str] = []


def _code_search_path() -> list[str]:
    return _PATHS


def _lease(raylet: grpc.Channel, lang: int) -> raylet_pb2.RequestWorkerLeaseReply:
    call = raylet.unary_unary("/polyray.rpc.RayletService/RequestWorkerLease",
                              request_serializer=raylet_pb2.RequestWorkerLeaseRequest.SerializeToString,
                              response_deserializer=raylet_pb2.RequestWorkerLeaseReply.FromString)
    reply = call(raylet_pb2.RequestWorkerLeaseRequest(task=_spec(lang, "")), timeout=TIMEOUT)
    assert reply.lease_id and reply.HasField("proof"), reply
    return reply


def _return(raylet: grpc.Channel, reply: raylet_pb2.RequestWorkerLeaseReply) -> None:
    call = raylet.unary_unary("/polyray.rpc.RayletService/ReturnWorker",
                              request_serializer=raylet_pb2.ReturnWorkerRequest.SerializeToString,
                              response_deserializer=raylet_pb2.ReturnWorkerReply.FromString)
    call(raylet_pb2.ReturnWorkerRequest(lease_id=reply.lease_id, worker_id=reply.worker_address.worker_id),
         timeout=TIMEOUT)


def _push_port(worker: pb.Address, req: cw.PushTasksRequest) -> cw.TaskResult:
    hello = auth.hello_body()
    body = req.SerializeToString()
    with socket.create_connection((worker.host, worker.push_port), timeout=TIMEOUT) as s:
        s.sendall(len(hello).to_bytes(4, "little") + hello + len(body).to_bytes(4, "little") + body)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(1 << 16):
            got += chunk
    assert len(got) >= 4, "the worker closed the connection without a reply"
    reply = cw.PushTasksReply.FromString(got[4:4 + int.from_bytes(got[:4], "little")])
    assert len(reply.results) == 1
    return reply.results[0]


def _grpc(worker: pb.Address, req: cw.PushTasksRequest) -> cw.TaskResult:
    with auth.channel(f"{worker.host}:{worker.port}") as ch:
        call = ch.stream_stream("/polyray.rpc.CoreWorkerService/PushTasks",
                                request_serializer=cw.PushTasksRequest.SerializeToString,
                                response_deserializer=cw.PushTasksReply.FromString)
        replies = list(call(iter([req]), timeout=TIMEOUT))
    results = [r for rep in replies for r in rep.results]
    assert len(results) == 1
    return results[0]


def _push(path: str, worker: pb.Address, spec: pb.TaskSpec, lease: pb.LeaseProof | None) -> cw.TaskResult:
    req = cw.PushTasksRequest(tasks=[spec])
    if lease is not None:
        req.lease.CopyFrom(lease)
    return (_push_port if path == "push-port" else _grpc)(worker, req)


def _refused(result: cw.TaskResult, why: str) -> None:
    assert result.lease_refused, result
    record = pb.ErrorRecord.FromString(result.returns[0].value.body)
    assert record.type_name == "LeaseRefused" and why in record.message, record


def _value(result: cw.TaskResult):
    assert not result.lease_refused, result
    return decode_proto(result.returns[0].value)


EXPECTED = {pb.PYTHON: 7, pb.JAVA: 5, pb.CPP: 42}


@pytest.mark.parametrize("path", ["push-port", "grpc"])
@pytest.mark.parametrize("lang", [pb.PYTHON, pb.JAVA, pb.CPP], ids=["python", "java", "cpp"])
def test_only_the_current_lease_holder_runs_tasks(cluster, cpp_lib, xlang_java_classes, lang, path,  # noqa: F811
                                                  tmp_path):
    _PATHS[:] = [cpp_lib, xlang_java_classes]
    core = _core()
    with auth.channel(core.raylet_address) as raylet:
        first = _lease(raylet, lang)
        worker = first.worker_address
        try:
            # No proof, a forged proof, another caller's tasks: refused, nothing ran.
            marker = str(tmp_path / "no-proof")
            _refused(_push(path, worker, _spec(lang, marker), None), "no lease proof")
            forged = lease_proof.make(bytes(32), first.lease_id, core.ctx.worker_id)
            _refused(_push(path, worker, _spec(lang, marker), forged), "does not verify")
            other = _spec(lang, marker)
            other.caller.worker_id = os.urandom(28)
            _refused(_push(path, worker, other, first.proof), "not the lease holder")
            assert not os.path.exists(marker), "a refused task ran"
            # The holder with its proof: the task runs.
            ran = str(tmp_path / "ran")
            assert _value(_push(path, worker, _spec(lang, ran), first.proof)) == EXPECTED[lang]
            if lang == pb.PYTHON:
                assert os.path.exists(ran)
        finally:
            _return(raylet, first)
        # The worker goes to the next lease (idle workers are reused): the
        # first lease is stale once the worker has seen the second.
        deadline = time.monotonic() + TIMEOUT
        while True:
            second = _lease(raylet, lang)
            if second.worker_address.worker_id == worker.worker_id:
                break
            _return(raylet, second)
            assert time.monotonic() < deadline, "the raylet never leased the same worker again"
        try:
            assert second.proof.seq > first.proof.seq
            assert _value(_push(path, worker, _spec(lang, str(tmp_path / "second")), second.proof)) == EXPECTED[lang]
            stale = str(tmp_path / "stale")
            _refused(_push(path, worker, _spec(lang, stale), first.proof), "stale")
            assert not os.path.exists(stale), "a task of a stale lease ran"
        finally:
            _return(raylet, second)
    # The normal path of every language still runs.
    assert polyray.get(polyray.remote(_plus_one).remote(1), timeout=TIMEOUT) == 2
    assert polyray.get(polyray.java_function("xlangtest.Calc", "add").remote(2, 3), timeout=TIMEOUT) == 5
    assert polyray.get(polyray.cpp_function("Plus1").remote(41), timeout=TIMEOUT) == 42


def _plus_one(x):
    return x + 1
