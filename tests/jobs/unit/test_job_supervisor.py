"""The job record's states and the supervisor's start/stop logic, with a fake
process launcher and tests/core/unit/fakes.py's ManualLoop (no real time passes).
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import pytest
from fakes import ManualLoop

from polyray.jobs.record import InvalidTransition, JobRecord, JobStatus, check_submission_id, new_submission_id
from polyray.jobs.supervisor import JobSupervisor


class FakeProcess:
    """An entrypoint that exits when told, or on SIGTERM unless it ignores it; always on SIGKILL."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pid: int, ignore_term: bool) -> None:
        self.pid = pid
        self.ignore_term = ignore_term
        self.signals: list[tuple[float, int]] = []
        self._exit: asyncio.Future[int] = loop.create_future()
        self._loop = loop

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    def exit(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)

    def signal_group(self, sig: int) -> None:
        self.signals.append((self._loop.time(), sig))
        if sig == signal.SIGKILL or (sig == signal.SIGTERM and not self.ignore_term):
            self.exit(-sig)


class FakeLauncher:
    def __init__(self, loop: asyncio.AbstractEventLoop, ignore_term: bool = False, error: OSError | None = None):
        self.loop = loop
        self.ignore_term = ignore_term
        self.error = error
        self.started: list[FakeProcess] = []
        self.calls: list[tuple[str, dict, str | None]] = []

    async def __call__(self, command: str, env: Any, cwd: str | None, log_path: str) -> FakeProcess:
        self.calls.append((command, dict(env), cwd))
        if self.error is not None:
            raise self.error
        proc = FakeProcess(self.loop, 1000 + len(self.started), self.ignore_term)
        self.started.append(proc)
        return proc


@pytest.fixture
def loop():
    lp = ManualLoop()
    yield lp
    lp.shut()


def make(loop: ManualLoop, tmp_path, launcher: FakeLauncher, **kw: Any) -> tuple[JobSupervisor, list[str]]:
    log_path = tmp_path / "job.log"
    log_path.write_text("line 1\nthe reason it failed\n")
    rec = JobRecord(submission_id="j1", entrypoint="run it", log_path=str(log_path))
    seen: list[str] = []

    async def on_change(r: JobRecord) -> None:
        seen.append(r.status.value)

    sup = JobSupervisor(rec, env={"A": "1"}, on_change=on_change, launcher=launcher, **kw)
    return sup, seen


# ------------------------------------------------------------------ the record

def test_transitions_allow_only_the_documented_moves():
    rec = JobRecord(submission_id="a", entrypoint="x")
    with pytest.raises(InvalidTransition):
        rec.move(JobStatus.SUCCEEDED, "cannot succeed before running")
    rec.move(JobStatus.RUNNING, "running", now=10.0)
    assert rec.start_time == 10.0 and rec.end_time == 0.0
    rec.move(JobStatus.FAILED, "boom", now=12.5, error_type="E")
    assert (rec.end_time, rec.error_type) == (12.5, "E")
    for status in JobStatus:
        with pytest.raises(InvalidTransition):
            rec.move(status, "a terminal state never changes")
    pending = JobRecord(submission_id="b", entrypoint="x")
    pending.move(JobStatus.STOPPED, "stopped before it started")
    assert pending.status.is_terminal() and pending.start_time == 0.0


def test_record_round_trips_and_has_rays_shape():
    rec = JobRecord(submission_id="a", entrypoint="python x.py", metadata={"k": "v"}, submit_time=5.0)
    rec.move(JobStatus.RUNNING, "r", now=6.0)
    rec.driver_job_id, rec.exit_code = "01000000", None
    back = JobRecord.from_json(rec.to_json())
    assert back == rec
    d = json.loads(json.dumps(rec.details()))
    assert d["type"] == "SUBMISSION" and d["submission_id"] == "a" and d["job_id"] == "01000000"
    assert d["status"] == "RUNNING" and d["start_time"] == 6000 and d["end_time"] is None
    assert d["driver_info"]["id"] == "01000000"
    # A record written by a newer manager with a field this one does not know still loads.
    extra = json.loads(rec.to_json())
    extra["some_future_field"] = 1
    assert JobRecord.from_json(json.dumps(extra).encode()).submission_id == "a"


def test_submission_ids():
    assert new_submission_id().startswith("polyjob_") and new_submission_id() != new_submission_id()
    assert check_submission_id("my-job_1.2") == "my-job_1.2"
    for bad in ("", "a/b", "..", "x" * 129, "a b"):
        with pytest.raises(ValueError, match="submission_id"):
            check_submission_id(bad)


# ------------------------------------------------------------------ run to the end

def test_exit_zero_succeeds_and_nonzero_fails_with_the_code_and_log_tail(loop, tmp_path):
    launcher = FakeLauncher(loop)
    sup, seen = make(loop, tmp_path, launcher)
    task = loop.create_task(sup.run())
    loop.settle()
    assert sup.record.status is JobStatus.RUNNING and sup.record.pid == 1000
    assert launcher.calls == [("run it", {"A": "1"}, None)]
    launcher.started[0].exit(0)
    loop.settle()
    assert task.done() and sup.record.status is JobStatus.SUCCEEDED and sup.record.exit_code == 0
    assert seen == ["RUNNING", "SUCCEEDED"]

    launcher2 = FakeLauncher(loop)
    sup2, _ = make(loop, tmp_path, launcher2)
    loop.create_task(sup2.run())
    loop.settle()
    launcher2.started[0].exit(3)
    loop.settle()
    rec = sup2.record
    assert rec.status is JobStatus.FAILED and rec.exit_code == 3 and rec.error_type == "JOB_ENTRYPOINT_FAILED"
    assert "exit code 3" in rec.message and "the reason it failed" in rec.message


