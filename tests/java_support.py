"""Java test support any folder's tests import (tests/ is on sys.path through
tests/conftest.py): the test classes of a ``java_src`` folder compiled against
the Java SDK, and a local cluster whose code search path holds them.

Compiled classes are cached under ``build/java-tests/<hash>/``, keyed
by the sources (paths and bytes) and the SDK classpath (each entry's path,
size and modification time), so a test session runs javac once per source
set, however many modules use it, and a later session reuses the output until
a source or the installed SDK changes (``mvn install`` rewrites the jars).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence

import pytest

import polyray
import polyray.sdk

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Where compiled test classes are kept (one folder per source set and SDK).
CACHE_ROOT = os.path.join(REPO, "build", "java-tests")
#: Seconds one javac run may take on a loaded machine.
JAVAC_TIMEOUT_S = 300

_lock = threading.Lock()
_out_locks: dict[str, threading.Lock] = {}  # one per output: different outputs compile at once


def _lock_of(out: str) -> threading.Lock:
    with _lock:
        return _out_locks.setdefault(out, threading.Lock())


def _classpath_digest(h: hashlib._Hash, classpath: Sequence[str]) -> None:
    for entry in classpath:
        h.update(entry.encode() + b"\0")
        paths = [entry]
        if os.path.isdir(entry):
            paths = sorted(glob.glob(os.path.join(entry, "**", "*"), recursive=True))
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())


def java_sources(*paths: str) -> list[str]:
    """The ``.java`` files of ``paths`` (a file as is, a folder searched recursively), sorted."""
    out: set[str] = set()
    for p in paths:
        if os.path.isdir(p):
            out.update(glob.glob(os.path.join(p, "**", "*.java"), recursive=True))
        elif os.path.isfile(p):
            out.add(p)
        else:
            raise FileNotFoundError(f"java_sources: no such file or folder: {p}")
    if not out:
        raise FileNotFoundError(f"java_sources: no .java file in {', '.join(paths)}")
    return sorted(os.path.abspath(s) for s in out)


def compiled_java(name: str, *paths: str, classpath: Sequence[str] | None = None) -> str:
    """The classes folder of the ``.java`` files of ``paths`` compiled with javac against
    ``classpath`` (default: the Java SDK's), cached by content under build/java-tests/
    (``name`` labels the source set in messages).

    Fails the test (with javac's message) when javac is missing or the compile fails.
    """
    javac = shutil.which("javac")
    if not javac:
        pytest.fail("javac is not on PATH: run `make setup` (it installs a JDK)", pytrace=False)
    cp = list(polyray.sdk.java_classpath() if classpath is None else classpath)
    if classpath is None and not cp:
        pytest.fail("the Java SDK is not built: run `make setup`", pytrace=False)
    sources = java_sources(*paths)
    h = hashlib.sha256()
    _classpath_digest(h, cp)
    for src in sources:
        with open(src, "rb") as f:
            h.update(src.encode() + b"\0" + f.read())
    # Keyed by content alone: callers naming the same sources differently share one folder.
    out = os.path.join(CACHE_ROOT, h.hexdigest()[:20])
    with _lock_of(out):
        if os.path.isdir(out):
            return out
        os.makedirs(CACHE_ROOT, exist_ok=True)
        tmp = f"{out}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [javac, *(["-cp", ":".join(cp)] if cp else []), "-d", tmp, *sources]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=JAVAC_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"javac of {name} took over {JAVAC_TIMEOUT_S} s", pytrace=False)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.fail(f"javac of {name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
        try:
            os.replace(tmp, out)
        except OSError:  # another process (a concurrent session) put the same output first
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def compile_java_sources(src_dir: str, out: str | None = None) -> str:
    """The classes of every ``.java`` below ``src_dir`` compiled against the SDK's classpath:
    the shared cached folder (``compiled_java``), or, with ``out``, a copy in ``out`` (returned)."""
    cached = compiled_java(os.path.basename(os.path.normpath(src_dir)), src_dir)
    if out is None:
        return cached
    shutil.copytree(cached, out, dirs_exist_ok=True)
    return out


def java_cluster(tmp_path_factory, src_dir: str, name: str, num_cpus: int = 2) -> Iterator[str]:
    """For a module-scoped fixture: ``polyray.init(num_cpus)`` (an embedded head) with the classes of
    ``src_dir`` on the code search path; yields their folder, shuts the cluster down after."""
    out = compiled_java(name, src_dir)
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=num_cpus, code_search_path=[out])
    try:
        yield out
    finally:
        polyray.shutdown()
