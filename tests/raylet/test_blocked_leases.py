"""The lease manager's and worker pool's decisions for tasks that block in get()
(issue 14 Deliver 5), with a real LeaseManager and WorkerPool whose workers are
not processes: the test registers them (or fails their start) itself.

Checked: the CPU a blocked task lends goes to its own children first (the
most recently blocked caller's oldest request), ahead of older requests of
other callers; a lease waiting for a worker takes a worker that is returned
meanwhile instead of waiting for the one started for it; no more workers
start than leases wait; a failed start fails the oldest waiting lease only.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from polyray.protocol import common_pb2, raylet_pb2
from polyray.raylet.config import NodeConfig
from polyray.raylet.launchers import LauncherRegistry
from polyray.raylet.lease_manager import LeaseManager
from polyray.raylet.resources import NodeResources, ResourceSet
from polyray.raylet.worker_pool import WorkerPool
from polyray.raylet.worker_process import WorkerProcess, WorkerStartError

from .fakes import task_spec

JOB = b"\x01\x00\x00\x00"


class Harness:
    """A LeaseManager over a WorkerPool whose starts are recorded, not run."""

    def __init__(self, tmp_path: object, cpus: float = 2.0) -> None:
        config = NodeConfig(gcs_address="127.0.0.1:1", resources={"CPU": cpus},
                            session_dir=os.path.join(str(tmp_path), "logs"))

        async def on_exit(worker: WorkerProcess, code: int) -> None:
            return None

        async def on_driver_exit(record: object) -> None:
            return None

        self.pool = WorkerPool(config, LauncherRegistry(), raylet_address=lambda: "127.0.0.1:2",
                               on_exit=on_exit, on_driver_exit=on_driver_exit,
                               log_sink=lambda w, e, line: None)
        self.started: list[WorkerProcess] = []
        pool = self.pool

        def new_worker(language: int, job_id: bytes, code_search_path: tuple[str, ...],
                       runtime_env: str = "", gpu_ids: tuple[str, ...] = ()) -> WorkerProcess:
            worker = WorkerProcess(worker_id=os.urandom(28), language=language, job_id=job_id,
                                   startup_token=secrets.token_hex(8), code_search_path=code_search_path,
                                   runtime_env=runtime_env, gpu_ids=gpu_ids)
            worker.registered.add_done_callback(lambda f: pool._start_failed(worker))
            pool.workers[worker.worker_id] = worker
            self.started.append(worker)
            return worker

        pool._new_worker = new_worker  # type: ignore[method-assign]
        self.leases = LeaseManager(b"N" * 28, "127.0.0.1", NodeResources(ResourceSet({"CPU": cpus})), pool)
        self._port = 20000

    def come_up(self, worker: WorkerProcess) -> None:
        self._port += 1
        self.pool.register(worker.worker_id, worker.startup_token, worker.language, 0, self._port)

    def come_up_all(self) -> None:
        for w in self.started:
            if not w.registered.done():
                self.come_up(w)

    def request(self, caller: bytes) -> asyncio.Task[raylet_pb2.RequestWorkerLeaseReply]:
        spec = task_spec(language=common_pb2.PYTHON, job_id=JOB)
        spec.caller.worker_id = caller
        spec.caller.host = "127.0.0.1"
        spec.caller.port = 1
        return asyncio.ensure_future(self.leases.request(spec, grant_or_reject=True))


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def granted(t: asyncio.Task) -> bool:
    return t.done() and bool(t.result().lease_id)


async def test_a_blocked_tasks_lent_cpu_runs_its_own_children_first(tmp_path):
    h = Harness(tmp_path, cpus=1.0)
    root = h.request(b"driver".ljust(28, b"\0"))
    await settle()
    h.come_up_all()
    await settle()
    assert granted(root)
    root_worker = root.result().worker_address.worker_id
    # Older requests of another caller, then the blocked root's two children.
    others = [h.request(b"other".ljust(28, b"\0")) for _ in range(2)]
    await settle()
    children = [h.request(root_worker) for _ in range(2)]
    await settle()
    assert not any(t.done() for t in others + children)
    assert h.leases.set_blocked(root_worker, True)  # the root waits in get(): its CPU is lent
    await settle()
    h.come_up_all()
    await settle()
    assert granted(children[0]), "the lent CPU did not go to the blocked task's own child"
    assert not any(t.done() for t in others + children[1:])
    # The child blocks too: its children would go first; it has none, so its
    # parent's other child is next, then the other caller's requests in order.
    child_worker = children[0].result().worker_address.worker_id
    assert h.leases.set_blocked(child_worker, True)
    await settle()
    h.come_up_all()
    await settle()
    assert granted(children[1])
    assert not any(t.done() for t in others)
    for t in others:
        t.cancel()
    await settle()


async def test_the_most_recently_blocked_caller_goes_first(tmp_path):
    h = Harness(tmp_path, cpus=2.0)
    a, b = h.request(b"d".ljust(28, b"\0")), h.request(b"d".ljust(28, b"\0"))
    await settle()
    h.come_up_all()
    await settle()
    wa, wb = (t.result().worker_address.worker_id for t in (a, b))
    of_a = h.request(wa)
    await settle()
    of_b = h.request(wb)
    await settle()
    h.leases.set_blocked(wa, True)
    h.leases.set_blocked(wb, True)  # later: b's child first, though a's asked first
    await settle()
    h.come_up_all()
    await settle()
    assert granted(of_b) and granted(of_a)  # both CPUs lent: both run
    assert h.leases._blocked[wb] > h.leases._blocked[wa]
    # One CPU only: b's child is the one granted.
    h2 = Harness(tmp_path, cpus=1.0)
    x = h2.request(b"d".ljust(28, b"\0"))
    await settle()
    h2.come_up_all()
    await settle()
    wx = x.result().worker_address.worker_id
    first, second = h2.request(b"y".ljust(28, b"\0")), h2.request(wx)
    await settle()
    h2.leases.set_blocked(wx, True)
    await settle()
    h2.come_up_all()
    await settle()
    assert granted(second) and not first.done()
    first.cancel()
    await settle()


async def test_a_returned_worker_serves_a_waiting_lease_and_no_surplus_worker_starts(tmp_path):
    h = Harness(tmp_path, cpus=3.0)
    one = h.request(b"d".ljust(28, b"\0"))
    await settle()
    assert len(h.started) == 1
    h.come_up_all()
    await settle()
    assert granted(one)
    two, three = h.request(b"d".ljust(28, b"\0")), h.request(b"d".ljust(28, b"\0"))
    await settle()
    assert len(h.started) == 3, "one worker starts per waiting lease, no more"
    assert h.pool.starting_count((common_pb2.PYTHON, JOB, ("/nonexistent/code",), "", ())) == 2
    # The first lease comes back before either new worker is up: a waiting lease takes it now.
    reply = one.result()
    assert h.leases.return_worker(reply.lease_id, reply.worker_address.worker_id, disconnect=False)
    await settle()
    assert granted(two) and two.result().worker_address.worker_id == reply.worker_address.worker_id
    assert not three.done()
    assert len(h.started) == 3
    # The first new worker up serves the last waiting lease; the other goes idle unused.
    h.come_up(h.started[2])
    await settle()
    assert granted(three) and three.result().worker_address.worker_id == h.started[2].worker_id
    h.come_up(h.started[1])
    await settle()
    assert h.started[1] in h.pool.idle_workers()
    assert len(h.started) == 3


async def test_a_failed_start_fails_the_oldest_waiting_lease_only(tmp_path):
    h = Harness(tmp_path, cpus=2.0)
    a, b = h.request(b"d".ljust(28, b"\0")), h.request(b"d".ljust(28, b"\0"))
    await settle()
    assert len(h.started) == 2
    h.started[1].registered.set_exception(WorkerStartError("it exited with code 3 before registering",
                                                           crashed=True, exit_code=3))
    await settle()
    assert a.done() and a.result().HasField("failure")
    assert a.result().failure.kind == common_pb2.WORKER_CRASHED
    assert not b.done()
    h.come_up(h.started[0])
    await settle()
    assert granted(b)
    assert len(h.started) == 2
