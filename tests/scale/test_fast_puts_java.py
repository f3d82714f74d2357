"""A Java driver's puts do not wait for the raylet's pin (issue 14 Deliver 4): a
Python task given the ref right after the put reads the value, 100 KiB puts
cost well under the old synchronous round trip (1.1-1.6 ms each), and refs
dropped while their pins are queued leave the store empty."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import java_support
import pytest

from polyray import sdk

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def driver_classes(tmp_path_factory) -> str:
    return java_support.compiled_java("scale_java_driver", os.path.join(HERE, "java_driver"))


def test_java_puts_are_readable_at_once_fast_and_freed(driver_classes):
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    cp = ":".join([driver_classes, *sdk.java_classpath()])
    proc = subprocess.run(["java", "-cp", cp, "scaledrv.PutMany", os.path.join(HERE, "py_src")],
                          capture_output=True, text=True, timeout=240, env=env)
    out = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, out
    m = re.search(r"RESULT wrong=(\d+) put_us=([\d.]+) left=(-?\d+)", proc.stdout)
    assert m, out
    print(f"Java driver: 100 KiB put {m.group(2)} us (best of 3 x 1,000)")
    assert int(m.group(1)) == 0, "a Python task read a wrong value of a Java put"
    assert int(m.group(3)) == 0, f"{m.group(3)} objects left in the store after every ref was dropped"
    assert float(m.group(2)) < 800, f"Java 100 KiB puts take {m.group(2)} us each"
