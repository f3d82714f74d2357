"""A Java or C++ driver's registration prestarts workers of its own language (issue 19).

The RayletServicer on its own, with a recording pool and a fake job lookup:
which registrations prestart, with which pool key, and which do not.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from polyray.protocol import common_pb2, raylet_pb2
from polyray.raylet.config import NodeConfig
from polyray.raylet.resources import NodeResources, ResourceSet
from polyray.raylet.service import RayletServicer
from polyray.store import StoreStats

JOB = b"j" * 4


class _Pool:
    """Records driver registrations and prestarts."""

    def __init__(self) -> None:
        self.workers: dict[bytes, Any] = {}
        self.prestarts: list[tuple[Any, ...]] = []

    def register_driver(self, *args: Any) -> None:
        pass

    def prestart_for_driver(self, *args: Any) -> None:
        self.prestarts.append(args)


def _servicer(tmp_path: Any, by_language: dict[int, int], lookup: Any) -> tuple[RayletServicer, _Pool]:
    config = NodeConfig(gcs_address="10.0.0.7:6379", resources={"CPU": 2.0}, session_dir=str(tmp_path),
                        prestart_on_driver_by_language=by_language)
    pool = _Pool()
    leases = SimpleNamespace(resources=NodeResources(ResourceSet({"CPU": 2.0})), pending_count=0)
    objects = SimpleNamespace(stats=lambda: StoreStats(1024, 100, 1, 1, 0, 0, 0))
    servicer = RayletServicer(config=config, leases=cast(Any, leases), pool=cast(Any, pool),
                              objects=cast(Any, objects), request_stop=lambda _: None,
                              job_code_search_path=lookup)
    return servicer, pool


async def _register(servicer: RayletServicer, language: int) -> None:
    request = raylet_pb2.RegisterWorkerRequest(worker_id=b"w" * 28, language=language, pid=42, port=5,
                                               job_id=JOB, is_driver=True)
    await servicer.RegisterWorker(request, cast(Any, None))  # prestarts before it answers


async def test_java_driver_prestarts_java_workers_with_its_jobs_code_search_path(tmp_path):
    asked: list[bytes] = []

    async def lookup(job_id: bytes) -> tuple[str, ...] | None:
        asked.append(job_id)
        return ("/app/classes", "/app/lib.jar")

    servicer, pool = _servicer(tmp_path, {common_pb2.JAVA: 1, common_pb2.CPP: 2}, lookup)
    await _register(servicer, common_pb2.JAVA)
    assert asked == [JOB]
    assert pool.prestarts == [(common_pb2.JAVA, JOB, ("/app/classes", "/app/lib.jar"), 1)]
    await _register(servicer, common_pb2.CPP)
    assert pool.prestarts[1] == (common_pb2.CPP, JOB, ("/app/classes", "/app/lib.jar"), 2)


async def test_no_prestart_for_a_language_set_to_zero_or_missing(tmp_path):
    asked: list[bytes] = []

    async def lookup(job_id: bytes) -> tuple[str, ...] | None:
        asked.append(job_id)
        return ()

    servicer, pool = _servicer(tmp_path, {common_pb2.JAVA: 0}, lookup)
    await _register(servicer, common_pb2.JAVA)
    await _register(servicer, common_pb2.CPP)
    assert asked == [] and pool.prestarts == []


async def test_unknown_job_or_unreachable_gcs_prestarts_nothing(tmp_path):
    async def unknown(job_id: bytes) -> tuple[str, ...] | None:
        return None

    servicer, pool = _servicer(tmp_path, {common_pb2.JAVA: 1}, unknown)
    await _register(servicer, common_pb2.JAVA)
    assert pool.prestarts == []

    async def unreachable(job_id: bytes) -> tuple[str, ...] | None:
        raise OSError("connection refused")

    servicer, pool = _servicer(tmp_path, {common_pb2.JAVA: 1}, unreachable)
    await _register(servicer, common_pb2.JAVA)  # logged, not raised
    assert pool.prestarts == []


def test_negative_count_is_refused(tmp_path):
    with pytest.raises(ValueError, match="prestart_on_driver_by_language must not be negative"):
        NodeConfig(gcs_address="10.0.0.7:6379", resources={"CPU": 2.0}, session_dir=str(tmp_path),
                   prestart_on_driver_by_language={common_pb2.JAVA: -1})


def test_node_flags(monkeypatch):
    from polyray.node import parse_args

    monkeypatch.delenv("POLYRAY_PRESTART_JAVA_WORKERS", raising=False)
    monkeypatch.delenv("POLYRAY_PRESTART_CPP_WORKERS", raising=False)
    args = parse_args(["--head", "--prestart-java-workers", "2", "--prestart-cpp-workers", "1"])
    assert (args.prestart_java_workers, args.prestart_cpp_workers) == (2, 1)
    default = parse_args(["--head"])
    assert (default.prestart_java_workers, default.prestart_cpp_workers) == (1, 0)


async def test_a_driver_prestart_spares_the_first_lease_a_second_jvm(tmp_path):
    """The real pool: after prestart_for_driver, the job's first Java lease finds
    the prestarted worker starting and starts none (neither for itself nor as the
    first-use prestart); a lease of another code search path still starts its own."""
    import os

    from polyray.raylet import worker_pool as wp
    from polyray.raylet.launchers import LauncherRegistry
    from polyray.raylet.worker_process import WorkerProcess

    async def _noop(*_: object) -> None:
        return None

    pool = wp.WorkerPool(NodeConfig(gcs_address="127.0.0.1:1", resources={"CPU": 2.0}, session_dir=str(tmp_path)),
                         LauncherRegistry({}), raylet_address=lambda: "127.0.0.1:1",
                         on_exit=_noop, on_driver_exit=_noop, log_sink=lambda *a: None)
    started: list[tuple[int, tuple[str, ...]]] = []

    def new_worker(language: int, job_id: bytes, csp: tuple[str, ...], *rest: Any) -> WorkerProcess:
        w = WorkerProcess(worker_id=os.urandom(28), language=language, job_id=job_id, startup_token="t",
                          code_search_path=csp)
        pool.workers[w.worker_id] = w  # starting: registered is not done
        started.append((language, csp))
        return w

    pool._new_worker = new_worker  # type: ignore[method-assign]
    pool.prestart_for_driver(common_pb2.JAVA, JOB, ("/app",), 1)
    assert started == [(common_pb2.JAVA, ("/app",))]
    fut = asyncio.ensure_future(pool.pop_worker(common_pb2.JAVA, JOB, ("/app",)))
    await asyncio.sleep(0)
    assert len(started) == 1, started
    other = asyncio.ensure_future(pool.pop_worker(common_pb2.JAVA, JOB, ("/other",)))
    await asyncio.sleep(0)
    assert started[1:2] == [(common_pb2.JAVA, ("/other",))]  # its own, plus its first-use prestart
    for f in (fut, other):
        f.cancel()
