"""The worker pool: start failures, idle stop, deaths, logs, KillWorker."""

from __future__ import annotations

import asyncio
import os
import signal

from polyray.protocol import common_pb2, raylet_pb2
from polyray.store import Store

from .fakes import running_raylet, task_spec, wait_for


async def test_worker_crashing_before_registering_fails_lease(tmp_path):
    async with running_raylet(tmp_path) as h:
        h.launcher.extra_env = {"FAKE_WORKER_MODE": "crash"}
        reply = await h.lease()
        # A process that ran and died is a crash: the caller charges the task
        # one attempt and asks again (policy "lease_failure").
        assert reply.failure.kind == common_pb2.WORKER_CRASHED
        assert reply.failure.reason == common_pb2.REASON_PROCESS_EXITED and reply.failure.exit_code == 3
        message = reply.failure.message
        assert "exited with code 3 before registering" in message, message
        assert "cannot import the user's module (on purpose)" in message, message
        stats = await h.stats()
        assert stats.resources_available["CPU"] == 2.0 and stats.pending_leases == 0
        # The node still works once the worker program is fixed.
        h.launcher.extra_env = {}
        assert (await h.lease()).lease_id


async def test_worker_never_registering_times_out(tmp_path):
    async with running_raylet(tmp_path, worker_start_timeout_s=1.0) as h:
        h.launcher.extra_env = {"FAKE_WORKER_MODE": "hang"}
        reply = await h.lease()
        message = reply.failure.message
        assert reply.failure.kind == common_pb2.WORKER_CRASHED, "a missed deadline is retried like a crash"
        assert "did not register within 1 s" in message, message
        assert "stuck before registering" in message, message
        await wait_for(lambda: not h.raylet.pool.workers, what="hung worker killed")
        assert (await h.stats()).resources_available["CPU"] == 2.0


async def test_worker_killed_before_registering_is_a_crash_with_the_signal(tmp_path):
    async with running_raylet(tmp_path, worker_start_timeout_s=30.0) as h:
        h.launcher.extra_env = {"FAKE_WORKER_MODE": "hang"}
        lease = asyncio.ensure_future(h.lease())
        await wait_for(lambda: any(w.pid for w in h.raylet.pool.workers.values()), what="a worker starting")
        starting = next(w for w in h.raylet.pool.workers.values() if w.pid)
        os.kill(starting.pid, signal.SIGKILL)
        reply = await asyncio.wait_for(lease, timeout=20)
        assert reply.failure.kind == common_pb2.WORKER_CRASHED
        assert reply.failure.exit_code == -signal.SIGKILL
        assert "killed by signal SIGKILL before registering" in reply.failure.message, reply.failure.message
        assert (await h.stats()).resources_available["CPU"] == 2.0


async def test_missing_launcher_is_explained(tmp_path):
    async with running_raylet(tmp_path) as h:
        reply = await h.lease(language=common_pb2.JAVA)
        assert reply.failure.kind == common_pb2.RUNTIME_ERROR
        assert "no worker launcher for JAVA workers" in reply.failure.message


async def test_idle_worker_stopped_after_timeout(tmp_path):
    async with running_raylet(tmp_path, idle_worker_timeout_s=0.5) as h:
        reply = await h.lease()
        pid = reply.worker_pid
        await h.give_back(reply)
        await wait_for(lambda: not h.raylet.pool.workers, timeout=10, what="idle worker stopped")
        await wait_for(lambda: not _alive(pid), what="idle worker process gone")
        # An idle stop is not a crash; the GCS records it for owners watching borrowers.
        await wait_for(lambda: h.gcs.deaths, what="stop recorded")
        assert [d.stopped_by_raylet for d in h.gcs.deaths] == [True]


async def test_prestarted_workers_survive_idle_timeout(tmp_path):
    async with running_raylet(tmp_path, idle_worker_timeout_s=0.3, prestart_workers=1) as h:
        a, b = await h.lease(), await h.lease()
        await h.give_back(a)
        await h.give_back(b)
        await wait_for(lambda: len(h.raylet.pool.workers) == 1, what="one idle worker kept")
        # The one kept is the most recently used.
        assert b.worker_address.worker_id in h.raylet.pool.workers


async def test_leased_worker_death_reported_and_pins_reclaimed(tmp_path):
    async with running_raylet(tmp_path) as h:
        oid = os.urandom(28)
        client = Store.open(h.config.store_name)
        try:
            client.put(oid, b"x" * 1000)
            h.launcher.extra_env = {"FAKE_WORKER_PIN": oid.hex()}
            reply = await h.lease()
            await wait_for(lambda: _pins(client, oid) == 1, what="worker pinned the object")
            os.kill(reply.worker_pid, signal.SIGKILL)
            await wait_for(lambda: h.gcs.deaths, what="death reported")
            (death,) = h.gcs.deaths
            assert death.worker_id == reply.worker_address.worker_id
            assert death.node_id == h.config.node_id and death.actor_id == b""
            assert death.cause.kind == common_pb2.WORKER_CRASHED
            assert "was killed by signal SIGKILL" in death.cause.message
            assert _pins(client, oid) == 0
            # The lease is gone with its worker; its CPU is back.
            stats = await h.stats()
            assert stats.resources_available["CPU"] == 2.0 and not stats.workers
        finally:
            client.close()


async def test_actor_worker_exit_reported_with_actor_id(tmp_path):
    async with running_raylet(tmp_path) as h:
        h.launcher.extra_env = {"FAKE_WORKER_MODE": "exit"}
        spec = task_spec(task_type=common_pb2.ACTOR_CREATION_TASK)
        reply = await h.lease(spec)
        if reply.lease_id:  # it may also exit before the grant
            await wait_for(lambda: h.gcs.deaths, what="death reported")
            (death,) = h.gcs.deaths
            assert death.actor_id == spec.actor_id
            assert "exited with code 7" in death.cause.message
        else:
            assert "exited with code 7" in reply.failure.message


