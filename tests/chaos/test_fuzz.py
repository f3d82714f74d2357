"""Fuzz: malformed messages to every service and push port of a real cluster.

One embedded cluster (GCS + raylet) with Python, Java and C++ workers (a task
and an actor of each language), then, from a seeded random (FUZZ_SEED):

* every GcsService and RayletService method, and every CoreWorkerService
  method of the driver and of a Python, a Java and a C++ worker, gets random
  bytes, byte-flipped and truncated valid messages, and valid messages with
  one field set absurd (wrong id lengths, unknown enum values, huge counts);
* every worker's push port gets garbage frames and PushTasksRequests whose
  TaskSpec has one bad field (finding 2: a 3-byte task id of a function that
  does not import, num_returns = 10**9).

Then: no process of the cluster died, no reply was UNKNOWN or INTERNAL (or
UNAVAILABLE: the server went away), and a task and an actor call of each
language still run. The figures are printed (pytest -s shows them).

Not fuzzed, on purpose: CoreWorkerService/Exit and RayletService/Shutdown
obey any well-formed request (they are how the raylet and GCS stop
processes; callers are not authenticated yet), so a fuzzer that sends them
stops the cluster by design.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import random
import socket
import sys
import time

import grpc
import psutil
import pytest

import polyray
from polyray.protocol import auth, gcs_pb2, raylet_pb2
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang"))
from xlang_support import cpp_lib, xlang_java_classes  # noqa: E402,F401 — fixtures

pytestmark = pytest.mark.timeout(900)  # the first run may compile the C++ library

SEED = int(os.environ.get("FUZZ_SEED", "20261207"))
TIMEOUT = 90
#: Messages per target: GCS and raylet get more (more methods).
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
PER_METHOD = int(110 * SCALE)
PER_PUSH_PORT = int(700 * SCALE)
CALL_TIMEOUT = 2.0
#: Methods whose sound requests wait by design (a lease no node can grant, a
#: log subscription, an object that may come): a short deadline is their end.
WAITING = {"RequestWorkerLease": 0.3, "ReadObject": 0.3, "SubscribeLogs": 0.3, "GetObject": 0.5}
SKIPPED = {("RayletService", "Shutdown"), ("CoreWorkerService", "Exit")}
ACCEPTABLE = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "ALREADY_EXISTS", "OUT_OF_RANGE",
              "UNIMPLEMENTED", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "CANCELLED"}
#: Services that parse every request themselves: an undecodable one is
#: INVALID_ARGUMENT there, never UNIMPLEMENTED (gRPC C++'s callback API answers
#: UNIMPLEMENTED when its own deserializer fails; the C++ worker parses bytes).
STRICT = {"cpp-worker": ACCEPTABLE - {"UNIMPLEMENTED"}}


@polyray.remote
def _py_task(x):
    return x + 1


@polyray.remote
class _PyCounter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


# -- templates -------------------------------------------------------------------

def _rid(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _spec(rng: random.Random, language: int = pb.PYTHON) -> pb.TaskSpec:
    """A sound TaskSpec of a function that does not exist; resources no node has."""
    s = pb.TaskSpec(type=pb.NORMAL_TASK, language=language, job_id=_rid(rng, 4), task_id=_rid(rng, 24),
                    num_returns=1, name="fuzz.nothing", caller_language=pb.PYTHON,
                    caller=pb.Address(host="127.0.0.1", port=1, worker_id=_rid(rng, 28), node_id=_rid(rng, 28)))
    if language == pb.PYTHON:
        s.function.python.module = "no_such_module_fuzz"
        s.function.python.qualname = "nothing"
    elif language == pb.JAVA:
        s.function.java.class_name = "no.such.FuzzClass"
        s.function.java.method_name = "nothing"
    else:
        s.function.cpp.function_name = "NoSuchFuzzFunction"
    s.args.add().value.body = b"\x01"
    s.resources["fuzz-no-such-resource"] = 1.0
    return s


def _templates(rng: random.Random, cls) -> list:
    """Sound messages of request type ``cls`` with random ids (never the cluster's)."""
    name = cls.DESCRIPTOR.name
    r = rng
    t = {
        "RegisterNodeRequest": lambda: gcs_pb2.RegisterNodeRequest(node=gcs_pb2.NodeInfo(node_id=_rid(r, 28))),
        "HeartbeatRequest": lambda: gcs_pb2.HeartbeatRequest(node_id=_rid(r, 28)),
        "RegisterActorRequest": lambda: gcs_pb2.RegisterActorRequest(creation_task=_spec(r)),
        "RequestWorkerLeaseRequest": lambda: raylet_pb2.RequestWorkerLeaseRequest(task=_spec(r)),
        "PushTasksRequest": lambda: cw.PushTasksRequest(tasks=[_spec(r)]),
        "GetObjectRequest": lambda: cw.GetObjectRequest(object_id=_rid(r, 28), timeout_ms=100),
        "PinObjectsRequest": lambda: raylet_pb2.PinObjectsRequest(object_ids=[_rid(r, 28)]),
        "FreeObjectsRequest": lambda: raylet_pb2.FreeObjectsRequest(object_ids=[_rid(r, 28)]),
        "UpdateBorrowsRequest": lambda: cw.UpdateBorrowsRequest(
            borrower=pb.Address(host="127.0.0.1", port=1, worker_id=_rid(r, 28)), added=[_rid(r, 28)]),
    }.get(name)
    if t is not None:
        return [t()]
    msg = cls()
    # Fill id fields by name, so the templates pass the checks.
    for f in cls.DESCRIPTOR.fields:
        size = {"job_id": 4, "actor_id": 16, "task_id": 24, "placement_group_id": 18, "object_id": 28,
                "node_id": 28, "worker_id": 28}.get(f.name)
        if size and not f.is_repeated:
            setattr(msg, f.name, _rid(r, size))
    return [msg]


def _absurd(rng: random.Random, msg):
    """``msg`` with one field set absurd."""
    m = type(msg)()
    m.CopyFrom(msg)
    target = m
    if isinstance(m, (cw.PushTasksRequest, raylet_pb2.RequestWorkerLeaseRequest, gcs_pb2.RegisterActorRequest)):
        target = m.tasks[0] if isinstance(m, cw.PushTasksRequest) else (
            m.task if isinstance(m, raylet_pb2.RequestWorkerLeaseRequest) else m.creation_task)
    fields = [f for f in target.DESCRIPTOR.fields if not f.is_repeated and f.message_type is None]
    if not fields:
        return m
    f = rng.choice(fields)
    T = f.type
    if T == f.TYPE_BYTES:
        setattr(target, f.name, _rid(rng, rng.choice([1, 3, 5, 23, 27, 29, 100, 5000])))
    elif T == f.TYPE_STRING:
        setattr(target, f.name, "x" * rng.choice([5000, 100000]))
    elif T == f.TYPE_ENUM:
        setattr(target, f.name, rng.choice([7, 99, 12345, -1]))
    elif T == f.TYPE_BOOL:
        setattr(target, f.name, True)
    elif T in (f.TYPE_DOUBLE, f.TYPE_FLOAT):
        setattr(target, f.name, rng.choice([float("inf"), float("nan"), -1e300]))
    elif T in (f.TYPE_INT32, f.TYPE_SINT32, f.TYPE_SFIXED32):
        setattr(target, f.name, rng.choice([10**9, -10**9, 2**31 - 1, -2**31]))
    elif T in (f.TYPE_INT64, f.TYPE_SINT64):
        setattr(target, f.name, rng.choice([2**62, -2**62]))
    elif T in (f.TYPE_UINT32, f.TYPE_UINT64, f.TYPE_FIXED32, f.TYPE_FIXED64):
        setattr(target, f.name, rng.choice([2**32 - 1, 10**9]))
    return m


def _mutate(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(4)
    if kind == 0 or not data:
        return _rid(rng, rng.randrange(0, 200))
    b = bytearray(data)
    if kind == 1:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        return bytes(b)
    if kind == 2:
        return bytes(b[: rng.randrange(len(b))])
    return bytes(b) + _rid(rng, rng.randint(1, 20))


def _payloads(rng: random.Random, cls, n: int) -> list[bytes]:
    tmpl = _templates(rng, cls)[0]
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(_absurd(rng, tmpl).SerializeToString())
        else:
            out.append(_mutate(rng, tmpl.SerializeToString()))
    return out


# -- senders ---------------------------------------------------------------------

def _fuzz_service(target: str, module, service: str, rng: random.Random, n_per_method: int,
                  codes: collections.Counter, per_service: collections.Counter, label: str) -> None:
    desc = module.DESCRIPTOR.services_by_name[service]
    with auth.channel(target, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        for method in desc.methods:
            if (service, method.name) in SKIPPED:
                continue
            cls = getattr(module, method.input_type.name)
            path = f"/{desc.full_name}/{method.name}"
            t0 = time.monotonic()
            if os.environ.get("FUZZ_VERBOSE"):
                print(f"  {label} {method.name}", flush=True)
            for payload in _payloads(rng, cls, n_per_method):
                per_service[label] += 1
                try:
                    if method.client_streaming:
                        call = ch.stream_stream(path)
                        for _ in call(iter([payload]), timeout=WAITING.get(method.name, CALL_TIMEOUT)):
                            pass
                    elif method.server_streaming:
                        call = ch.unary_stream(path)
                        for _ in call(payload, timeout=WAITING.get(method.name, CALL_TIMEOUT)):
                            pass
                    else:
                        ch.unary_unary(path)(payload, timeout=WAITING.get(method.name, CALL_TIMEOUT))
                    codes[(label, "OK")] += 1
                except grpc.RpcError as e:
                    code = e.code().name
                    codes[(label, code)] += 1
                    codes[(label, f"by-method:{method.name}:{code}")] += 1
                    if code not in STRICT.get(label, ACCEPTABLE):
                        codes[(label, "bad:" + method.name + ":" + code + ":" + (e.details() or "")[:120])] += 1
                    elif code == "DEADLINE_EXCEEDED":
                        codes[(label, "deadline:" + method.name)] += 1
            if os.environ.get("FUZZ_VERBOSE"):
                print(f"  {label} {method.name}: {time.monotonic() - t0:.1f} s", flush=True)


def _push_frames(rng: random.Random, language: int, n: int) -> list[bytes]:
    frames = []
    for i in range(n):
        kind = i % 4
        if kind == 0:  # garbage: any length header, any body
            body = _rid(rng, rng.randrange(1, 64))
            frames.append(len(body).to_bytes(4, "little") + body if rng.random() < 0.7 else body)
            continue
        spec = _spec(rng, language)
        spec.resources.clear()
        if kind == 1:  # finding 2, and other one-field faults of the spec
            fault = rng.randrange(6)
            if fault == 0:
                spec.task_id = b"abc"
            elif fault == 1:
                spec.num_returns = 10**9
            elif fault == 2:
                spec.type = 99
            elif fault == 3:
                spec.args.add().ref.object_id = b"short"
            elif fault == 4:
                spec.name = "n" * 100000
            else:
                spec.job_id = b""
            body = cw.PushTasksRequest(tasks=[spec]).SerializeToString()
        elif kind == 2:
            body = _mutate(rng, cw.PushTasksRequest(tasks=[spec]).SerializeToString())
        else:
            body = _absurd(rng, cw.PushTasksRequest(tasks=[spec])).SerializeToString()
        frames.append(len(body).to_bytes(4, "little") + body)
    return frames


def _hello() -> bytes:
    body = auth.hello_body()
    return len(body).to_bytes(4, "little") + body


def _fuzz_push_port(port: int, language: int, rng: random.Random, n: int, outcomes: collections.Counter,
                    label: str) -> None:
    for data in _push_frames(rng, language, n):
        outcomes[(label, "sent")] += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=CALL_TIMEOUT) as s:
                s.sendall(_hello() + data)  # the cluster token first (docs/security.md), then the fuzz
                s.shutdown(socket.SHUT_WR)  # no more frames: the worker answers what it took, then closes
                got = b""
                while True:
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    got += chunk
        except (ConnectionResetError, BrokenPipeError):
            outcomes[(label, "closed")] += 1
            continue
        except TimeoutError:
            outcomes[(label, "no answer")] += 1
            continue
        if len(got) < 4:
            outcomes[(label, "closed")] += 1
            continue
        reply = cw.PushTasksReply.FromString(got[4:4 + int.from_bytes(got[:4], "little")])
        errors = 0
        for r in reply.results:
            for ret in r.returns:
                if ret.value.format == pb.FORMAT_ERROR:
                    errors += 1
        outcomes[(label, "error result" if errors else "result")] += 1


# -- the test --------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(cpp_lib, xlang_java_classes):  # noqa: F811
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[cpp_lib, xlang_java_classes])
    yield
    polyray.shutdown()


def _run_every_language() -> dict:
    """A task and an actor call of each language; the actors (kept) for the caller."""
    assert polyray.get(_py_task.remote(1), timeout=TIMEOUT) == 2
    assert polyray.get(polyray.java_function("xlangtest.Calc", "add").remote(2, 3), timeout=TIMEOUT) == 5
    assert polyray.get(polyray.cpp_function("Plus1").remote(41), timeout=TIMEOUT) == 42
    py = _PyCounter.remote()
    java = polyray.java_actor_class("xlangtest.Counter").remote(10)
    cpp = polyray.cpp_actor_class("Counter::Create", "Counter").remote(0)
    assert polyray.get(py.add.remote(1), timeout=TIMEOUT) == 1
    assert polyray.get(java.increment.remote(1), timeout=TIMEOUT) == 11
    assert polyray.get(cpp.Add.remote(1), timeout=TIMEOUT) == 1
    return {"py": py, "java": java, "cpp": cpp}


def _listening_ports(pid: int) -> set[int]:
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}


