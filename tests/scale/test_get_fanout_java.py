"""A Python driver's get of 10,000 refs owned by one Java worker (issue 14, Deliver 2):
the Java owner serves GetObjects (ObjectServer.serveGetObjects) to the Python
fetcher, which batches and caps its calls."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time

import pytest

import polyray
import polyray.sdk
from polyray.core import object_getter

HERE = os.path.dirname(os.path.abspath(__file__))
N = 10_000


@pytest.fixture(scope="module")
def java_cluster(tmp_path_factory):
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup` (it installs a JDK)"
    out = str(tmp_path_factory.mktemp("scale_java"))
    sources = glob.glob(os.path.join(HERE, "java_src", "**", "*.java"), recursive=True)
    subprocess.run([javac, "-cp", ":".join(polyray.sdk.java_classpath()), "-d", out, *sources],
                   check=True, capture_output=True)
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[out])
    yield
    polyray.shutdown()


def test_get_10000_refs_owned_by_one_java_worker(java_cluster, monkeypatch):
    legacy = []
    real = object_getter.ObjectGetter._fetch_each

    async def fetch_each(self, q, ids):
        legacy.append(len(ids))  # the owner answered GetObjects with UNIMPLEMENTED
        await real(self, q, ids)
    monkeypatch.setattr(object_getter.ObjectGetter, "_fetch_each", fetch_each)
    put_many = polyray.java_function("scaletest.Owners", "putMany")
    refs = polyray.get(put_many.remote(N), timeout=90)
    assert len(refs) == N
    started = time.monotonic()
    values = polyray.get(refs, timeout=60)
    print(f"get of {N} refs owned by one Java worker: {time.monotonic() - started:.2f} s")
    assert values == list(range(N))
    assert not legacy, "the Java owner did not serve GetObjects"
