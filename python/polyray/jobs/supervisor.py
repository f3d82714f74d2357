"""The supervisor of one submitted job's entrypoint (docs/jobs.md "Stop").

``JobSupervisor.run()`` takes a record from PENDING to a terminal state:

1. wait until the manager admits it (``wait_ready``: its entrypoint resources
   are free on the head) and set up its runtime env (``setup``: returns the
   folder to run in, or None), bounded by ``setup_timeout_s``; a failure here
   is FAILED with the reason and the tail of the job's log;
2. start the entrypoint as a shell command in its own process group (the
   ``launcher``), stdout and stderr into the job's log file: RUNNING;
3. its exit: 0 is SUCCEEDED, anything else FAILED with the exit code and the
   tail of the log, unless a stop was asked: STOPPED.

``stop()`` works in every state: PENDING cancels step 1 (the entrypoint
never starts); RUNNING sends SIGTERM to the process group and SIGKILL
``stop_grace_s`` later if the leader has not exited. After the leader exits
on a stop, what is left of its group gets SIGKILL.

Timers use the running loop's clock (asyncio.sleep), so the unit tests drive
them with tests/core/unit/fakes.py's ManualLoop and a fake launcher.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from .record import JobRecord, JobStatus

log = logging.getLogger(__name__)

#: How much of the log's end a FAILED message carries (Ray's is 20,000 characters too).
LOG_TAIL_CHARS = 20_000
DEFAULT_STOP_GRACE_S = 3.0
#: Admission plus runtime env setup may take this long before the job is FAILED.
DEFAULT_SETUP_TIMEOUT_S = 600.0


class Process(Protocol):
    """A started entrypoint: the leader of its own process group."""

    pid: int

    async def wait(self) -> int:
        """Its exit status: the exit code, or -N when killed by signal N."""
        ...

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to its process group (a group that is gone is no error)."""
        ...


#: What runtime env setup gives: the folder to run in (None: the head's), or that and variables to add.
Setup = str | None | tuple[str | None, Mapping[str, str]]
Launcher = Callable[[str, Mapping[str, str], "str | None", str], Awaitable[Process]]


class _ShellProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid

    async def wait(self) -> int:
        return await self._proc.wait()

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)  # start_new_session: its pgid is its pid
        except (ProcessLookupError, PermissionError):
            pass


async def shell_launcher(command: str, env: Mapping[str, str], cwd: str | None, log_path: str) -> Process:
    """``/bin/sh -c command`` in a new session (its own process group), output appended to ``log_path``."""
    with open(log_path, "ab") as out:
        proc = await asyncio.create_subprocess_shell(
            command, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            env=dict(env), cwd=cwd, start_new_session=True)
    return _ShellProcess(proc)


