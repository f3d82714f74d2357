"""Shared by this folder's cluster fixtures (conftest.py puts tests/xlang on sys.path)."""

from __future__ import annotations

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def code_search_path(tmp_path_factory, label: str) -> list[str]:
    """The code search path of the folder's clusters: the Java classes of
    java_src (compiled once per module) and the C++ xlang_funcs library."""
    import glob
    import shutil
    import subprocess

    from xlang_support import CPP_SRC, build_cpp

    import polyray.sdk

    cpp_lib = build_cpp("xlang_funcs", [os.path.join(CPP_SRC, "xlang_funcs.cc")], "shared")
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup`"
    classes = str(tmp_path_factory.mktemp(label))
    sources = glob.glob(os.path.join(_HERE, "java_src", "**", "*.java"), recursive=True)
    subprocess.run([javac, "-cp", ":".join(polyray.sdk.java_classpath()), "-d", classes, *sources],
                   check=True, capture_output=True, timeout=300)
    return [classes, cpp_lib]
