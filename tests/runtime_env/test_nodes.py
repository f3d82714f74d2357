"""A job's working_dir on a second node, for Python, Java and C++ workers alike.

Head (1 CPU) and node B (2 CPUs, resource ``b``) are separate daemons with
their own session folders; the working_dir is a temporary folder that holds a
Python module, a jar (javac + zip at test time) and a shared library (built
with ``polyray cpp-flags``), none of which any worker could find otherwise.
Every task is pinned to node B, so the package travels through the GCS.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import polyray

_HERE = os.path.dirname(os.path.abspath(__file__))
for extra in (os.path.join(_HERE, "..", "cluster"), os.path.join(_HERE, "..", "xlang")):
    if extra not in sys.path:
        sys.path.insert(0, extra)

from cluster_util import Cluster  # noqa: E402
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(900)  # the first run may compile the C++ library
TIMEOUT = 90


def _jar(out_dir: str) -> str:
    """rtenv/Where.java compiled and zipped into out_dir/rtenv.jar."""
    javac = shutil.which("javac")
    if not javac:
        pytest.fail("javac is not on PATH: run `make setup`", pytrace=False)
    classes = os.path.join(out_dir, "classes")
    src = os.path.join(_HERE, "java_src", "rtenv", "Where.java")
    subprocess.run([javac, "-d", classes, src], check=True, capture_output=True, timeout=300)
    jar = os.path.join(out_dir, "rtenv.jar")
    with zipfile.ZipFile(jar, "w") as zf:
        for path in glob.glob(os.path.join(classes, "**", "*.class"), recursive=True):
            zf.write(path, os.path.relpath(path, classes))
    shutil.rmtree(classes)
    return jar


@pytest.fixture(scope="module")
def working_dir(tmp_path_factory) -> str:
    wd = tmp_path_factory.mktemp("rtenv_wd")
    (wd / "rtenv_mod.py").write_text("import os\n\ndef where():\n    return os.getcwd(), os.environ.get('RTENV_VAR')\n")
    _jar(str(wd))
    lib = build_cpp("rtenv_funcs", [os.path.join(_HERE, "cpp_src", "rtenv_funcs.cc")], "shared")
    shutil.copy(lib, wd / "librtenv_funcs.so")
    return str(wd)


@pytest.fixture(scope="module")
def two_nodes(working_dir):
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        c.start_head(num_cpus=1)
        c.add_node(num_cpus=2, resources={"b": 2})
        c.wait_alive(2)
        polyray.init(address=c.address, runtime_env={"working_dir": working_dir, "env_vars": {"RTENV_VAR": "v1"}})
        yield c
    finally:
        polyray.shutdown()
        c.shutdown()


@polyray.remote(resources={"b": 1})
def python_where() -> tuple:
    import rtenv_mod
    return rtenv_mod.where()


def _in_cache(cwd: str) -> bool:
    return "runtime_resources" in cwd and os.path.basename(cwd).startswith("pkg_")


def test_python_module_from_working_dir_on_another_node(two_nodes) -> None:
    cwd, var = polyray.get(python_where.remote(), timeout=TIMEOUT)
    assert var == "v1" and _in_cache(cwd)
    with pytest.raises(ImportError):
        import rtenv_mod  # noqa: F401  (the driver itself does not have it)


def test_java_class_only_in_a_jar_of_the_working_dir(two_nodes) -> None:
    f = polyray.java_function("rtenv.Where", "where").options(resources={"b": 1})
    tag, name, var, cwd = polyray.get(f.remote("j"), timeout=TIMEOUT).split(":", 3)
    assert (tag, name, var) == ("java", "j", "v1") and _in_cache(cwd)


def test_cpp_function_only_in_a_library_of_the_working_dir(two_nodes) -> None:
    f = polyray.cpp_function("RtEnvCppWhere").options(resources={"b": 1})
    tag, name, var, cwd = polyray.get(f.remote("c"), timeout=TIMEOUT).split(":", 3)
    assert (tag, name, var) == ("cpp", "c", "v1") and _in_cache(cwd)
