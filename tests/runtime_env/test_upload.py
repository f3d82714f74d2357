"""upload_packages against a real GCS process: stored once, by content hash, with the token."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from polyray.protocol import gcs_pb2, gcs_pb2_grpc
from polyray.runtime_env import upload_packages
from polyray.runtime_env.packaging import KV_NAMESPACE, _channel

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def gcs():
    token = secrets.token_hex(16)
    # The GCS bounds packages itself (2 KiB here; the clients' own limit stays 100 MiB).
    env = {**os.environ, "POLYRAY_AUTH_TOKEN": token, "POLYRAY_AUTH_MODE": "token",
           "POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES": "2048"}
    proc = subprocess.Popen([sys.executable, "-m", "polyray.gcs", "--port", "0", "--log-level", "WARNING"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("GCS listening on "), line
        yield line.rsplit(" ", 1)[1], token
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _keys(address: str, token: str) -> list[bytes]:
    ch = _channel(address, token)
    try:
        return list(gcs_pb2_grpc.GcsServiceStub(ch).KVKeys(
            gcs_pb2.KVKeysRequest(namespace=KV_NAMESPACE, prefix=b""), timeout=10).keys)
    finally:
        ch.close()


def test_upload_replaces_paths_with_uris_once(gcs, tmp_path) -> None:
    address, token = gcs
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "mod.py").write_text("VALUE = 41\n")
    single = tmp_path / "single.py"
    single.write_text("X = 1\n")
    env = {"working_dir": str(wd), "py_modules": [str(single)], "env_vars": {"A": "1"},
           "java_jars": ["gcs://polyray_pkg_" + "0" * 64 + ".zip"]}
    out = upload_packages(env, address, token)
    assert out["working_dir"].startswith("gcs://polyray_pkg_")
    assert out["py_modules"][0].startswith("gcs://polyray_pkg_") and out["py_modules"][0] != out["working_dir"]
    assert out["java_jars"] == env["java_jars"] and out["env_vars"] == {"A": "1"}
    assert env["working_dir"] == str(wd)  # the caller's dict is not changed
    keys = _keys(address, token)
    assert sorted(keys) == sorted([out["working_dir"].encode(), out["py_modules"][0].encode()])
    # Same content again (another folder): the same URI, nothing new stored.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "mod.py").write_text("VALUE = 41\n")
    assert upload_packages({"working_dir": str(copy)}, address, token)["working_dir"] == out["working_dir"]
    assert len(_keys(address, token)) == 2


def test_upload_errors(gcs, tmp_path, monkeypatch) -> None:
    address, token = gcs
    (tmp_path / "f.txt").write_text("x" * 4096)
    with pytest.raises(ValueError, match="unknown runtime_env key 'working_directory'"):
        upload_packages({"working_directory": str(tmp_path)}, address, token)
    with pytest.raises(ConnectionError, match="UNAUTHENTICATED"):
        upload_packages({"working_dir": str(tmp_path)}, address, "not-the-token")
    monkeypatch.setenv("POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES", "1000")
    with pytest.raises(ValueError, match="over the package limit"):
        upload_packages({"working_dir": str(tmp_path)}, address, token)


def test_gcs_refuses_packages_that_do_not_match_their_name(gcs) -> None:
    import grpc

    from polyray.runtime_env import package_uri

    address, token = gcs
    ch = _channel(address, token)
    try:
        stub = gcs_pb2_grpc.GcsServiceStub(ch)
        for key, value, why in [
            (b"gcs://polyray_pkg_nothex.zip", b"x", "not a polyray package URI"),
            (package_uri(b"one").encode(), b"another", "does not match the sha256"),
            (package_uri(b"z" * 3000).encode(), b"z" * 3000, "over the limit of 2048"),
        ]:
            with pytest.raises(grpc.RpcError) as info:
                stub.KVPut(gcs_pb2.KVPutRequest(namespace=KV_NAMESPACE, key=key, value=value), timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and why in info.value.details()
        # Other namespaces are not affected.
        stub.KVPut(gcs_pb2.KVPutRequest(namespace="other", key=b"k", value=b"z" * 3000), timeout=10)
    finally:
        ch.close()
