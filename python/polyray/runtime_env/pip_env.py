"""A virtual environment per distinct pip requirement list, created on the node and reused.

``python -m venv --system-site-packages --without-pip <dir>``, a ``.pth`` file
that puts the raylet's own site-packages (polyray and its dependencies) after
the venv's, then ``pip --python <venv python> install <requirements>`` run by
the raylet's pip, bounded by a timeout. The folder is named by the hash of
the sorted requirement list and is ready once its marker file exists; a
failed or timed-out creation is removed, so the next start tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import site
import sys

#: Written last into a ready venv.
READY_MARKER = ".polyray_ready"
#: Lines of pip's output a failure message keeps.
TAIL_LINES = 25


class PipSetupError(RuntimeError):
    """Creating the venv or installing the requirements failed; the message has pip's output tail."""


def requirements_key(requirements: list[str]) -> str:
    """The hash that names the venv of a requirement list (order does not matter)."""
    text = json.dumps(sorted(requirements), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def venv_python(venv_dir: str) -> str:
    """The interpreter of a venv."""
    return os.path.join(venv_dir, "bin", "python")


async def _run(argv: list[str], timeout_s: float, what: str, total_s: float) -> bytes:
    """Run argv in its own process group; its output. Killed (the whole group) after ``timeout_s``."""
    if timeout_s <= 0:
        raise PipSetupError(f"{what} did not start: the setup's {total_s:g} s had passed")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    except asyncio.TimeoutError:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        raise PipSetupError(f"{what} did not finish within the setup's {total_s:g} s") from None
    except asyncio.CancelledError:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise
    if proc.returncode != 0:
        lines = out.decode("utf-8", "replace").rstrip().splitlines()[-TAIL_LINES:]
        raise PipSetupError(f"{what} failed with exit code {proc.returncode}:\n" + "\n".join(lines))
    return out


async def create_venv(venv_dir: str, requirements: list[str], *, timeout_s: float,
                      python: str = sys.executable) -> str:
    """Create (or reuse) the venv at ``venv_dir`` with ``requirements``; its interpreter.

    Raises PipSetupError with pip's message tail (the folder is removed) on
    failure or when ``timeout_s`` passes (for venv and pip together).
    """
    if os.path.exists(os.path.join(venv_dir, READY_MARKER)):
        return venv_python(venv_dir)
    shutil.rmtree(venv_dir, ignore_errors=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    def left() -> float:  # one deadline for every step: the setup as a whole is bounded
        return deadline - loop.time()

    try:
        await _run([python, "-m", "venv", "--system-site-packages", "--without-pip", venv_dir],
                   left(), "python -m venv", timeout_s)
        vpy = venv_python(venv_dir)
        # The raylet's own packages (polyray, grpc, ...) after the venv's own.
        probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        out = await _run([vpy, "-c", probe], left(), "the venv's site-packages probe", timeout_s)
        purelib = out.decode().strip()
        parents = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if os.path.isdir(p)]
        if purelib:
            os.makedirs(purelib, exist_ok=True)
            with open(os.path.join(purelib, "_polyray_parent.pth"), "w") as f:
                f.write("\n".join(parents) + "\n")
        await _run([python, "-m", "pip", "--python", vpy, "install", "--no-input", *requirements],
                   left(), f"pip install {' '.join(requirements)}", timeout_s)
        with open(os.path.join(venv_dir, READY_MARKER), "w") as f:
            f.write(json.dumps(sorted(requirements)))
        return vpy
    except BaseException:
        shutil.rmtree(venv_dir, ignore_errors=True)
        raise
