"""Who this process is, and which task it is running.

The WorkerContext holds the identity of a driver or worker process (job,
worker, node, address, namespace, code search path), the actor it hosts, the
shutting-down flag, and the per-task context (task id, puts made so far) of
whatever runs on the current thread or coroutine.

Invariants: the identity never changes after construction, except the
address's ports (set once when the servers start), ``actor_id`` (set once
when an actor is created here) and a worker's ``namespace`` (set once, from
its job's entry in the GCS, before it runs a task); put ids are unique per task context, from any
thread.
"""

from __future__ import annotations

import contextvars
import threading

from polyray.protocol import common_pb2 as pb
from polyray.protocol.ids import JobID, ObjectID, TaskID


class TaskContext:
    """What the running task is: its id, the puts it made, its spec."""

    __slots__ = ("task_id", "put_index", "spec")

    def __init__(self, task_id: bytes, spec: pb.TaskSpec | None) -> None:
        self.task_id = task_id
        self.put_index = 0
        self.spec = spec


#: The task running on this thread or coroutine (None: the driver's own code).
current_task: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar("polyray_task", default=None)


class WorkerContext:
    """The identity and the task context of one driver or worker process."""

    def __init__(self, *, is_driver: bool, job_id: bytes, worker_id: bytes, node_id: bytes, host: str,
                 namespace: str = "", code_search_path: tuple[str, ...] = (), runtime_env: str = "") -> None:
        self.is_driver = is_driver
        self.job_id = job_id
        self.worker_id = worker_id
        self.node_id = node_id
        self.host = host
        self.namespace = namespace
        self.code_search_path: tuple[str, ...] = tuple(code_search_path)
        #: The job's runtime env (canonical JSON, "" for none): every spec this process makes carries it
        #: unless .options(runtime_env=...) merges another over it.
        self.runtime_env = runtime_env
        #: This process's address; the ports are filled in when its servers start.
        self.address = pb.Address(node_id=node_id, host=host, port=0, worker_id=worker_id)
        #: The actor this worker hosts (b"" until an actor is created here).
        self.actor_id = b""
        #: Set once by the CoreWorker when it starts shutting down; loops check it.
        self.shutting_down = False
        self._driver_task = TaskContext(TaskID.for_job(JobID.from_binary(job_id)).binary(), None)
        self._put_lock = threading.Lock()

    def current(self) -> TaskContext:
        """The running task's context (the driver's own when no task runs)."""
        return current_task.get() or self._driver_task

    def current_task_id(self) -> bytes:
        """The id of the running task (the driver's task id in a driver)."""
        return self.current().task_id

    def in_task(self) -> bool:
        """Whether a pushed task runs on this thread or coroutine."""
        return current_task.get() is not None

    def next_put_id(self) -> bytes:
        """A fresh object id for a put made by the running task."""
        ctx = self.current()
        with self._put_lock:
            ctx.put_index += 1
            n = ctx.put_index
        return ObjectID.for_put(TaskID.from_binary(ctx.task_id), n).binary()
