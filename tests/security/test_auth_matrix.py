"""Every method of every service and every push port, without the token, with a
wrong one and with the right one: refused, refused, served — and the issue's
nine attacks (issue 15), each refused with nothing of it run.

One embedded cluster (GCS + raylet) with a Python driver and Python, Java and
C++ workers. Calls go over plain gRPC channels whose metadata the test sets
itself (no polyray client code), and raw TCP connections to the push ports.
The counts are printed (pytest -s shows them).
"""

from __future__ import annotations

import collections
import os
import random
import socket
import time

import grpc
import psutil
import pytest
from xlang_support import cpp_lib, xlang_java_classes  # noqa: F401 — fixtures

import polyray
from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw

pytestmark = pytest.mark.timeout(900)  # the first run may compile the C++ library
TIMEOUT = 90
CALL_TIMEOUT = 5.0
WRONG = (("authorization", "Bearer " + "0" * 64),)
#: With the right token these would stop the process they reach: the refused
#: half of the matrix calls them, the served half leaves them out (the attacks
#: below show the right token is what stands between them and a stopped process).
STOPS_A_PROCESS = {"Shutdown", "Exit", "KillWorker", "UnregisterNode"}
#: Sound requests of these wait by design: a short deadline is their end.
WAITS = {"RequestWorkerLease", "ReadObject", "SubscribeLogs", "GetObject", "GetObjects", "PushTasks"}


@polyray.remote
def _touch(path: str) -> str:
    with open(path, "w") as f:
        f.write("ran")
    return path


@polyray.remote
class _Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


@pytest.fixture(scope="module")
def cluster(cpp_lib, xlang_java_classes):  # noqa: F811
    if polyray.is_initialized():
        polyray.shutdown()
    # The matrix is about the token: its control push (a token holder without a
    # lease) must run, so workers here check no lease proofs
    # (tests/security/test_lease_proofs.py tests those).
    old = os.environ.get("POLYRAY_LEASE_CHECK")
    os.environ["POLYRAY_LEASE_CHECK"] = "0"
    try:
        polyray.init(num_cpus=2, code_search_path=[cpp_lib, xlang_java_classes])
    finally:
        if old is None:
            os.environ.pop("POLYRAY_LEASE_CHECK", None)
        else:
            os.environ["POLYRAY_LEASE_CHECK"] = old
    py = _Counter.remote()
    java = polyray.java_actor_class("xlangtest.Counter").remote(10)
    cpp = polyray.cpp_actor_class("Counter::Create", "Counter").remote(0)
    assert polyray.get([py.add.remote(1), java.increment.remote(1), cpp.Add.remote(1)], timeout=TIMEOUT) == [1, 11, 1]
    yield {"py": py, "java": java, "cpp": cpp}
    polyray.shutdown()


def _core():
    from polyray.core.object_ref import get_core
    return get_core()


def _listening_ports(pid: int) -> set[int]:
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}


def _actor_workers() -> dict[int, tuple[int, int, int]]:
    """language -> (pid, gRPC port, push port) of one actor worker per language."""
    with auth.channel(_core().raylet_address) as ch:
        stats = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=30)
    workers: dict[int, tuple[int, int, int]] = {}
    for w in stats.workers:
        if w.language in workers or not w.port or not w.actor_id:
            continue
        push = sorted(_listening_ports(w.pid) - {w.port})
        workers[w.language] = (w.pid, w.port, push[0] if push else 0)
    assert set(workers) == {pb.PYTHON, pb.JAVA, pb.CPP}, stats
    return workers


def _call(target: str, service: str, method, metadata, body: bytes = b"") -> grpc.StatusCode:
    """One call of ``method`` with ``metadata`` over a plain channel; its status code."""
    path = f"/polyray.rpc.{service}/{method.name}"
    timeout = 0.5 if method.name in WAITS else CALL_TIMEOUT
    with grpc.insecure_channel(target) as ch:
        try:
            if method.client_streaming:
                for _ in ch.stream_stream(path)(iter([body] if body else []), metadata=metadata, timeout=timeout):
                    pass
            elif method.server_streaming:
                for _ in ch.unary_stream(path)(body, metadata=metadata, timeout=timeout):
                    pass
            else:
                ch.unary_unary(path)(body, metadata=metadata, timeout=timeout)
        except grpc.RpcError as e:
            return e.code()
    return grpc.StatusCode.OK


