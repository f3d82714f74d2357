"""A Python driver's get of 10,000 refs owned by one Java worker (issue 14, Deliver 2):
the Java owner serves GetObjects (ObjectServer.serveGetObjects) to the Python
fetcher, which batches and caps its calls."""

from __future__ import annotations

import os
import time

import java_support
import pytest

import polyray
from polyray.core import object_getter

HERE = os.path.dirname(os.path.abspath(__file__))
N = 10_000


@pytest.fixture(scope="module")
def java_cluster(tmp_path_factory):
    yield from java_support.java_cluster(tmp_path_factory, os.path.join(HERE, "java_src"), "scale_java")


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
