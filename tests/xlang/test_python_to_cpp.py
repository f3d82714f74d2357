"""Python driver -> C++ workers: functions, actors, every XLANG type, references and errors.

cpp_src/xlang_funcs.cc is compiled with ``polyray cpp-flags`` into a shared
library (see xlang_support.py) that becomes the job's code search path; real
``polyray_cpp_worker`` processes load it and run its functions.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from xlang_support import PY_SRC, polyray_cli

import polyray
from polyray.exceptions import ActorDiedError, CrossLanguageError, TaskError, WorkerCrashedError

pytestmark = pytest.mark.timeout(1200)  # the first test may compile the library
TIMEOUT = 90


@pytest.fixture(scope="module")
def cluster(cpp_lib):
    # py_src: Python modules that C++ tasks call; also on the driver's sys.path,
    # which the embedded node hands to Python workers.
    sys.path.insert(0, PY_SRC)
    polyray.init(num_cpus=2, code_search_path=[cpp_lib, PY_SRC], namespace="cpptest")
    yield cpp_lib
    polyray.shutdown()
    sys.path.remove(PY_SRC)


def plain(value):
    """Lists instead of numpy arrays, recursively (a C++ std::vector of numbers
    returns as a 1-D ndarray, by the type mapping)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def call(name: str, *args, **opts):
    f = polyray.cpp_function(name)
    if opts:
        f = f.options(**opts)
    return polyray.get(f.remote(*args), timeout=TIMEOUT)


def test_cpp_workers_are_reused(cluster):
    first = call("Pid")
    assert all(call("Pid") == first for _ in range(5))  # one process serves the job's tasks
    assert first != os.getpid()


# ---- values ------------------------------------------------------------------


def test_functions(cluster):
    assert call("Plus1", 41) == 42
    assert call("Add", 40, 2) == 42
    refs = [polyray.cpp_function("Plus1").remote(i) for i in range(20)]
    assert polyray.get(refs, timeout=TIMEOUT) == list(range(1, 21))


def test_integers_at_the_edges(cluster):
    for v in (0, -1, 1, -(2**63), 2**63 - 1, 2**31, -(2**31) - 1):
        assert call("EchoInt", v) == v
    assert call("EchoUint64", 2**64 - 1) == 2**64 - 1  # uint64 accepted and returned
    assert call("EchoUint64", 2**63) == 2**63
    assert call("EchoInt32", 2**31 - 1) == 2**31 - 1
    assert call("EchoInt32", -(2**31)) == -(2**31)
    assert call("EchoInt8", -128) == -128
    assert call("Negate", True) is False
    assert call("Negate", False) is True


def test_integers_that_do_not_fit_are_errors(cluster):
    with pytest.raises(TaskError, match="argument 0 of EchoInt32"):
        call("EchoInt32", 2**31)
    with pytest.raises(TaskError, match="argument 0 of EchoInt8"):
        call("EchoInt8", 128)
    with pytest.raises(TaskError, match="argument 0 of EchoInt"):
        call("EchoInt", 2**63)  # an uint64 above int64's range
    with pytest.raises(TaskError, match="argument 0 of EchoUint64"):
        call("EchoUint64", -1)


def test_floats(cluster):
    for v in (1.5, -0.25, 1e308, 5e-324, float("inf"), float("-inf")):
        assert call("EchoDouble", v) == v
    assert math.isnan(call("EchoDouble", float("nan")))
    neg_zero = call("EchoDouble", -0.0)
    assert neg_zero == 0.0 and math.copysign(1.0, neg_zero) == -1.0
    assert call("EchoFloat", 0.5) == 0.5
    assert math.isinf(call("EchoFloat", float("inf")))


def test_nil_and_void(cluster):
    assert call("ReturnNil") is None
    assert call("DoNothing") is None
    assert call("DescribeOptional", None) == "none"
    assert call("DescribeOptional", 5) == "some 5"


def test_strings_and_bytes(cluster):
    text = "h\u00e9llo w\u00f6rld \u2713 \U0001d11e \u4e2d\u6587"
    assert call("EchoString", text) == text
    assert call("Utf8Length", text) == len(text.encode("utf-8"))
    assert call("EchoString", "") == ""
    assert call("EchoString", "a\x00b") == "a\x00b"
    assert call("Greet", "C++") == "hello C++"
    assert call("ReverseBytes", b"\x00\x01\xff") == b"\xff\x01\x00"
    assert call("ReverseBytes", bytearray(b"ab")) == b"ba"
    assert call("ReverseBytes", memoryview(b"xyz")) == b"zyx"
    assert call("ReverseBytes", b"") == b""


