"""Java test support any folder's tests import (tests/ is on sys.path through
tests/conftest.py): the test classes of a ``java_src`` folder compiled against
the Java SDK, and a local cluster whose code search path holds them."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator

import polyray
import polyray.sdk


def compile_java_sources(src_dir: str, out: str) -> str:
    """Compiles every ``.java`` below ``src_dir`` into ``out`` (returned), against the SDK's classpath."""
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup` (it installs a JDK)"
    sources = glob.glob(os.path.join(src_dir, "**", "*.java"), recursive=True)
    subprocess.run([javac, "-cp", ":".join(polyray.sdk.java_classpath()), "-d", out, *sources],
                   check=True, capture_output=True)
    return out


def java_cluster(tmp_path_factory, src_dir: str, name: str, num_cpus: int = 2) -> Iterator[str]:
    """For a module-scoped fixture: ``polyray.init(num_cpus)`` (an embedded head) with the classes of
    ``src_dir`` on the code search path; yields their folder, shuts the cluster down after."""
    out = compile_java_sources(src_dir, str(tmp_path_factory.mktemp(name)))
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=num_cpus, code_search_path=[out])
    try:
        yield out
    finally:
        polyray.shutdown()
