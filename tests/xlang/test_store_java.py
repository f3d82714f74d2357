"""Python and Java share objects through the node's store, byte for byte.

Python creates the segment and writes objects that a separate JVM (StoreTool)
reads back, and the reverse. Real processes, a real shared-memory segment: the
bytes cross only through the store's mapping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME_TARGET = REPO / "java" / "runtime" / "target"
# The library `make setup` builds; POLYRAY_STORE_LIB overrides it, as it does for Java.
STORE_LIB = Path(
    os.environ.get("POLYRAY_STORE_LIB") or REPO / "build" / "cpp" / "lib" / "libpolyray_store.so"
).resolve()
TOOL_CLASS = "io.polyray.runtime.store.StoreTool"

# 0 bytes, tiny, not a multiple of the store's 64-byte blocks, 1 MiB, ~10 MB.
SIZES = [0, 1, 4099, 1 << 20, 10 * 1024 * 1024 + 17]


def store_tool_command(*args: str) -> list[str]:
    """The java command line that runs StoreTool with the built classes, jars and .so.

    Fails the test (never skips it) when something is not built: a missing
    build is a broken setup, not an optional feature.
    """
    classes = RUNTIME_TARGET / "classes"
    libdir = RUNTIME_TARGET / "lib"
    tool = classes / (TOOL_CLASS.replace(".", "/") + ".class")
    problems = []
    java = shutil.which("java")
    if java is None:
        problems.append("no `java` on PATH")
    if not tool.is_file():
        problems.append(f"{tool} is missing (the Java runtime is not built)")
    if not any(libdir.glob("jna-*.jar")):
        problems.append(f"no JNA jar in {libdir} (runtime dependencies not copied)")
    if not STORE_LIB.is_file():
        problems.append(f"{STORE_LIB} is missing (the store library is not built)")
    if problems:
        pytest.fail("cannot run the Java StoreTool: " + "; ".join(problems) + ". Run `make setup`.")
    classpath = os.pathsep.join([str(classes), str(libdir / "*")])
    return [
        java,
        # A short-lived tool: start fast and light on a shared machine.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
        classpath,
        f"-Dpolyray.store.library={STORE_LIB}",
        TOOL_CLASS,
        *args,
    ]


def run_store_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        store_tool_command(*args), capture_output=True, text=True, timeout=120, check=False
    )


@contextlib.contextmanager
def python_store():
    """A fresh segment created by Python, unlinked afterwards.

    A context manager rather than a fixture so that a missing build FAILS the
    test itself (a fixture failure would be reported as an error).
    """
    store_tool_command()  # fail early, with the `make setup` hint, if Java is not built
    try:
        from polyray.store import Store
    except ImportError as e:  # the binding is part of `make setup`
        pytest.fail(f"polyray.store cannot be imported ({e}). Run `make setup`.")
    name = f"/polyray-xtest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    s = Store.create(name, 64 << 20)
    try:
        yield name, s
    finally:
        s.close()
        Store.unlink(name)


def new_id() -> bytes:
    return os.urandom(28)


def test_python_writes_java_reads(tmp_path):
    with python_store() as (name, s):
        objects = []
        for size in SIZES:
            oid, data = new_id(), os.urandom(size)
            s.put(oid, data)
            objects.append((oid, data))
        for oid, data in objects:
            out = tmp_path / f"{oid.hex()}.bin"
            r = run_store_tool("get", name, oid.hex(), str(out), "5000")
            assert r.returncode == 0, f"StoreTool get failed ({r.returncode}): {r.stderr}"
            got = out.read_bytes()
            assert len(got) == len(data)
            assert got == data, f"object of {len(data)} bytes differs after Python -> Java"


def test_java_writes_python_reads(tmp_path):
    with python_store() as (name, s):
        objects = []
        for size in SIZES:
            oid, data = new_id(), os.urandom(size)
            src = tmp_path / f"{oid.hex()}.bin"
            src.write_bytes(data)
            r = run_store_tool("put", name, oid.hex(), str(src))
            assert r.returncode == 0, f"StoreTool put failed ({r.returncode}): {r.stderr}"
            objects.append((oid, data))
        for oid, data in objects:
            view = s.get_one(oid, 5)
            try:
                got = bytes(view.data)
            finally:
                view.release()
            assert len(got) == len(data)
            assert got == data, f"object of {len(data)} bytes differs after Java -> Python"


def test_python_get_wakes_when_java_seals(tmp_path):
    """A Python getter blocked on an id is woken by a seal in another process (the JVM)."""
    with python_store() as (name, s):
        oid, data = new_id(), os.urandom(100_000)
        src = tmp_path / "src"
        src.write_bytes(data)
        got: dict = {}

        def wait_for_it():
            try:
                view = s.get_one(oid, 60)
                try:
                    got["data"] = bytes(view.data)
                finally:
                    view.release()
            except Exception as e:  # reported below, in the test's thread
                got["error"] = e

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        r = run_store_tool("put", name, oid.hex(), str(src))
        waiter.join(60)
        assert r.returncode == 0, f"StoreTool put failed ({r.returncode}): {r.stderr}"
        assert not waiter.is_alive(), "the Python get was not woken by the Java seal"
        assert "error" not in got, f"Python get failed: {got.get('error')!r}"
        assert got["data"] == data


def test_java_tool_reports_errors(tmp_path):
    with python_store() as (name, s):
        missing = new_id()
        r = run_store_tool("get", name, missing.hex(), str(tmp_path / "out"))
        assert r.returncode == 1
        assert missing.hex() in r.stderr, r.stderr

        oid = new_id()
        s.put(oid, b"taken")
        src = tmp_path / "src"
        src.write_bytes(b"again")
        r = run_store_tool("put", name, oid.hex(), str(src))
        assert r.returncode == 1
        assert oid.hex() in r.stderr and "exist" in r.stderr, r.stderr

        r = run_store_tool("get", f"{name}-absent", oid.hex(), str(tmp_path / "out"))
        assert r.returncode == 1
        assert f"{name}-absent" in r.stderr, r.stderr
