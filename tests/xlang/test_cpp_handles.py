"""What ``polyray.cpp_function`` / ``cpp_actor_class`` submit: descriptors, language, options.

These run without the C++ SDK: a real embedded cluster and the real
CoreWorker build and encode the specs, and the test records each spec at the
point where it would be sent (the calls to the C++ worker itself are covered
by test_python_to_cpp.py).
"""

from __future__ import annotations

import pytest

import polyray
from polyray.protocol import common_pb2 as pb
from polyray.protocol.envelope_types import XlangTypeError


@pytest.fixture(scope="module")
def core():
    polyray.init(num_cpus=1, namespace="handles")
    from polyray.core.object_ref import get_core

    yield get_core()
    polyray.shutdown()


@pytest.fixture()
def sent(core, monkeypatch):
    """Specs that would have been sent, by kind; nothing reaches a worker."""
    out: dict[str, list[pb.TaskSpec]] = {"task": [], "actor": [], "method": []}

    def submit_task(spec, arg_ids, held):
        out["task"].append(spec)
        return core.return_refs(spec)

    def create_actor(spec):
        out["actor"].append(spec)

    def submit_actor_task(spec, arg_ids):
        out["method"].append(spec)
        return core.return_refs(spec)

    monkeypatch.setattr(core, "submit_task", submit_task)
    monkeypatch.setattr(core, "create_actor", create_actor)
    monkeypatch.setattr(core, "submit_actor_task", submit_actor_task)
    return out


def test_function_descriptor_and_options(sent):
    polyray.cpp_function("Plus1").remote(1)
    polyray.cpp_function("ns::Scale").options(num_returns=0, max_retries=5, num_cpus=2, name="scale").remote(
        [1.0, 2.0], 3)
    plain, tuned = sent["task"]
    assert plain.language == pb.CPP and plain.type == pb.NORMAL_TASK
    assert plain.function.WhichOneof("kind") == "cpp"
    assert plain.function.cpp.function_name == "Plus1" and plain.function.cpp.class_name == ""
    assert plain.num_returns == 1 and plain.max_retries == 3 and plain.resources["CPU"] == 1.0
    assert len(plain.args) == 1 and plain.args[0].value.format == pb.FORMAT_XLANG
    assert tuned.function.cpp.function_name == "ns::Scale"
    assert tuned.num_returns == 0 and tuned.max_retries == 5 and tuned.resources["CPU"] == 2.0
    assert tuned.name == "scale"


def test_actor_creation_and_method_descriptors(sent):
    Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
    c = Counter.options(name="counter-1", max_restarts=2).remote(10)
    (creation,) = sent["actor"]
    assert creation.language == pb.CPP and creation.type == pb.ACTOR_CREATION_TASK
    assert creation.function.cpp.function_name == "Counter::Create"
    assert creation.function.cpp.class_name == "Counter"
    assert creation.actor_name == "counter-1" and creation.actor_namespace == "handles"
    assert creation.max_restarts == 2
    c.Add.remote(1)
    c.Get.options(name="get-it").remote()
    add, get = sent["method"]
    assert add.language == pb.CPP and add.type == pb.ACTOR_TASK
    assert add.function.cpp.function_name == "Counter::Add" and add.function.cpp.class_name == "Counter"
    assert add.actor_id == creation.actor_id
    assert get.function.cpp.function_name == "Counter::Get" and get.name == "get-it"
    assert "Counter" in repr(c)


def test_qualified_method_name_is_kept(sent):
    c = polyray.cpp_actor_class("Counter::Create", "Counter").remote(0)
    getattr(c, "Counter::Add").remote(1)
    (call,) = sent["method"]
    assert call.function.cpp.function_name == "Counter::Add"


def test_caller_side_errors_send_nothing(sent):
    f = polyray.cpp_function("Plus1")
    with pytest.raises(TypeError, match=r"keyword arguments are not supported for C\+\+ callees \(Plus1 got x\)"):
        f.remote(x=1)
    with pytest.raises(XlangTypeError) as info:
        f.remote(1, {"k": {1, 2}})
    message = str(info.value)
    assert "argument 1" in message and "set" in message and "C++" in message, message
    with pytest.raises(XlangTypeError, match="int outside the 64-bit range"):
        f.remote(2**64)  # uint64 is the widest XLANG int
    Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
    with pytest.raises(TypeError, match="keyword arguments"):
        Counter.remote(start=1)
    with pytest.raises(XlangTypeError, match="C\\+\\+"):
        Counter.remote(object())
    c = Counter.remote(0)
    with pytest.raises(TypeError, match="keyword arguments"):
        c.Add.remote(n=1)
    assert sent["task"] == [] and len(sent["actor"]) == 1 and sent["method"] == []


def test_option_validation():
    f = polyray.cpp_function("Plus1")
    with pytest.raises(ValueError, match="unknown option 'bogus' for C\\+\\+ function Plus1"):
        f.options(bogus=1)
    with pytest.raises(TypeError, match="max_retries"):  # a wrong type is a TypeError, as in Ray
        f.options(max_retries="3")
    with pytest.raises(ValueError, match="unknown option 'num_returns' for C\\+\\+ actor class Counter"):
        polyray.cpp_actor_class("Counter::Create", "Counter").options(num_returns=2)
    with pytest.raises(ValueError, match="lifetime"):
        polyray.cpp_actor_class("Counter::Create", "Counter").options(lifetime="forever")
    with pytest.raises(ValueError, match="registered function name"):
        polyray.cpp_function("")
    with pytest.raises(ValueError, match="factory"):
        polyray.cpp_actor_class("", "Counter")
    with pytest.raises(ValueError, match="class name"):
        polyray.cpp_actor_class("Counter::Create", "")


def test_exported_from_polyray():
    assert "cpp_function" in polyray.__all__ and "cpp_actor_class" in polyray.__all__
    assert polyray.cpp_function("F").function_name == "F"


def test_cpp_flags_cli_without_the_sdk(monkeypatch, capsys, tmp_path):
    from polyray import cli, sdk

    missing = str(tmp_path / "lib" / "libpolyray.so")
    monkeypatch.setattr(sdk, "cpp_library", lambda: missing)
    with pytest.raises(SystemExit) as info:
        cli.main(["cpp-flags"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "C++ SDK is not built" in err and missing in err and "make setup" in err


def test_cpp_flags_shape(monkeypatch, tmp_path):
    from polyray import sdk

    lib = tmp_path / "libpolyray.so"
    lib.write_bytes(b"")
    monkeypatch.setattr(sdk, "cpp_library", lambda: str(lib))
    flags = sdk.cpp_flags()
    root = sdk.repo_root()
    assert flags == [f"-I{root}/cpp/include", "-DMSGPACK_NO_BOOST", f"-L{root}/build/cpp/lib",
                     f"-Wl,-rpath,{root}/build/cpp/lib", "-lpolyray", "-pthread"]
