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
import time
from pathlib import Path

import pytest
from xlang_support import build_cpp, driver_env, stop_process

from polyray import sdk

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
    assert "[polyray]" not in done.stderr.replace("[polyray] workers' log files:", ""), done.stderr[-3000:]
    return done.stdout


def _task_lines(stdout: str) -> list[str]:
    return re.findall(r"^\((.*?)\) (line-\d+)$", stdout, flags=re.M)


def test_python_three_lines_reach_a_driver_that_exits_right_after_get(tmp_path):
    out = _run_py_driver(tmp_path, 3)
    lines = _task_lines(out)
    assert [text for _, text in lines] == ["line-0", "line-1", "line-2"], out
    assert ":polyray_" not in out, out  # the workers' name and task marks stay in their log files
    label = lines[0][0]
    assert re.fullmatch(r"speak pid=\d+, node=[\d.]+", label), label


def test_python_twenty_thousand_lines_all_arrive_in_order(tmp_path):
    out = _run_py_driver(tmp_path, 20_000)
    texts = [text for _, text in _task_lines(out)]
    assert len(texts) == 20_000, f"{20_000 - len(texts)} lines lost"
    assert texts == [f"line-{i}" for i in range(20_000)]


# -- Java and C++ tasks, and Java and C++ drivers --------------------------------

_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output_src")

_PY_XLANG_DRIVER = textwrap.dedent("""
    import sys
    import polyray

    lang, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    polyray.init(num_cpus=1, code_search_path=path)
    if lang == "java":
        f = polyray.java_function("obsout.Speak", "speak")
    else:
        f = polyray.cpp_function("Speak")
    print("result", polyray.get(f.remote(n), timeout=120))
""")


@pytest.fixture(scope="module")
def speak_lib() -> str:
    return build_cpp("obs_speak", [os.path.join(_SRC, "speak.cc")], "shared")


@pytest.fixture(scope="module")
def speak_driver() -> str:
    return build_cpp("obs_speak_driver", [os.path.join(_SRC, "speak_driver.cc")], "exe")


@pytest.fixture(scope="module")
def speak_classes(tmp_path_factory) -> str:
    import java_support

    return java_support.compiled_java("obs_speak", *(os.path.join(_SRC, "obsout", f)
                                                     for f in ("Speak.java", "SpeakDriver.java")))


def _run(cmd: list[str], tmp_path, timeout: float = 120) -> str:
    env = driver_env(POLYRAY_PYTHON=sys.executable)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    # Nothing dropped, nothing left undrained (those say so on stderr).
    notices = r"^\[polyray\] (workers' log files|dashboard): .*$"
    assert "[polyray]" not in re.sub(notices, "", done.stderr, flags=re.M), done.stderr[-3000:]
    # Every driver says once, at init, where its workers' log files are.
    assert len(re.findall(r"^\[polyray\] workers' log files: /\S+/logs$", done.stderr, flags=re.M)) == 1, \
        done.stderr[-2000:]
    if cmd[0] != sys.executable:
        # A Java or C++ driver of an embedded head says where its dashboard is (a Python one returns it).
        assert len(re.findall(r"^\[polyray\] dashboard: http://127\.0\.0\.1:\d+$", done.stderr, flags=re.M)) == 1, \
            done.stderr[-2000:]
    return done.stdout


def _check(out: str, n: int, name: str) -> None:
    lines = _task_lines(out)
    texts = [text for _, text in lines]
    assert len(texts) == n, f"{n - len(texts)} of {n} lines lost:\n{out[-2000:]}"
    assert texts == [f"line-{i}" for i in range(n)]
    assert re.fullmatch(rf"{name} pid=\d+, node=[\d.]+", lines[0][0]), lines[0][0]


@pytest.mark.parametrize("n", [3, 20_000])
@pytest.mark.parametrize("lang", ["java", "cpp"])
def test_python_driver_gets_every_line_of_java_and_cpp_tasks(tmp_path, lang, n, request):
    path = request.getfixturevalue("speak_classes" if lang == "java" else "speak_lib")
    script = tmp_path / "driver.py"
    script.write_text(_PY_XLANG_DRIVER)
    out = _run([sys.executable, str(script), lang, str(n), path], tmp_path)
    _check(out, n, "speak" if lang == "java" else "Speak")


@pytest.mark.parametrize("n", [3, 20_000])
def test_java_driver_exiting_after_get_prints_every_line(tmp_path, speak_classes, n):
    cmd = ["java", "-cp", ":".join([*sdk.java_classpath(), speak_classes]), "obsout.SpeakDriver", str(n),
           speak_classes]
    _check(_run(cmd, tmp_path), n, "speak")


@pytest.mark.parametrize("n", [3, 20_000])
def test_cpp_driver_shutting_down_after_get_prints_every_line(tmp_path, speak_driver, speak_lib, n):
    _check(_run([speak_driver, str(n), speak_lib], tmp_path), n, "Speak")



# -- log files ---------------------------------------------------------------------

_PY_FILES_DRIVER = textwrap.dedent("""
    import os, sys
    import polyray

    polyray.init(address=sys.argv[1])

    @polyray.remote
    def speak():
        print("to-the-file")
        print("err-to-the-file", file=sys.stderr)
        return os.getpid()

    print("PID", polyray.get(speak.remote(), timeout=60))
""")


def test_daemon_keeps_worker_log_files_under_session_latest_and_the_driver_says_where(tmp_path):
    address_file = tmp_path / "address"
    head = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "1",
                             "--address-file", str(address_file)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=driver_env(),
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert address_file.exists(), "the head did not start"
        time.sleep(0.1)
        script = tmp_path / "driver.py"
        script.write_text(_PY_FILES_DRIVER)
        done = subprocess.run([sys.executable, str(script), address_file.read_text().strip()], capture_output=True,
                              text=True, env=driver_env(), timeout=90, cwd=str(tmp_path))
        assert done.returncode == 0, done.stderr[-3000:]
        found = re.findall(r"^\[polyray\] workers' log files: (\S+)$", done.stderr, flags=re.M)
        assert len(found) == 1, done.stderr[-2000:]  # one line at init
        log_dir = found[0]
        assert re.fullmatch(r"/tmp/polyray/session_[\d_-]+_\d+/logs", log_dir), log_dir
        # The newest daemon's session (another daemon may have started since: the link moves on).
        latest = os.path.realpath("/tmp/polyray/session_latest")
        assert os.path.dirname(latest) == "/tmp/polyray" and os.path.basename(latest).startswith("session_")
        pid = int(re.search(r"^PID (\d+)$", done.stdout, flags=re.M).group(1))
        assert re.search(rf"^\(speak pid={pid}, node=[\d.]+\) to-the-file$", done.stdout, flags=re.M), done.stdout
        assert re.search(rf"^\(speak pid={pid}, node=[\d.]+\) err-to-the-file$", done.stderr, flags=re.M)
        out = [f for f in os.listdir(log_dir) if f.startswith("worker-") and f.endswith(f"-{pid}.out")]
        err = [f for f in os.listdir(log_dir) if f.startswith("worker-") and f.endswith(f"-{pid}.err")]
        assert len(out) == 1 and len(err) == 1, os.listdir(log_dir)
        assert "to-the-file" in (Path(log_dir) / out[0]).read_text()
        assert "err-to-the-file" in (Path(log_dir) / err[0]).read_text()
    finally:
        stop_process(head)
    # A daemon's logs outlive it.
    assert (Path(log_dir) / out[0]).exists()