def test_lists_maps_tuples(cluster):
    echoed = call("EchoList", [1, -2, 3])
    assert isinstance(echoed, np.ndarray) and echoed.dtype == np.int64  # std::vector<int64_t> is an ndarray
    assert echoed.tolist() == [1, -2, 3]
    assert plain(call("EchoList", [])) == []
    assert plain(call("EchoList", (4, 5))) == [4, 5]  # tuples travel as arrays
    assert plain(call("EchoList", np.array([7, 8], dtype=np.int32))) == [7, 8]  # widened to int64
    assert call("SumList", [1.5, 2.5, 3.0]) == 7.0
    assert call("Words", "a bb  c") == ["a", "bb", "c"]  # std::vector<std::string> is a list
    assert call("EchoMap", {"a": 1, "b": -2}) == {"a": 1, "b": -2}
    assert call("EchoMap", {}) == {}
    assert call("CountChars", "abca") == {"a": 2, "b": 1, "c": 1}
    nested = {"x": [[1, 2], [3]], "y": [], "z": [[]]}
    assert plain(call("EchoNested", nested)) == nested
    assert call("NestedTotal", nested) == 6
    assert call("EchoTuple", (1, "two", 3.0)) == [1, "two", 3.0]
    assert call("SwapPair", (7, "seven")) == ["seven", 7]


def test_more_containers(cluster):
    assert call("IntKeys", {1: "a", -5: "b"}) == {1: "a!", -5: "b!"}  # int map keys
    assert plain(call("Reverse3", [1, 2, 3])) == [3, 2, 1]  # std::array
    with pytest.raises(TaskError, match="argument 0 of Reverse3"):
        call("Reverse3", [1, 2])  # std::array<_, 3> needs exactly 3
    assert call("PairOf", "s", True) == ["s", True]  # std::pair is an array
    assert plain(call("Flags", [True, False, True])) == [False, True, False]
    assert call("Holes", [1, None, 3]) == [1, None, 3]  # std::optional elements


def test_dynamic_values_round_trip(cluster):
    value = {
        "ints": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1],
        "floats": [1.5, float("inf"), float("-inf")],
        "text": "\u00fcnic\u00f6de \u2713",
        "bytes": b"\x00\xff",
        "nested": {"a": [{"b": None}], 7: True},
        "empty": [[], {}],
    }
    assert call("EchoAny", value) == value
    nan = call("EchoAny", [float("nan")])
    assert math.isnan(nan[0])
    assert call("EchoAny", (1, "t")) == [1, "t"]
    arr = call("EchoAny", np.arange(6, dtype=np.int16).reshape(2, 3))
    assert isinstance(arr, np.ndarray) and arr.dtype == np.int16 and arr.tolist() == [[0, 1, 2], [3, 4, 5]]
    ref = polyray.put("inside")
    back = call("EchoAny", {"r": [ref]})  # a reference nested in a dynamic value comes back usable
    assert polyray.get(back["r"][0], timeout=TIMEOUT) == "inside"


def test_structs_are_arrays_of_their_fields(cluster):
    assert call("MovePoint", [1, 2.5, "p"], 10) == [11, 2.5, "p'"]
    assert call("MovePoint", (1, 2.5, "p"), -1) == [0, 2.5, "p'"]
    with pytest.raises(TaskError, match="argument 0 of MovePoint"):
        call("MovePoint", [1, 2.5], 0)  # a field is missing


def test_small_ndarrays(cluster):
    assert call("SumVector", np.arange(10, dtype=np.float64)) == 45.0
    assert call("SumVector", [1.0, 2.0]) == 3.0  # a list also fills a std::vector<double>
    scaled = call("ScaleVector", np.array([1.0, 2.0, 3.0]), 2.0)
    assert np.asarray(scaled).tolist() == [2.0, 4.0, 6.0]
    assert call("SumInt32Vector", np.arange(5, dtype=np.int32)) == 10
    grid = call("ScaleArray", np.arange(6, dtype=np.float64).reshape(2, 3), 2.0)
    assert isinstance(grid, np.ndarray) and grid.shape == (2, 3)
    assert grid.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert plain(call("ArrayShape", np.zeros((2, 3, 4), dtype=np.int64))) == [2, 3, 4]
    halves = call("HalfFloats", np.array([1.0, 3.0], dtype=np.float32))
    assert isinstance(halves, np.ndarray) and halves.dtype == np.float32 and halves.tolist() == [0.5, 1.5]
    grid32 = call("Int32Grid", 2, 3)
    assert grid32.dtype == np.int32 and grid32.shape == (2, 3) and grid32[1, 2] == 5


