"""Helpers and fixtures of the cross-language tests that run real C++ code
(conftest.py makes the fixtures visible; test modules import the helpers).

C++ test sources (``cpp_src/``) are compiled with the flags printed by
``polyray cpp-flags`` -- the way a user builds against the SDK -- into
``build/xlang-tests/``, one folder per output keyed by a hash of the sources,
the public headers and the flags, so an unchanged build is reused across runs.
Nothing is skipped: when the C++ SDK is not built, the fixture fails with the
reason (``make test`` builds it first).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CPP_SRC = os.path.join(HERE, "cpp_src")
JAVA_SRC = os.path.join(HERE, "java_src")
PY_SRC = os.path.join(HERE, "py_src")
OUT_ROOT = os.path.join(REPO, "build", "xlang-tests")
#: Seconds one compiler run may take (a loaded 2-core machine compiles the
#: SDK's templates slowly).
COMPILE_TIMEOUT_S = 900

_lock = threading.Lock()
_out_locks: dict[str, threading.Lock] = {}  # one per output: different outputs compile at once


def _lock_of(out: str) -> threading.Lock:
    with _lock:
        return _out_locks.setdefault(out, threading.Lock())


def polyray_cli() -> list[str]:
    """The ``polyray`` command of this interpreter's environment."""
    script = os.path.join(os.path.dirname(sys.executable), "polyray")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "polyray.cli"]


