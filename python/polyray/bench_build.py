"""How polyray.bench builds its cross-language callees and drivers.

Java classes (benchmarks/xlang/*.java) compile with javac; Java drivers
(benchmarks/xlang/drivers/*.java) against the Java SDK; C++ libraries and
drivers with the SDK's flags (``polyray cpp-flags``) at -O2. Each build is
skipped when its output is newer than its sources (and, for Java drivers,
the SDK's jars) or carries the digest of the same compiler, flags, sources
and SDK headers (C++), so a benchmark run compiles at most once. Drivers print ``runs r1 r2 ...`` (``driver_runs``).
"""

from __future__ import annotations

import os


def driver_runs(what: str, cmd: list[str]) -> list[float]:
    """Run a driver that prints "runs r1 r2 ..."; its rates, or RuntimeError with its stderr."""
    import subprocess
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("runs ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"{what} driver exited {out.returncode}: {out.stderr.strip()[-500:]}")
    return [float(x) for x in line.split()[1:]]


def build_java_driver(out_dir: str) -> str:
    """Compile benchmarks/xlang/drivers/*.java against the Java SDK into ``out_dir``."""
    import shutil
    import subprocess

    from polyray import sdk
    src = os.path.join(sdk.repo_root(), "benchmarks", "xlang", "drivers")
    sources = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith(".java"))
    stamp = os.path.join(out_dir, ".built")
    # The SDK's jars count as inputs: a driver compiled against an older API
    # fails at run time (NoSuchMethodError), not at this check.
    inputs = sources + [f for f in sdk.java_classpath() if os.path.isfile(f)]
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= max(os.path.getmtime(f) for f in inputs):
        return out_dir
    javac = shutil.which("javac")
    if not javac or not sdk.java_classpath():
        raise RuntimeError("the Java driver rows need javac and the Java SDK (run `make setup`)")
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run([javac, "-cp", ":".join(sdk.java_classpath()), "-d", out_dir, *sources],
                   check=True, capture_output=True, timeout=120)
    with open(stamp, "w"):
        pass
    return out_dir


def _java_sources() -> list[str]:
    from polyray import sdk
    d = os.path.join(sdk.repo_root(), "benchmarks", "xlang")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".java")) if os.path.isdir(d) else []


def build_java_target(out_dir: str) -> str:
    """Compile the Java benchmark classes into ``out_dir`` (once; again when a source is newer)."""
    import shutil
    import subprocess
    sources = _java_sources()
    if not sources:
        raise RuntimeError("benchmarks/xlang/*.java not found: the Java rows need a source checkout")
    stamp = os.path.join(out_dir, ".built")
    newest = max(os.path.getmtime(f) for f in sources)
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= newest:
        return out_dir
    javac = shutil.which("javac")
    if not javac:
        raise RuntimeError("javac is not on PATH: the Java rows need a JDK (run `make setup`)")
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run([javac, "--release", "11", "-d", out_dir, *sources], check=True, capture_output=True, timeout=120)
    with open(stamp, "w"):
        pass
    return out_dir


def _cpp_build(sources: list[str], out: str, shared: bool) -> str:
    """Compile ``sources`` with the SDK's flags (``polyray cpp-flags``) at -O2
    into ``out`` (a shared library or an executable), unless ``out`` was built
    from the same compiler, flags, sources and SDK headers (a digest stamp)."""
    import glob
    import hashlib
    import shutil
    import subprocess

    from polyray import sdk
    flags = sdk.cpp_flags()  # CppSdkMissing (says `make setup`) when the SDK is not built
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not compiler:
        raise RuntimeError("no C++ compiler (g++) on PATH: the C++ rows need one (run `make setup`)")
    cmd = [compiler, "-std=c++17", "-O2"] + (["-shared", "-fPIC"] if shared else []) + sources + flags
    h = hashlib.sha256("\0".join(cmd).encode())
    headers = glob.glob(os.path.join(sdk.cpp_include_dir(), "**", "*.h"), recursive=True)
    for f in sources + sorted(headers):
        with open(f, "rb") as fh:
            h.update(f.encode() + b"\0" + fh.read())
    stamp = out + ".digest"
    digest = h.hexdigest()
    if os.path.exists(out) and os.path.exists(stamp):
        with open(stamp) as fh:
            if fh.read().strip() == digest:
                return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.tmp{os.getpid()}"  # not *.so: a worker scanning the folder never sees it
    proc = subprocess.run(cmd + ["-o", tmp], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise RuntimeError(f"compiling {os.path.basename(out)} failed (exit {proc.returncode}):\n"
                           f"$ {' '.join(cmd)} -o {tmp}\n{proc.stderr[-3000:]}")
    os.replace(tmp, out)
    with open(stamp, "w") as fh:
        fh.write(digest + "\n")
    return out


def build_cpp_target(out_dir: str) -> str:
    """Compile benchmarks/xlang/bench_target.cc into ``out_dir`` (only when stale); returns ``out_dir``."""
    from polyray import sdk
    src = os.path.join(sdk.repo_root(), "benchmarks", "xlang", "bench_target.cc")
    if not os.path.isfile(src):
        raise RuntimeError(f"{src} not found: the C++ rows need a source checkout")
    _cpp_build([src], os.path.join(out_dir, "libpolyray_bench_target.so"), shared=True)
    return out_dir


def build_cpp_driver(out_dir: str) -> str:
    """Compile benchmarks/xlang/drivers/cpp_calls_python.cc into ``out_dir`` (only when stale); returns the program."""
    from polyray import sdk
    src = os.path.join(sdk.repo_root(), "benchmarks", "xlang", "drivers", "cpp_calls_python.cc")
    return _cpp_build([src], os.path.join(out_dir, "cpp_calls_python"), shared=False)
