"""Smoke test of the microbenchmark: it runs, and its JSON has the row with a rate.

Not a timed test: tiny duration, one run; it only checks that the harness,
the embedded head and the JSON output work end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_bench_tasks_sync_json(tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "polyray.bench", "--filter", "tasks sync", "--duration", "0.2", "--repeat", "1",
         "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, env=dict(os.environ))
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    data = json.loads(out.read_text())
    rows = {r["name"]: r for r in data["results"]}
    assert list(rows) == ["single client tasks sync"], rows.keys()
    row = rows["single client tasks sync"]
    assert row["unit"] == "ops/s"
    assert row["mean"] > 0 and len(row["runs"]) == 1 and row["runs"][0] > 0
    assert "error" not in row
    assert data["machine"]["cpus"] >= 1
    assert "single client tasks sync" in proc.stdout


def test_bench_unknown_filter_lists_rows(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "polyray.bench", "--filter", "no such row"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "single client tasks sync" in proc.stderr
