"""OWNER_DIED error values: the record a borrower makes when the owner does not
answer, and the exception a get() raises for it (issue 13, Deliver 3)."""

from __future__ import annotations

import grpc

from polyray import exceptions as exc
from polyray.core import errors
from polyray.core.object_getter import _owner_unreachable
from polyray.protocol import common_pb2 as pb


def test_unavailable_owner_means_owner_died():
    record = _owner_unreachable(b"\x01" * 28, "127.0.0.1:1", grpc.StatusCode.UNAVAILABLE)
    assert record.kind == pb.OWNER_DIED and record.reason == pb.REASON_OWNER_DIED
    err = errors.exception_from_record(record)
    assert isinstance(err, exc.OwnerDiedError) and isinstance(err, exc.ObjectLostError)
    assert "died" in str(err)


def test_a_hanging_owner_is_only_object_lost():
    record = _owner_unreachable(b"\x01" * 28, "127.0.0.1:1", grpc.StatusCode.DEADLINE_EXCEEDED)
    assert record.kind == pb.OBJECT_LOST
    err = errors.exception_from_record(record)
    assert type(err) is exc.ObjectLostError


def test_object_lost_with_owner_died_reason_and_gcs_unavailable():
    lost = pb.ErrorRecord(kind=pb.OBJECT_LOST, reason=pb.REASON_OWNER_DIED, message="gone")
    assert isinstance(errors.exception_from_record(lost), exc.OwnerDiedError)
    gcs = errors.system_record(pb.GCS_UNAVAILABLE, "no answer")
    assert gcs.type_name == "GcsUnavailableError"
    assert isinstance(errors.exception_from_record(gcs), exc.GcsUnavailableError)
