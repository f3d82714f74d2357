"""Smoke test of the microbenchmark: it runs, and its JSON has the row with a rate.

Not a timed test: tiny duration, one run; it only checks that the harness,
the embedded head and the JSON output work end to end, for Python rows and
for the cross-language rows (Java and C++ callees and drivers, which need
`make setup`: a JDK and the built C++ SDK).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_bench(tmp_path, *options: str, timeout: float = 180) -> tuple[dict, str]:
    """Run the benchmark with tiny settings; its JSON's rows by name, and its stdout."""
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "polyray.bench", *options, "--duration", "0.2", "--repeat", "1", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    data = json.loads(out.read_text())
    assert data["machine"]["cpus"] >= 1
    return {r["name"]: r for r in data["results"]}, proc.stdout


def assert_ran(rows: dict, name: str, stdout: str, unit: str = "ops/s") -> None:
    row = rows[name]
    assert "error" not in row, row["error"]
    assert row["unit"] == unit
    assert row["mean"] > 0 and len(row["runs"]) == 1 and row["runs"][0] > 0, row
    assert name in stdout


def test_bench_tasks_sync_json(tmp_path):
    rows, stdout = run_bench(tmp_path, "--filter", "single client tasks sync", "--exact")
    assert list(rows) == ["single client tasks sync"], rows.keys()
    assert_ran(rows, "single client tasks sync", stdout)


@pytest.mark.timeout(900)  # the first run compiles the Java and C++ callees
def test_bench_xlang_callee_rows(tmp_path):
    # "tasks sync" selects the Python row and its Java and C++ twins: the
    # callees are compiled (or reused) and put on the code search path.
    rows, stdout = run_bench(tmp_path, "--filter", "tasks sync", timeout=900)
    assert list(rows) == ["single client tasks sync", "Python -> Java tasks sync", "Python -> C++ tasks sync"]
    for name in rows:
        assert_ran(rows, name, stdout)


@pytest.mark.timeout(900)  # ... and the drivers
def test_bench_xlang_driver_rows(tmp_path):
    # Rows timed by a Java and a C++ driver that join the benchmark's cluster.
    rows, stdout = run_bench(tmp_path, "--filter", " -> Python actor calls async", timeout=900)
    assert list(rows) == ["Java -> Python actor calls async", "C++ -> Python actor calls async"]
    for name in rows:
        assert_ran(rows, name, stdout)


def test_bench_unknown_filter_lists_rows(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "polyray.bench", "--filter", "no such row"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "single client tasks sync" in proc.stderr
