"""Executing tasks pushed to this worker: normal tasks, actor creation and methods.

Invariants: normal tasks and methods of a plain actor run one at a time on
the worker's main thread, in arrival order per stream (so an actor sees each caller's
calls in submission order); a threaded actor runs up to max_concurrency
methods on a pool; an async actor runs coroutines concurrently on its own
event loop. Every pushed task gets exactly one result, whatever happens.

Concurrency groups (Ray's ``concurrency_groups``): each named group of an
actor has its own pool of that many threads (threaded) or its own semaphore
(async); the default group keeps max_concurrency (the main thread when it is
1). A full group never holds up another; within a group calls start in
arrival order, as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import importlib
import inspect
import os
import queue
import selectors
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from polyray import exceptions as exc
from polyray.core import errors
from polyray.core.function_manager import FunctionManager
from polyray.core.object_getter import ObjectGetter
from polyray.core.push_port import PushListener
from polyray.core.return_encoder import ReturnEncoder
from polyray.core.spin_selector import SpinSelector, spin_seconds
from polyray.core.task_events import TaskEventBuffer
from polyray.core.worker_context import TaskContext, WorkerContext, current_task
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw

ReplyFn = Callable[[cw.TaskResult], None]

#: A line a worker writes on stdout when what it runs changes; the raylet
#: reads it, prefixes the following lines with the name and does not forward
#: it (docs/observability.md, "Output"). The same in Java and C++ workers.
OUTPUT_NAME_MARKER = ":polyray_name:"
_announced = ""


def output_name(spec: pb.TaskSpec) -> str:
    """The name shown before a task's output: the function, or the actor's class."""
    name = spec.name or "task"
    if spec.type in (pb.ACTOR_TASK, pb.ACTOR_CREATION_TASK) and "." in name:
        name = name.rsplit(".", 1)[0]
    return name.rsplit(".", 1)[-1]


def announce_output_name(spec: pb.TaskSpec) -> None:
    """Tell the raylet (through stdout) what runs now, when it changed."""
    global _announced
    name = output_name(spec)
    if name != _announced:
        _announced = name
        try:
            out = sys.__stdout__
            if out is not None:
                out.write(f"{OUTPUT_NAME_MARKER}{name}\n")
                out.flush()
        except (OSError, ValueError):
            pass


def flush_output() -> None:
    """Flush stdout and stderr: what a task printed is in the pipe before its result is sent."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


# Raised inside a running task by a non-forced cancel (polyray.exceptions.TaskCancelled, a KeyboardInterrupt).
TaskCancelled = exc.TaskCancelled


