"""Python driver -> Java workers: tasks, actors, values, references and errors.

The Java classes under java_src/ are compiled with javac into a temporary
directory that becomes the job's code search path; real JVM workers run them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import java_support
import numpy as np
import pytest

import polyray
import polyray.sdk
from polyray.exceptions import ActorDiedError, CrossLanguageError, TaskError

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA_SRC = os.path.join(HERE, "java_src")
PY_SRC = os.path.join(HERE, "py_src")
TIMEOUT = 90


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory) -> str:
    # The SDK jars (and Arrow's) on the classpath: some classes use arrow-java or PolyRay.
    return java_support.compiled_java("xlang_java", JAVA_SRC)


@pytest.fixture(scope="module")
def cluster(java_classes):
    # py_src: Python modules that Java tasks call (the error chain test). Also on the
    # driver's sys.path, which the embedded node hands to every Python worker: a Python
    # worker reused from the job's idle pool may predate the code search path.
    sys.path.insert(0, PY_SRC)
    polyray.init(num_cpus=2, code_search_path=[java_classes, PY_SRC])
    yield
    polyray.shutdown()
    sys.path.remove(PY_SRC)


def call(cls: str, method: str, *args, **opts):
    f = polyray.java_function(f"xlangtest.{cls}", method)
    if opts:
        f = f.options(**opts)
    return polyray.get(f.remote(*args), timeout=TIMEOUT)


def test_scalars(cluster):
    assert call("Calc", "add", 2, 40) == 42
    assert call("Calc", "addInts", 2, 3) == 5
    assert call("Calc", "half", 3.0) == 1.5
    assert call("Calc", "greet", "wörld") == "hello wörld"
    assert call("Calc", "negate", True) is False
    assert call("Calc", "echo", None) is None
    assert call("Calc", "nothing") is None


def test_containers_and_bytes(cluster):
    assert call("Calc", "reverse", b"\x01\x02\x03") == b"\x03\x02\x01"
    assert call("Calc", "appendSize", [1, "a", 2.5, None]) == [1, "a", 2.5, None, 4]
    assert call("Calc", "withKey", {"x": [1, 2], "y": {"z": True}}, "k", 7) == {"x": [1, 2], "y": {"z": True}, "k": 7}
    assert call("Calc", "echo", {1: "int key", "nested": [[], {}]}) == {1: "int key", "nested": [[], {}]}
    assert call("Calc", "echo", (1, 2)) == [1, 2]  # tuples travel as arrays


def test_ndarrays(cluster):
    assert call("Calc", "sum", np.arange(10, dtype=np.int64)) == 45
    out = call("Calc", "scale", np.array([1.0, 2.0, 3.0]), 2.0)
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 4.0, 6.0]
    big = np.arange(1_000_000, dtype=np.float64)  # 8 MB: passed through the shared store
    scaled = call("Calc", "scale", big, 0.5)
    assert scaled.shape == big.shape and scaled[-1] == big[-1] * 0.5


def test_nested_class_and_signature(cluster):
    assert call("Calc$Inner", "name") == "inner"
    f = polyray.java_function("xlangtest.Calc", "overloaded", "(J)Ljava/lang/String;")
    assert polyray.get(f.remote(5), timeout=TIMEOUT) == "long"
    assert call("Calc", "overloaded", 1, 2) == "two"


def test_object_refs_as_arguments(cluster):
    ref = polyray.put(20)
    assert call("Calc", "add", ref, 22) == 42  # a top-level ref is resolved first
    inner = [polyray.put(i) for i in range(3)]
    assert call("Calc", "count", inner) == 3  # refs nested in a list stay refs
    back = call("Calc", "echo", [inner[0], {"r": inner[1]}])
    assert polyray.get(back[0], timeout=TIMEOUT) == 0
    assert polyray.get(back[1]["r"], timeout=TIMEOUT) == 1


def test_java_exception_reaches_python(cluster):
    with pytest.raises(CrossLanguageError) as info:
        call("Calc", "fail", "bad input")
    err = info.value
    assert isinstance(err, TaskError)
    assert err.language == "JAVA"
    assert err.type_name == "java.lang.IllegalStateException"
    assert "bad input" in str(err) and "Calc.fail" in err.remote_traceback


def test_runtime_errors_and_worker_stays_up(cluster):
    with pytest.raises(CrossLanguageError, match="NoSuchClass"):
        call("NoSuchClass", "f")
    with pytest.raises(CrossLanguageError, match="noSuchMethod"):
        call("Calc", "noSuchMethod", 1)
    with pytest.raises(CrossLanguageError, match="overloaded"):
        call("Calc", "overloaded", 1)  # two candidates of arity 1, listed
    with pytest.raises(CrossLanguageError):
        call("Calc", "add", "not a number", 1)
    with pytest.raises(CrossLanguageError, match="Thread"):
        call("Calc", "noXlangForm")
    assert call("Calc", "add", 1, 1, max_retries=0) == 2


def test_caller_side_errors(cluster):
    f = polyray.java_function("xlangtest.Calc", "echo")
    with pytest.raises(TypeError, match="keyword arguments are not supported for Java"):
        f.remote(value=1)
    with pytest.raises(TypeError) as info:
        f.remote({1, 2})
    assert "set" in str(info.value) and "Java" in str(info.value) and "argument 0" in str(info.value)

    class Point:
        pass
    with pytest.raises(TypeError, match="Point"):
        f.remote([Point()])


def test_java_actor(cluster):
    Counter = polyray.java_actor_class("xlangtest.Counter")
    c = Counter.remote(10)
    refs = [c.increment.remote(i) for i in range(1, 6)]
    assert polyray.get(refs, timeout=TIMEOUT) == [11, 13, 16, 20, 25]
    assert polyray.get(c.getHistory.remote(), timeout=TIMEOUT) == [11, 13, 16, 20, 25]
    with pytest.raises(CrossLanguageError, match="counter exploded"):
        polyray.get(c.boom.remote(), timeout=TIMEOUT)
    assert polyray.get(c.increment.remote(0), timeout=TIMEOUT) == 25  # still alive


def test_named_java_actor_and_namespaces(cluster):
    Counter = polyray.java_actor_class("xlangtest.Counter")
    # The creator's handles keep the named actors alive (Ray's rule: they go with their last handle).
    made = [Counter.options(name="jc", namespace="a").remote(1), Counter.options(name="jc", namespace="b").remote(100)]
    a = polyray.get_actor("jc", namespace="a")
    b = polyray.get_actor("jc", namespace="b")
    assert polyray.get(a.increment.remote(1), timeout=TIMEOUT) == 2
    assert polyray.get(b.increment.remote(1), timeout=TIMEOUT) == 101
    del made  # their last handles: both actors go now


def test_java_actor_constructor_failure(cluster):
    broken = polyray.java_actor_class("xlangtest.Broken").remote()
    with pytest.raises(ActorDiedError, match="constructor failed"):
        polyray.get(broken.anything.remote(), timeout=TIMEOUT)


def test_java_actor_jvm_dies(cluster):
    c = polyray.java_actor_class("xlangtest.Counter").remote(0)
    pid = polyray.get(c.pid.remote(), timeout=TIMEOUT)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ActorDiedError):
        polyray.get(c.increment.remote(1), timeout=TIMEOUT)


def test_java_classpath_cli():
    import sys
    polyray_cli = os.path.join(os.path.dirname(sys.executable), "polyray")
    out = subprocess.run([polyray_cli, "java-classpath"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    entries = out.stdout.strip().split(":")
    assert any("polyray-runtime" in e for e in entries) and any("polyray-api" in e for e in entries)
    assert all(os.path.exists(e) for e in entries)


def test_arrow_tables(cluster):
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"x": pa.array([1, 2, None, 4], pa.int64()), "s": ["a", "b", "c", None]})
    out = call("Tables", "addColumn", table)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["x", "s", "doubled"]
    assert out.column("x").to_pylist() == [1, 2, None, 4]
    assert out.column("s").to_pylist() == ["a", "b", "c", None]
    assert out.column("doubled").to_pylist() == [2, 4, None, 8]
    assert call("Tables", "sumColumn", table, "x") == 7
    # several record batches arrive as one root
    batches = pa.concat_tables([table, table])
    assert call("Tables", "sumColumn", batches, "x") == 14
    # raw IPC bytes still reach an ArrowIpc parameter
    assert call("Tables", "ipcSize", table) > 0


def test_four_hop_error_chain(cluster):
    # Python driver -> Java Chain.viaPython -> Python xlang_chain.call_java -> Java Chain.fail (throws)
    f = polyray.java_function("xlangtest.Chain", "viaPython")
    with pytest.raises(CrossLanguageError) as info:
        polyray.get(f.remote("boom"), timeout=TIMEOUT)
    chain = []
    err = info.value
    while err is not None:
        chain.append(err)
        err = getattr(err, "cause", None)
    languages = [getattr(e, "language", "PYTHON") for e in chain]
    described = [(getattr(e, "language", None), getattr(e, "type_name", type(e).__name__)) for e in chain]
    # every hop that raised, outermost first: Java (viaPython), Python (call_java), Java (fail)
    assert languages[0] == "JAVA", described
    assert "PYTHON" in languages[1:], described
    py = languages.index("PYTHON", 1)
    assert "JAVA" in languages[py + 1:], described
    assert chain[-1].type_name == "java.lang.IllegalStateException", described
    assert "deep failure: boom" in str(chain[-1]), described
    assert "deep failure: boom" in str(info.value)


def _actor_address(handle):
    from polyray.core.object_ref import get_core
    from polyray.protocol import gcs_pb2 as gcs
    core = get_core()
    reply = core.rpc(lambda: core.gcs.GetActorInfo(gcs.GetActorInfoRequest(actor_id=handle._actor_id), timeout=10))
    return reply.actor.address


def test_python_calls_a_java_actor_over_its_push_port(cluster):
    import psutil
    c = polyray.java_actor_class("xlangtest.Counter").remote(0)
    assert polyray.get([c.increment.remote(1) for _ in range(100)], timeout=TIMEOUT)[-1] == 100
    port = _actor_address(c).push_port
    assert port > 0, "the Java worker offers no push port"
    # The driver's calls came over a connection to that port (seen from the OS, not polyray).
    established = [k for k in psutil.net_connections(kind="tcp")
                   if k.status == psutil.CONN_ESTABLISHED and k.raddr and k.raddr.port == port
                   and k.pid == os.getpid()]
    assert established, f"the driver has no connection to the Java worker's push port {port}"


def test_with_the_push_port_off_python_calls_java_over_grpc(java_classes, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(
        "import sys, polyray\n"
        "from polyray.core.object_ref import get_core\n"
        "from polyray.protocol import gcs_pb2 as gcs\n"
        f"polyray.init(num_cpus=1, code_search_path=[{java_classes!r}])\n"
        "f = polyray.java_function('xlangtest.Calc', 'add')\n"
        "c = polyray.java_actor_class('xlangtest.Counter').remote(0)\n"
        "last = polyray.get([c.increment.remote(1) for _ in range(50)], timeout=90)[-1]\n"
        "core = get_core()\n"
        "info = core.rpc(lambda: core.gcs.GetActorInfo(gcs.GetActorInfoRequest(actor_id=c._actor_id), timeout=10))\n"
        "print(polyray.get(f.remote(2, 3), timeout=90), last, info.actor.address.push_port)\n"
        "polyray.shutdown()\n")
    env = dict(os.environ, POLYRAY_PUSH_PORT="0")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "5 50 0"
