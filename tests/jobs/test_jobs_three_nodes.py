"""Issue 18's end-to-end test: a job submitted through ``polyray job submit``
from a folder holding a Python module, a Java jar and a C++ library runs
tasks of all three languages on every node of a three-node cluster.

Three ``python -m polyray.node`` daemons on this machine, each started in a
folder of its own (its cwd, its session folder, so its own package cache and
pip venvs): nothing reaches a worker unless the runtime env ships it through
the GCS. Each node has a custom resource naming it, so the driver pins a
Python, a Java and a C++ task to each. The runtime env also sets a variable
and a pip requirement (tomli, from pip's cache) that polyray's own venv does
not have.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import pytest
from xlang_support import build_cpp, polyray_cli

import polyray.sdk
from polyray.jobs.store import list_submissions

_HERE = os.path.dirname(os.path.abspath(__file__))
_RTENV = os.path.join(_HERE, "..", "runtime_env")
if _RTENV not in sys.path:
    sys.path.insert(0, _RTENV)

from rtenv_support import fill_working_dir, in_package_cache  # noqa: E402

pytestmark = pytest.mark.timeout(900)  # the first run may compile the C++ library
REPO = os.path.dirname(os.path.dirname(_HERE))
NODES = ("node_head", "node_b", "node_c")
START_S = 60.0
JOB_S = 180.0  # three pip venvs and three JVMs on a loaded 2-core machine
PIP = "tomli==2.0.1"

DRIVER = '''\
import json
import sys

import polyray
import rtenv_mod  # the working dir is the entrypoint's cwd

NODES = __NODES__


@polyray.remote
def py_where():
    import tomli

    import rtenv_mod
    cwd, var = rtenv_mod.where()
    return {"cwd": cwd, "var": var, "node": polyray.get_runtime_context().get_node_id(),
            "tomli": tomli.loads("a = 1")["a"], "tomli_file": tomli.__file__, "python": sys.executable}


polyray.init(address="auto")
java = polyray.java_function("rtenv.Where", "where")
cpp = polyray.cpp_function("RtEnvCppWhere")
refs = {}
for node in NODES:
    pin = {"resources": {node: 0.01}}
    refs[node] = [py_where.options(**pin).remote(), java.options(**pin).remote(node), cpp.options(**pin).remote(node)]
out = {node: dict(zip(("py", "java", "cpp"), polyray.get(r, timeout=150))) for node, r in refs.items()}
print("RESULT " + json.dumps(out, sort_keys=True), flush=True)
polyray.shutdown()
'''.replace("__NODES__", repr(NODES))


def _spawn(folder: str, args: list[str]) -> subprocess.Popen:
    os.makedirs(folder, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "python"), env.get("PYTHONPATH", "")])
    with open(os.path.join(folder, "node.log"), "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "polyray.node", "--session-dir", os.path.join(folder, "logs"),
                                 "--object-store-memory", str(200 * 1024 * 1024), "--idle-worker-timeout", "60",
                                 *args], cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def _wait_file(path: str, proc: subprocess.Popen, folder: str) -> str:
    deadline = time.monotonic() + START_S
    while not os.path.exists(path):
        log = open(os.path.join(folder, "node.log"), errors="replace").read()
        assert proc.poll() is None and time.monotonic() < deadline, f"the node did not start:\n{log[-3000:]}"
        time.sleep(0.05)
    return open(path).read().strip()


def _wait_joined(proc: subprocess.Popen, folder: str) -> None:
    deadline = time.monotonic() + START_S
    while True:
        log = open(os.path.join(folder, "node.log"), errors="replace").read()
        if "joined the cluster" in log:
            return
        assert proc.poll() is None and time.monotonic() < deadline, f"the node did not join:\n{log[-3000:]}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("three_nodes"))
    folders = {n: os.path.join(root, n) for n in NODES}
    procs: list[subprocess.Popen] = []
    try:
        head = folders["node_head"]
        procs.append(_spawn(head, ["--head", "--port", "0", "--num-cpus", "2", "--no-record-cluster",
                                   "--resources", json.dumps({"node_head": 1}),
                                   "--address-file", os.path.join(head, "gcs_address"),
                                   "--dashboard-port", "0", "--dashboard-url-file", os.path.join(head, "dashboard")]))
        address = _wait_file(os.path.join(head, "gcs_address"), procs[0], head)
        url = _wait_file(os.path.join(head, "dashboard"), procs[0], head)
        for node in NODES[1:]:
            procs.append(_spawn(folders[node], ["--address", address, "--num-cpus", "2",
                                                "--resources", json.dumps({node: 1})]))
        for proc, node in zip(procs[1:], NODES[1:]):
            _wait_joined(proc, folders[node])
        yield {"address": address, "url": url, "folders": folders}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _cli(*args: str, timeout: float = JOB_S) -> subprocess.CompletedProcess:
    return subprocess.run([*polyray_cli(), "job", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=os.path.dirname(REPO))


@pytest.fixture(scope="module")
def working_dir(tmp_path_factory) -> str:
    """The job's folder: rtenv_mod.py, rtenv.jar, librtenv_funcs.so (tests/runtime_env/rtenv_support.py), and
    the drivers: driver.py, jobdriver.jar (java_src/jobs3) and job_driver (cpp_src/job_driver.cc)."""
    wd = str(tmp_path_factory.mktemp("job_wd"))
    fill_working_dir(wd)
    with open(os.path.join(wd, "driver.py"), "w") as f:
        f.write(DRIVER)
    _java_driver_jar(wd)
    shutil.copy(build_cpp("job_driver", [os.path.join(_HERE, "cpp_src", "job_driver.cc")], "exe"),
                os.path.join(wd, "job_driver"))
    return wd


def test_a_job_runs_python_java_and_cpp_tasks_from_its_working_dir_on_every_node(cluster, working_dir):
    assert importlib.util.find_spec("tomli") is None, "tomli is in polyray's venv: the pip check would mean nothing"
    wd = working_dir
    env = {"env_vars": {"RTENV_VAR": "three-nodes"}, "pip": [PIP]}
    run = _cli("submit", "--address", cluster["address"], "--submission-id", "three-nodes", "--working-dir", str(wd),
               "--runtime-env-json", json.dumps(env), "--", "python", "driver.py")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    status = _cli("status", "three-nodes", "--address", cluster["url"], timeout=60)
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout, status.stdout + status.stderr
    logs = _cli("logs", "three-nodes", "--address", cluster["url"], timeout=60)
    assert logs.returncode == 0, logs.stderr
    line = next((x for x in logs.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, logs.stdout[-4000:]
    results = json.loads(line[len("RESULT "):])
    node_ids = set()
    for node, folder in cluster["folders"].items():
        got = results[node]
        py = got["py"]
        # Every worker runs in its own node's unpacked copy of the working dir, with the variable.
        assert py["var"] == "three-nodes" and in_package_cache(py["cwd"]), got
        assert py["cwd"].startswith(folder + os.sep), (node, got)
        # The pip requirement: importable in the task, from this node's venv.
        assert py["tomli"] == 1 and py["tomli_file"].startswith(folder + os.sep) and "pip_" in py["tomli_file"], got
        for lang in ("java", "cpp"):
            tag, name, var, cwd = got[lang].split(":", 3)
            assert (tag, name, var) == (lang, node, "three-nodes"), got
            assert in_package_cache(cwd) and cwd.startswith(folder + os.sep), (node, lang, got)
        node_ids.add(py["node"])
    assert len(node_ids) == 3, results


def _java_driver_jar(wd: str) -> str:
    """java_src/jobs3/JobDriver.java compiled against the SDK and the working dir's rtenv.jar, zipped into wd."""
    classes = tempfile.mkdtemp(prefix="job_classes")
    sdk = ":".join(polyray.sdk.java_classpath())
    subprocess.run(["javac", "-cp", f"{sdk}:{os.path.join(wd, 'rtenv.jar')}", "-d", classes,
                    os.path.join(_HERE, "java_src", "jobs3", "JobDriver.java")], check=True, capture_output=True,
                   timeout=300)
    jar = os.path.join(wd, "jobdriver.jar")
    with zipfile.ZipFile(jar, "w") as zf:
        for path in glob.glob(os.path.join(classes, "**", "*.class"), recursive=True):
            zf.write(path, os.path.relpath(path, classes))
    shutil.rmtree(classes)
    return jar


