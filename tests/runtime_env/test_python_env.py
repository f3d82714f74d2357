"""Python tasks and actors in runtime envs on a real local cluster (one per module)."""

from __future__ import annotations

import gc
import os

import pytest

import polyray

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if polyray.is_initialized():
        polyray.shutdown()
    wd = tmp_path_factory.mktemp("job_wd")
    (wd / "job_only_mod.py").write_text("WHERE = 'job working_dir'\n")
    info = polyray.init(num_cpus=2, runtime_env={"env_vars": {"JOB_VAR": "job", "SHARED": "job"},
                                                 "working_dir": str(wd)})
    try:
        yield info
    finally:
        gc.collect()
        polyray.shutdown()


@polyray.remote
def env_of(*names: str) -> dict:
    return {n: os.environ.get(n) for n in names}


@polyray.remote
def where() -> tuple:
    import job_only_mod
    return os.getcwd(), job_only_mod.WHERE, os.getpid()


def test_job_env_reaches_tasks(cluster) -> None:
    assert polyray.get(env_of.remote("JOB_VAR", "SHARED"), timeout=30) == {"JOB_VAR": "job", "SHARED": "job"}
    cwd, text, _ = polyray.get(where.remote(), timeout=30)
    assert text == "job working_dir"
    assert "runtime_resources" in cwd and os.path.basename(cwd).startswith("pkg_")
    # The driver itself runs where it was started, without the variable.
    assert "JOB_VAR" not in os.environ


def test_options_merge_env_vars_and_separate_workers(cluster) -> None:
    ref = env_of.options(runtime_env={"env_vars": {"SHARED": "task", "TASK_VAR": "t"}}).remote(
        "JOB_VAR", "SHARED", "TASK_VAR")
    assert polyray.get(ref, timeout=30) == {"JOB_VAR": "job", "SHARED": "task", "TASK_VAR": "t"}

    @polyray.remote
    def pid_and(name: str) -> tuple:
        return os.getpid(), os.environ.get(name)

    a = [pid_and.options(runtime_env={"env_vars": {"V": "a"}}).remote("V") for _ in range(4)]
    b = [pid_and.options(runtime_env={"env_vars": {"V": "b"}}).remote("V") for _ in range(4)]
    got_a, got_b = polyray.get(a, timeout=30), polyray.get(b, timeout=30)
    assert {v for _, v in got_a} == {"a"} and {v for _, v in got_b} == {"b"}
    assert not {p for p, _ in got_a} & {p for p, _ in got_b}, "a worker served two runtime envs"


def test_actor_runtime_env(cluster) -> None:
    @polyray.remote
    class Holder:
        def get(self, name: str):
            return os.environ.get(name), os.environ.get("JOB_VAR")

    h = Holder.options(runtime_env={"env_vars": {"ACTOR_VAR": "x"}}).remote()
    assert polyray.get(h.get.remote("ACTOR_VAR"), timeout=30) == ("x", "job")


def test_bad_keys_raise_value_error(cluster) -> None:
    with pytest.raises(ValueError, match="'working_directory'"):
        env_of.options(runtime_env={"working_directory": "."})
    with pytest.raises(ValueError, match="'env_vars'"):
        env_of.options(runtime_env={"env_vars": {"A": 1}})
    with pytest.raises(ValueError, match="'pip'"):
        polyray.remote(runtime_env={"pip": 3})(lambda: 1)


@polyray.remote
def tomli_version() -> tuple:
    import sys

    import tomli
    return tomli.loads('a = 1')["a"], tomli.__file__, sys.executable


def test_pip_requirement_in_a_venv_of_its_own(cluster) -> None:
    with pytest.raises(ImportError):
        import tomli  # noqa: F401  (not in the driver's venv: the test means something)
    value, path, python = polyray.get(tomli_version.options(runtime_env={"pip": ["tomli==2.0.1"]}).remote(),
                                      timeout=120)
    assert value == 1 and "runtime_resources" in path and "runtime_resources" in python
    # The same list again (another order of one item): the venv is reused, so it is quick.
    again = polyray.get(tomli_version.options(runtime_env={"pip": {"packages": ["tomli==2.0.1"]}}).remote(),
                        timeout=30)
    assert again[2] == python


def test_bad_pip_requirement_is_the_tasks_error(cluster) -> None:
    ref = tomli_version.options(runtime_env={"pip": ["polyray-no-such-package-zz==0.0.1"]}).remote()
    with pytest.raises(Exception) as info:
        polyray.get(ref, timeout=120)
    text = str(info.value)
    assert "runtime_env" in text and "polyray-no-such-package-zz" in text
    assert "No matching distribution" in text or "Could not find a version" in text, text