@functools.cache
def cpp_flags() -> list[str]:
    """The output of ``polyray cpp-flags``, split; fails the test with its error. Run once per
    session (a Python start each): every build_cpp call, cached output or not, needs it."""
    proc = subprocess.run([*polyray_cli(), "cpp-flags"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.fail(f"`polyray cpp-flags` failed (exit {proc.returncode}): {proc.stderr.strip()}\n"
                    "the C++ SDK must be built for these tests: run `make setup`", pytrace=False)
    return proc.stdout.split()


def _headers_digest(h: hashlib._Hash) -> None:
    for path in sorted(glob.glob(os.path.join(REPO, "cpp", "include", "**", "*.h"), recursive=True)):
        h.update(path.encode())
        with open(path, "rb") as f:
            h.update(f.read())


def build_cpp(name: str, sources: list[str], kind: str, extra: list[str] | None = None) -> str:
    """Compile ``sources`` (paths under cpp_src/) into a shared library
    (``kind="shared"``, output ``lib<name>.so``) or an executable
    (``kind="exe"``) with ``polyray cpp-flags``; returns the output's path.

    Reuses an earlier output when sources, headers and flags are unchanged.
    """
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not compiler:
        pytest.fail("no C++ compiler (g++) on PATH: run `make setup`", pytrace=False)
    flags = cpp_flags()
    extra = list(extra or [])
    h = hashlib.sha256()
    for part in (compiler, kind, " ".join(flags), " ".join(extra)):
        h.update(part.encode() + b"\0")
    for src in sources:
        with open(src, "rb") as f:
            h.update(src.encode() + b"\0" + f.read())
    _headers_digest(h)
    out_dir = os.path.join(OUT_ROOT, f"{name}-{h.hexdigest()[:16]}")
    out = os.path.join(out_dir, f"lib{name}.so" if kind == "shared" else name)
    with _lock_of(out):
        if os.path.exists(out):
            return out
        os.makedirs(out_dir, exist_ok=True)
        tmp = f"{out}.tmp{os.getpid()}"
        cmd = [compiler, "-std=c++17", "-O0", "-Wall"]
        if kind == "shared":
            cmd += ["-shared", "-fPIC"]
        cmd += [*sources, *flags, *extra, "-o", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"compiling {name} took over {COMPILE_TIMEOUT_S} s: {' '.join(cmd)}", pytrace=False)
        if proc.returncode != 0:
            pytest.fail(f"compiling {name} failed (exit {proc.returncode}):\n$ {' '.join(cmd)}\n"
                        f"{proc.stderr[-6000:]}", pytrace=False)
        os.replace(tmp, out)
    return out


@pytest.fixture(scope="session")
def cpp_lib() -> str:
    """libxlang_funcs.so: the C++ functions and actors the tests call."""
    return build_cpp("xlang_funcs", [os.path.join(CPP_SRC, "xlang_funcs.cc")], "shared")


@pytest.fixture(scope="session")
def cpp_broken_lib() -> str:
    """libxlang_broken.so: a library that cannot be loaded (an undefined symbol)."""
    return build_cpp("xlang_broken", [os.path.join(CPP_SRC, "xlang_broken.cc")], "shared")


@pytest.fixture(scope="session")
def cpp_driver() -> str:
    """xlang_driver: the C++ driver program (modes in cpp_src/xlang_driver.cc)."""
    return build_cpp("xlang_driver", [os.path.join(CPP_SRC, "xlang_driver.cc")], "exe")


def build_example_drivers(classes_dir: str) -> dict[str, list[str]]:
    """The README's example drivers built: examples/JavaDriver.java compiled into ``classes_dir``
    and examples/cpp/driver.cc linked with its library; the argv that runs each, by language."""
    from polyray import sdk

    classpath = sdk.java_classpath()
    subprocess.run(["javac", "-cp", ":".join(classpath), "-d", classes_dir,
                    os.path.join(REPO, "examples", "JavaDriver.java")], check=True, capture_output=True, timeout=300)
    lib = build_cpp("example_functions", [os.path.join(REPO, "examples", "cpp", "example_functions.cc")], "shared")
    exe = build_cpp("example_driver", [os.path.join(REPO, "examples", "cpp", "driver.cc")], "exe",
                    [f"-I{os.path.join(REPO, 'examples', 'cpp')}", f"-L{os.path.dirname(lib)}", "-lexample_functions",
                     f"-Wl,-rpath,{os.path.dirname(lib)}"])
    return {"java": ["java", "-cp", ":".join([*classpath, classes_dir]), "JavaDriver"], "cpp": [exe]}


@pytest.fixture(scope="session")
def xlang_java_classes() -> str:
    """java_src/ compiled with javac (cached by sources and SDK under build/java-tests/, the one
    folder every test of these classes shares: tests/java_support.py)."""
    import java_support

    return java_support.compiled_java("xlang_java", JAVA_SRC)


def run_checked(cmd: list[str], *, env: dict | None = None, timeout: float = 240, cwd: str | None = None
                ) -> subprocess.CompletedProcess:
    """Run a driver program; fail the test with its output when it exits non-zero or times out."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{cmd[0]} did not finish within {timeout} s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}",
                    pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed (exit {proc.returncode})\nstdout:\n{proc.stdout[-6000:]}\n"
                    f"stderr:\n{proc.stderr[-6000:]}", pytrace=False)
    return proc


def results(stdout: str) -> dict[str, str]:
    """The ``RESULT key=value`` lines a driver printed."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            k, _, v = line[len("RESULT "):].partition("=")
            out[k] = v
    return out


# -- a driver script against a head of its own (start-error tests) -------------

def driver_env(**changes: str | None) -> dict:
    """This process's environment for a driver or head child: polyray's sources
    on PYTHONPATH, no inherited POLYRAY_ADDRESS; ``NAME=None`` removes NAME."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.join(REPO, "python"), env.get("PYTHONPATH", "")] if p)
    env.pop("POLYRAY_ADDRESS", None)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 30 s; returns once the process is gone."""
    import signal
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_driver_with_head(tmp_path, head_env: dict, driver_source: str, driver_args: list[str],
                         timeout: float = 180) -> dict:
    """Start ``python -m polyray.node --head`` with ``head_env`` (so its workers
    inherit it), run ``driver_source`` with the head's address followed by
    ``driver_args``, and return the JSON object on the driver's last line."""
    import json
    import time
    address_file = str(tmp_path / "address")
    log_path = tmp_path / "head.log"
    with open(log_path, "wb") as log:
        head = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--address-file",
                                 address_file, "--num-cpus", "1"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=head_env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(address_file) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if head.poll() is not None or not os.path.exists(address_file):
            pytest.fail(f"the head did not start: {log_path.read_text()[-3000:]}")
        time.sleep(0.1)  # the file is written whole, but give the writer a moment
        with open(address_file) as f:
            address = f.read().strip()
        script = tmp_path / "driver.py"
        script.write_text(driver_source)
        out = subprocess.run([sys.executable, str(script), address, *driver_args], capture_output=True, text=True,
                             timeout=timeout, cwd=str(tmp_path), env=driver_env())
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        stop_process(head)
        assert head.returncode is not None