def test_java_and_cpp_drivers_as_jobs_find_their_code_in_the_working_dir_on_every_node(cluster, working_dir):
    """Neither driver sets an address or a code search path: the job's working dir (uploaded by the
    CLI) holds the drivers and the callees, and every node's workers load the callees from it."""
    wd = working_dir
    sdk = ":".join(polyray.sdk.java_classpath())
    env = json.dumps({"env_vars": {"RTENV_VAR": "xlang-drivers"}})
    entrypoints = {"JAVA": ["java", "-cp", f"{sdk}:jobdriver.jar:rtenv.jar", "jobs3.JobDriver", *NODES],
                   "CPP": ["./job_driver", *NODES]}
    runs = {lang: subprocess.Popen([*polyray_cli(), "job", "submit", "--address", cluster["address"],
                                    "--submission-id", f"three-nodes-{lang.lower()}", "--working-dir", str(wd),
                                    "--runtime-env-json", env, "--", *argv], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            for lang, argv in entrypoints.items()}
    for lang, proc in runs.items():
        out, err = proc.communicate(timeout=JOB_S)
        assert proc.returncode == 0, f"{lang} driver job:\n{out[-4000:]}\n{err[-4000:]}"
        logs = _cli("logs", f"three-nodes-{lang.lower()}", "--address", cluster["url"], timeout=60).stdout
        results = dict(x[len("RESULT "):].split("=", 1) for x in logs.splitlines() if x.startswith("RESULT "))
        assert set(results) == set(NODES), logs[-4000:]
        callee = "java" if lang == "JAVA" else "cpp"
        for node, folder in cluster["folders"].items():
            tag, name, var, cwd = results[node].split(":", 3)
            assert (tag, name, var) == (callee, node, "xlang-drivers"), (lang, results)
            assert in_package_cache(cwd) and cwd.startswith(folder + os.sep), (lang, node, results)
        status = _cli("status", f"three-nodes-{lang.lower()}", "--address", cluster["url"], timeout=60)
        assert "SUCCEEDED" in status.stdout, status.stdout


def test_a_job_whose_pip_requirement_cannot_install_fails_with_pips_message(cluster):
    """Bounded, with the reason: FAILED before the entrypoint runs, pip's own words in the message
    (and in the CLI's error), the entrypoint never started."""
    t0 = time.monotonic()
    run = _cli("submit", "--address", cluster["address"], "--submission-id", "three-nodes-bad-pip",
               "--runtime-env-json", json.dumps({"pip": ["polyray-no-such-package-zz==0.0.1"]}),
               "--", "echo must-not-run")
    elapsed = time.monotonic() - t0
    assert run.returncode == 1 and "must-not-run" not in run.stdout, run.stdout + run.stderr
    assert "runtime env setup failed" in run.stderr and "polyray-no-such-package-zz" in run.stderr, run.stderr
    assert "No matching distribution" in run.stderr or "Could not find a version" in run.stderr, run.stderr
    # The job's log (streamed by submit, and `polyray job logs`) says why too.
    assert "[polyray job] runtime env setup failed" in run.stdout and "polyray-no-such-package-zz" in run.stdout
    rec = next(r for r in list_submissions(cluster["address"]) if r.submission_id == "three-nodes-bad-pip")
    assert rec.status.value == "FAILED" and rec.error_type == "RUNTIME_ENV_SETUP_FAILED" and rec.pid == 0, rec
    assert elapsed < 60, elapsed
