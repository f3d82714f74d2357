"""Issue 19, Deliver 1: Java user code runs against its own libraries, not polyray's.

A real JVM worker runs `userlib.Versions` (java/test-userlib, built by `make setup`),
which bundles guava 32.0.1, protobuf-java 3.25.5, slf4j-api and logback: the task
reports the jars it loaded those from (its own, on the code search path), and its
slf4j log line reaches the Python driver's output.
"""

from __future__ import annotations

import os
import time

import pytest

import polyray
import polyray.sdk

HERE = os.path.dirname(os.path.abspath(__file__))
USERLIB = os.path.abspath(os.path.join(HERE, "..", "..", "java", "test-userlib", "target"))
TIMEOUT = 90


@pytest.fixture(scope="module")
def userlib_cluster():
    classes = os.path.join(USERLIB, "classes")
    libs = os.path.join(USERLIB, "userlib")
    assert os.path.isdir(classes) and os.path.isdir(libs), (
        f"{USERLIB} is not built: run `make setup` (mvn -f java/pom.xml install builds java/test-userlib)")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=1, code_search_path=[classes, libs])
    yield libs
    polyray.shutdown()


def test_runtime_ships_no_slf4j_binding():
    names = [os.path.basename(p) for p in polyray.sdk.java_classpath()]
    assert any(n.startswith("slf4j-api-") for n in names), names
    assert not [n for n in names if n.startswith(("slf4j-nop", "slf4j-simple", "logback-"))], names


def test_user_code_sees_its_own_guava_and_protobuf_and_logs_to_the_driver(userlib_cluster, capfd):
    seen = polyray.get(polyray.java_function("userlib.Versions", "seen").remote(), timeout=TIMEOUT)
    libs = userlib_cluster
    assert seen["guava"].endswith("/guava-32.0.1-jre.jar") and seen["guava"].startswith(libs), seen
    assert seen["protobuf"].endswith("/protobuf-java-3.25.5.jar") and seen["protobuf"].startswith(libs), seen
    assert seen["slf4j"].startswith(libs), seen  # the user's slf4j-api, not the runtime's
    assert seen["binding"] == "ch.qos.logback.classic.LoggerContext", seen
    assert seen["list"] == "[a, b]" and seen["struct"] == "number_value: 1.0", seen

    token = f"isolation-{os.getpid()}-{time.monotonic_ns()}"
    assert polyray.get(polyray.java_function("userlib.Versions", "log").remote(token), timeout=TIMEOUT) == token
    out = ""
    deadline = time.monotonic() + 20
    while f"[logback] WARN Versions - userlib says {token}" not in out:
        assert time.monotonic() < deadline, f"the worker's logback line did not reach the driver: {out[-2000:]!r}"
        time.sleep(0.1)
        cap = capfd.readouterr()
        out += cap.out + cap.err