def log_tail(path: str, chars: int = LOG_TAIL_CHARS) -> str:
    """The last ``chars`` characters of a log ("" when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars * 4))
            return f.read().decode("utf-8", "replace")[-chars:]
    except OSError:
        return ""


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class JobSupervisor:
    def __init__(self, record: JobRecord, *, env: Mapping[str, str], on_change: Callable[[JobRecord], Awaitable[None]],
                 launcher: Launcher = shell_launcher,
                 setup: Callable[[JobRecord], Awaitable[Setup]] | None = None,
                 wait_ready: Callable[[], Awaitable[None]] | None = None,
                 stop_grace_s: float = DEFAULT_STOP_GRACE_S,
                 setup_timeout_s: float = DEFAULT_SETUP_TIMEOUT_S) -> None:
        self.record = record
        self._env = env
        self._on_change = on_change
        self._launcher = launcher
        self._setup = setup
        self._wait_ready = wait_ready
        self.stop_grace_s = stop_grace_s
        self.setup_timeout_s = setup_timeout_s
        self._stop_requested = False
        self._killed = False
        self._prepare: asyncio.Future[Setup] | None = None
        self._proc: Process | None = None
        self._kill_timer: asyncio.TimerHandle | None = None
        self.done = asyncio.Event()

    # ------------------------------------------------------------------ run

    async def _prepare_phase(self) -> Setup:
        if self._wait_ready is not None:
            await self._wait_ready()
        return await self._setup(self.record) if self._setup is not None else None

    async def _finish(self, status: JobStatus, message: str, error_type: str | None = None) -> None:
        self.record.move(status, message, error_type=error_type)
        await self._on_change(self.record)

    def _log_setup_failure(self, message: str) -> None:
        """Append why the job could not start to its log, so `polyray job logs` and the CLI's
        stream say it too (the entrypoint never ran, so the log has nothing else)."""
        if not self.record.log_path:
            return
        try:
            with open(self.record.log_path, "a", encoding="utf-8") as f:
                f.write(f"[polyray job] {message}\n")
        except OSError:
            pass

    def _with_tail(self, message: str) -> str:
        tail = log_tail(self.record.log_path)
        return f"{message}; the last {len(tail)} characters of its log:\n{tail}" if tail else message

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            if self._kill_timer is not None:
                self._kill_timer.cancel()
            self.done.set()

    async def _run(self) -> None:
        rec = self.record
        self._prepare = asyncio.ensure_future(self._prepare_phase())
        try:
            prepared = await asyncio.wait_for(asyncio.shield(self._prepare), self.setup_timeout_s)
        except asyncio.TimeoutError:
            self._prepare.cancel()
            message = self._with_tail(f"Job did not start within {self.setup_timeout_s:g} s (waiting for "
                                      f"entrypoint resources or runtime env setup)")
            self._log_setup_failure(message)
            await self._finish(JobStatus.FAILED, message, "JOB_SETUP_TIMEOUT")
            return
        except asyncio.CancelledError:
            if self._prepare.cancelled() and self._stop_requested:
                await self._finish(JobStatus.STOPPED, "Job was stopped before it started; its entrypoint never ran.")
                return
            self._prepare.cancel()
            raise
        except Exception as e:
            message = self._with_tail(f"runtime env setup failed: {e}")
            self._log_setup_failure(message)
            await self._finish(JobStatus.FAILED, message, "RUNTIME_ENV_SETUP_FAILED")
            return
        if self._stop_requested:
            await self._finish(JobStatus.STOPPED, "Job was stopped before it started; its entrypoint never ran.")
            return
        cwd, extra = prepared if isinstance(prepared, tuple) else (prepared, {})
        try:
            self._proc = await self._launcher(rec.entrypoint, {**self._env, **extra}, cwd, rec.log_path)
        except OSError as e:
            await self._finish(JobStatus.FAILED, f"the entrypoint could not be started: {e}", "JOB_START_FAILED")
            return
        rec.pid = self._proc.pid
        rec.move(JobStatus.RUNNING, "Job is running.")
        await self._on_change(rec)
        if self._stop_requested:  # asked while the launcher ran
            self._terminate()
        code = await self._proc.wait()
        rec.exit_code = code
        if self._stop_requested:
            self._proc.signal_group(signal.SIGKILL)  # what is left of its group
            how = (f"SIGKILL after the {self.stop_grace_s:g} s grace period: it did not exit on SIGTERM"
                   if self._killed else describe_exit(code))
            await self._finish(JobStatus.STOPPED, f"Job was intentionally stopped ({how}).")
        elif code == 0:
            await self._finish(JobStatus.SUCCEEDED, "Job finished successfully.")
        else:
            await self._finish(JobStatus.FAILED, self._with_tail(f"Job entrypoint command failed with "
                                                                 f"{describe_exit(code)}"), "JOB_ENTRYPOINT_FAILED")

    # ------------------------------------------------------------------ stop

    def _kill(self) -> None:
        if self._proc is not None and not self.record.status.is_terminal():
            self._killed = True
            self._proc.signal_group(signal.SIGKILL)

    def _terminate(self) -> None:
        assert self._proc is not None
        self._proc.signal_group(signal.SIGTERM)
        if self._kill_timer is None:
            self._kill_timer = asyncio.get_running_loop().call_later(self.stop_grace_s, self._kill)

    def stop(self, grace_s: float | None = None) -> bool:
        """Ask the job to stop; False when it already ended (or a stop is under way)."""
        if self.record.status.is_terminal() or self._stop_requested:
            return False
        self._stop_requested = True
        if grace_s is not None:
            self.stop_grace_s = grace_s
        if self._proc is not None:
            self._terminate()
        elif self._prepare is not None and not self._prepare.done():
            self._prepare.cancel()
        return True