class TaskExecutor:
    """Runs tasks for the CoreWorker of a worker process."""

    def __init__(self, *, ctx: WorkerContext, functions: FunctionManager, getter: ObjectGetter,
                 returns: ReturnEncoder) -> None:
        self._ctx = ctx
        self._functions_manager = functions
        self._getter = getter
        self._returns = returns
        # SimpleQueue: a C-implemented FIFO, cheaper per hand-off than queue.Queue.
        self._main_queue: queue.SimpleQueue[tuple[pb.TaskSpec, ReplyFn] | None] = queue.SimpleQueue()
        self._functions: dict[bytes, Any] = {}
        self._actor: Any = None
        self._actor_id = b""
        self._actor_is_async = False
        self._actor_loop: asyncio.AbstractEventLoop | None = None
        self._actor_sem: asyncio.Semaphore | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        # Concurrency groups: a pool per group (threaded) or a semaphore per group (async).
        self._group_pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self._group_sems: dict[str, asyncio.Semaphore] = {}
        self._method_groups: dict[str, str] = {}  # method -> its @polyray.method group ("" default)
        # Async actor calls running or waiting for their group: cancel() cancels them.
        self._async_tasks: dict[bytes, asyncio.Task] = {}
        self._cancelled: set[bytes] = set()
        #: Running tasks whose (non-forced) cancel was requested: is_canceled().
        self.cancel_requested: set[bytes] = set()
        #: The spec that created the actor hosted here (current_actor, assigned resources).
        self.actor_creation_spec: pb.TaskSpec | None = None
        self._running: dict[bytes, int] = {}  # task id -> thread ident
        self._running_types: dict[bytes, int] = {}  # task id -> TaskType
        # The main thread's running task while its user code runs, and the task a cancel()
        # interrupts: SIGINT to the main thread wakes a blocking call (sleep, a lock, I/O)
        # and its handler raises TaskCancelled there (run_forever installs it).
        self._interruptible: bytes | None = None
        self._interrupt_task: bytes | None = None
        self._main_ident = -1
        self._lock = threading.Lock()
        self.exiting = False
        #: Called with the actor id when the actor exits by a user request
        #: (the worker's wiring marks it dead in the GCS: no restart).
        self.on_actor_exit: Callable[[bytes], None] | None = None
        #: Task events (task_events.py): RUNNING, then FINISHED or FAILED.
        self.events: TaskEventBuffer | None = None
        # Wakes the main thread's selector when a task arrives over gRPC
        # (made by run_forever: a driver never runs one).
        self._wake_r = self._wake_w = -1
        # Tasks run per function (a key of _load), for max_calls.
        self._calls: dict[bytes, int] = {}
        # As Ray: OMP_NUM_THREADS is the running task's (or actor's) CPUs, at least 1,
        # unless the worker's environment sets it (the user's, or a runtime_env's env_vars).
        self._omp_auto = "OMP_NUM_THREADS" not in os.environ

    # -- intake (called on the io loop) ------------------------------------
    def enqueue(self, spec: pb.TaskSpec, reply: ReplyFn) -> None:
        if spec.type == pb.ACTOR_TASK and self._actor is not None:
            if self._actor_is_async:
                self._run_async_method(spec, reply)
                return
            pool = self._pool
            if self._group_pools or spec.concurrency_group:
                group = self.group_of(spec)
                if group is None:
                    reply(self._unknown_group(spec))
                    return
                pool = self._group_pools[group] if group else self._pool
            if pool is not None:
                pool.submit(self._execute, spec, reply)
                return
        self._main_queue.put((spec, reply))
        self._wake()

    def accept_pushed(self, spec: pb.TaskSpec, reply: ReplyFn) -> None:
        """Take a task from the push port (on the main thread): a plain one
        runs here and now, others go where enqueue() sends them."""
        if spec.type == pb.ACTOR_TASK and self._actor is not None and (
                self._actor_is_async or self._pool is not None or self._group_pools or spec.concurrency_group):
            if not self._actor_is_async and self._group_pools and self.group_of(spec) == "" and self._pool is None:
                self._execute(spec, reply)  # the default group of 1 runs here, in order, as a plain actor's
                return
            self.enqueue(spec, reply)
            return
        self._execute(spec, reply)

    def group_of(self, spec: pb.TaskSpec) -> str | None:
        """The concurrency group an actor call runs in: the call's option, else its method's
        ``@polyray.method(concurrency_group=)``, else "" (the default group); None: a group
        the actor does not declare."""
        group = spec.concurrency_group
        if not group:
            method = spec.function.python.qualname.rsplit(".", 1)[-1]
            group = self._method_groups.get(method, "")
        if group and group not in self._group_pools and group not in self._group_sems:
            return None
        return group

    def _unknown_group(self, spec: pb.TaskSpec) -> cw.TaskResult:
        known = sorted(self._group_pools or self._group_sems)
        e = ValueError(f"{spec.name}: concurrency group {spec.concurrency_group!r} is not declared by the actor "
                       f"(its groups: {known or 'none'})")
        result = self._error_result(spec, errors.record_from_exception(e, function_name=spec.name))
        result.is_application_error = True
        return result

    def _wake(self) -> None:
        if self._wake_w < 0:
            return  # run_forever has not started: it drains the queue first
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the main thread has wake-ups pending anyway

    def cancel(self, task_id: bytes, force: bool) -> bool:
        with self._lock:
            atask = self._async_tasks.get(task_id)
            if atask is not None and self._actor_loop is not None:
                # An async actor call: its asyncio task is cancelled (running or waiting for its group), as Ray.
                self.cancel_requested.add(task_id)
                self._actor_loop.call_soon_threadsafe(atask.cancel)
                return True
            ident = self._running.get(task_id)
            if ident is None:
                self._cancelled.add(task_id)
                return True
            self.cancel_requested.add(task_id)
            spec_type = self._running_types.get(task_id)
        if spec_type == pb.ACTOR_TASK and not force:
            # As Ray: a running method of a sync actor is not interrupted (the actor's state
            # could be left half-changed); it sees is_canceled() and its caller keeps waiting.
            return True
        if force:
            # Ray's semantics: a forced cancel stops the worker process.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        if ident == self._main_ident:
            self._interrupt_task = task_id
            signal.pthread_kill(ident, signal.SIGINT)
            return True
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(TaskCancelled))
        return True

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """(Main thread.) A cancel()'s interrupt: TaskCancelled in the running task's code;
        any other SIGINT (or one that came after its task ended) is a KeyboardInterrupt, as by default."""
        target = self._interrupt_task
        if target is not None:
            self._interrupt_task = None
            if self._interruptible == target:
                raise TaskCancelled()
            return
        signal.default_int_handler(signum, frame)

    def stop(self) -> None:
        self._main_queue.put(None)
        self._wake()

    # -- the main thread ----------------------------------------------------
    def run_forever(self, pushes: PushListener | None = None) -> None:
        """Run tasks on the calling (main) thread until stop(): those queued
        from gRPC streams, and those read from the push port's connections."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self._wake_r, self._wake_w = wake_r, wake_w
        if threading.current_thread() is threading.main_thread():
            self._main_ident = threading.get_ident()
            signal.signal(signal.SIGINT, self._on_sigint)
        # Polls briefly before sleeping: in a sync loop of calls the next one
        # comes within the spin (spin_selector.py).
        sel = SpinSelector(spin_seconds())
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        if pushes is not None:
            pushes.attach(sel, self.accept_pushed)
        while True:
            while True:
                try:
                    item = self._main_queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    return
                self._execute(*item)
            for key, _ in sel.select():
                if key.data is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                else:
                    key.data()

    @property
    def busy(self) -> bool:
        """Whether a task runs here now (any thread; a submitter's leases linger only then)."""
        return bool(self._running)

    # -- one task -------------------------------------------------------------
    def _execute(self, spec: pb.TaskSpec, reply: ReplyFn) -> None:
        task_id = spec.task_id
        with self._lock:
            if task_id in self._cancelled:
                self._cancelled.discard(task_id)
                reply(self._error_result(spec, errors.system_record(
                    pb.TASK_CANCELLED, f"task {spec.name} was cancelled before it ran")))
                return
            self._running[task_id] = threading.get_ident()
            self._running_types[task_id] = spec.type
        token = current_task.set(TaskContext(task_id, spec))
        events = self.events
        running = events.running(spec) if events is not None else None
        announce_output_name(spec)
        if self._omp_auto and spec.type != pb.ACTOR_TASK:
            os.environ["OMP_NUM_THREADS"] = str(max(1, int(spec.resources.get("CPU", 0.0))))
        on_main = threading.get_ident() == self._main_ident
        try:
            if on_main:
                self._interruptible = task_id
            result = self._execute_inner(spec, reply)
            if on_main:
                self._interruptible = None
        except TaskCancelled:
            result = self._error_result(spec, errors.system_record(
                pb.TASK_CANCELLED, f"task {spec.name} was cancelled while running"))
        finally:
            if on_main:
                self._interruptible = None
            current_task.reset(token)
            with self._lock:
                self._running.pop(task_id, None)
                self._running_types.pop(task_id, None)
                self.cancel_requested.discard(task_id)
        if events is not None:
            events.ended(spec, result.returns, running)
        if spec.max_calls > 0 and spec.type == pb.NORMAL_TASK:
            # Ray's max_calls: after this many tasks of the function, the worker exits once it has replied.
            desc = spec.function.python
            key = desc.function_hash or (desc.module + ":" + desc.qualname).encode()
            self._calls[key] = self._calls.get(key, 0) + 1
            if self._calls[key] >= spec.max_calls:
                self.exiting = True
        flush_output()
        reply(result)

    def _execute_inner(self, spec: pb.TaskSpec, reply: ReplyFn | None = None) -> cw.TaskResult:
        try:
            fn = self._resolve_function(spec)
            args, kwargs = self._getter.resolve_args(spec)
        except TaskCancelled:
            raise
        except BaseException as e:  # noqa: BLE001 — any failure becomes the task's error
            return self._error_result(spec, self._runtime_record(spec, e))
        try:
            value = fn(*args, **kwargs)
            if spec.type == pb.ACTOR_CREATION_TASK:
                return self._on_actor_created(spec, value)
            del args, kwargs
            if spec.generator and reply is not None:
                value = self._run_generator(spec, value, reply)
            elif inspect.isgenerator(value) and spec.caller_language != pb.PYTHON:
                raise TypeError(f"{spec.name} returned a generator: call it as a generator task (a Java "
                                "caller: remoteGenerator() instead of remote(); C++: RemoteGenerator())")
            return cw.TaskResult(task_id=spec.task_id, returns=self._returns.encode_returns(spec, value))
        except TaskCancelled:
            raise
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, SystemExit):
                return self._user_exit(spec, e)
            record = errors.record_from_exception(e, function_name=spec.name)
            result = self._error_result(spec, record)
            result.is_application_error = True
            return result

    def _run_generator(self, spec: pb.TaskSpec, value: Any, reply: ReplyFn) -> Any:
        """Send each item a generator task yields as it comes (core/generators.py); the task's
        own return is then the item count ("streaming") or the generator's refs ("dynamic")."""
        if not inspect.isgenerator(value) and not hasattr(value, "__next__"):
            raise TypeError(f"{spec.name} was called with num_returns='{_GENERATOR_NAMES[spec.generator]}' "
                            f"but returned a {type(value).__name__}, not a generator")
        count = 0
        for item in value:
            obj = self._returns.encode_item(spec, count, item)
            count += 1
            reply(cw.TaskResult(task_id=spec.task_id, returns=[obj], generator_item=count))
        return _generator_end(spec, count)

    async def _run_async_generator(self, spec: pb.TaskSpec, value: Any, reply: ReplyFn) -> Any:
        """As _run_generator, for an async actor's ``async def`` generator method."""
        count = 0
        async for item in value:
            obj = self._returns.encode_item(spec, count, item)
            count += 1
            reply(cw.TaskResult(task_id=spec.task_id, returns=[obj], generator_item=count))
        return _generator_end(spec, count)

    def _runtime_record(self, spec: pb.TaskSpec, e: BaseException) -> pb.ErrorRecord:
        if isinstance(e, (ImportError, AttributeError, LookupError)) and not hasattr(e, "_record"):
            rec = errors.record_from_exception(e, function_name=spec.name)
            rec.kind = pb.RUNTIME_ERROR
            return rec
        return errors.record_from_exception(e, function_name=spec.name)

    def _error_result(self, spec: pb.TaskSpec, record: pb.ErrorRecord) -> cw.TaskResult:
        return cw.TaskResult(task_id=spec.task_id, returns=self._returns.error_returns(spec, record))

    # -- functions ----------------------------------------------------------
    def _resolve_function(self, spec: pb.TaskSpec) -> Callable:
        desc = spec.function.python
        if spec.type == pb.ACTOR_TASK:
            if self._actor is None or spec.actor_id != self._actor_id:
                raise RuntimeError(f"this worker does not host actor {spec.actor_id.hex()}")
            method = desc.qualname.rsplit(".", 1)[-1]
            builtin = BUILTIN_METHODS.get(method)
            if builtin == "terminate":
                return self._terminate
            if builtin == "ready":
                return _ready
            if builtin == "call":
                actor = self._actor
                return lambda fn, *args, **kwargs: fn(actor, *args, **kwargs)
            try:
                return getattr(self._actor, method)
            except AttributeError:
                raise AttributeError(
                    f"actor class {type(self._actor).__qualname__} has no method {method!r}") from None
        target = self._load(spec)
        if spec.type == pb.ACTOR_CREATION_TASK and not inspect.isclass(target):
            raise TypeError(f"{desc.module}.{desc.qualname} is not a class; it cannot create an actor")
        if spec.type == pb.NORMAL_TASK and not callable(target):
            raise TypeError(f"{desc.module}.{desc.qualname} is not callable")
        return target

    def _load(self, spec: pb.TaskSpec) -> Any:
        desc = spec.function.python
        key = desc.function_hash or (desc.module + ":" + desc.qualname).encode()
        fn = self._functions.get(key)
        if fn is not None:
            return fn
        if desc.function_hash:
            fn = self._functions_manager.fetch_function(spec.job_id, desc.function_hash)
        else:
            module = importlib.import_module(desc.module)
            fn = module
            for part in desc.qualname.split("."):
                fn = getattr(fn, part)
        fn = getattr(fn, "_polyray_target", fn)  # @polyray.remote wrappers name their target
        self._functions[key] = fn
        return fn

    # -- actors -------------------------------------------------------------
    def _on_actor_created(self, spec: pb.TaskSpec, instance: Any) -> cw.TaskResult:
        self._actor = instance
        self._actor_id = spec.actor_id
        self.actor_creation_spec = spec
        self._ctx.actor_id = spec.actor_id
        cls = type(instance)
        self._actor_is_async = spec.is_async_actor or any(
            inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m)
            for _, m in inspect.getmembers(cls, predicate=inspect.isfunction))
        for name in dir(cls):  # @polyray.method(concurrency_group=...) of the class's methods
            static = inspect.getattr_static(cls, name, None)
            declared = getattr(getattr(static, "__func__", static), "__polyray_method_options__", None)
            if isinstance(declared, dict) and isinstance(declared.get("concurrency_group"), str):
                self._method_groups[name] = declared["concurrency_group"]
        if self._actor_is_async:
            limit = spec.max_concurrency or 1000
            self._actor_loop = asyncio.new_event_loop()
            threading.Thread(target=self._actor_loop.run_forever, name="polyray-actor-loop", daemon=True).start()
            self._actor_sem = asyncio.Semaphore(limit)
            self._group_sems = {g: asyncio.Semaphore(n) for g, n in spec.concurrency_groups.items()}
        else:
            if spec.max_concurrency > 1:
                self._pool = concurrent.futures.ThreadPoolExecutor(spec.max_concurrency,
                                                                   thread_name_prefix="polyray-actor")
            self._group_pools = {g: concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix=f"polyray-actor-{g}")
                                 for g, n in spec.concurrency_groups.items()}
        return cw.TaskResult(task_id=spec.task_id, actor_ready=True)

    def _run_async_method(self, spec: pb.TaskSpec, reply: ReplyFn) -> None:
        assert self._actor_loop is not None and self._actor_sem is not None
        loop = self._actor_loop
        sem = self._actor_sem
        if self._group_sems or spec.concurrency_group:
            group = self.group_of(spec)
            if group is None:
                reply(self._unknown_group(spec))
                return
            if group:
                sem = self._group_sems[group]
        events = self.events
        send = reply

        def flush_and_reply(result: cw.TaskResult) -> None:
            flush_output()
            send(result)
        reply = flush_and_reply
        started: list = []
        if events is not None:
            def reply_and_record(result: cw.TaskResult, reply: ReplyFn = reply) -> None:
                events.ended(spec, result.returns, started[0] if started else None)
                reply(result)
            reply = reply_and_record

        async def run() -> None:
            try:
                await run_in_group()
            except asyncio.CancelledError:
                # cancel(): while it waited for its group or ran (the user's code did not swallow it).
                reply(self._error_result(spec, errors.system_record(
                    pb.TASK_CANCELLED, f"task {spec.name} was cancelled")))
            finally:
                with self._lock:
                    self._async_tasks.pop(spec.task_id, None)
                    self.cancel_requested.discard(spec.task_id)

        async def run_in_group() -> None:
            async with sem:
                if events is not None:
                    started.append(events.running(spec))
                token = current_task.set(TaskContext(spec.task_id, spec))
                try:
                    try:
                        fn = self._resolve_function(spec)
                        resolve = self._getter.resolve_args
                        args, kwargs = await asyncio.get_running_loop().run_in_executor(
                            None, resolve, spec) if _has_refs(spec) else resolve(spec)
                    except asyncio.CancelledError:
                        raise
                    except BaseException as e:  # noqa: BLE001
                        reply(self._error_result(spec, self._runtime_record(spec, e)))
                        return
                    try:
                        value = fn(*args, **kwargs)
                        if inspect.isawaitable(value):
                            value = await value
                        if spec.generator and inspect.isasyncgen(value):
                            value = await self._run_async_generator(spec, value, send)
                        elif spec.generator:
                            value = self._run_generator(spec, value, send)
                        reply(cw.TaskResult(task_id=spec.task_id, returns=self._returns.encode_returns(spec, value)))
                    except asyncio.CancelledError:
                        raise
                    except BaseException as e:  # noqa: BLE001
                        if isinstance(e, SystemExit):
                            reply(self._user_exit(spec, e))
                            return
                        result = self._error_result(spec, errors.record_from_exception(e, function_name=spec.name))
                        result.is_application_error = True
                        reply(result)
                finally:
                    current_task.reset(token)

        def start() -> None:
            with self._lock:
                if spec.task_id in self._cancelled:  # cancel() came before the call did
                    self._cancelled.discard(spec.task_id)
                    reply(self._error_result(spec, errors.system_record(
                        pb.TASK_CANCELLED, f"task {spec.name} was cancelled before it ran")))
                    return
                self._async_tasks[spec.task_id] = loop.create_task(run())
        loop.call_soon_threadsafe(start)

    def _user_exit(self, spec: pb.TaskSpec, e: SystemExit) -> cw.TaskResult:
        """``exit()`` / ``sys.exit()`` in user code ends this worker, as in Ray.

        A task: the process ends at once, without a reply, so its caller sees a
        dead worker (WorkerCrashedError, retried per max_retries as any crash).
        An actor method (or constructor): an intended exit, as ``exit_actor()``;
        the call gets ActorDiedError, the worker exits after replying.
        """
        if spec.type == pb.NORMAL_TASK:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            os._exit(e.code if isinstance(e.code, int) and e.code else 1)
        self.exiting = True
        if self.on_actor_exit is not None and self._actor_id:
            try:
                self.on_actor_exit(self._actor_id)
            except Exception:  # noqa: BLE001 - the process exits anyway; only a restart may follow
                pass
        record = errors.system_record(
            pb.ACTOR_DIED, f"the actor exited by a user request: {spec.name} called exit() "
                           f"(SystemExit({e.code!r})); calls after it fail")
        record.reason = pb.REASON_KILLED
        return self._error_result(spec, record)

    def _terminate(self) -> None:
        self.exiting = True
        raise SystemExit(0)


#: Built-in methods of every Python actor (Ray's ``__ray_*__`` spellings too):
#: terminate (graceful: calls queued before it run first), ready (resolves once
#: the actor exists), call (``fn(instance, *args)`` inside the actor).
BUILTIN_METHODS = {
    "__polyray_terminate__": "terminate", "__ray_terminate__": "terminate",
    "__polyray_ready__": "ready", "__ray_ready__": "ready",
    "__polyray_call__": "call", "__ray_call__": "call",
}


_GENERATOR_NAMES = {1: "dynamic", 2: "streaming"}


def _generator_end(spec: pb.TaskSpec, count: int) -> Any:
    """A generator task's own return: the item count ("streaming"), or its items' generator ("dynamic")."""
    if spec.generator == 1:
        from polyray.core.generators import DynamicReturn
        return DynamicReturn(spec.task_id, count, spec.caller.SerializeToString())
    return count


def _ready() -> bool:
    return True


def _has_refs(spec: pb.TaskSpec) -> bool:
    return any(a.HasField("ref") or len(a.nested_refs) for a in spec.args) or any(
        k.arg.HasField("ref") for k in spec.kwargs)
