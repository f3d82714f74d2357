"""Unit tests of which cluster init() joins and of the cluster record (polyray.cluster_record):
fake environments, fake liveness, a temporary root; the real heads are in
tests/cluster/test_driver_finds_cluster.py."""

from __future__ import annotations

import os
import stat

import pytest

from polyray.cluster_record import (
    ClusterRecord,
    read_record,
    record_path,
    remove_record,
    resolve_address,
    write_record,
)

REC = ClusterRecord("10.0.0.5:6380", 4242, "http://10.0.0.5:8265", "/tmp/polyray/session_x")


def _never() -> ClusterRecord | None:
    raise AssertionError("the record must not be read")


def test_explicit_address_wins_over_everything():
    assert resolve_address("1.2.3.4:5", env={"POLYRAY_ADDRESS": "9.9.9.9:1"}, read=_never) == "1.2.3.4:5"


def test_local_always_starts_embedded():
    assert resolve_address("local", env={"POLYRAY_ADDRESS": "9.9.9.9:1"}, read=_never) is None


def test_plain_init_uses_env_else_embedded_and_never_the_record():
    assert resolve_address(None, env={"POLYRAY_ADDRESS": "9.9.9.9:1"}, read=_never) == "9.9.9.9:1"
    assert resolve_address(None, env={}, read=_never) is None
    assert resolve_address(None, env={"POLYRAY_ADDRESS": "  "}, read=_never) is None


def test_auto_env_then_record_then_error(tmp_path):
    assert resolve_address("auto", env={"POLYRAY_ADDRESS": "9.9.9.9:1"}, read=_never) == "9.9.9.9:1"
    assert resolve_address("auto", env={}, read=lambda: REC) == "10.0.0.5:6380"
    with pytest.raises(ConnectionError) as e:
        resolve_address("auto", env={}, read=lambda: None, root=str(tmp_path))
    assert "POLYRAY_ADDRESS" in str(e.value) and record_path(str(tmp_path)) in str(e.value)


def test_record_round_trip_mode_and_atomic(tmp_path):
    root = str(tmp_path / "polyray")
    path = write_record(REC, root)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(root) == ["current_cluster"]  # no temporary file left
    assert read_record(root, alive=lambda pid: pid == 4242) == REC


def test_dead_owner_record_is_ignored_and_removed(tmp_path):
    root = str(tmp_path)
    write_record(REC, root)
    assert read_record(root, alive=lambda pid: False) is None
    assert not os.path.exists(record_path(root))


def test_garbage_record_is_ignored_and_removed(tmp_path):
    root = str(tmp_path)
    with open(record_path(root), "wb") as f:
        f.write(os.urandom(200) + b"\npid=abc\ngcs_address=nohost\n")
    os.chmod(record_path(root), 0o600)  # whatever the umask: only the content is wrong
    assert read_record(root, alive=lambda pid: True) is None
    assert not os.path.exists(record_path(root))


def test_record_of_a_real_dead_pid_is_stale(tmp_path):
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    write_record(ClusterRecord("127.0.0.1:1", p.pid), str(tmp_path))
    assert read_record(str(tmp_path)) is None
    # This very process runs, but is not a polyray node: a reused pid is stale too.
    write_record(ClusterRecord("127.0.0.1:1", os.getpid()), str(tmp_path))
    assert read_record(str(tmp_path)) is None


def test_remove_only_the_owners_record(tmp_path):
    root = str(tmp_path)
    write_record(REC, root)
    assert not remove_record(1111, root)
    assert os.path.exists(record_path(root))
    assert remove_record(4242, root)
    assert not os.path.exists(record_path(root))
    assert not remove_record(4242, root)


def test_record_writable_by_others_is_not_followed(tmp_path):
    root = str(tmp_path)
    path = write_record(REC, root)
    os.chmod(path, 0o622)
    assert read_record(root, alive=lambda pid: True) is None
    assert os.path.exists(path), "another's record is left alone"
    os.chmod(path, 0o600)
    assert read_record(root, alive=lambda pid: True) == REC
