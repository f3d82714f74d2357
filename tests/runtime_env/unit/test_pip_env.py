"""pip_env's bounds with real processes (no cluster, no network): a timeout
and a failing interpreter end the setup with a clear error and leave no folder."""

from __future__ import annotations

import asyncio
import os

import pytest

from polyray.runtime_env import pip_env


def test_requirements_key_ignores_order() -> None:
    assert pip_env.requirements_key(["b", "a"]) == pip_env.requirements_key(["a", "b"])
    assert pip_env.requirements_key(["a"]) != pip_env.requirements_key(["a==1"])


def test_timeout_kills_and_removes_the_folder(tmp_path) -> None:
    target = str(tmp_path / "venv")
    with pytest.raises(pip_env.PipSetupError, match="did not finish within 0.05 s"):
        asyncio.run(pip_env.create_venv(target, ["six"], timeout_s=0.05))
    assert not os.path.exists(target)


def test_a_failing_step_reports_its_output_tail(tmp_path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'line one'\necho 'venv exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    target = str(tmp_path / "venv")
    with pytest.raises(pip_env.PipSetupError, match=r"(?s)exit code 3.*venv exploded"):
        asyncio.run(pip_env.create_venv(target, ["six"], timeout_s=10, python=str(fake)))
    assert not os.path.exists(target)


def test_a_ready_venv_is_reused_without_running_anything(tmp_path) -> None:
    target = tmp_path / "venv"
    (target / "bin").mkdir(parents=True)
    (target / pip_env.READY_MARKER).write_text("[]")
    got = asyncio.run(pip_env.create_venv(str(target), ["six"], timeout_s=0.01, python="/no/such/python"))
    assert got == str(target / "bin" / "python")