def test_fuzz_every_service_and_push_port(cluster):
    actors = _run_every_language()
    from polyray.core.object_ref import get_core
    core = get_core()
    gcs_target = core.gcs_address
    raylet_target = core.raylet_address
    with auth.channel(raylet_target) as ch:
        stats = raylet_pb2.GetNodeStatsReply.FromString(ch.unary_unary(
            "/polyray.rpc.RayletService/GetNodeStats")(b"", timeout=30))
    # The actors' workers: they live as long as their actors (an idle task
    # worker may be stopped by its raylet meanwhile, which is no death by input).
    workers = {}  # language -> (pid, grpc port, push port)
    for w in stats.workers:
        if w.language in workers or not w.port or not w.actor_id:
            continue
        push = sorted(_listening_ports(w.pid) - {w.port})
        workers[w.language] = (w.pid, w.port, push[0] if push else 0)
    assert set(workers) == {pb.PYTHON, pb.JAVA, pb.CPP}, stats
    head = psutil.Process(os.getpid()).children(recursive=False)
    pids = {pid for pid, _, _ in workers.values()} | {p.pid for p in head}
    print(f"\nfuzz seed {SEED}; processes watched: {len(pids)} (head {[p.pid for p in head]}, "
          f"actor workers {sorted(pid for pid, _, _ in workers.values())})")

    # One thread per target, each with its own seeded random (SEED + its index),
    # so the run is short and a failure reproduces.
    codes: collections.Counter = collections.Counter()
    sent: collections.Counter = collections.Counter()
    push: collections.Counter = collections.Counter()
    names = {pb.PYTHON: "python", pb.JAVA: "java", pb.CPP: "cpp"}
    jobs: list = [
        lambda rng, c, n, p: _fuzz_service(gcs_target, gcs_pb2, "GcsService", rng, PER_METHOD, c, n, "gcs"),
        lambda rng, c, n, p: _fuzz_service(raylet_target, raylet_pb2, "RayletService", rng, PER_METHOD, c, n,
                                           "raylet"),
        lambda rng, c, n, p: _fuzz_service(f"127.0.0.1:{core.ctx.address.port}", cw, "CoreWorkerService", rng,
                                           4 * PER_METHOD, c, n, "driver"),
    ]
    for lang, (_, port, push_port) in sorted(workers.items()):
        assert push_port, f"the {names[lang]} worker has no push port"
        label = names[lang]
        jobs.append(lambda rng, c, n, p, port=port, label=label: _fuzz_service(
            f"127.0.0.1:{port}", cw, "CoreWorkerService", rng, 4 * PER_METHOD, c, n, f"{label}-worker"))
        jobs.append(lambda rng, c, n, p, push_port=push_port, lang=lang, label=label: _fuzz_push_port(
            push_port, lang, rng, PER_PUSH_PORT, p, f"{label}-push"))
    started = time.monotonic()

    def run(i: int) -> tuple:
        c: collections.Counter = collections.Counter()
        n: collections.Counter = collections.Counter()
        p: collections.Counter = collections.Counter()
        jobs[i](random.Random(SEED + i), c, n, p)
        return c, n, p

    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        for c, n, p in pool.map(run, range(len(jobs))):
            codes.update(c)
            sent.update(n)
            push.update(p)
    took = time.monotonic() - started

    dead = sorted(p for p in pids if not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE)
    total = sum(sent.values()) + sum(v for (_, k), v in push.items() if k == "sent")
    print(f"messages: {total} in {took:.1f} s; gRPC per service: {dict(sent)}")
    print("gRPC replies by status: " + ", ".join(
        f"{lbl}/{c}={n}" for (lbl, c), n in sorted(codes.items())
        if not c.startswith(("bad:", "deadline:", "by-method:"))))
    if os.environ.get("FUZZ_VERBOSE"):
        print("by method: " + ", ".join(
            f"{lbl}/{c[10:]}={n}" for (lbl, c), n in sorted(codes.items()) if c.startswith("by-method:")))
    print("deadlines by method: " + ", ".join(
        f"{lbl}/{c[9:]}={n}" for (lbl, c), n in sorted(codes.items()) if c.startswith("deadline:")))
    print("push ports: " + ", ".join(f"{lbl}/{k}={n}" for (lbl, k), n in sorted(push.items())))
    bad = {k: n for k, n in codes.items() if k[1].startswith("bad:")}
    print(f"process deaths: {len(dead)} {dead}; unacceptable replies: {sum(bad.values())}")
    for k, n in sorted(bad.items())[:30]:
        print("  ", n, k)

    assert total >= 10_000
    assert not dead, f"processes died under fuzzing: {dead}"
    assert not bad, f"replies that are not INVALID_ARGUMENT-style or OK: {bad}"
    # Everything still runs: the same actors, and new tasks of each language.
    assert polyray.get(actors["py"].add.remote(1), timeout=TIMEOUT) == 2
    assert polyray.get(actors["java"].increment.remote(1), timeout=TIMEOUT) == 12
    assert polyray.get(actors["cpp"].Add.remote(1), timeout=TIMEOUT) == 2
    _run_every_language()


