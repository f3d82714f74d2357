"""The warm pool (issue 19 Deliver 3): which idle workers the idle timeout spares,
the Java prestart on a key's first use, and the settings' parsers.

The pool's own logic with a manual clock: workers are WorkerProcess records put
into the idle pool by hand (no processes), Exit requests are recorded instead of
sent. The cluster test is tests/chaos/test_java_warm_idle.py.
"""

from __future__ import annotations

import os

import pytest

from polyray.node import head_flags_from_system_config
from polyray.protocol import common_pb2
from polyray.raylet import worker_pool as wp
from polyray.raylet.config import NodeConfig, parse_warm_workers
from polyray.raylet.launchers import LauncherRegistry
from polyray.raylet.worker_process import WorkerProcess, WorkerState

JOB_LIVE = b"\x01" * 4
JOB_GONE = b"\x02" * 4
JAVA, PY = common_pb2.JAVA, common_pb2.PYTHON


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _noop(*_: object) -> None:
    return None


def _pool(tmp_path, monkeypatch, **config: object) -> tuple[wp.WorkerPool, Clock, list[bytes]]:
    clock = Clock()
    monkeypatch.setattr(wp.time, "monotonic", clock)
    settings: dict[str, object] = dict(gcs_address="127.0.0.1:1", resources={"CPU": 2.0},
                                       session_dir=str(tmp_path), idle_worker_timeout_s=10.0)
    settings.update(config)
    pool = wp.WorkerPool(NodeConfig(**settings),  # type: ignore[arg-type]
                         LauncherRegistry({}), raylet_address=lambda: "127.0.0.1:1",
                         on_exit=_noop, on_driver_exit=_noop, log_sink=lambda *a: None)
    asked: list[bytes] = []

    async def ask_exit(worker: WorkerProcess, reason: str) -> None:
        asked.append(worker.worker_id)

    monkeypatch.setattr(pool, "_ask_exit", ask_exit)
    pool.register_driver(os.urandom(28), PY, os.getpid(), 1, JOB_LIVE)
    return pool, clock, asked


def _idle(pool: wp.WorkerPool, clock: Clock, language: int, job: bytes) -> WorkerProcess:
    w = WorkerProcess(worker_id=os.urandom(28), language=language, job_id=job, startup_token="t")
    pool.workers[w.worker_id] = w
    pool.push_idle(w)  # idle_since = the clock's now
    assert w.state is WorkerState.IDLE
    return w


async def _reap(pool: wp.WorkerPool) -> None:
    pool.reap_idle()
    for task in list(pool._tasks):
        await task


async def test_warm_pool_keeps_the_most_recent_per_language_of_live_jobs(tmp_path, monkeypatch):
    pool, clock, asked = _pool(tmp_path, monkeypatch, warm_workers={JAVA: 2, PY: 1})
    java = []
    for _ in range(3):
        java.append(_idle(pool, clock, JAVA, JOB_LIVE))
        clock.now += 1
    py_old, py_new = _idle(pool, clock, PY, JOB_LIVE), None
    clock.now += 1
    py_new = _idle(pool, clock, PY, JOB_LIVE)
    gone = _idle(pool, clock, JAVA, JOB_GONE)  # its job has no driver and no busy worker here
    clock.now += 5.0  # the oldest idle for 9 s, under the timeout: nothing is asked yet
    await _reap(pool)
    assert asked == []
    clock.now += 60.0  # far past the timeout
    await _reap(pool)
    # Kept: the two most recent Java and the most recent Python worker of the live job.
    assert set(asked) == {java[0].worker_id, py_old.worker_id, gone.worker_id}
    assert {w.worker_id for w in pool.idle_workers()} == {java[1].worker_id, java[2].worker_id, py_new.worker_id}
    # Still kept after many more idle periods.
    clock.now += 3600.0
    asked.clear()
    await _reap(pool)
    assert asked == []


async def test_no_warm_pool_reaps_every_worker_past_the_timeout(tmp_path, monkeypatch):
    pool, clock, asked = _pool(tmp_path, monkeypatch, warm_workers={})
    a, b = _idle(pool, clock, JAVA, JOB_LIVE), _idle(pool, clock, PY, JOB_LIVE)
    clock.now += 9.9
    await _reap(pool)
    assert asked == []
    clock.now += 0.2
    await _reap(pool)
    assert set(asked) == {a.worker_id, b.worker_id}


async def test_a_job_whose_driver_left_loses_its_warm_workers(tmp_path, monkeypatch):
    pool, clock, asked = _pool(tmp_path, monkeypatch)  # default: num_cpus (2) per language
    assert pool._config.warm_for(JAVA) == 2 and pool._config.warm_for(common_pb2.CPP) == 2
    w = _idle(pool, clock, JAVA, JOB_LIVE)
    clock.now += 60
    await _reap(pool)
    assert asked == []
    (driver,) = pool.drivers
    assert pool.disconnect(driver, intentional=True)
    await _reap(pool)
    assert asked == [w.worker_id]


