"""One worker process as the raylet sees it: its state, pipes, logs and exit."""

from __future__ import annotations

import asyncio
import collections
import enum
import fcntl
import logging
import os
import signal
import sys
import termios
import time
from collections.abc import Callable

from polyray.protocol import lease_proof
from polyray.raylet.launchers import LaunchCommand

log = logging.getLogger(__name__)

#: Lines of stderr kept to explain a worker that died.
STDERR_TAIL_LINES = 30
#: A line longer than this is cut and forwarded in pieces.
_MAX_LINE = 64 * 1024
_READ_CHUNK = 64 * 1024

#: Called for each line a worker prints: (worker, is_stderr, line).
LineSink = Callable[["WorkerProcess", bool, str], None]


#: The line a worker writes on stdout when what it runs changes (the Python,
#: Java and C++ workers write it; task_executor.OUTPUT_NAME_MARKER).
OUTPUT_NAME_MARKER = ":polyray_name:"
#: The line a Python worker writes before the output of another task than the
#: last (core/task_output.py): kept in the log file, never forwarded.
OUTPUT_TASK_MARKER = ":polyray_task:"


def _stream_empty(stream: asyncio.StreamReader) -> bool:
    """Nothing left in the pipe (FIONREAD) nor in the reader's buffer."""
    if getattr(stream, "_buffer", b""):
        return False
    transport = getattr(stream, "_transport", None)
    pipe = transport.get_extra_info("pipe") if transport is not None else None
    if pipe is None:
        return True
    try:
        waiting = fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return True  # closed: nothing more to read
    return int.from_bytes(waiting, sys.byteorder) == 0


class WorkerState(enum.Enum):
    """Where a worker is in its life."""

    STARTING = "starting"  # spawned, not registered yet
    IDLE = "idle"          # registered, waiting for a lease
    LEASED = "leased"      # serving a lease (or hosting an actor)
    DEAD = "dead"


