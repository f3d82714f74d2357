"""Smoke test of benchmarks/scale_compare.py on polyray only (no Ray): it runs, writes its outputs, and bounds points.

Not a timed test: ``--quick`` runs one small point per curve, each in a fresh
driver process with its own embedded head; the test checks that every curve
produced a time on polyray, that the CSV, JSON, markdown and SVG are written,
and that a point which fails or overruns its timeout is reported as such
(and killed with everything it started) instead of being dropped or hanging.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "scale_compare.py")
CURVES = ["tasks", "actors", "puts held", "tree kept", "tree dropped", "blocking tree", "wait", "get 100 KiB",
          "put 100 KiB", "memcpy 100 KiB + put 1 KB", "cold start"]


def run_script(tmp_path, *options: str, timeout: float = 150) -> tuple[subprocess.CompletedProcess, str]:
    """Run the script with a marker in its environment; returns the process and the marker."""
    marker = f"scale-smoke-{uuid.uuid4().hex}"
    env = dict(os.environ, SCALE_COMPARE_TEST_MARK=marker)
    proc = subprocess.run([sys.executable, SCRIPT, "--polyray-only", "--out", str(tmp_path), *options],
                          cwd=tmp_path, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, marker


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries marker (what a point started and left behind)."""
    found = []
    needle = f"SCALE_COMPARE_TEST_MARK={marker}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read():
                    found.append(int(name))
        except OSError:
            pass
    return found


def read_csv(tmp_path) -> dict[str, dict]:
    with open(tmp_path / "scale.csv", newline="") as f:
        return {row["curve"]: row for row in csv.DictReader(f)}


@pytest.mark.timeout(180)
def test_quick_run_covers_every_curve(tmp_path):
    proc, marker = run_script(tmp_path, "--quick")
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-3000:]}"
    rows = read_csv(tmp_path)
    assert list(rows) == CURVES
    for name, row in rows.items():
        assert row["polyray_status"] == "ok", (name, row["polyray_error"])
        assert float(row["polyray_s"]) > 0, row
        assert int(row["polyray_driver_peak_rss_bytes"]) > 10 << 20, row  # a real driver, measured
        assert row["ray_status"] == "" and row["speedup_ray_over_polyray"] == "", row  # no Ray run
    # The curves' extra figures are real measurements.
    assert 100 < float(rows["puts held"]["polyray_extra"]) < 100_000, rows["puts held"]  # bytes per held ref
    assert float(rows["actors"]["polyray_extra"]) > 0.5, rows["actors"]  # MiB per actor process
    assert 1 <= int(rows["blocking tree"]["polyray_extra"]) <= 62, rows["blocking tree"]  # workers started, 31 tasks
    assert 0 < float(rows["cold start"]["polyray_extra"]) <= float(rows["cold start"]["polyray_s"])
    assert 0.1 < float(rows["memcpy 100 KiB + put 1 KB"]["polyray_extra"]) < 1_000  # 100 KiB puts over the bound

    data = json.loads((tmp_path / "scale.json").read_text())
    assert data["quick"] is True and data["ray_version"] is None
    assert [r["curve"] for r in data["rows"]] == CURVES
    table = (tmp_path / "scale.md").read_text()
    assert "| tree dropped | depth 8 |" in table and "| tasks | 1,000 tasks |" in table
    svg = ET.parse(tmp_path / "scale.svg").getroot()
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "tasks 1,000 tasks" in texts and "ray not run" in texts
    assert processes_with(marker) == []


@pytest.mark.timeout(120)
def test_failed_and_overrun_points_are_reported_not_dropped(tmp_path):
    # A timeout far below what the blocking tree needs: its own get() gives up
    # and the point is reported failed, with the error.
    proc, marker = run_script(tmp_path, "--quick", "--curves", "blocking tree", "--timeout-scale", "0.002",
                              timeout=90)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    row = read_csv(tmp_path)["blocking tree"]
    assert row["polyray_status"] == "failed" and "Timeout" in row["polyray_error"], row
    assert "FAILED" in (tmp_path / "scale.md").read_text()
    assert processes_with(marker) == []

    # No grace beyond a 1.5 s timeout: the actors point's driver is killed
    # while its head and workers run (it waits 1 s for them to settle before
    # its baseline), the point is reported as timed out, and nothing it
    # started lives on.
    proc, marker = run_script(tmp_path, "--quick", "--curves", "actors", "--timeout-scale", "0.01",
                              "--grace", "0", timeout=90)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    row = read_csv(tmp_path)["actors"]
    assert row["polyray_status"] == "timeout" and "no result in" in row["polyray_error"], row
    table = (tmp_path / "scale.md").read_text()
    assert "TIMEOUT" in table and "Failures and timeouts:" in table
    assert processes_with(marker) == []


def test_report_ratios_failures_and_chart(tmp_path):
    # The report from rows as a run beside Ray makes them: the speed-up is
    # Ray / polyray, a side that failed or timed out keeps its row, the chart
    # draws a green bar above 1 and a red one below, and the doc's table is
    # replaced between its markers (no cluster: report code only).
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import scale_compare as sc
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    ok = {"status": "ok", "driver_peak_rss_bytes": 64 << 20}
    rows = [
        {"curve": "tasks", "n": 300_000, "polyray": dict(ok, time_s=20.0), "ray": dict(ok, time_s=160.0)},
        {"curve": "get 100 KiB", "n": 5_000, "polyray": dict(ok, time_s=2.0), "ray": dict(ok, time_s=1.0)},
        {"curve": "puts held", "n": 1_000_000, "polyray": dict(ok, time_s=11.0, bytes_per_ref=1378.0),
         "ray": {"status": "timeout", "error": "no result in 270.0 s"}},
        {"curve": "tree dropped", "n": 12, "polyray": {"status": "failed", "error": "ObjectLostError: x"},
         "ray": dict(ok, time_s=13.0)},
    ]
    assert [sc.speedup(r) for r in rows] == [8.0, 0.5, None, None]
    table = sc.markdown(rows, "header")
    assert "| tasks | 300,000 tasks | 20.0 s | 160.0 s | **8.00×** |" in table
    assert "| get 100 KiB | 5,000 objects | 2.000 s | 1.000 s | **0.50×** |" in table
    assert "| puts held | 1,000,000 refs | 11.0 s | TIMEOUT | — | bytes per ref | 1,378 |" in table
    assert "- tree dropped depth 12 on polyray: ObjectLostError: x" in table
    assert "- puts held 1,000,000 refs on ray: no result in 270.0 s" in table

    sc.write_csv(rows, str(tmp_path / "scale.csv"))
    got = read_csv(tmp_path)
    assert got["tasks"]["speedup_ray_over_polyray"] == "8.0000" and got["puts held"]["ray_status"] == "timeout"

    svg = ET.fromstring(sc.svg_chart(rows, "title"))
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r.get("fill") for r in svg.iter(f"{ns}rect")][1:]  # the first is the background
    assert bars == ["#2b8a3e", "#c92a2a"]
    texts = [t.text for t in svg.iter(f"{ns}text")]
    assert "8.00×" in texts and "0.50×" in texts and "ray timeout" in texts and "polyray failed" in texts

    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- scale-table -->\nold\n<!-- /scale-table -->\nafter\n")
    sc.update_doc(str(doc), table)
    text = doc.read_text()
    assert text.startswith("before\n<!-- scale-table -->\nheader") and text.endswith("<!-- /scale-table -->\nafter\n")
    assert "old" not in text