def test_driver_reads_runtime_env_json_variable(tmp_path) -> None:
    """A driver started with $POLYRAY_RUNTIME_ENV_JSON (as the job supervisor starts one)."""
    import json
    import subprocess
    import sys

    script = tmp_path / "driver.py"
    script.write_text(
        "import os, polyray\n"
        "polyray.init(num_cpus=1)\n"
        "@polyray.remote\n"
        "def f():\n"
        "    return os.environ.get('FROM_JOB')\n"
        "print('RESULT', polyray.get(f.remote(), timeout=60))\n")
    env = {**os.environ, "POLYRAY_RUNTIME_ENV_JSON": json.dumps({"env_vars": {"FROM_JOB": "yes"}})}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90, env=env)
    assert "RESULT yes" in out.stdout, out.stdout + out.stderr[-3000:]
    env["POLYRAY_RUNTIME_ENV_JSON"] = '{"env_var": {}}'
    bad = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90, env=env)
    assert bad.returncode != 0 and "unknown runtime_env key 'env_var'" in bad.stderr, bad.stderr[-3000:]


def test_py_modules_java_jars_and_cpp_libs(cluster, tmp_path) -> None:
    """Each key on its own (the job's working_dir has none of these): a package folder and a
    single .py file as py_modules, a jar as java_jars, a library as cpp_libs."""
    import shutil
    import subprocess
    import sys
    import zipfile

    here = os.path.dirname(os.path.abspath(__file__))
    xlang = os.path.join(here, "..", "xlang")
    if xlang not in sys.path:
        sys.path.insert(0, xlang)
    from xlang_support import build_cpp

    pkg = tmp_path / "rtenv_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("NAME = 'package folder'\n")
    single = tmp_path / "rtenv_single.py"
    single.write_text("NAME = 'single file'\n")

    @polyray.remote
    def names() -> tuple:
        import rtenv_pkg
        import rtenv_single
        return rtenv_pkg.NAME, rtenv_single.NAME

    got = polyray.get(names.options(runtime_env={"py_modules": [str(pkg), str(single)]}).remote(), timeout=30)
    assert got == ("package folder", "single file")

    classes = tmp_path / "classes"
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup`"
    subprocess.run([javac, "-d", str(classes), os.path.join(here, "java_src", "rtenv", "Where.java")], check=True,
                   capture_output=True, timeout=120)
    jar = tmp_path / "jars" / "where.jar"
    jar.parent.mkdir()
    with zipfile.ZipFile(jar, "w") as zf:
        zf.write(classes / "rtenv" / "Where.class", "rtenv/Where.class")
    f = polyray.java_function("rtenv.Where", "where").options(runtime_env={"java_jars": [str(jar)]})
    assert polyray.get(f.remote("k"), timeout=60).startswith("java:k:unset:")

    lib = build_cpp("rtenv_funcs", [os.path.join(here, "cpp_src", "rtenv_funcs.cc")], "shared")
    c = polyray.cpp_function("RtEnvCppWhere").options(runtime_env={"cpp_libs": [lib]})
    assert polyray.get(c.remote("k"), timeout=60).startswith("cpp:k:unset:")


def test_raylet_refuses_bad_runtime_envs_over_grpc(cluster) -> None:
    """Garbage and oversized runtime envs sent straight to the raylet: INVALID_ARGUMENT past
    the bound, and a lease failure naming the problem for what does not parse; the raylet
    keeps serving."""
    import grpc

    from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc

    with auth.channel(cluster["address"]) as ch:
        nodes = gcs_pb2_grpc.GcsServiceStub(ch).GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=10).nodes
    raylet = next(n.raylet_address for n in nodes if n.alive)
    job = bytes.fromhex(cluster["job_id"])

    def lease(runtime_env: str) -> raylet_pb2.RequestWorkerLeaseReply:
        spec = common_pb2.TaskSpec(language=common_pb2.PYTHON, job_id=job, task_id=os.urandom(24),
                                   runtime_env=runtime_env, name="probe")
        spec.resources["CPU"] = 1.0
        with auth.channel(f"{raylet.host}:{raylet.port}") as rch:
            return raylet_pb2_grpc.RayletServiceStub(rch).RequestWorkerLease(
                raylet_pb2.RequestWorkerLeaseRequest(task=spec), timeout=30)

    with pytest.raises(grpc.RpcError) as info:
        lease("{" + " " * 70000 + "}")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "runtime_env" in info.value.details()
    for garbage, why in [("\x00\xff{not json", "not valid JSON"), ('{"env_vars": [1]}', "'env_vars'"),
                         ('{"working_dir": "gcs://polyray_pkg_00.zip"}', "not a polyray package URI")]:
        reply = lease(garbage)
        assert reply.HasField("failure") and why in reply.failure.message, reply
    assert polyray.get(env_of.remote("JOB_VAR"), timeout=30) == {"JOB_VAR": "job"}
