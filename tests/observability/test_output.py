"""Output printed by tasks reaches the driver before it exits (issue 16, Deliver 5).

Each case runs a real driver process against a real cluster (an embedded head)
and counts the lines it printed: the driver exits right after ``get()``, so
whatever the drain at shutdown misses is lost and the count is short.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

_ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}

_PY_DRIVER = textwrap.dedent("""
    import sys
    import polyray

    polyray.init(num_cpus=1)

    @polyray.remote
    def speak(n):
        for i in range(n):
            print(f"line-{i}")
        return n

    print("result", polyray.get(speak.remote(int(sys.argv[1]))))
""")


def _run_py_driver(tmp_path, n: int, timeout: float = 90) -> str:
    script = tmp_path / "driver.py"
    script.write_text(_PY_DRIVER)
    done = subprocess.run([sys.executable, str(script), str(n)], capture_output=True, text=True,
                          env=_ENV, timeout=timeout, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _task_lines(stdout: str) -> list[str]:
    return re.findall(r"^\((.*?)\) (line-\d+)$", stdout, flags=re.M)


def test_python_three_lines_reach_a_driver_that_exits_right_after_get(tmp_path):
    out = _run_py_driver(tmp_path, 3)
    lines = _task_lines(out)
    assert [text for _, text in lines] == ["line-0", "line-1", "line-2"], out
    label = lines[0][0]
    assert re.fullmatch(r"speak pid=\d+, node=[\d.]+", label), label


def test_python_twenty_thousand_lines_all_arrive_in_order(tmp_path):
    out = _run_py_driver(tmp_path, 20_000)
    texts = [text for _, text in _task_lines(out)]
    assert len(texts) == 20_000, f"{20_000 - len(texts)} lines lost"
    assert texts == [f"line-{i}" for i in range(20_000)]
