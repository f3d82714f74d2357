"""Java and C++ drivers read their job's runtime env (polyray.job.runtimeEnv /
$POLYRAY_RUNTIME_ENV_JSON): env_vars and a node-local working_dir reach the
Python, Java and C++ workers of their job. One head daemon for the module."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
for extra in (os.path.join(_HERE, "..", "cluster"), os.path.join(_HERE, "..", "xlang")):
    if extra not in sys.path:
        sys.path.insert(0, extra)

from cluster_util import Cluster  # noqa: E402
from xlang_support import build_cpp, driver_env, results  # noqa: E402

from polyray import sdk  # noqa: E402

pytestmark = pytest.mark.timeout(900)  # the first run may compile the C++ programs
TIMEOUT = 120
MODULE = "import os\n\ndef where_text():\n    return os.getcwd() + '|' + str(os.environ.get('RTENV_VAR'))\n"


@pytest.fixture(scope="module")
def head():
    c = Cluster()
    try:
        c.start_head(num_cpus=2)
        yield c.address
    finally:
        c.shutdown()


@pytest.fixture()
def working_dir(tmp_path) -> str:
    wd = tmp_path / "driver_wd"
    wd.mkdir()
    (wd / "rtenv_mod.py").write_text(MODULE)
    return str(wd)


def _check_py(value: str, wd: str, var: str) -> None:
    cwd, _, got = value.partition("|")
    assert (cwd, got) == (wd, var)


def test_java_driver_runtime_env(head, working_dir, tmp_path) -> None:
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup`"
    classpath = sdk.java_classpath()
    assert classpath, "the Java SDK is not built: run `make setup`"
    classes = tmp_path / "classes"
    sources = glob.glob(os.path.join(_HERE, "java_src", "rtenv", "*.java"))
    subprocess.run([javac, "-cp", ":".join(classpath), "-d", str(classes), *sources], check=True,
                   capture_output=True, timeout=TIMEOUT)
    env = {"working_dir": working_dir, "env_vars": {"RTENV_VAR": "from-java-driver"}}
    proc = subprocess.run(["java", "-cp", ":".join([*classpath, str(classes)]),
                           f"-Dpolyray.job.runtimeEnv={json.dumps(env)}", "rtenv.DriverMain", head, str(classes)],
                          capture_output=True, text=True, timeout=TIMEOUT, env=driver_env())
    assert proc.returncode == 0, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    r = results(proc.stdout)
    _check_py(r["py"], working_dir, "from-java-driver")
    assert r["java"] == f"java:j:from-java-driver:{working_dir}"


def test_cpp_driver_runtime_env(head, working_dir) -> None:
    lib = build_cpp("rtenv_funcs", [os.path.join(_HERE, "cpp_src", "rtenv_funcs.cc")], "shared")
    program = build_cpp("rtenv_driver", [os.path.join(_HERE, "cpp_src", "rtenv_driver.cc")], "exe")
    env = {"working_dir": working_dir, "env_vars": {"RTENV_VAR": "from-cpp-driver"}}
    proc = subprocess.run([program, head, lib], capture_output=True, text=True, timeout=TIMEOUT,
                          env=driver_env(POLYRAY_RUNTIME_ENV_JSON=json.dumps(env)))
    assert proc.returncode == 0, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    r = results(proc.stdout)
    _check_py(r["py"], working_dir, "from-cpp-driver")
    assert r["cpp"] == f"cpp:d:from-cpp-driver:{working_dir}"


def test_cpp_driver_with_packages_uploaded_by_the_cli(head, working_dir) -> None:
    """`python -m polyray.runtime_env` uploads the folder; the driver passes URIs, so the
    worker runs in the node's unpacked copy, not in the folder itself."""
    lib = build_cpp("rtenv_funcs", [os.path.join(_HERE, "cpp_src", "rtenv_funcs.cc")], "shared")
    program = build_cpp("rtenv_driver", [os.path.join(_HERE, "cpp_src", "rtenv_driver.cc")], "exe")
    local = json.dumps({"working_dir": working_dir, "env_vars": {"RTENV_VAR": "uploaded"}})
    up = subprocess.run([sys.executable, "-m", "polyray.runtime_env", "--address", head, local],
                        capture_output=True, text=True, timeout=60, env=driver_env())
    assert up.returncode == 0, up.stderr
    env = json.loads(up.stdout)
    assert env["working_dir"].startswith("gcs://polyray_pkg_")
    proc = subprocess.run([program, head, lib], capture_output=True, text=True, timeout=TIMEOUT,
                          env=driver_env(POLYRAY_RUNTIME_ENV_JSON=up.stdout.strip()))
    assert proc.returncode == 0, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    cwd, _, var = results(proc.stdout)["py"].partition("|")
    assert var == "uploaded" and "runtime_resources" in cwd and os.path.basename(cwd).startswith("pkg_")
    bad = subprocess.run([sys.executable, "-m", "polyray.runtime_env", "--address", head, '{"nope": 1}'],
                         capture_output=True, text=True, timeout=60, env=driver_env())
    assert bad.returncode == 2 and "unknown runtime_env key 'nope'" in bad.stderr
