"""Smoke test of benchmarks/events_overhead.py: it runs a row with events on and off, and
reports CPU per call per process kind and ops/s for both (1,000 calls: enough for the
clock tick of every process kind, not a measurement)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "benchmarks", "events_overhead.py")


@pytest.mark.timeout(240)
def test_events_overhead_reports_cpu_per_call_on_and_off(tmp_path):
    out = tmp_path / "overhead.json"
    proc = subprocess.run([sys.executable, SCRIPT, "--calls", "1000", "--rounds", "1", "--rows", "actor-sync",
                           "--json", str(out)], capture_output=True, text=True, timeout=220, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "actor-sync" in proc.stdout and "on/off" in proc.stdout
    data = json.loads(out.read_text())
    row = data["summary"]["actor-sync"]
    for setting in ("on", "off"):
        figures = row[setting]
        # The driver, the head and the actor's worker all used CPU for the calls.
        assert figures["driver"] > 0 and figures["head"] > 0 and figures["workers"] > 0, figures
        assert figures["total"] > 0 and figures["ops_s"] > 0
    assert row["cpu_ratio"] > 0 and row["ops_ratio"] > 0
    (on,) = data["runs"]["actor-sync/on"]
    assert on["calls"] == 1000


@pytest.mark.timeout(240)
def test_compare_flips_the_env_it_is_given():
    """``compare`` is importable and takes the settings to flip (e.g. auth on/off for security.md)."""
    import importlib.util
    import io

    spec = importlib.util.spec_from_file_location("events_overhead", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = io.StringIO()
    data = mod.compare(["tasks-sync"], 300, 1, {"a": {"POLYRAY_TASK_EVENTS": "1"}, "b": {"POLYRAY_TASK_EVENTS": "0"}},
                       timeout=200, out=out)
    assert set(data["runs"]) == {"tasks-sync/a", "tasks-sync/b"}
    assert data["summary"]["tasks-sync"]["a"]["ops_s"] > 0 and "a/b" in out.getvalue()
