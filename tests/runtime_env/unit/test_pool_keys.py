"""The worker pool keys workers by runtime env; the launchers apply a prepared env (no processes)."""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest

from polyray.protocol import common_pb2
from polyray.raylet.config import NodeConfig
from polyray.raylet.launchers import CppWorkerLauncher, LaunchContext, LauncherRegistry, PythonWorkerLauncher
from polyray.raylet.worker_pool import WorkerPool, runtime_env_key
from polyray.raylet.worker_process import WorkerProcess, WorkerStartError
from polyray.runtime_env.agent import PreparedEnv

JOB = b"\x01\x00\x00\x00"


def test_runtime_env_key_is_canonical() -> None:
    assert runtime_env_key("") == ""
    assert runtime_env_key('{"env_vars": {"B": "1", "A": "2"}}') == runtime_env_key('{"env_vars":{"A":"2","B":"1"}}')
    assert runtime_env_key('{"env_vars": {"A": "1"}}') != runtime_env_key('{"env_vars": {"A": "2"}}')
    with pytest.raises(WorkerStartError, match="invalid runtime_env"):
        runtime_env_key("[not an object]")


def test_a_worker_of_one_env_never_serves_another(tmp_path) -> None:
    async def main() -> None:
        config = NodeConfig(gcs_address="127.0.0.1:1", resources={"CPU": 2.0},
                            session_dir=os.path.join(str(tmp_path), "logs"))

        async def on_exit(worker: WorkerProcess, code: int) -> None:
            return None

        async def on_driver_exit(record: object) -> None:
            return None

        pool = WorkerPool(config, LauncherRegistry(), raylet_address=lambda: "127.0.0.1:2", on_exit=on_exit,
                          on_driver_exit=on_driver_exit, log_sink=lambda w, e, line: None)
        started: list[WorkerProcess] = []

        def new_worker(language: int, job_id: bytes, csp: tuple[str, ...], runtime_env: str = "",
                       gpu_ids: tuple[str, ...] = ()) -> WorkerProcess:
            worker = WorkerProcess(worker_id=os.urandom(28), language=language, job_id=job_id,
                                   startup_token=secrets.token_hex(8), code_search_path=csp, runtime_env=runtime_env,
                                   gpu_ids=gpu_ids)
            pool.workers[worker.worker_id] = worker
            started.append(worker)
            return worker

        pool._new_worker = new_worker  # type: ignore[method-assign]
        env_a, env_b = '{"env_vars": {"V": "a"}}', '{"env_vars": {"V": "b"}}'
        first = asyncio.ensure_future(pool.pop_worker(common_pb2.PYTHON, JOB, (), env_a))
        await asyncio.sleep(0)
        assert len(started) == 1 and started[0].runtime_env == '{"env_vars":{"V":"a"}}'
        pool.register(started[0].worker_id, started[0].startup_token, common_pb2.PYTHON, 1, 1000)
        worker_a = await first
        pool.push_idle(worker_a)  # idle, in env a
        second = asyncio.ensure_future(pool.pop_worker(common_pb2.PYTHON, JOB, (), env_b))
        await asyncio.sleep(0)
        assert not second.done() and len(started) == 2, "env b started its own worker"
        # Env a again, keys in another order: the idle worker of env a serves it.
        assert await pool.pop_worker(common_pb2.PYTHON, JOB, (), '{"env_vars":{"V":"a"}}') is worker_a
        # No env at all is a key of its own too.
        third = asyncio.ensure_future(pool.pop_worker(common_pb2.PYTHON, JOB, ()))
        await asyncio.sleep(0)
        assert len(started) == 3 and started[2].runtime_env == ""
        second.cancel()
        third.cancel()

    asyncio.run(main())


def _ctx(language: int, prepared: PreparedEnv | None) -> LaunchContext:
    return LaunchContext(language=language, worker_id=b"w" * 28, job_id=JOB, startup_token="t", node_id=b"n" * 28,
                         raylet_address="127.0.0.1:2", gcs_address="127.0.0.1:1", store_name="s",
                         session_dir="/tmp", code_search_path=("/job/csp",), runtime_env=prepared)


def test_launchers_apply_the_prepared_env(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("POLYRAY_RUNTIME_ENV_JSON", '{"leaked": "from the raylet"}')
    prepared = PreparedEnv(json='{"env_vars":{"USER_VAR":"1"}}', cwd="/wd", env_vars={"USER_VAR": "1"},
                           python_path=("/wd", "/mods"), java_path=("/wd", "/wd/a.jar"), cpp_path=("/wd/libf.so",))
    py = PythonWorkerLauncher().build(_ctx(common_pb2.PYTHON, prepared))
    assert py.cwd == "/wd" and py.env["USER_VAR"] == "1"
    assert py.env["PYTHONPATH"].split(os.pathsep)[:3] == ["/wd", "/mods", "/job/csp"]
    assert py.env["POLYRAY_RUNTIME_ENV_JSON"] == prepared.json
    assert py.env["POLYRAY_CODE_SEARCH_PATH"] == "/job/csp"
    fake = tmp_path / "cpp_worker"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    cpp = CppWorkerLauncher(executable=str(fake)).build(_ctx(common_pb2.CPP, prepared))
    assert cpp.cwd == "/wd" and cpp.env["POLYRAY_CODE_SEARCH_PATH"] == "/job/csp:/wd/libf.so"
    # No runtime env: the raylet's own variable does not leak into the worker.
    plain = PythonWorkerLauncher().build(_ctx(common_pb2.PYTHON, None))
    assert "POLYRAY_RUNTIME_ENV_JSON" not in plain.env and plain.cwd is None
    # A venv's interpreter runs the worker.
    venv_py = tmp_path / "python"
    venv_py.write_text("")
    with_venv = PythonWorkerLauncher().build(_ctx(common_pb2.PYTHON, PreparedEnv(json="{}", python=str(venv_py))))
    assert with_venv.argv[0] == str(venv_py)