def test_large_ndarrays_through_the_store(cluster):
    big = np.arange(200_000, dtype=np.float64)  # 1.6 MB: put into the shared store
    total, zero_copy, count = call("SpanSum", big)
    assert total == float(big.sum()) and count == big.size
    assert zero_copy is True  # the C++ NdSpan views the shared-memory object
    assert call("SumVector", big) == float(big.sum())
    scaled = call("ScaleVector", big, 0.5)
    assert np.asarray(scaled).shape == big.shape and np.asarray(scaled)[-1] == big[-1] * 0.5
    made = np.asarray(call("MakeLargeVector", 300_000))  # a large C++ result, read from the store
    assert made.shape == (300_000,) and made[12345] == 12345.0 and made[-1] == 299_999.0


# ---- references and handles ---------------------------------------------------


def test_object_refs(cluster):
    assert call("Plus1", polyray.put(41)) == 42  # a top-level ref is resolved before the call
    refs = [polyray.put(i) for i in (1, 2, 3)]
    assert call("CountRefs", refs) == 3  # nested refs stay refs
    assert call("SumRefs", refs) == 6  # ... and the C++ task can Get them
    back = call("EchoRefs", refs)
    assert polyray.get(back, timeout=TIMEOUT) == [1, 2, 3]
    chained = polyray.cpp_function("Plus1").remote(polyray.cpp_function("Plus1").remote(1))
    assert polyray.get(chained, timeout=TIMEOUT) == 3


def test_ref_created_in_a_cpp_task(cluster):
    # Put by the C++ worker, which owns it; returned inside the task's result,
    # so the owner must keep it while the caller holds it.
    inner = call("PutValue", 7)
    assert polyray.get(inner, timeout=TIMEOUT) == 7
    assert call("Plus1", inner) == 8  # and pass it on to another task


def test_actor_handles_in_values(cluster):
    Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
    c = Counter.remote(10)
    assert call("AddThroughHandle", c, 5) == 15
    assert polyray.get(c.Get.remote(), timeout=TIMEOUT) == 15
    made = call("MakeCounter", 3)  # a C++ actor created inside a C++ task
    assert polyray.get(made.Add.remote(1), timeout=TIMEOUT) == 4
    import cpp_callees

    acc = polyray.remote(cpp_callees.Acc).remote(100)  # a Python actor handed to C++
    assert call("AddToPythonActor", acc, 5) == 105
    assert polyray.get(acc.add.remote(1), timeout=TIMEOUT) == 106


# ---- actors -------------------------------------------------------------------


def test_cpp_actor(cluster):
    Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
    c = Counter.remote(10)
    assert polyray.get(c.Add.remote(5), timeout=TIMEOUT) == 15
    refs = [c.Add.remote(1) for _ in range(10)]
    assert polyray.get(refs, timeout=TIMEOUT) == list(range(16, 26))  # in submission order
    assert polyray.get(c.Get.remote(), timeout=TIMEOUT) == 25
    with pytest.raises(CrossLanguageError) as info:
        polyray.get(c.Fail.remote("not today"), timeout=TIMEOUT)
    assert info.value.language == "CPP" and info.value.type_name == "std::logic_error"
    assert "not today" in str(info.value)
    assert polyray.get(c.Get.remote(), timeout=TIMEOUT) == 25  # a method that throws leaves the actor alive


def test_named_cpp_actor(cluster):
    Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
    # The creator's handles keep the named actors alive (Ray's rule: they go with their last handle).
    made = [Counter.options(name="cc", namespace="a").remote(1), Counter.options(name="cc", namespace="b").remote(100)]
    a = polyray.get_actor("cc", namespace="a")
    b = polyray.get_actor("cc", namespace="b")
    assert polyray.get(a.Add.remote(1), timeout=TIMEOUT) == 2
    assert polyray.get(b.Add.remote(1), timeout=TIMEOUT) == 101
    assert "Counter" in repr(a)
    del made  # their last handles: both actors go now


def test_cpp_actor_factory_throws(cluster):
    bad = polyray.cpp_actor_class("BadActor::Create", "BadActor").remote("no state")
    with pytest.raises(ActorDiedError, match="factory failed: no state"):
        polyray.get(bad.Get.remote(), timeout=TIMEOUT)


def test_cpp_actor_process_killed(cluster):
    c = polyray.cpp_actor_class("Counter::Create", "Counter").remote(0)
    pid = polyray.get(c.Pid.remote(), timeout=TIMEOUT)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ActorDiedError):
        polyray.get(c.Add.remote(1), timeout=TIMEOUT)


# ---- errors -------------------------------------------------------------------


