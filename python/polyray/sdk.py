"""Where the built SDK artifacts are: the Java runtime classpath, the store
library, and the C++ SDK (headers, ``libpolyray``, ``polyray_cpp_worker``).

polyray runs from a source checkout (``make setup`` builds ``build/cpp`` and
``java/*/target``); environment variables override each location for other
layouts: POLYRAY_JAVA_CLASSPATH, POLYRAY_STORE_LIB, POLYRAY_CPP_WORKER.
"""

from __future__ import annotations

import glob
import os


def repo_root() -> str:
    """The checkout that holds this package (python/polyray/sdk.py -> the root)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def store_library() -> str | None:
    """Path of libpolyray_store.so, or None when it was not built."""
    override = os.environ.get("POLYRAY_STORE_LIB")
    if override:
        return override
    path = os.path.join(repo_root(), "build", "cpp", "lib", "libpolyray_store.so")
    return path if os.path.exists(path) else None


def java_classpath() -> list[str]:
    """The classpath entries of the Java SDK (api + runtime + their dependencies).

    Empty when the Java SDK was not built (run ``make setup``).
    """
    override = os.environ.get("POLYRAY_JAVA_CLASSPATH")
    if override:
        return [p for p in override.split(":") if p]
    root = os.path.join(repo_root(), "java")
    entries: list[str] = []
    for module in ("api", "runtime"):
        target = os.path.join(root, module, "target")
        jars = sorted(glob.glob(os.path.join(target, f"polyray-{module}-*.jar")))
        jars = [j for j in jars if not j.endswith(("-sources.jar", "-javadoc.jar", "-tests.jar"))]
        if jars:
            entries.append(jars[-1])
        elif os.path.isdir(os.path.join(target, "classes")):
            entries.append(os.path.join(target, "classes"))
    lib = os.path.join(root, "runtime", "target", "lib")
    if os.path.isdir(lib):
        entries.extend(sorted(p for p in glob.glob(os.path.join(lib, "*.jar"))
                              if not os.path.basename(p).startswith("polyray-")))
    return entries


def user_classpath(code_search_path: list[str] | tuple[str, ...]) -> list[str]:
    """Classpath entries for a job's code search path: directories, their jars, and jars."""
    out: list[str] = []
    for p in code_search_path:
        if not p:
            continue
        out.append(p)
        if os.path.isdir(p):
            out.extend(sorted(glob.glob(os.path.join(p, "*.jar"))))
    return out


class CppSdkMissing(Exception):
    """The C++ SDK (or a part of it) is not built; the message says what is missing."""


def cpp_include_dir() -> str:
    """The folder that holds ``polyray/api.h`` (``<repo>/cpp/include``)."""
    return os.path.join(repo_root(), "cpp", "include")


def cpp_lib_dir() -> str:
    """The folder that holds ``libpolyray.so`` (``<repo>/build/cpp/lib``)."""
    return os.path.join(repo_root(), "build", "cpp", "lib")


def cpp_library() -> str:
    """Path of ``libpolyray.so`` (it may not exist; see :func:`cpp_flags`)."""
    return os.path.join(cpp_lib_dir(), "libpolyray.so")


def cpp_worker_path() -> str:
    """Where the C++ worker executable is expected: $POLYRAY_CPP_WORKER, else
    ``<repo>/build/cpp/bin/polyray_cpp_worker``. It may not exist."""
    override = os.environ.get("POLYRAY_CPP_WORKER")
    if override:
        return override
    return os.path.join(repo_root(), "build", "cpp", "bin", "polyray_cpp_worker")


def cpp_worker() -> str:
    """The C++ worker executable; CppSdkMissing (saying which file and how to
    build it) when it is not there or not executable."""
    path = cpp_worker_path()
    where = " (from $POLYRAY_CPP_WORKER)" if os.environ.get("POLYRAY_CPP_WORKER") else ""
    if not os.path.isfile(path):
        raise CppSdkMissing(f"the polyray C++ SDK is not built (no {path}{where}); run `make setup`")
    if not os.access(path, os.X_OK):
        raise CppSdkMissing(f"the C++ worker {path}{where} is not executable")
    return path


def cpp_flags() -> list[str]:
    """Compiler and linker flags to build a C++ driver or a library of
    functions against the SDK::

        g++ -std=c++17 -shared -fPIC f.cc $(polyray cpp-flags) -o libf.so
        g++ -std=c++17 main.cc $(polyray cpp-flags) -o main

    The public headers include ``msgpack.hpp`` (msgpack-cxx from the system)
    and never protobuf or gRPC, so these flags are all a program needs.
    Raises CppSdkMissing when the headers or ``libpolyray.so`` are missing.
    """
    include = cpp_include_dir()
    lib_dir = cpp_lib_dir()
    if not os.path.isdir(os.path.join(include, "polyray")):
        raise CppSdkMissing(f"the polyray C++ headers are missing (no {os.path.join(include, 'polyray')})")
    if not os.path.isfile(cpp_library()):
        raise CppSdkMissing(f"the polyray C++ SDK is not built (no {cpp_library()}); run `make setup`")
    return [f"-I{include}", "-DMSGPACK_NO_BOOST", f"-L{lib_dir}", f"-Wl,-rpath,{lib_dir}", "-lpolyray",
            "-pthread"]
