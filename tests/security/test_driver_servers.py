"""The CoreWorker servers of Java and C++ *drivers*: every CoreWorkerService method
without the token, with a wrong one and with the right one (refused, refused,
served), as test_auth_matrix.py does for the Python driver and the workers."""

from __future__ import annotations

import os
import subprocess
import time

import grpc
import pytest
from chaos_util import compile_java_driver, start_driver
from test_auth_matrix import WRONG, _call, _listening_ports
from xlang_support import build_cpp

import polyray
from polyray.protocol import auth
from polyray.protocol import core_worker_pb2 as cw

pytestmark = pytest.mark.timeout(600)
HERE = os.path.dirname(os.path.abspath(__file__))

JAVA_DRIVER = """
package authtest;

import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;

public final class IdleDriver {
  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setLogToDriver(false));
    System.out.println("ready");
    System.out.flush();
    new BufferedReader(new InputStreamReader(System.in)).readLine();
    PolyRay.shutdown();
  }
}
"""


@pytest.fixture(scope="module")
def cluster():
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=1)
    yield
    polyray.shutdown()


def _driver_address(pid: int) -> str:
    """host:port of the driver's CoreWorker server: the one port its process listens on."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ports = sorted(_listening_ports(pid))
        if ports:
            assert len(ports) == 1, f"the driver listens on {ports}"
            return f"127.0.0.1:{ports[0]}"
        time.sleep(0.1)
    raise AssertionError(f"driver pid {pid} listens on no port")


@pytest.mark.parametrize("language", ["java", "cpp"])
def test_a_driver_server_refuses_without_the_token(cluster, tmp_path, language):
    from polyray.core.object_ref import get_core
    gcs = get_core().gcs_address
    if language == "java":
        cmd, _ = compile_java_driver(tmp_path, "authtest.IdleDriver", JAVA_DRIVER)
    else:
        cmd = [build_cpp("idle_driver", [os.path.join(HERE, "cpp_src", "idle_driver.cc")], "exe")]
    proc = start_driver(cmd + [gcs])
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-3000:]
        target = _driver_address(proc.pid)
        counts = {"refused": 0, "served": 0}
        wrong = []
        for method in cw.DESCRIPTOR.services_by_name["CoreWorkerService"].methods:
            for md in ((), WRONG):
                code = _call(target, "CoreWorkerService", method, md)
                if code == grpc.StatusCode.UNAUTHENTICATED:
                    counts["refused"] += 1
                else:
                    wrong.append((method.name, code.name))
            if method.name == "Exit":  # a driver refuses to exit, but leave it be
                continue
            code = _call(target, "CoreWorkerService", method, auth.call_metadata())
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE):
                wrong.append((method.name, f"right token: {code.name}"))
            else:
                counts["served"] += 1
        print(f"\n{language} driver server: {counts}")
        assert not wrong, wrong
        assert counts["refused"] == 2 * len(cw.DESCRIPTOR.services_by_name["CoreWorkerService"].methods)
        assert proc.poll() is None, "the driver died"
    finally:
        try:
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(10)