def _hello(token: str | None) -> bytes:
    body = cw.PushHello(auth_token=token.encode()).SerializeToString() if token is not None else b""
    return len(body).to_bytes(4, "little") + body


def _frame(msg) -> bytes:
    body = msg.SerializeToString()
    return len(body).to_bytes(4, "little") + body


def _push(port: int, first: bytes, spec: pb.TaskSpec) -> bytes:
    """Opens a push connection, sends ``first`` then one task, half-closes; what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(first + _frame(cw.PushTasksRequest(tasks=[spec])))
            s.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := s.recv(1 << 16):
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            return b""
    return got


def _unknown_task(language: int) -> pb.TaskSpec:
    """A sound task of a function that does not exist: a served connection answers it with an error."""
    rid = random.Random(language).randbytes
    s = pb.TaskSpec(type=pb.NORMAL_TASK, language=language, job_id=rid(4), task_id=rid(24), num_returns=1,
                    name="authtest.nothing", caller_language=pb.PYTHON,
                    caller=pb.Address(host="127.0.0.1", port=1, worker_id=rid(28), node_id=rid(28)))
    if language == pb.PYTHON:
        s.function.python.module = "no_such_module_authtest"
        s.function.python.qualname = "nothing"
    elif language == pb.JAVA:
        s.function.java.class_name = "no.such.AuthTest"
        s.function.java.method_name = "nothing"
    else:
        s.function.cpp.function_name = "NoSuchAuthTestFunction"
    return s


def test_every_method_and_push_port_refuses_without_the_token(cluster):
    token = auth.current_token()
    assert token, "the test cluster runs with authentication on"
    right = auth.call_metadata(token)
    core = _core()
    workers = _actor_workers()
    targets = [("gcs", core.gcs_address, gcs_pb2, "GcsService"),
               ("raylet", core.raylet_address, raylet_pb2, "RayletService"),
               ("py-driver", f"127.0.0.1:{core.ctx.address.port}", cw, "CoreWorkerService")]
    names = {pb.PYTHON: "py-worker", pb.JAVA: "java-worker", pb.CPP: "cpp-worker"}
    for lang, (_, port, _) in sorted(workers.items()):
        targets.append((names[lang], f"127.0.0.1:{port}", cw, "CoreWorkerService"))
    counts: collections.Counter = collections.Counter()
    wrong_answers = []
    for label, target, module, service in targets:
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            for mode, md in (("no token", ()), ("wrong token", WRONG)):
                code = _call(target, service, method, md)
                counts[(mode, "refused" if code == grpc.StatusCode.UNAUTHENTICATED else "served")] += 1
                if code != grpc.StatusCode.UNAUTHENTICATED:
                    wrong_answers.append((label, method.name, mode, code.name))
            if method.name in STOPS_A_PROCESS:
                counts[("right token", "not called (stops a process)")] += 1
                continue
            code = _call(target, service, method, right)
            refused = code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE)
            counts[("right token", "refused" if refused else "served")] += 1
            if refused:
                wrong_answers.append((label, method.name, "right token", code.name))

    # Push ports: no hello (a task frame first), a wrong token, the right one.
    for lang, (_, _, push_port) in sorted(workers.items()):
        assert push_port, f"the {names[lang]} has no push port"
        spec = _unknown_task(lang)
        for mode, first in (("no token", b""), ("empty token", _hello("")), ("wrong token", _hello("0" * 64))):
            got = _push(push_port, first, spec)
            counts[(f"push {mode}", "refused" if got == b"" else "served")] += 1
            if got:
                wrong_answers.append((names[lang], "push port", mode, f"{len(got)} bytes answered"))
        got = _push(push_port, _hello(token), spec)
        served = len(got) >= 4 and cw.PushTasksReply.FromString(got[4:]).results[0].task_id == spec.task_id
        counts[("push right token", "served" if served else "refused")] += 1
        if not served:
            wrong_answers.append((names[lang], "push port", "right token", f"{len(got)} bytes"))

    print("\nauth matrix:", ", ".join(f"{mode}: {n} {what}" for (mode, what), n in sorted(counts.items())))
    assert not wrong_answers, wrong_answers
    # Every GCS and raylet method, and every CoreWorkerService method on the driver and three workers.
    n_methods = sum(len(m.DESCRIPTOR.services_by_name[s].methods) for _, _, m, s in targets)
    assert n_methods >= 24 + 14 + 4 * 7
    assert counts[("no token", "refused")] == counts[("wrong token", "refused")] == n_methods
    # Everything still runs, in every language.
    assert polyray.get([cluster["py"].add.remote(1), cluster["java"].increment.remote(1),
                        cluster["cpp"].Add.remote(1)], timeout=TIMEOUT) == [2, 12, 2]


def test_the_nine_attacks_are_refused_and_nothing_of_them_runs(cluster, tmp_path, monkeypatch):
    core = _core()
    gcs, raylet = core.gcs_address, core.raylet_address
    refused: list[str] = []

    def attack(name: str, target: str, service: str, method: str, request, md=()) -> None:
        desc = {"GcsService": gcs_pb2, "RayletService": raylet_pb2, "CoreWorkerService": cw}[service]
        m = desc.DESCRIPTOR.services_by_name[service].methods_by_name[method]
        for metadata in (md, WRONG):
            code = _call(target, service, m, metadata, request.SerializeToString())
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{name}: {code.name}"
        refused.append(name)

    with auth.channel(gcs) as ch:
        gcs_ok = gcs_pb2_grpc.GcsServiceStub(ch)
        nodes_before = gcs_ok.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=30).nodes
        actors = gcs_ok.ListActors(gcs_pb2.ListActorsRequest(), timeout=30).actors
    py_actor_id = cluster["py"]._actor_id if hasattr(cluster["py"], "_actor_id") else None
    if py_actor_id is None:
        py_actor_id = next(a.actor_id for a in actors if "Counter" in a.class_name and a.state == 2)

    # 1-3: read nodes, jobs, actors.
    attack("read nodes", gcs, "GcsService", "GetAllNodes", gcs_pb2.GetAllNodesRequest())
    attack("read jobs", gcs, "GcsService", "GetAllJobs", gcs_pb2.GetAllJobsRequest())
    attack("read actors", gcs, "GcsService", "ListActors", gcs_pb2.ListActorsRequest())
    # 4: write the KV store.
    attack("write KV", gcs, "GcsService", "KVPut",
           gcs_pb2.KVPutRequest(namespace="attack", key=b"k", value=b"v", overwrite=True))
    # 5: register a fake 64-CPU node.
    fake = gcs_pb2.NodeInfo(node_id=os.urandom(28), store_name="/polyray-fake",
                            raylet_address=pb.Address(host="127.0.0.1", port=9), resources_total={"CPU": 64.0},
                            resources_available={"CPU": 64.0}, alive=True)
    attack("register a fake node", gcs, "GcsService", "RegisterNode", gcs_pb2.RegisterNodeRequest(node=fake))
    # 6: store a function in the GCS.
    attack("store a function", gcs, "GcsService", "ExportFunction",
           gcs_pb2.ExportFunctionRequest(job_id=core.ctx.job_id, function_hash=b"h" * 20, pickled=b"x", name="evil"))

    # 7: run a function in a leased worker: lease one, push to it (gRPC and push port).
    marker = tmp_path / "ran"
    captured: list[pb.TaskSpec] = []
    monkeypatch.setattr(core, "submit_task", lambda spec, arg_ids, held: captured.append(spec) or [None])
    _touch.remote(str(marker))
    monkeypatch.undo()
    (spec,) = captured
    attack("lease a worker", raylet, "RayletService", "RequestWorkerLease",
           raylet_pb2.RequestWorkerLeaseRequest(task=spec))
    workers = _actor_workers()
    _, py_port, py_push = workers[pb.PYTHON]
    attack("run a function in a worker (gRPC)", f"127.0.0.1:{py_port}", "CoreWorkerService", "PushTasks",
           cw.PushTasksRequest(tasks=[spec]))
    for first in (b"", _hello(""), _hello("0" * 64)):
        assert _push(py_push, first, spec) == b"", "a push connection without the token was answered"
    refused.append("run a function in a worker (push port)")
    # 8: run a function inside another driver's actor: its method, pushed without the token.
    actor_captured: list[pb.TaskSpec] = []
    monkeypatch.setattr(core, "submit_actor_task", lambda spec, arg_ids: actor_captured.append(spec) or [None])
    cluster["py"].add.remote(1000)
    monkeypatch.undo()
    (actor_spec,) = actor_captured
    for first in (b"", _hello("0" * 64)):
        assert _push(py_push, first, actor_spec) == b""
    attack("call another driver's actor (gRPC)", f"127.0.0.1:{py_port}", "CoreWorkerService", "PushTasks",
           cw.PushTasksRequest(tasks=[actor_spec]))
    # ... and the Java and C++ actors, over gRPC and their push ports.
    for key, lang, method in (("java", pb.JAVA, "increment"), ("cpp", pb.CPP, "Add")):
        captured_x: list[pb.TaskSpec] = []
        monkeypatch.setattr(core, "submit_actor_task",
                            lambda spec, arg_ids, into=captured_x: into.append(spec) or [None])
        getattr(cluster[key], method).remote(1000)
        monkeypatch.undo()
        (x_spec,) = captured_x
        _, x_port, x_push = workers[lang]
        attack(f"call another driver's {key} actor (gRPC)", f"127.0.0.1:{x_port}", "CoreWorkerService",
               "PushTasks", cw.PushTasksRequest(tasks=[x_spec]))
        for first in (b"", _hello("0" * 64)):
            assert _push(x_push, first, x_spec) == b""
    # 9a: kill an actor.
    attack("kill an actor", gcs, "GcsService", "KillActor", gcs_pb2.KillActorRequest(actor_id=py_actor_id,
                                                                                      no_restart=True))
    # 9b: make a worker exit, of each language.
    for lang, (_pid, port, _) in workers.items():
        attack(f"make a worker exit ({pb.Language.Name(lang)})", f"127.0.0.1:{port}", "CoreWorkerService", "Exit",
               cw.ExitRequest(force=True, reason="attack"))
    # 9c: shut the raylet down.
    attack("shut the raylet down", raylet, "RayletService", "Shutdown", raylet_pb2.ShutdownRequest())

    # Nothing of them ran.
    time.sleep(0.5)  # a refused call that ran anyway would have acted by now
    with auth.channel(gcs) as ch:
        gcs_ok = gcs_pb2_grpc.GcsServiceStub(ch)
        nodes_after = gcs_ok.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=30).nodes
        assert [n.node_id for n in nodes_after] == [n.node_id for n in nodes_before], "a fake node registered"
        assert not gcs_ok.KVGet(gcs_pb2.KVGetRequest(namespace="attack", key=b"k"), timeout=30).found
        assert not gcs_ok.GetFunction(gcs_pb2.GetFunctionRequest(job_id=core.ctx.job_id, function_hash=b"h" * 20),
                                      timeout=30).found
    with auth.channel(raylet) as ch:
        raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=30)
    assert not marker.exists(), "the function ran"
    for pid, _, _ in workers.values():
        assert psutil.pid_exists(pid), f"worker {pid} exited"
    after = polyray.get([cluster["py"].add.remote(1), cluster["java"].increment.remote(1),
                         cluster["cpp"].Add.remote(1)], timeout=TIMEOUT)
    assert all(v < 1000 for v in after), f"an actor ran the attack's call: {after}"

    # The control: with the token the same push runs the function (so the checks above can fail).
    got = _push(py_push, _hello(auth.current_token()), spec)
    assert got and cw.PushTasksReply.FromString(got[4:]).results, "the right token was not served"
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the control push with the token did not run the function"
    print(f"\nattacks refused: {len(refused)} ({'; '.join(refused)})")
