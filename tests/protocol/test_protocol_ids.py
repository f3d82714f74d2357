"""IDs: sizes, derivation, hex/binary round trips, and errors."""

from __future__ import annotations

import copy
import pickle

import pytest

from polyray.protocol.ids import (
    PUT_INDEX_FLAG,
    ActorID,
    JobID,
    NodeID,
    ObjectID,
    PlacementGroupID,
    TaskID,
    WorkerID,
)

SIZES = {JobID: 4, ActorID: 16, TaskID: 24, ObjectID: 28, NodeID: 28, WorkerID: 28, PlacementGroupID: 18}


@pytest.mark.parametrize("cls,size", SIZES.items(), ids=lambda x: getattr(x, "__name__", str(x)))
def test_sizes_and_round_trips(cls, size):
    assert cls.SIZE == size
    i = cls.from_random()
    assert len(i.binary()) == size and len(i) == size
    assert cls.from_binary(i.binary()) == i
    assert cls.from_hex(i.hex()) == i
    assert i.hex() == i.binary().hex()
    assert bytes(i) == i.binary()
    assert hash(cls.from_binary(i.binary())) == hash(i)
    assert repr(i) == f"{cls.__name__}({i.hex()})"
    assert pickle.loads(pickle.dumps(i)) == i
    assert copy.deepcopy(i) is i
    nil = cls.nil()
    assert nil.is_nil() and nil.binary() == b"\xff" * size
    assert not i.is_nil() or i == nil


@pytest.mark.parametrize("cls,size", SIZES.items(), ids=lambda x: getattr(x, "__name__", str(x)))
def test_wrong_length_names_class_and_lengths(cls, size):
    with pytest.raises(ValueError) as e:
        cls.from_binary(b"\x00" * (size + 1))
    msg = str(e.value)
    assert cls.__name__ in msg and str(size) in msg and str(size + 1) in msg
    with pytest.raises(ValueError, match=cls.__name__):
        cls.from_hex("zz")


def test_not_bytes_is_a_type_error():
    with pytest.raises(TypeError):
        ObjectID(28)  # bytes(28) would be 28 zero bytes
    assert JobID(bytearray(b"\x01\x00\x00\x00")) == JobID.from_int(1)
    assert JobID(memoryview(b"\x01\x00\x00\x00")).to_int() == 1


def test_immutable_and_hashable():
    j = JobID.from_int(7)
    with pytest.raises(AttributeError):
        j._b = b"xxxx"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        j.other = 1  # type: ignore[attr-defined]
    assert {j: 1}[JobID.from_int(7)] == 1


def test_equality_requires_same_class():
    b = bytes(range(28))
    assert NodeID(b) != WorkerID(b)
    assert NodeID(b) != b
    assert len({NodeID(b), WorkerID(b)}) == 2
    assert sorted([NodeID(b"\x02" * 28), NodeID(b"\x01" * 28)])[0] == NodeID(b"\x01" * 28)


def test_job_id_from_int_little_endian():
    assert JobID.from_int(1).binary() == b"\x01\x00\x00\x00"
    assert JobID.from_int(0x01020304).hex() == "04030201"
    assert JobID.from_int(2**32 - 1).to_int() == 2**32 - 1
    assert not JobID.from_int(0).is_nil()
    for bad in (-1, 2**32):
        with pytest.raises(ValueError):
            JobID.from_int(bad)


def test_job_scoped_ids_carry_the_job():
    job = JobID.from_int(42)
    t = TaskID.for_job(job)
    a = ActorID.of(job)
    pg = PlacementGroupID.of(job)
    for i in (t, a, pg):
        assert i.job_id() == job
        assert i.binary().endswith(job.binary())
    assert TaskID.for_job(job) != t  # random unique part
    with pytest.raises(TypeError):
        TaskID.for_job(b"\x00" * 4)  # type: ignore[arg-type]


def test_object_id_for_return():
    job = JobID.from_int(3)
    t = TaskID.for_job(job)
    o = ObjectID.for_return(t, 1)
    assert o.binary() == t.binary() + b"\x01\x00\x00\x00"
    assert o.task_id() == t and o.index() == 1 and not o.is_put() and o.job_id() == job
    big = ObjectID.for_return(t, 2**31 - 1)
    assert big.index() == 2**31 - 1 and not big.is_put()
    for bad in (0, -1, 2**31):
        with pytest.raises(ValueError):
            ObjectID.for_return(t, bad)


def test_object_id_for_put():
    t = TaskID.for_job(JobID.from_int(3))
    o = ObjectID.for_put(t, 1)
    assert o.index() == PUT_INDEX_FLAG | 1 and o.is_put()
    assert o.binary()[-4:] == b"\x01\x00\x00\x80"
    assert o.task_id() == t
    assert ObjectID.for_put(t, 1) != ObjectID.for_return(t, 1)
    for bad in (0, 2**31):
        with pytest.raises(ValueError):
            ObjectID.for_put(t, bad)


def test_maybe_from_binary():
    assert ActorID.maybe_from_binary(b"") is None
    a = ActorID.of(JobID.from_int(1))
    assert ActorID.maybe_from_binary(a.binary()) == a
