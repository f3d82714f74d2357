"""TLS (POLYRAY_USE_TLS=1, mutual): a cluster whose every gRPC port speaks TLS with
certificates from `polyray tls generate`, running Python, Java and C++ tasks and
actors; a plaintext client and a TLS client without a client certificate are
refused (docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from xlang_support import cpp_lib, xlang_java_classes  # noqa: F401 — fixtures

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

    polyray.init(num_cpus=2, code_search_path=sys.argv[1:])
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
    done = subprocess.run([sys.executable, str(script), cpp_lib, xlang_java_classes, str(certs / "ca.crt")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-4000:]
    for line in ("py task 2", "py actor 3", "java task 5", "java actor 11", "cpp task 42", "cpp actor 2",
                 "plaintext refused", "tls without a client certificate refused", "tls with the certificate served 1"):
        assert line in out, out