class WorkerStartError(Exception):
    """A worker did not come up; the message says why.

    ``crashed`` is set when a process was started but exited, was killed or
    missed its registration deadline (its task may be retried: another start
    may well succeed); unset when nothing could be started at all (no
    launcher, no ``java``, no worker binary), which every start would repeat.
    ``exit_code`` is the process's (negative: killed by that signal), if known.
    """

    def __init__(self, message: str, crashed: bool = False, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.crashed = crashed
        self.exit_code = exit_code


def describe_exit(code: int) -> str:
    """"exited with code 3" or "was killed by signal SIGKILL"."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}"
    return f"exited with code {code}"


class WorkerProcess:
    """A worker process started by this raylet (or a registered driver).

    ``registered`` resolves when the worker calls RegisterWorker, or fails
    with WorkerStartError when it exits first, misses its deadline, or cannot
    be launched at all.
    """

    def __init__(
        self,
        *,
        worker_id: bytes,
        language: int,
        job_id: bytes,
        startup_token: str,
        code_search_path: tuple[str, ...] = (),
        runtime_env: str = "",
        gpu_ids: tuple[str, ...] = (),
    ) -> None:
        self.worker_id = worker_id
        #: The GPU indices it was started for (CUDA_VISIBLE_DEVICES); () for none.
        self.gpu_ids = tuple(gpu_ids)
        self.language = language
        self.job_id = job_id
        self.startup_token = startup_token
        self.code_search_path = code_search_path
        #: The canonical JSON of its runtime env ("" for none; runtime_env.canonical_json).
        self.runtime_env = runtime_env
        self.state = WorkerState.STARTING
        self.pid: int = 0
        #: The pid the worker registered with, when a wrapper started it.
        self.reported_pid: int = 0
        #: Why its start failed, when the raylet decided it (e.g. a timeout).
        self.start_failure: str | None = None
        self.port: int = 0
        #: Its push port (0: callers use the gRPC PushTasks at ``port``).
        self.push_port: int = 0
        self.lease_id: bytes | None = None
        #: The key its lease proofs are signed with (protocol/lease_proof.py).
        self.lease_key: bytes = lease_proof.new_key() if lease_proof.checking() else b""
        self.actor_id: bytes = b""
        self.idle_since = time.monotonic()
        self.started_at = time.monotonic()
        self.exit_code: int | None = None
        #: Set when the raylet itself stops the worker (idle, shutdown, ...):
        #: such an exit is not a crash and is not reported to the GCS.
        self.stop_reason: str | None = None
        #: Why KillWorker was asked to stop it (the exit is still reported).
        self.kill_reason: str | None = None
        #: Set when the worker told the raylet it is about to exit.
        self.disconnect_intentional: bool | None = None
        self.registered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.exited = asyncio.Event()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._streams: list[asyncio.StreamReader] = []
        #: What the worker runs, as it last said on stdout (OUTPUT_NAME_MARKER).
        self.output_name = ""

    @property
    def label(self) -> str:
        """The prefix shown with this worker's output: "f pid=123" ("pid=123" before a task)."""
        return f"{self.output_name} pid={self.pid}" if self.output_name else f"pid={self.pid}"

    async def caught_up(self, deadline: float) -> bool:
        """Wait until everything written to the worker's pipes before this call
        has been read and handed to the sink (False: ``deadline``, a
        ``time.monotonic()``, passed first). Bytes still in a pipe (FIONREAD)
        or in a reader's buffer are waited for; what the worker writes later
        may be waited for too, which only makes the drain later, never short."""
        while True:
            if all(_stream_empty(s) for s in self._streams if not s.at_eof()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)

    @property
    def is_registered(self) -> bool:
        """True once RegisterWorker arrived."""
        return self.registered.done() and not self.registered.cancelled() and (
            self.registered.exception() is None
        )

    @property
    def alive(self) -> bool:
        """True until the process has exited (even before its pipes are drained)."""
        if self.exited.is_set():
            return False
        return self._proc is None or self._proc.returncode is None

    async def spawn(self, command: LaunchCommand, log_dir: str, sink: LineSink) -> None:
        """Start the process and the readers of its stdout and stderr."""
        self._proc = await asyncio.create_subprocess_exec(
            *command.argv,
            env=command.env,
            cwd=command.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group: a kill reaches whatever the worker forks,
            # and a Ctrl-C meant for the raylet's terminal does not hit workers.
            start_new_session=True,
        )
        self.attach(self._proc, log_dir, sink)

    def attach(self, proc: asyncio.subprocess.Process, log_dir: str, sink: LineSink) -> None:
        """Make ``proc`` (spawned with piped stdout and stderr) this worker's
        process: its pid, and readers of its pipes into the worker's log files."""
        self._proc = proc
        self.pid = proc.pid
        base = os.path.join(log_dir, f"worker-{self.worker_id.hex()[:16]}-{self.job_id.hex()}-{self.pid}")
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._streams = [self._proc.stdout, self._proc.stderr]
        self._readers = [
            asyncio.create_task(self._pump(self._proc.stdout, base + ".out", False, sink)),
            asyncio.create_task(self._pump(self._proc.stderr, base + ".err", True, sink)),
        ]

    async def _pump(
        self, stream: asyncio.StreamReader, path: str, is_err: bool, sink: LineSink
    ) -> None:
        # Chunks, not readline(): a line over the reader's limit would make
        # readline() raise and drop data.
        partial = bytearray()
        # The sink may slow this reader down while it is full (LogForwarder.room).
        room = getattr(sink, "room", None)
        try:
            logfile = open(path, "ab", buffering=0)
        except OSError as exc:
            log.warning("cannot open worker log %s: %s", path, exc)
            logfile = None
        try:
            while True:
                chunk = await stream.read(_READ_CHUNK)
                if not chunk:
                    break
                if logfile is not None:
                    logfile.write(chunk)
                partial += chunk
                while True:
                    nl = partial.find(b"\n")
                    if nl < 0:
                        if len(partial) >= _MAX_LINE:
                            self._emit(bytes(partial[:_MAX_LINE]), is_err, sink)
                            del partial[:_MAX_LINE]
                            continue
                        break
                    self._emit(bytes(partial[:nl]), is_err, sink)
                    del partial[: nl + 1]
                if room is not None:
                    await room()
            if partial:
                self._emit(bytes(partial), is_err, sink)
        finally:
            if logfile is not None:
                logfile.close()

    def _emit(self, raw: bytes, is_err: bool, sink: LineSink) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not is_err and line.startswith(OUTPUT_NAME_MARKER):
            self.output_name = line[len(OUTPUT_NAME_MARKER):].strip()[:200]
            return
        if line.startswith(OUTPUT_TASK_MARKER):
            return
        if is_err:
            self.stderr_tail.append(line)
        try:
            sink(self, is_err, line)
        except Exception:  # a broken sink must not stop the pipe from draining
            log.exception("worker log sink failed")

    async def wait(self) -> int:
        """Wait for the process to exit and its pipes to drain; the exit code."""
        assert self._proc is not None
        code = await self._proc.wait()
        if self._readers:
            # A grandchild may hold the pipes open: do not wait for it forever.
            _, pending = await asyncio.wait(self._readers, timeout=1.0)
            for task in pending:
                task.cancel()
        self.exit_code = code
        return code

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to the worker's process group; False if it is gone."""
        if self._proc is None or self._proc.returncode is not None or self.exited.is_set():
            return False
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return False
        return True

    def stderr_text(self) -> str:
        """The last lines of stderr, for error messages."""
        return "\n".join(self.stderr_tail)

    def __repr__(self) -> str:
        return (
            f"WorkerProcess(id={self.worker_id.hex()[:12]}, pid={self.pid}, "
            f"state={self.state.value}, job={self.job_id.hex()})"
        )