async def test_a_busy_worker_keeps_its_job_live(tmp_path, monkeypatch):
    pool, clock, asked = _pool(tmp_path, monkeypatch, warm_workers={JAVA: 1})
    busy = WorkerProcess(worker_id=os.urandom(28), language=PY, job_id=JOB_GONE, startup_token="t")
    busy.state = WorkerState.LEASED
    pool.workers[busy.worker_id] = busy
    w = _idle(pool, clock, JAVA, JOB_GONE)
    clock.now += 60
    await _reap(pool)
    assert asked == []
    busy.state = WorkerState.IDLE  # no longer busy (not in the idle pool: only the liveness changes)
    await _reap(pool)
    assert asked == [w.worker_id]


async def test_java_prestart_on_first_use_of_a_key(tmp_path, monkeypatch):
    for warm, prestart, expected in (({JAVA: 1}, True, [2, 1]), ({JAVA: 0}, True, [1, 1]),
                                     ({JAVA: 1}, False, [1, 1])):
        pool, _, _ = _pool(tmp_path, monkeypatch, warm_workers=warm, prestart_java_on_first_use=prestart)
        started: list[int] = []
        monkeypatch.setattr(pool, "_new_worker", lambda lang, *a, _s=started: _s.append(lang))
        for want in expected:
            before = len(started)
            fut = wp.asyncio.ensure_future(pool.pop_worker(JAVA, JOB_LIVE, ("/cp",)))
            await wp.asyncio.sleep(0)
            assert len(started) - before == want, (warm, prestart, started)
            fut.cancel()
            # The next lease of the key finds no starting worker (the fake starts
            # none), so it starts one, but never a second prestart.
        # A Python key never prestarts this way.
        before = len(started)
        fut = wp.asyncio.ensure_future(pool.pop_worker(PY, JOB_LIVE, ()))
        await wp.asyncio.sleep(0)
        assert len(started) - before == 1
        fut.cancel()


def test_parse_warm_workers():
    assert parse_warm_workers("auto") is None and parse_warm_workers("") is None
    assert parse_warm_workers("3") == {PY: 3, JAVA: 3, common_pb2.CPP: 3}
    assert parse_warm_workers("java=2, python=1") == {JAVA: 2, PY: 1}
    assert parse_warm_workers("c++=1") == {common_pb2.CPP: 1}
    for bad in ("-1", "java=-1", "ruby=2", "java", "java=x"):
        with pytest.raises(ValueError):
            parse_warm_workers(bad)
    with pytest.raises(ValueError):
        NodeConfig(gcs_address="x:1", warm_workers={JAVA: -1})


def test_system_config_flags():
    assert head_flags_from_system_config({"idle_worker_killing_time_threshold_ms": 2500}) == [
        "--idle-worker-timeout-s", "2.5"]
    assert head_flags_from_system_config({"idle_worker_timeout_s": 30, "warm_workers": {"java": 2}}) == [
        "--idle-worker-timeout-s", "30.0", "--warm-workers", "java=2"]
    assert head_flags_from_system_config({"warm_workers": 0}) == ["--warm-workers", "0"]
    assert head_flags_from_system_config({"prestart_python_workers": 0, "prestart_standby": False}) == [
        "--prestart-python-workers", "0", "--no-prestart-standby"]
    for bad in ({"idle_worker_timeout_s": 0}, {"idle_worker_timeout_s": "5"}, {"warm_workers": {"ruby": 1}},
                {"warm_workers": 1.5}, {"no_such_key": 1}, {"prestart_python_workers": -1},
                {"prestart_python_workers": True}, {"prestart_standby": 1}):
        with pytest.raises(ValueError):
            head_flags_from_system_config(bad)


def test_java_worker_start_flags(tmp_path, monkeypatch):
    from polyray.raylet import launchers

    monkeypatch.delenv("POLYRAY_JAVA_WORKER_OPTS", raising=False)
    archive = tmp_path / "worker.jsa"
    monkeypatch.setattr(launchers, "java_cds_archive", lambda: str(archive))
    # No archive (a fresh clone before `make setup`, or it failed): started without it.
    assert launchers.java_worker_start_flags() == ["-XX:+UseSerialGC", "-Xshare:auto"]
    archive.write_bytes(b"garbage: the JVM ignores an archive it cannot map (-Xshare:auto)")
    flags = launchers.java_worker_start_flags()
    assert f"-XX:SharedArchiveFile={archive}" in flags and "-Xshare:auto" in flags
    monkeypatch.setenv("POLYRAY_JAVA_WORKER_OPTS", " -XX:TieredStopAtLevel=1  -Xshare:off ")
    assert launchers.java_worker_start_flags() == ["-XX:TieredStopAtLevel=1", "-Xshare:off"]
