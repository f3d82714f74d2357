"""The C++ worker launcher: its command, its errors, and how the pool reuses C++ workers.

The pool tests run a stand-in executable (a shell script that starts
fake_worker.py registering as a C++ worker), so they need no C++ build; the
real ``polyray_cpp_worker`` runs in tests/xlang.
"""

from __future__ import annotations

import os
import stat
import sys

import pytest

from polyray import sdk
from polyray.protocol import common_pb2
from polyray.raylet import CppWorkerLauncher, LaunchContext, LauncherRegistry, LaunchError

from .fakes import FAKE_WORKER, running_raylet, task_spec


def _ctx(code_search_path: tuple[str, ...] = ("/opt/a", "/opt/b")) -> LaunchContext:
    return LaunchContext(
        language=common_pb2.CPP, worker_id=b"\x01" * 28, job_id=b"\x02" * 4, startup_token="tok",
        node_id=b"\x03" * 28, raylet_address="127.0.0.1:1234", gcs_address="127.0.0.1:5678",
        store_name="/polyray-test", session_dir="/tmp/s", code_search_path=code_search_path,
    )


def _executable(path: str, text: str = "#!/bin/sh\nexit 0\n") -> str:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_default_registry_has_a_cpp_launcher():
    assert isinstance(LauncherRegistry.default().get(common_pb2.CPP), CppWorkerLauncher)


def test_command_is_the_worker_binary_with_polyray_env(tmp_path, monkeypatch):
    exe = _executable(str(tmp_path / "polyray_cpp_worker"))
    monkeypatch.setenv("POLYRAY_CPP_WORKER", exe)
    monkeypatch.setenv("SOME_USER_VAR", "kept")
    cmd = CppWorkerLauncher().build(_ctx())
    assert cmd.argv == [exe]
    assert cmd.env["POLYRAY_CODE_SEARCH_PATH"] == "/opt/a:/opt/b"
    assert cmd.env["POLYRAY_RAYLET_ADDRESS"] == "127.0.0.1:1234"
    assert cmd.env["POLYRAY_GCS_ADDRESS"] == "127.0.0.1:5678"
    assert cmd.env["POLYRAY_STORE_NAME"] == "/polyray-test"
    assert cmd.env["POLYRAY_WORKER_ID"] == (b"\x01" * 28).hex()
    assert cmd.env["POLYRAY_JOB_ID"] == (b"\x02" * 4).hex()
    assert cmd.env["POLYRAY_STARTUP_TOKEN"] == "tok"
    assert cmd.env["SOME_USER_VAR"] == "kept"


def test_default_path_is_in_the_checkout_build(monkeypatch):
    monkeypatch.delenv("POLYRAY_CPP_WORKER", raising=False)
    assert sdk.cpp_worker_path() == os.path.join(sdk.repo_root(), "build", "cpp", "bin", "polyray_cpp_worker")


def test_missing_binary_says_what_and_how_to_fix(tmp_path, monkeypatch):
    missing = str(tmp_path / "nowhere" / "polyray_cpp_worker")
    monkeypatch.setenv("POLYRAY_CPP_WORKER", missing)
    with pytest.raises(LaunchError) as info:
        CppWorkerLauncher().build(_ctx())
    message = str(info.value)
    assert "C++ SDK is not built" in message and missing in message
    assert "POLYRAY_CPP_WORKER" in message and "make setup" in message


def test_non_executable_binary_is_explained(tmp_path, monkeypatch):
    path = tmp_path / "polyray_cpp_worker"
    path.write_text("not a program")
    os.chmod(path, 0o644)
    monkeypatch.setenv("POLYRAY_CPP_WORKER", str(path))
    with pytest.raises(LaunchError, match="not executable"):
        CppWorkerLauncher().build(_ctx())


def test_explicit_executable_that_is_missing(tmp_path):
    with pytest.raises(LaunchError, match="no executable at"):
        CppWorkerLauncher(executable=str(tmp_path / "x")).build(_ctx())


def _fake_cpp_worker(tmp_path) -> str:
    """A stand-in polyray_cpp_worker: fake_worker.py registering as CPP, which
    also records the search path it was given."""
    record = tmp_path / "launched.txt"
    script = (
        "#!/bin/sh\n"
        f'echo "$POLYRAY_CODE_SEARCH_PATH" >> "{record}"\n'
        f"FAKE_WORKER_LANGUAGE={common_pb2.CPP} exec \"{sys.executable}\" \"{FAKE_WORKER}\"\n"
    )
    return _executable(str(tmp_path / "polyray_cpp_worker"), script)


def _cpp_spec(code_search_path: list[str]) -> common_pb2.TaskSpec:
    spec = task_spec(language=common_pb2.CPP)
    spec.function.cpp.function_name = "Plus1"
    del spec.code_search_path[:]
    spec.code_search_path.extend(code_search_path)
    return spec


async def test_cpp_workers_are_started_and_reused_per_search_path(tmp_path):
    async with running_raylet(tmp_path) as h:
        h.raylet.launchers.register(common_pb2.CPP, CppWorkerLauncher(executable=_fake_cpp_worker(tmp_path)))
        first = await h.lease(_cpp_spec(["/libs/a"]))
        assert first.lease_id, first.failure.message
        await h.give_back(first)
        again = await h.lease(_cpp_spec(["/libs/a"]))
        assert again.worker_pid == first.worker_pid  # the idle C++ worker is reused
        other = await h.lease(_cpp_spec(["/libs/b"]))
        assert other.lease_id and other.worker_pid != first.worker_pid  # a new search path: a new worker
        launched = (tmp_path / "launched.txt").read_text().split()
        assert launched == ["/libs/a", "/libs/b"]


async def test_missing_cpp_worker_fails_the_lease_with_the_reason(tmp_path):
    async with running_raylet(tmp_path) as h:
        h.raylet.launchers.register(common_pb2.CPP, CppWorkerLauncher(executable=str(tmp_path / "absent")))
        reply = await h.lease(_cpp_spec(["/libs/a"]))
        assert reply.failure.kind == common_pb2.RUNTIME_ERROR
        assert "cannot start a C++ worker" in reply.failure.message, reply.failure.message
        assert (await h.stats()).resources_available["CPU"] == 2.0
