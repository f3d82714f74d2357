"""pip_env's bounds with real processes (no cluster, no network): a timeout
and a failing interpreter end the setup with a clear error and leave no folder."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from polyray.runtime_env import pip_env


def test_requirements_key_ignores_order() -> None:
    assert pip_env.requirements_key(["b", "a"]) == pip_env.requirements_key(["a", "b"])
    assert pip_env.requirements_key(["a"]) != pip_env.requirements_key(["a==1"])


def test_timeout_kills_and_removes_the_folder(tmp_path) -> None:
    # A step that hangs (and starts a child that would outlive it) is killed with its group at the deadline.
    pidfile = tmp_path / "child.pid"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nmkdir -p \"$5\"\nsleep 60 &\necho $! > {pidfile}\nwait\n")
    fake.chmod(0o755)
    target = str(tmp_path / "venv")
    started = time.monotonic()
    with pytest.raises(pip_env.PipSetupError, match=r"python -m venv did not finish within the setup's 0.5 s"):
        asyncio.run(pip_env.create_venv(target, ["six"], timeout_s=0.5, python=str(fake)))
    assert time.monotonic() - started < 10
    assert not os.path.exists(target)
    child = int(pidfile.read_text())
    for _ in range(100):  # SIGKILLed with its group; reaped by init shortly after
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the step's child {child} outlived the timeout")


def test_the_deadline_covers_every_step(tmp_path) -> None:
    # venv takes most of the time: pip gets what is left, not a fresh allowance.
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nif [ \"$2\" = venv ]; then mkdir -p \"$5/bin\"; cp \"$0\" \"$5/bin/python\"; "
                    "sleep 1.2; exit 0; fi\nif [ \"$1\" = -c ]; then echo; exit 0; fi\nsleep 60\n")
    fake.chmod(0o755)
    target = str(tmp_path / "venv")
    started = time.monotonic()
    with pytest.raises(pip_env.PipSetupError, match=r"pip install six did not (finish within|start)"):
        asyncio.run(pip_env.create_venv(target, ["six"], timeout_s=2.0, python=str(fake)))
    # The whole setup's 2 s; pip once had its own 2 s on top (3.2 s). 0.8 s of slack for a busy machine.
    assert time.monotonic() - started < 2.8
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
