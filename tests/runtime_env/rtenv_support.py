"""Builds a runtime env working_dir that holds code of all three languages,
for the tests that ship one to other nodes (tests/runtime_env/test_nodes.py,
tests/jobs/test_jobs_three_nodes.py):

* ``rtenv_mod.py`` -- ``where()`` returns the worker's cwd and ``$RTENV_VAR``;
* ``rtenv.jar`` -- ``rtenv.Where.where(tag)`` (java_src/rtenv/Where.java, javac + zip at test time);
* ``librtenv_funcs.so`` -- ``RtEnvCppWhere(tag)`` (cpp_src/rtenv_funcs.cc, built with ``polyray cpp-flags``).

None of them is on any worker's path unless the runtime env brings it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_XLANG = os.path.join(HERE, "..", "xlang")
if _XLANG not in sys.path:
    sys.path.insert(0, _XLANG)

from xlang_support import build_cpp  # noqa: E402

MODULE = "import os\n\ndef where():\n    return os.getcwd(), os.environ.get('RTENV_VAR')\n"


def build_jar(out_dir: str) -> str:
    """rtenv/Where.java compiled and zipped into out_dir/rtenv.jar."""
    javac = shutil.which("javac")
    if not javac:
        pytest.fail("javac is not on PATH: run `make setup`", pytrace=False)
    classes = os.path.join(out_dir, "classes")
    src = os.path.join(HERE, "java_src", "rtenv", "Where.java")
    subprocess.run([javac, "-d", classes, src], check=True, capture_output=True, timeout=300)
    jar = os.path.join(out_dir, "rtenv.jar")
    with zipfile.ZipFile(jar, "w") as zf:
        for path in glob.glob(os.path.join(classes, "**", "*.class"), recursive=True):
            zf.write(path, os.path.relpath(path, classes))
    shutil.rmtree(classes)
    return jar


def build_cpp_lib() -> str:
    """librtenv_funcs.so (built once, reused while its sources are unchanged)."""
    return build_cpp("rtenv_funcs", [os.path.join(HERE, "cpp_src", "rtenv_funcs.cc")], "shared")


def fill_working_dir(wd: str) -> str:
    """Put rtenv_mod.py, rtenv.jar and librtenv_funcs.so into the folder wd; returns wd."""
    with open(os.path.join(wd, "rtenv_mod.py"), "w") as f:
        f.write(MODULE)
    build_jar(wd)
    shutil.copy(build_cpp_lib(), os.path.join(wd, "librtenv_funcs.so"))
    return wd


def in_package_cache(cwd: str) -> bool:
    """Whether cwd is a package unpacked by a node (``.../runtime_resources/pkg_<sha256>``)."""
    return "runtime_resources" in cwd and os.path.basename(cwd).startswith("pkg_")
