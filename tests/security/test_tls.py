"""TLS (POLYRAY_USE_TLS=1, mutual): a cluster whose every gRPC port speaks TLS with
certificates from `polyray tls generate`, running Python, Java and C++ tasks and
actors; a plaintext client and a TLS client without a client certificate are
refused (docs/security.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from chaos_util import compile_java_driver
from test_driver_servers import HERE, JAVA_DRIVER
from xlang_support import build_cpp, cpp_lib, xlang_java_classes  # noqa: F401 — fixtures

pytestmark = pytest.mark.timeout(600)

DRIVER = textwrap.dedent("""
    import sys, grpc, polyray
    from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc

    @polyray.remote
    def plus1(x):
        return x + 1

    @polyray.remote
    class Counter:
        def __init__(self):
            self.n = 0
        def add(self, k):
            self.n += k
            return self.n

    polyray.init(num_cpus=2, code_search_path=sys.argv[1:3])
    from polyray.core.object_ref import get_core
    core = get_core()
    assert core.ctx.address.push_port == 0
    print("py task", polyray.get(plus1.remote(1), timeout=90))
    c = Counter.remote()
    print("py actor", polyray.get([c.add.remote(1) for _ in range(3)], timeout=90)[-1])
    print("java task", polyray.get(polyray.java_function("xlangtest.Calc", "add").remote(2, 3), timeout=90))
    j = polyray.java_actor_class("xlangtest.Counter").remote(10)
    print("java actor", polyray.get(j.increment.remote(1), timeout=90))
    print("cpp task", polyray.get(polyray.cpp_function("Plus1").remote(41), timeout=90))
    k = polyray.cpp_actor_class("Counter::Create", "Counter").remote(0)
    print("cpp actor", polyray.get(k.Add.remote(2), timeout=90))
    md = auth.call_metadata()
    for label, ch in (("plaintext", grpc.insecure_channel(core.gcs_address)),
                      ("tls without a client certificate", grpc.secure_channel(
                          core.gcs_address, grpc.ssl_channel_credentials(open(sys.argv[3]).read().encode())))):
        try:
            gcs_pb2_grpc.GcsServiceStub(ch).GetAllNodes(gcs_pb2.GetAllNodesRequest(), metadata=md, timeout=5)
            print(label, "served")
        except grpc.RpcError as e:
            print(label, "refused", e.code().name)
    with auth.channel(core.gcs_address) as ch:
        n = len(gcs_pb2_grpc.GcsServiceStub(ch).GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=10).nodes)
        print("tls with the certificate", "served", n)

    # Java and C++ drivers join the TLS cluster; their servers speak TLS too.
    import json, subprocess, time, psutil
    for label, cmd in json.loads(sys.argv[4]).items():
        p = subprocess.Popen(cmd + [core.gcs_address], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready", label
        ports = []
        deadline = time.monotonic() + 30
        while not ports and time.monotonic() < deadline:
            ports = [c.laddr.port for c in psutil.Process(p.pid).net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN]
            time.sleep(0.05)
        target = f"127.0.0.1:{ports[0]}"
        codes = []
        for ch in (grpc.insecure_channel(target), auth.channel(target)):
            try:
                ch.unary_unary("/polyray.rpc.CoreWorkerService/CancelTask")(b"", metadata=md, timeout=5)
                codes.append("OK")
            except grpc.RpcError as e:
                codes.append(e.code().name)
        p.stdin.write("\\n"); p.stdin.flush()
        tls = "served" if codes[1] not in ("UNAVAILABLE", "UNAUTHENTICATED") else "refused " + codes[1]
        print(label, "driver", "plaintext", codes[0], "tls", tls, "exit", p.wait(60))
    polyray.shutdown()
""")


def test_a_tls_cluster_runs_every_language_and_refuses_plaintext(tmp_path, cpp_lib, xlang_java_classes):  # noqa: F811
    certs = tmp_path / "tls"
    gen = subprocess.run([sys.executable, "-m", "polyray.cli", "tls", "generate", str(certs)],
                         capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stderr
    env = dict(os.environ)
    for line in gen.stdout.splitlines():
        k, _, v = line.removeprefix("export ").partition("=")
        env[k] = v
    assert env["POLYRAY_USE_TLS"] == "1"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    java_cmd, _ = compile_java_driver(tmp_path / "java", "authtest.IdleDriver", JAVA_DRIVER)
    cpp_cmd = [build_cpp("idle_driver", [os.path.join(HERE, "cpp_src", "idle_driver.cc")], "exe")]
    drivers = json.dumps({"java": java_cmd, "cpp": cpp_cmd})
    done = subprocess.run([sys.executable, str(script), cpp_lib, xlang_java_classes, str(certs / "ca.crt"), drivers],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-4000:]
    for line in ("py task 2", "py actor 3", "java task 5", "java actor 11", "cpp task 42", "cpp actor 2",
                 "plaintext refused", "tls without a client certificate refused", "tls with the certificate served 1",
                 "java driver plaintext UNAVAILABLE tls served exit 0",
                 "cpp driver plaintext UNAVAILABLE tls served exit 0"):
        assert line in out, out
