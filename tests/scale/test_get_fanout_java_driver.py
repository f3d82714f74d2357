"""A Java driver's get of 10,000 refs owned by one Python worker (issue 14, Deliver 2):
the Java fetcher (ObjectGetter) batches the ids in GetObjects, capped per owner."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import java_support
import pytest

from polyray import sdk

HERE = os.path.dirname(os.path.abspath(__file__))
N = 10_000


@pytest.fixture(scope="module")
def driver_classes(tmp_path_factory) -> str:
    return java_support.compiled_java("scale_java_driver", os.path.join(HERE, "java_driver"))


def test_java_driver_gets_10000_refs_owned_by_one_python_worker(driver_classes):
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    cp = ":".join([driver_classes, *sdk.java_classpath()])
    proc = subprocess.run(["java", "-cp", cp, "scaledrv.GetMany", str(N), os.path.join(HERE, "py_src")],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = re.search(r"RESULT n=(\d+) sum=(\d+) seconds=([\d.]+)", proc.stdout)
    assert m, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert int(m.group(1)) == N and int(m.group(2)) == N * (N - 1) // 2
    print(f"Java driver: get of {N} refs owned by one Python worker: {float(m.group(3)):.2f} s")
