"""Python and C++ share one store segment: bytes cross processes unchanged.

A Python process owns the segment (polyray.store); the C++ side is the
separate process build/cpp/bin/polyray_store_tool, linked against the C++
wrapper (cpp/src/store.cc). Each object is written by one language and read
back by the other, then compared byte for byte.

Invariants:
  - Every segment has a fresh name and is unlinked after its test.
  - A missing tool FAILS the test (with the command that builds it): the C++
    side is part of the product, and a skip would hide that it never ran.
  - Every subprocess has a timeout, so a hang fails instead of blocking CI.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from polyray.store import OBJECT_ID_SIZE, SegmentNotFoundError, Store, StoreTimeoutError

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "build" / "cpp" / "bin" / "polyray_store_tool"

# Empty, tiny, unaligned, page-sized plus one, ~1 MB and ~10 MB.
SIZES = [0, 1, 63, 4097, (1 << 20) + 5, 10 * 1024 * 1024 + 7]
TIMEOUT_S = 60


def tool() -> Path:
    if not (TOOL.is_file() and os.access(TOOL, os.X_OK)):
        pytest.fail(
            f"C++ store tool not found at {TOOL}: build the C++ tree first with "
            f"`make setup` (or `make cpp`) in {REPO}",
            pytrace=False,
        )
    return TOOL


def run_tool(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(tool()), *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT_S
    )


def new_id() -> bytes:
    return os.urandom(OBJECT_ID_SIZE)


@pytest.fixture
def store():
    name = f"/polyray-xlang-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    s = Store.create(name, 64 << 20)
    yield s
    s.close()
    try:
        Store.unlink(name)
    except SegmentNotFoundError:
        pass


@pytest.mark.parametrize("size", SIZES)
def test_python_writes_cpp_reads(store, tmp_path, size):
    object_id = new_id()
    data = os.urandom(size)
    store.put(object_id, data)

    out = tmp_path / "out.bin"
    r = run_tool("get", store.name, object_id.hex(), out)
    assert r.returncode == 0, f"polyray_store_tool get failed: {r.stderr}"
    got = out.read_bytes()
    assert len(got) == size
    assert got == data


@pytest.mark.parametrize("size", SIZES)
def test_cpp_writes_python_reads(store, tmp_path, size):
    object_id = new_id()
    data = os.urandom(size)
    src = tmp_path / "in.bin"
    src.write_bytes(data)

    r = run_tool("put", store.name, object_id.hex(), src)
    assert r.returncode == 0, f"polyray_store_tool put failed: {r.stderr}"
    view = store.get_one(object_id, timeout=0)
    try:
        assert view.data_size == size
        assert view.metadata_size == 0
        assert bytes(view.data) == data
    finally:
        view.release()
    # The tool exited: it left neither pins nor unsealed objects behind.
    stats = store.stats()
    assert stats.objects == 1 and stats.sealed_objects == 1


def test_cpp_get_waits_for_python_seal(store, tmp_path):
    object_id = new_id()
    data = os.urandom(100_000)
    builder = store.create_object(object_id, len(data))
    out = tmp_path / "out.bin"
    reader = subprocess.Popen(
        [str(tool()), "get", store.name, object_id.hex(), str(out), "20000"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        builder.data[:] = data
        builder.seal()
        _, err = reader.communicate(timeout=TIMEOUT_S)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert reader.returncode == 0, f"polyray_store_tool get failed: {err}"
    assert out.read_bytes() == data


def test_python_get_times_out_on_cpp_absent_object(store):
    with pytest.raises(StoreTimeoutError):
        store.get_one(new_id(), timeout=0)


def test_tool_errors_are_clear(store, tmp_path):
    missing_id = new_id().hex()
    r = run_tool("get", store.name, missing_id, tmp_path / "x", 0)
    assert r.returncode == 1
    assert missing_id in r.stderr and "timeout" in r.stderr.lower()

    r = run_tool("get", store.name + "-nope", missing_id, tmp_path / "x")
    assert r.returncode == 1
    assert store.name + "-nope" in r.stderr

    r = run_tool("put", store.name, "abcd", tmp_path / "x")
    assert r.returncode == 2
    assert "56" in r.stderr and "got 4" in r.stderr

    r = run_tool("put", store.name, missing_id, tmp_path / "does-not-exist")
    assert r.returncode == 1
    assert "does-not-exist" in r.stderr

    existing = new_id()
    store.put(existing, b"python was here")
    src = tmp_path / "in.bin"
    src.write_bytes(b"c++ was here")
    r = run_tool("put", store.name, existing.hex(), src)
    assert r.returncode == 1
    assert existing.hex() in r.stderr
    view = store.get_one(existing, timeout=0)
    assert bytes(view.data) == b"python was here"
    view.release()

    r = run_tool("frobnicate")
    assert r.returncode == 2 and "usage" in r.stderr