def test_cpp_exceptions_reach_python(cluster):
    with pytest.raises(CrossLanguageError) as info:
        call("ThrowInvalid", "bad input")
    err = info.value
    assert isinstance(err, TaskError)
    assert err.language == "CPP"
    assert err.type_name == "std::invalid_argument"
    assert "bad input" in str(err)
    with pytest.raises(CrossLanguageError) as info:
        call("ThrowRuntime", "went wrong")
    assert info.value.type_name == "std::runtime_error"
    with pytest.raises(CrossLanguageError) as info:
        call("ThrowCustom")
    assert "CustomError" in info.value.type_name and "a custom error" in str(info.value)
    assert call("Plus1", 1) == 2  # the worker is still serving


def test_unknown_function_names_function_and_search_path(cluster):
    with pytest.raises(TaskError) as info:
        call("NoSuchFunction", 1)
    message = str(info.value)
    assert "NoSuchFunction" in message
    assert os.path.basename(cluster) in message  # the search path it looked in
    with pytest.raises(ActorDiedError, match="NoSuchClass::Create is not registered"):
        polyray.get(polyray.cpp_actor_class("NoSuchClass::Create", "NoSuchClass").remote().Get.remote(),
                    timeout=TIMEOUT)


def test_wrong_argument_count_and_type(cluster):
    with pytest.raises(TaskError, match="Plus1 takes 1 argument but 2 were given"):
        call("Plus1", 1, 2)
    with pytest.raises(TaskError, match="Add takes 2 arguments but 0 were given"):
        call("Add")
    with pytest.raises(TaskError, match="argument 0 of Plus1"):
        call("Plus1", "not a number")
    with pytest.raises(TaskError, match="argument 1 of Add"):
        call("Add", 1, [2])
    assert call("Plus1", 1) == 2


def test_caller_side_errors(cluster):
    f = polyray.cpp_function("Plus1")
    with pytest.raises(TypeError, match="keyword arguments are not supported for C\\+\\+ callees"):
        f.remote(x=1)
    Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
    with pytest.raises(TypeError, match="keyword arguments"):
        Counter.remote(start=1)
    c = Counter.remote(0)
    with pytest.raises(TypeError, match="keyword arguments"):
        c.Add.remote(n=1)
    with pytest.raises(TypeError) as info:
        f.remote({1, 2})  # a set has no XLANG form
    message = str(info.value)
    assert "argument 0" in message and "set" in message and "C++" in message
    with pytest.raises(TypeError, match="C\\+\\+"):
        f.remote([object()])
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        f.options(bogus=1)
    with pytest.raises(TypeError, match="max_retries"):  # a wrong type is a TypeError, as in Ray
        f.options(max_retries="x")
    with pytest.raises(ValueError, match="unknown option"):
        Counter.options(num_returns=2)
    with pytest.raises(ValueError):
        polyray.cpp_function("")
    with pytest.raises(ValueError):
        polyray.cpp_actor_class("Counter::Create", "")


def test_segfault_is_a_worker_crash(cluster):
    with pytest.raises(WorkerCrashedError):
        call("Segfault", max_retries=0)
    assert call("Plus1", 1) == 2  # a new worker serves the job


def test_crashed_task_is_retried(cluster, tmp_path):
    marker = str(tmp_path / "crashed-once")
    assert call("CrashOnce", marker, max_retries=1) == "recovered"
    assert os.path.exists(marker)


def test_multiple_returns_option(cluster):
    # num_returns must match what the C++ function returns: one value here.
    assert call("Plus1", 1, num_returns=1) == 2


# ---- a C++ task calling Python ----------------------------------------------------


def test_cpp_task_calls_python(cluster):
    assert call("SquareInPython", 7) == 49


def test_python_error_through_cpp_task(cluster):
    with pytest.raises(CrossLanguageError) as info:
        call("PythonFails", "deep boom")
    chain = []
    err = info.value
    while err is not None:
        chain.append(err)
        err = getattr(err, "cause", None)
    described = [(getattr(e, "language", None), getattr(e, "type_name", type(e).__name__)) for e in chain]
    assert chain[0].language == "CPP", described
    assert any(getattr(e, "language", None) == "PYTHON" and getattr(e, "type_name", "") == "ValueError"
               for e in chain[1:]), described
    assert "deep boom" in str(info.value)


def test_cpp_flags_cli():
    out = subprocess.run([*polyray_cli(), "cpp-flags"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    flags = out.stdout.split()
    assert "-DMSGPACK_NO_BOOST" in flags and "-lpolyray" in flags and "-pthread" in flags
    include = [f[2:] for f in flags if f.startswith("-I")]
    assert include and os.path.exists(os.path.join(include[0], "polyray", "api.h"))
    lib = [f[2:] for f in flags if f.startswith("-L")]
    assert lib and os.path.exists(os.path.join(lib[0], "libpolyray.so"))