async def test_kill_worker(tmp_path):
    async with running_raylet(tmp_path) as h:
        reply = await h.lease()
        killed = await h.stub.KillWorker(
            raylet_pb2.KillWorkerRequest(
                worker_id=reply.worker_address.worker_id, force=False, reason="cancelled by test"
            ),
            timeout=5,
        )
        assert killed.killed
        await wait_for(lambda: h.gcs.deaths, what="death reported")
        assert "SIGTERM" in h.gcs.deaths[0].cause.message
        assert "cancelled by test" in h.gcs.deaths[0].cause.message
        unknown = await h.stub.KillWorker(
            raylet_pb2.KillWorkerRequest(worker_id=os.urandom(28), force=True), timeout=5
        )
        assert not unknown.killed


async def test_logs_forwarded_with_pid_label_and_written_to_files(tmp_path):
    async with running_raylet(tmp_path) as h:
        h.launcher.extra_env = {"FAKE_WORKER_LINES": "3"}
        reply = await h.lease()
        pid = reply.worker_pid
        await wait_for(lambda: "out line 2" in h.gcs.log_lines(pid), what="stdout forwarded")
        await wait_for(lambda: "err line 2" in h.gcs.log_lines(pid, is_error=True), what="stderr")
        assert f"fake worker ready pid={pid}" in h.gcs.log_lines(pid, is_error=False)
        batch = next(b for b in h.gcs.logs if b.pid == pid)
        assert batch.worker_label == f"pid={pid}, node={h.config.host}"
        assert batch.job_id == bytes.fromhex("01000000") and batch.node_id == h.config.node_id
        logs = os.listdir(h.config.session_dir)
        out = [f for f in logs if f.endswith(f"-{pid}.out")]
        assert out, logs
        with open(os.path.join(h.config.session_dir, out[0])) as f:
            assert "out line 2" in f.read()


async def test_name_marker_labels_the_following_lines_and_is_not_forwarded(tmp_path):
    async with running_raylet(tmp_path) as h:
        h.launcher.extra_env = {"FAKE_WORKER_LINES": "3", "FAKE_WORKER_NAME": "speak"}
        pid = (await h.lease()).worker_pid
        await wait_for(lambda: "out line 2" in h.gcs.log_lines(pid), what="stdout forwarded")
        labelled = {b.worker_label for b in h.gcs.logs if b.pid == pid and "out line 0" in b.lines}
        assert labelled == {f"speak pid={pid}, node={h.config.host}"}
        assert not any(line.startswith(":polyray_name:") for b in h.gcs.logs for line in b.lines)


async def test_flush_logs_publishes_everything_already_written(tmp_path):
    # A long flush interval: without FlushLogs nothing would be published yet.
    async with running_raylet(tmp_path, log_flush_interval_s=30.0) as h:
        h.launcher.extra_env = {"FAKE_WORKER_LINES": "500"}
        pid = (await h.lease()).worker_pid
        # Read by the raylet (its log file has the last line), not published yet.
        def read_all() -> bool:
            names = [f for f in os.listdir(h.config.session_dir) if f.endswith(f"-{pid}.err")]
            return bool(names) and "err line 499" in open(os.path.join(h.config.session_dir, names[0])).read()
        await wait_for(read_all, what="the worker's lines read")
        assert "err line 499" not in h.gcs.log_lines(pid, is_error=True)
        reply = await h.stub.FlushLogs(raylet_pb2.FlushLogsRequest(timeout_ms=3000), timeout=10)
        assert reply.complete
        assert "out line 499" in h.gcs.log_lines(pid)
        assert "err line 499" in h.gcs.log_lines(pid, is_error=True)


def test_session_latest_points_at_the_newest_daemon_session_only(tmp_path, monkeypatch):
    from polyray.raylet import server

    monkeypatch.setattr(server, "SESSIONS_ROOT", str(tmp_path))
    for name in ("session_2026-01-01_00-00-00_1", "session_2026-01-01_00-00-01_2"):
        os.makedirs(tmp_path / name / "logs")
        server.link_latest_session(str(tmp_path / name / "logs"))
        assert os.path.realpath(tmp_path / "session_latest") == str(tmp_path / name)
    # An embedded head's temporary folder is not a session: the link stays.
    os.makedirs(tmp_path / "elsewhere" / "polyray-x" / "logs")
    server.link_latest_session(str(tmp_path / "elsewhere" / "polyray-x" / "logs"))
    assert os.path.basename(os.path.realpath(tmp_path / "session_latest")) == "session_2026-01-01_00-00-01_2"


async def test_register_with_wrong_token_rejected(tmp_path):
    import grpc
    import pytest

    async with running_raylet(tmp_path) as h:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.stub.RegisterWorker(
                raylet_pb2.RegisterWorkerRequest(
                    worker_id=os.urandom(28), pid=os.getpid(), port=1234, startup_token="nope"
                ),
                timeout=5,
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # A driver registers without a token and learns the node's store.
        reply = await h.stub.RegisterWorker(
            raylet_pb2.RegisterWorkerRequest(
                worker_id=os.urandom(28), pid=os.getpid(), port=1234,
                job_id=bytes.fromhex("01000000"), is_driver=True,
            ),
            timeout=5,
        )
        assert reply.store_name == h.config.store_name and reply.node_id == h.config.node_id
        assert f"{reply.gcs_address.host}:{reply.gcs_address.port}" == h.gcs.address


def _pins(store: Store, oid: bytes) -> int:
    return next((i.pins for i in store.list() if i.object_id == oid), -1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