def test_a_launcher_that_cannot_start_fails_the_job(loop, tmp_path):
    sup, seen = make(loop, tmp_path, FakeLauncher(loop, error=FileNotFoundError(2, "No such file", "/bin/sh")))
    loop.run_coro(sup.run())
    assert sup.record.status is JobStatus.FAILED and "could not be started" in sup.record.message
    assert seen == ["FAILED"]


def test_runtime_env_setup_failure_and_timeout_fail_with_the_reason(loop, tmp_path):
    async def bad_setup(rec: JobRecord) -> str | None:
        raise RuntimeError("working_dir '/nope' is not a folder on the head")

    launcher = FakeLauncher(loop)
    sup, _ = make(loop, tmp_path, launcher, setup=bad_setup)
    loop.run_coro(sup.run())
    assert sup.record.status is JobStatus.FAILED and sup.record.error_type == "RUNTIME_ENV_SETUP_FAILED"
    assert "/nope" in sup.record.message and "the reason it failed" in sup.record.message
    assert launcher.calls == []
    # The job's log says it too (`polyray job logs`, the CLI's stream), after what was there.
    log = open(sup.record.log_path).read()
    assert log.startswith("line 1\nthe reason it failed\n[polyray job] runtime env setup failed: working_dir '/nope'")

    async def slow_setup(rec: JobRecord) -> str | None:
        await asyncio.sleep(10_000)
        return None

    sup2, _ = make(loop, tmp_path, launcher, setup=slow_setup, setup_timeout_s=30.0)
    task = loop.create_task(sup2.run())
    loop.advance(s=29.9)
    assert sup2.record.status is JobStatus.PENDING
    loop.advance(s=0.2)
    assert task.done() and sup2.record.status is JobStatus.FAILED
    assert "did not start within 30 s" in sup2.record.message and launcher.calls == []
    assert "[polyray job] Job did not start within 30 s" in open(sup2.record.log_path).read()


# ------------------------------------------------------------------ stop

def test_stop_while_pending_never_starts_the_entrypoint(loop, tmp_path):
    admitted = asyncio.Event()
    launcher = FakeLauncher(loop)
    sup, seen = make(loop, tmp_path, launcher, wait_ready=admitted.wait)
    task = loop.create_task(sup.run())
    loop.advance(s=5)
    assert sup.record.status is JobStatus.PENDING
    assert loop.call(sup.stop) is True
    loop.settle()
    assert task.done() and sup.record.status is JobStatus.STOPPED and "never ran" in sup.record.message
    loop.call(admitted.set)
    assert launcher.calls == [] and seen == ["STOPPED"]
    assert loop.call(sup.stop) is False  # a terminal job: nothing to stop


def test_stop_while_running_sends_sigterm_only_when_it_exits(loop, tmp_path):
    launcher = FakeLauncher(loop)
    sup, _ = make(loop, tmp_path, launcher, stop_grace_s=3.0)
    loop.create_task(sup.run())
    loop.settle()
    proc = launcher.started[0]
    loop.advance(s=1)
    assert loop.call(sup.stop) is True
    loop.advance(s=10)
    assert [s for _, s in proc.signals] == [signal.SIGTERM, signal.SIGKILL]  # the KILL is for the group's rest
    assert sup.record.status is JobStatus.STOPPED and sup.record.exit_code == -signal.SIGTERM
    assert "SIGTERM" in sup.record.message and "grace" not in sup.record.message


def test_stop_of_an_entrypoint_ignoring_sigterm_kills_it_after_the_grace(loop, tmp_path):
    launcher = FakeLauncher(loop, ignore_term=True)
    sup, _ = make(loop, tmp_path, launcher, stop_grace_s=3.0)
    loop.create_task(sup.run())
    loop.settle()
    proc = launcher.started[0]
    loop.call(sup.stop, 2.0)  # the grace is settable per stop
    t0 = loop.time()
    loop.advance(s=1.999)
    assert [s for _, s in proc.signals] == [signal.SIGTERM] and sup.record.status is JobStatus.RUNNING
    loop.advance(ms=2)
    sigs = [(round(t - t0, 3), s) for t, s in proc.signals]
    assert sigs[:2] == [(0.0, signal.SIGTERM), (2.0, signal.SIGKILL)]
    assert sup.record.status is JobStatus.STOPPED and sup.record.exit_code == -signal.SIGKILL
    assert "SIGKILL after the 2 s grace period" in sup.record.message


def test_stop_while_the_launcher_runs_terminates_once_started(loop, tmp_path):
    gate = asyncio.Event()
    inner = FakeLauncher(loop)

    async def slow_launcher(command: str, env: Any, cwd: str | None, log_path: str) -> FakeProcess:
        await gate.wait()
        return await inner(command, env, cwd, log_path)

    sup, seen = make(loop, tmp_path, slow_launcher)  # type: ignore[arg-type]
    loop.create_task(sup.run())
    loop.settle()
    assert loop.call(sup.stop) is True
    loop.call(gate.set)
    loop.settle()
    assert [s for _, s in inner.started[0].signals][0] == signal.SIGTERM
    assert sup.record.status is JobStatus.STOPPED and seen == ["RUNNING", "STOPPED"]
