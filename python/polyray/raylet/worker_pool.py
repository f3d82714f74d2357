"""The worker pool: one pool per language behind one interface.

Workers are started on demand for a (language, job), register back within a
timeout, serve leases, go idle when returned, are reused by later leases of
the same language and job, and are stopped when idle too long. Every process
is watched; an exit is handed to ``on_exit`` so leases, pins and the GCS are
told.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from polyray.protocol import auth, common_pb2, lease_proof
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol.runtime_spec import IDLE_EXIT_ANSWER_MS, IDLE_EXIT_GRACE_MS
from polyray.raylet.config import NODE_ID_SIZE, NodeConfig
from polyray.raylet.launchers import LaunchCommand, LaunchContext, LauncherRegistry, LaunchError, language_name
from polyray.raylet.worker_process import (
    LineSink,
    WorkerProcess,
    WorkerStartError,
    WorkerState,
    describe_exit,
)
from polyray.runtime_env.agent import PreparedEnv, RuntimeEnvAgent, RuntimeEnvSetupError
from polyray.runtime_env.merge import canonical_json, from_json

log = logging.getLogger(__name__)

#: Told about every worker exit, after the pool forgot the worker.
ExitCallback = Callable[[WorkerProcess, int], Awaitable[None]]
#: Told about a registered driver whose process is gone.
DriverExitCallback = Callable[["DriverRecord"], Awaitable[None]]

# (language, job, code search path, runtime env): a worker started with one
# search path cannot import code from another, and one started in one runtime
# env (cwd, variables, venv, packages) must never serve another, so workers
# are reused only within a key. The runtime env is its canonical JSON.
#: (language, job, code search path, runtime env, GPU indices): a GPU lease's
#: worker runs with CUDA_VISIBLE_DEVICES for its indices, so it serves only
#: leases of those indices (never a CPU task).
_PoolKey = tuple[int, bytes, tuple[str, ...], str, tuple[str, ...]]


def _key_of(worker: WorkerProcess) -> _PoolKey:
    return (worker.language, worker.job_id, tuple(worker.code_search_path), worker.runtime_env, worker.gpu_ids)


def runtime_env_key(runtime_env: str) -> str:
    """The pool's form of a TaskSpec.runtime_env: its canonical JSON ("" for none).
    WorkerStartError (not retryable) when it is not a JSON object."""
    if not runtime_env:
        return ""
    try:
        return canonical_json(from_json(runtime_env))
    except ValueError as exc:
        raise WorkerStartError(f"invalid runtime_env: {exc}") from None


class RegistrationError(Exception):
    """RegisterWorker from a process this raylet did not start, or too late."""


@dataclass
class DriverRecord:
    """A driver that registered with this raylet (not started by it)."""

    worker_id: bytes
    language: int
    pid: int
    port: int
    job_id: bytes


class WorkerPool:
    """Starts, hands out, takes back and stops the workers of this node."""

    def __init__(
        self,
        config: NodeConfig,
        launchers: LauncherRegistry,
        *,
        raylet_address: Callable[[], str],
        on_exit: ExitCallback,
        on_driver_exit: DriverExitCallback,
        log_sink: LineSink,
        runtime_envs: RuntimeEnvAgent | None = None,
    ) -> None:
        self._config = config
        #: Prepares runtime envs before their workers start (None: a lease with one fails).
        self._runtime_envs = runtime_envs
        self._launchers = launchers
        self._raylet_address = raylet_address
        self._on_exit = on_exit
        self._on_driver_exit = on_driver_exit
        self._log_sink = log_sink
        self.workers: dict[bytes, WorkerProcess] = {}
        self.drivers: dict[bytes, DriverRecord] = {}
        self._idle: dict[_PoolKey, list[WorkerProcess]] = {}
        # Leases waiting for a worker of a key, oldest first: a worker that
        # comes up or goes idle serves the oldest, whichever lease started it.
        self._waiters: dict[_PoolKey, collections.deque[asyncio.Future[WorkerProcess]]] = {}
        self._asking: set[bytes] = set()  # idle workers asked to Exit, not answered yet
        self._first_used: set[_PoolKey] = set()  # keys that had their Java prestart
        self._start_slots = asyncio.Semaphore(config.max_starting_workers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._stopping = False
        #: Standby Python interpreters (started with the node, no job yet) and
        #: the environment they were started with; adopted by prestart().
        self._standbys: list[tuple[asyncio.subprocess.Process, dict[str, str]]] = []

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start the idle reaper (and driver watcher)."""
        os.makedirs(self._config.session_dir, exist_ok=True)
        self._reaper = asyncio.create_task(self._reap_loop(), name="raylet-idle-reaper")
        if self._config.prestart_standby and self._config.prestart_on_driver > 0:
            self._spawn_task(self._start_standbys(self._config.prestart_on_driver), "start-standby-workers")

    async def stop(self) -> None:
        """Stop every worker: SIGTERM, then SIGKILL after the grace period."""
        self._stopping = True
        if self._reaper is not None:
            self._reaper.cancel()
        self._stop_standbys()
        for worker in list(self.workers.values()):
            self.stop_worker(worker, "the raylet is shutting down", force=False)
        alive = [w for w in self.workers.values() if w.pid]
        if alive:
            await asyncio.wait(
                [asyncio.create_task(w.exited.wait()) for w in alive],
                timeout=self._config.worker_kill_grace_s,
            )
        for worker in list(self.workers.values()):
            worker.signal(signal.SIGKILL)
        # Let the watchers see the exits (and reclaim pins) before the store goes.
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=5.0)
            for task in still:
                task.cancel()

    def _spawn_task(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- handing out workers -------------------------------------------------

    async def pop_worker(
        self, language: int, job_id: bytes, code_search_path: tuple[str, ...], runtime_env: str = "",
        gpu_ids: tuple[str, ...] = (),
    ) -> WorkerProcess:
        """A registered worker for (language, job): an idle one, or the next to come up or go idle.

        A worker is started only when the leases waiting for this key
        outnumber the workers already starting for it: a lease takes the
        first worker of its key that comes up or is returned, not the one it
        started, so a worker returned while others start is used at once and
        no more processes start than leases wait. Raises WorkerStartError
        (message says why) when a worker started for the waiting leases does
        not come up (the oldest waiter gets the error). If the caller is
        cancelled, a worker handed to it joins the idle pool instead.
        ``runtime_env`` (a TaskSpec's) is prepared on this node before the
        worker starts; its failure is a WorkerStartError saying why.
        """
        key = (language, job_id, tuple(code_search_path), runtime_env_key(runtime_env), tuple(gpu_ids))
        idle = self._take_idle(key)
        if idle is not None:
            return idle
        fut: asyncio.Future[WorkerProcess] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, collections.deque()).append(fut)
        self._balance(key)
        self._prestart_on_first_use(key)
        try:
            return await fut
        except asyncio.CancelledError:
            waiters = self._waiters.get(key)
            if waiters is not None and fut in waiters:
                waiters.remove(fut)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.push_idle(fut.result())
            raise

    def starting_count(self, key: _PoolKey) -> int:
        """Workers of ``key`` started and not registered (nor failed) yet."""
        return sum(1 for w in self.workers.values()
                   if not w.registered.done() and _key_of(w) == key)

    def waiting_count(self, key: _PoolKey) -> int:
        """Leases waiting for a worker of ``key``."""
        return sum(1 for f in self._waiters.get(key, ()) if not f.done())

    def _balance(self, key: _PoolKey) -> None:
        """Start workers until those starting for ``key`` cover the leases waiting for it."""
        if self._stopping:
            return
        missing = self.waiting_count(key) - self.starting_count(key)
        for _ in range(missing):
            self._new_worker(key[0], key[1], key[2], key[3], key[4])

    def _hand_over(self, key: _PoolKey, worker: WorkerProcess) -> bool:
        """Give ``worker`` to the oldest lease waiting for ``key``; False when none waits."""
        waiters = self._waiters.get(key)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(worker)
                return True
        return False

    def _start_failed(self, worker: WorkerProcess) -> None:
        """A worker did not come up: the oldest lease waiting for its key gets the error."""
        fut = worker.registered
        if fut.cancelled() or fut.exception() is None:
            return
        key = _key_of(worker)
        waiters = self._waiters.get(key)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_exception(fut.exception())  # type: ignore[arg-type]
                break
        self._balance(key)

    def prestart(
        self, language: int, job_id: bytes, code_search_path: tuple[str, ...], count: int
    ) -> None:
        """Start ``count`` workers ahead of leases; they join the idle pool.
        Standby Python interpreters, while there are any, become the first
        of them (no interpreter start to wait for)."""
        for _ in range(count):
            if not self._adopt_standby(language, job_id, code_search_path):
                self._new_worker(language, job_id, code_search_path)

    def prestart_for_driver(
        self, language: int, job_id: bytes, code_search_path: tuple[str, ...], count: int
    ) -> None:
        """A driver of ``language`` registered: start ``count`` workers of its
        job. They stand in for the Java first-use prestart, so the job's
        first lease, finding one starting, starts no second JVM beside it."""
        self._first_used.add((language, job_id, tuple(code_search_path), "", ()))
        self.prestart(language, job_id, code_search_path, count)

    # -- standbys: Python workers started before any job ----------------------

    def _launch_context(self, worker: WorkerProcess, prepared: PreparedEnv | None = None) -> LaunchContext:
        return LaunchContext(
            language=worker.language,
            worker_id=worker.worker_id,
            job_id=worker.job_id,
            startup_token=worker.startup_token,
            node_id=self._config.node_id,
            raylet_address=self._raylet_address(),
            gcs_address=self._config.gcs_address,
            store_name=self._config.store_name,
            session_dir=self._config.session_dir,
            code_search_path=worker.code_search_path,
            lease_key=worker.lease_key,
            runtime_env=prepared,
            gpu_ids=worker.gpu_ids,
        )

    def _standby_command(self, worker: WorkerProcess) -> LaunchCommand | None:
        """The command ``worker`` (Python, no runtime env) would be started
        with; None when no Python launcher builds one."""
        try:
            return self._launchers.get(common_pb2.PYTHON).build(self._launch_context(worker))
        except LaunchError:
            return None

    async def _start_standbys(self, count: int) -> None:
        """Start ``count`` standby Python workers: `python -m polyray.worker`
        with the environment of a worker of no job yet and POLYRAY_STANDBY=1.
        Each imports the runtime and waits on stdin for the environment of the
        worker it becomes (polyray/worker.py); one whose stdin closes exits."""
        probe = WorkerProcess(worker_id=bytes(NODE_ID_SIZE), language=common_pb2.PYTHON, job_id=b"",
                              startup_token="")
        command = self._standby_command(probe)
        if command is None or command.cwd is not None:
            return
        env = _standby_env(command.env)
        env[STANDBY_ENV] = "1"
        for _ in range(count):
            if self._stopping:
                return
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command.argv, env=env, stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                    start_new_session=True)
            except OSError as exc:
                log.warning("cannot start a standby Python worker: %s", exc)
                return
            entry = (proc, _standby_env(command.env))
            self._standbys.append(entry)
            self._spawn_task(self._watch_standby(entry), f"watch-standby-{proc.pid}")

    async def _watch_standby(self, entry: tuple[asyncio.subprocess.Process, dict[str, str]]) -> None:
        """Forget a standby that exits before it is adopted."""
        await entry[0].wait()
        if entry in self._standbys:
            self._standbys.remove(entry)

    def _adopt_standby(self, language: int, job_id: bytes, code_search_path: tuple[str, ...]) -> bool:
        """Turn a standby into a starting worker of (language, job); False when
        none is left or it cannot serve this key (another language, or another
        code search path or start-up folder than it was started with)."""
        if language != common_pb2.PYTHON or self._stopping:
            return False
        while self._standbys:
            proc, standby_env = self._standbys[0]
            if proc.returncode is not None:
                self._standbys.pop(0)
                continue
            worker = WorkerProcess(
                worker_id=os.urandom(NODE_ID_SIZE), language=language, job_id=job_id,
                startup_token=secrets.token_hex(16), code_search_path=code_search_path,
            )
            command = self._standby_command(worker)
            if command is None or command.cwd is not None or _standby_env(command.env) != standby_env:
                return False
            self._standbys.pop(0)
            worker.registered.add_done_callback(lambda f, w=worker: self._start_failed(w))
            self.workers[worker.worker_id] = worker
            self._spawn_task(self._adopt(worker, proc, command),
                             f"adopt-standby-{worker.worker_id.hex()[:8]}")
            return True
        return False

    async def _adopt(self, worker: WorkerProcess, proc: asyncio.subprocess.Process,
                     command: LaunchCommand) -> None:
        """Hand a standby its worker's environment (one JSON line on stdin),
        then watch it as a started worker."""
        worker.attach(proc, self._config.session_dir, self._log_sink)
        worker.started_at = time.monotonic()
        self._spawn_task(self._watch(worker), f"watch-worker-{worker.pid}")
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(command.env).encode() + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()
        except (OSError, RuntimeError) as exc:  # it died meanwhile: its exit fails the start
            log.info("standby worker %s is gone: %s", proc.pid, exc)
        await self._await_registration(worker, self._config.start_timeout_for(worker.language))

    def _stop_standbys(self) -> None:
        for proc, _ in self._standbys:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self._standbys.clear()

    def standby_count(self) -> int:
        """Standby Python workers waiting for a job."""
        return sum(1 for proc, _ in self._standbys if proc.returncode is None)

    def _prestart_on_first_use(self, key: _PoolKey) -> None:
        """The first lease of a key that had to start a Java worker starts one
        more, idle, so the job's next Java actor need not wait for a JVM
        (only when the warm pool would keep it)."""
        if (key[0] != common_pb2.JAVA or not self._config.prestart_java_on_first_use
                or self._config.warm_for(key[0]) < 1 or key in self._first_used or self._stopping or key[4]):
            return
        self._first_used.add(key)
        if len(self._first_used) > 10_000:  # bounded: forget old keys (a re-prestart is harmless)
            self._first_used.clear()
            self._first_used.add(key)
        self._new_worker(key[0], key[1], key[2], key[3], key[4])

    def push_idle(self, worker: WorkerProcess) -> None:
        """Make a registered, live worker available to the next lease: the
        oldest one waiting for its key, else the idle pool."""
        key = _key_of(worker)
        if not worker.alive or self._stopping:
            self._balance(key)  # a lease waiting for it needs another
            return
        worker.state = WorkerState.IDLE
        worker.lease_id = None
        worker.idle_since = time.monotonic()
        if self._hand_over(key, worker):
            return
        self._idle.setdefault(key, []).append(worker)

    def _take_idle(self, key: _PoolKey) -> WorkerProcess | None:
        stack = self._idle.get(key)
        while stack:
            worker = stack.pop()  # most recently used first: the rest can time out
            if worker.alive and worker.state is WorkerState.IDLE:
                return worker
        return None

    def _remove_idle(self, worker: WorkerProcess) -> None:
        stack = self._idle.get(_key_of(worker))
        if stack and worker in stack:
            stack.remove(worker)

    def idle_workers(self) -> list[WorkerProcess]:
        """Every idle worker."""
        return [w for stack in self._idle.values() for w in stack if w.state is WorkerState.IDLE]

    # -- starting ------------------------------------------------------------

    def _new_worker(
        self, language: int, job_id: bytes, code_search_path: tuple[str, ...], runtime_env: str = "",
        gpu_ids: tuple[str, ...] = (),
    ) -> WorkerProcess:
        worker = WorkerProcess(
            worker_id=os.urandom(NODE_ID_SIZE),
            language=language,
            job_id=job_id,
            startup_token=secrets.token_hex(16),
            code_search_path=code_search_path,
            runtime_env=runtime_env,
            gpu_ids=gpu_ids,
        )
        # A failure is handed to a waiting lease, if any (and so never
        # reported as "exception never retrieved").
        worker.registered.add_done_callback(lambda f: self._start_failed(worker))
        self.workers[worker.worker_id] = worker
        self._spawn_task(self._start(worker), f"start-worker-{worker.worker_id.hex()[:8]}")
        return worker

    def _describe(self, worker: WorkerProcess) -> str:
        pid = f" (pid {worker.pid})" if worker.pid else ""
        return f"{language_name(worker.language)} worker{pid} for job {worker.job_id.hex()}"

    def _fail_start(self, worker: WorkerProcess, why: str, with_stderr: bool = True,
                    crashed: bool = False, exit_code: int | None = None) -> None:
        """Fail a start: ``crashed`` when a process ran and died or timed out
        (retryable), unset when nothing could be launched."""
        if worker.registered.done():
            return
        message = f"{self._describe(worker)} failed to start: {why}"
        tail = worker.stderr_text() if with_stderr else ""
        if tail:
            message += f"\n--- last lines of its stderr ---\n{tail}"
        worker.registered.set_exception(WorkerStartError(message, crashed=crashed, exit_code=exit_code))

    async def _start(self, worker: WorkerProcess) -> None:
        try:
            launcher = self._launchers.get(worker.language)
        except LaunchError as exc:
            self._forget(worker)
            self._fail_start(worker, str(exc))
            return
        timeout = launcher.start_timeout_s or self._config.start_timeout_for(worker.language)
        prepared: PreparedEnv | None = None
        if worker.runtime_env:
            # Before a start slot is taken: a pip install may take minutes
            # (bounded by the agent's timeout) and must not hold up other starts.
            try:
                if self._runtime_envs is None:
                    raise RuntimeEnvSetupError("this raylet has no runtime env agent")
                prepared = await self._runtime_envs.prepare(worker.runtime_env)
            except RuntimeEnvSetupError as exc:
                self._forget(worker)
                self._fail_start(worker, f"its runtime_env could not be set up: {exc}", with_stderr=False)
                return
            except Exception as exc:  # an unexpected failure is still the lease's answer, not a hang
                log.exception("preparing runtime_env %s failed", worker.runtime_env)
                self._forget(worker)
                self._fail_start(worker, f"its runtime_env could not be set up: {exc!r}", with_stderr=False)
                return
        async with self._start_slots:
            if self._stopping:
                self._forget(worker)
                self._fail_start(worker, "the raylet is shutting down")
                return
            ctx = self._launch_context(worker, prepared)
            try:
                command = launcher.build(ctx)
            except LaunchError as exc:
                self._forget(worker)
                self._fail_start(worker, str(exc))
                return
            try:
                await worker.spawn(command, self._config.session_dir, self._log_sink)
            except OSError as exc:
                self._forget(worker)
                self._fail_start(worker, f"cannot run {command.argv[0]!r}: {exc.strerror or exc}")
                return
            worker.started_at = time.monotonic()
            self._spawn_task(self._watch(worker), f"watch-worker-{worker.pid}")
            # The slot is held until the worker registers, exits or times out,
            # which bounds how many processes start at once.
            await self._await_registration(worker, timeout)

    async def _await_registration(self, worker: WorkerProcess, timeout: float) -> None:
        """Wait for a started worker to register; kill it after ``timeout``."""
        done, _ = await asyncio.wait({worker.registered}, timeout=timeout)
        if not done:
            # The watcher fails the start once the pipes are drained, so
            # the error carries the stderr of a worker stuck starting up.
            worker.start_failure = f"did not register within {timeout:g} s"
            worker.stop_reason = "did not register in time"
            worker.signal(signal.SIGKILL)
            try:
                await asyncio.wait_for(worker.exited.wait(), timeout=3.0)
            except asyncio.TimeoutError:
                self._fail_start(worker, worker.start_failure, crashed=True)

    # -- registration --------------------------------------------------------

    def register(
        self, worker_id: bytes, startup_token: str, language: int, pid: int, port: int,
        push_port: int = 0,
    ) -> WorkerProcess:
        """RegisterWorker from a worker this pool started."""
        worker = self.workers.get(worker_id)
        if worker is None or not secrets.compare_digest(worker.startup_token, startup_token):
            raise RegistrationError(
                f"no worker {worker_id.hex()} with this startup token is starting on this node"
            )
        if worker.registered.done():
            if worker.is_registered:
                raise RegistrationError(f"worker {worker_id.hex()} is already registered")
            raise RegistrationError(f"worker {worker_id.hex()} registered too late; it is being stopped")
        if language != worker.language:
            raise RegistrationError(
                f"worker {worker_id.hex()} was started as {language_name(worker.language)}, "
                f"registered as {language_name(language)}"
            )
        if port <= 0 or port > 65535:
            raise RegistrationError(f"worker {worker_id.hex()} registered with invalid port {port}")
        if push_port < 0 or push_port > 65535:
            raise RegistrationError(f"worker {worker_id.hex()} registered with invalid push port {push_port}")
        worker.port = port
        worker.push_port = push_port
        if pid and pid != worker.pid:
            # A launcher may start the worker through a wrapper; pins are taken
            # under the real process's pid.
            worker.reported_pid = pid
        worker.registered.set_result(None)
        self.push_idle(worker)
        return worker

    def register_driver(
        self, worker_id: bytes, language: int, pid: int, port: int, job_id: bytes
    ) -> DriverRecord:
        """RegisterWorker from a driver: watched so its pins are reclaimed when it dies."""
        record = DriverRecord(worker_id, language, pid, port, job_id)
        self.drivers[worker_id] = record
        return record

    def disconnect(self, worker_id: bytes, intentional: bool) -> bool:
        """A worker or driver says it is leaving; True if it was known."""
        worker = self.workers.get(worker_id)
        if worker is not None:
            worker.disconnect_intentional = intentional
            self._remove_idle(worker)
            return True
        return self.drivers.pop(worker_id, None) is not None

    # -- stopping ------------------------------------------------------------

    def stop_worker(self, worker: WorkerProcess, reason: str, force: bool = False) -> None:
        """Stop a worker on the raylet's own account (not reported as a crash)."""
        worker.stop_reason = worker.stop_reason or reason
        self._remove_idle(worker)
        self.kill(worker, force)

    def kill(self, worker: WorkerProcess, force: bool) -> bool:
        """SIGKILL (force) or SIGTERM followed by SIGKILL after the grace period."""
        if not worker.pid:
            return False
        sent = worker.signal(signal.SIGKILL if force else signal.SIGTERM)
        if sent and not force:
            self._spawn_task(self._escalate(worker), f"escalate-{worker.pid}")
        return sent

    async def _escalate(self, worker: WorkerProcess) -> None:
        try:
            await asyncio.wait_for(worker.exited.wait(), timeout=self._config.worker_kill_grace_s)
        except asyncio.TimeoutError:
            worker.signal(signal.SIGKILL)

    # -- watching ------------------------------------------------------------

    async def _watch(self, worker: WorkerProcess) -> None:
        code = await worker.wait()
        worker.exited.set()
        self._forget(worker)
        if not worker.registered.done():
            self._fail_start(
                worker, worker.start_failure or f"it {describe_exit(code)} before registering",
                crashed=True, exit_code=code,
            )
        try:
            await self._on_exit(worker, code)
        except Exception:
            log.exception("handling the exit of %r failed", worker)
        worker.state = WorkerState.DEAD

    def _forget(self, worker: WorkerProcess) -> None:
        self.workers.pop(worker.worker_id, None)
        self._remove_idle(worker)

    async def _reap_loop(self) -> None:
        period = max(0.05, min(self._config.idle_worker_timeout_s / 4, 1.0))
        while True:
            await asyncio.sleep(period)
            try:
                self.reap_idle()
                await self._check_drivers()
            except Exception:
                log.exception("idle reaper failed")

    def live_jobs(self) -> set[bytes]:
        """Jobs live on this node as far as the pool can tell: a driver of
        theirs registered here, or a worker of theirs not idle."""
        jobs = {d.job_id for d in self.drivers.values()}
        jobs.update(w.job_id for w in self.workers.values()
                    if w.state is not WorkerState.IDLE and w.alive)
        return jobs

    def warm_kept(self) -> set[bytes]:
        """Ids of the idle workers the idle timeout spares: the most recent
        ``prestart_workers`` node-wide, and per language the most recent
        ``warm_for(language)`` of live jobs (the warm pool)."""
        idle = sorted(self.idle_workers(), key=lambda w: w.idle_since, reverse=True)
        kept = {w.worker_id for w in idle[: self._config.prestart_workers]}
        live = self.live_jobs()
        per_language: dict[int, int] = {}
        for worker in idle:
            if worker.job_id not in live:
                continue
            n = per_language.get(worker.language, 0)
            if n < self._config.warm_for(worker.language):
                kept.add(worker.worker_id)
                per_language[worker.language] = n + 1
        return kept

    def reap_idle(self) -> None:
        """Stop workers idle longer than the timeout, except those the warm
        pool keeps (:meth:`warm_kept`)."""
        now = time.monotonic()
        kept = self.warm_kept()
        timeout = self._config.idle_worker_timeout_s
        for worker in self.idle_workers():
            if worker.worker_id in kept:
                continue
            if now - worker.idle_since > timeout and worker.worker_id not in self._asking:
                # Out of the idle pool while asked, so no lease takes it.
                self._remove_idle(worker)
                self._asking.add(worker.worker_id)
                self._spawn_task(self._ask_exit(worker, f"idle for more than {timeout:g} s"),
                                 f"ask-exit-{worker.pid}")

    async def _ask_exit(self, worker: WorkerProcess, reason: str) -> None:
        """Ask an idle worker to leave (CoreWorkerService Exit, force=False).

        A worker that owns objects still referenced anywhere, or holds
        borrowed ones, refuses: it goes back to the idle pool and is asked
        again after the next idle period. One that accepts exits by itself;
        one that does not answer within IDLE_EXIT_ANSWER_MS, or does not
        leave within IDLE_EXIT_GRACE_MS of accepting, is stopped with signals.
        """
        # Set first: a worker that accepts may be gone before the reply is read.
        worker.stop_reason = worker.stop_reason or reason
        try:
            refused = ""
            try:
                async with auth.aio_channel(f"{self._config.host}:{worker.port}") as channel:
                    reply = await cw_grpc.CoreWorkerServiceStub(channel).Exit(
                        cw.ExitRequest(force=False, reason=reason), timeout=IDLE_EXIT_ANSWER_MS / 1000)
                if not reply.accepted:
                    refused = reply.reason or "it refused"
            except grpc.aio.AioRpcError as err:
                log.info("%s did not answer Exit (%s); stopping it", self._describe(worker), err.code().name)
                self.stop_worker(worker, f"{reason}; Exit unanswered ({err.code().name})")
                return
            if refused:
                log.debug("%s stays: %s", self._describe(worker), refused)
                if worker.stop_reason == reason:
                    worker.stop_reason = None
                if worker.alive and worker.state is WorkerState.IDLE:
                    self.push_idle(worker)
                return
            try:
                await asyncio.wait_for(worker.exited.wait(), timeout=IDLE_EXIT_GRACE_MS / 1000)
            except asyncio.TimeoutError:
                self.stop_worker(worker, f"{reason}; accepted Exit but did not leave")
        finally:
            self._asking.discard(worker.worker_id)

    async def _check_drivers(self) -> None:
        for record in list(self.drivers.values()):
            if record.pid > 0 and not _pid_alive(record.pid):
                self.drivers.pop(record.worker_id, None)
                await self._on_driver_exit(record)


#: Set on a standby worker's environment (polyray/worker.py STANDBY_ENV).
STANDBY_ENV = "POLYRAY_STANDBY"
#: The variables that differ between two Python workers of a node started
#: with no runtime env: a standby is started without them (polyray/worker.py
#: reads none of them before it is adopted, lease_proof's key again after).
_PER_WORKER_ENV = ("POLYRAY_WORKER_ID", "POLYRAY_JOB_ID", "POLYRAY_STARTUP_TOKEN", lease_proof.KEY_ENV)


def _standby_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the per-worker variables: a standby adopted for a
    worker must have been started with exactly this environment."""
    return {k: v for k, v in env.items() if k not in _PER_WORKER_ENV}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