def _push_and_read(port: int, spec: pb.TaskSpec) -> cw.PushTasksReply | None:
    """One frame with ``spec``; the reply, or None when the worker closed the connection."""
    body = cw.PushTasksRequest(tasks=[spec]).SerializeToString()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(_hello() + len(body).to_bytes(4, "little") + body)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(1 << 16):
            got += chunk
    if len(got) < 4:
        return None
    return cw.PushTasksReply.FromString(got[4:4 + int.from_bytes(got[:4], "little")])


@pytest.mark.parametrize("lang", [pb.PYTHON, pb.JAVA, pb.CPP], ids=["python", "java", "cpp"])
def test_finding_2_bad_task_id_and_huge_num_returns(cluster, lang):
    """Finding 2: a 3-byte task id of a function that does not import, and an
    actor call with num_returns=10**9, end one connection; a bad field of an
    addressable task comes back as an error result naming it; the worker stays."""
    actors = _run_every_language()
    from polyray.core.object_ref import get_core
    with auth.channel(get_core().raylet_address) as ch:
        stats = raylet_pb2.GetNodeStatsReply.FromString(ch.unary_unary(
            "/polyray.rpc.RayletService/GetNodeStats")(b"", timeout=30))
    w = next(w for w in stats.workers if w.language == lang and w.actor_id and w.port)
    port = sorted(_listening_ports(w.pid) - {w.port})[0]
    rss = psutil.Process(w.pid).memory_info().rss
    rng = random.Random(SEED)

    spec = _spec(rng, lang)
    spec.task_id = b"abc"
    assert _push_and_read(port, spec) is None
    spec = _spec(rng, lang)
    spec.type = pb.ACTOR_TASK
    spec.actor_id = w.actor_id
    spec.num_returns = 10**9
    assert _push_and_read(port, spec) is None
    spec = _spec(rng, lang)
    spec.resources.clear()
    spec.job_id = b"\x01"
    reply = _push_and_read(port, spec)
    assert reply is not None and len(reply.results) == 1 and len(reply.results[0].returns) == 1
    record = pb.ErrorRecord.FromString(reply.results[0].returns[0].value.body)
    assert "TaskSpec.job_id: 1 bytes, expected 4" in record.message

    assert psutil.pid_exists(w.pid) and psutil.Process(w.pid).status() != psutil.STATUS_ZOMBIE
    assert psutil.Process(w.pid).memory_info().rss < rss + (64 << 20)
    key = {pb.PYTHON: "py", pb.JAVA: "java", pb.CPP: "cpp"}[lang]
    method = {"py": "add", "java": "increment", "cpp": "Add"}[key]
    assert polyray.get(getattr(actors[key], method).remote(1), timeout=TIMEOUT) in (2, 12)
