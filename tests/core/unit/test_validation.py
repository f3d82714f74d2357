"""polyray.protocol.validation: every check names the field, and sound messages pass."""

from __future__ import annotations

import pytest

from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2, raylet_pb2
from polyray.protocol import validation as v


def _spec(**kw) -> pb.TaskSpec:
    s = pb.TaskSpec(type=pb.NORMAL_TASK, job_id=b"j" * 4, task_id=b"t" * 24, num_returns=1, name="m.f",
                    caller=pb.Address(host="127.0.0.1", port=5, worker_id=b"w" * 28, node_id=b"n" * 28))
    s.function.python.module = "m"
    s.function.python.qualname = "f"
    s.args.add().value.body = b"x"
    for k, val in kw.items():
        setattr(s, k, val)
    return s


def test_a_sound_spec_passes():
    v.check_task_spec(_spec())
    v.check_message(cw.PushTasksRequest(tasks=[_spec()]))


@pytest.mark.parametrize("kw,field", [
    ({"task_id": b"abc"}, "TaskSpec.task_id: 3 bytes, expected 24"),
    ({"num_returns": 10**9}, "TaskSpec.num_returns"),
    ({"num_returns": -1}, "TaskSpec.num_returns"),
    ({"type": 7}, "TaskSpec.type: unknown TaskType value 7"),
    ({"language": 99}, "TaskSpec.language"),
    ({"job_id": b""}, "TaskSpec.job_id: 0 bytes, expected 4"),
    ({"name": "x" * 5000}, "TaskSpec.name: 5000 bytes"),
    ({"max_retries": -5}, "TaskSpec.max_retries"),
    ({"type": pb.ACTOR_TASK}, "TaskSpec.actor_id: 0 bytes, expected 16"),
])
def test_a_bad_field_is_named(kw, field):
    with pytest.raises(v.InvalidInput) as e:
        v.check_task_spec(_spec(**kw))
    assert field in str(e.value)


def test_bad_args_and_refs_are_named():
    s = _spec()
    s.args.add().ref.object_id = b"short"
    with pytest.raises(v.InvalidInput, match=r"TaskSpec.args\[1\].ref.object_id: 5 bytes, expected 28"):
        v.check_task_spec(s)
    s = _spec()
    s.args[0].value.format = 42
    with pytest.raises(v.InvalidInput, match=r"args\[0\].value.format: unknown Format value 42"):
        v.check_task_spec(s)
    s = _spec()
    s.resources["CPU"] = float("nan")
    with pytest.raises(v.InvalidInput, match=r"resources\['CPU'\]: 'CPU' must not be negative"):
        v.check_task_spec(s)


def test_the_walk_checks_ids_enums_and_depth():
    with pytest.raises(v.InvalidInput, match="GetActorInfoRequest.actor_id: 2 bytes, expected 16"):
        v.check_message(gcs_pb2.GetActorInfoRequest(actor_id=b"ab"))
    with pytest.raises(v.InvalidInput, match=r"PinObjectsRequest.object_ids\[1\]: 1 bytes, expected 28"):
        v.check_message(raylet_pb2.PinObjectsRequest(object_ids=[b"o" * 28, b"o"]))
    rec = pb.ErrorRecord(message="x")
    for _ in range(v.MAX_ERROR_DEPTH + 2):
        rec = pb.ErrorRecord(message="y", cause=rec)
    with pytest.raises(v.InvalidInput, match="nested deeper"):
        v.check_message(rec)
    v.check_message(gcs_pb2.ListActorsRequest())  # empty ids are the method's business


def test_an_addressable_bad_task_gets_an_error_result_per_return():
    s = _spec(num_returns=2, name="x" * 5000)
    with pytest.raises(v.InvalidInput) as e:
        v.check_task_spec(s)
    assert v.task_addressable(s)
    r = v.invalid_task_result(s, e.value, "w1")
    assert r.task_id == s.task_id and len(r.returns) == 2
    assert r.returns[1].object_id == s.task_id + (2).to_bytes(4, "little")
    rec = pb.ErrorRecord.FromString(r.returns[0].value.body)
    assert rec.kind == pb.RUNTIME_ERROR and "TaskSpec.name" in rec.message
    assert not v.task_addressable(_spec(task_id=b"abc"))
    assert not v.task_addressable(_spec(num_returns=10**9))
