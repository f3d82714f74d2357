"""The job manager with a fake GCS (records, nodes, driver jobs) and a fake
launcher on tests/core/unit/fakes.py's ManualLoop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import ManualLoop
from test_job_supervisor import FakeLauncher

from polyray import runtime_env as rte
from polyray.jobs.manager import JobExists, JobManager, NotTerminal
from polyray.jobs.record import JobRecord, JobStatus
from polyray.protocol import common_pb2, gcs_pb2


class FakeCluster:
    """The GCS as the manager sees it: KV records, the node table, the job table."""

    def __init__(self, cpus: float = 2.0) -> None:
        self.records: dict[str, bytes] = {}
        self.node = gcs_pb2.NodeInfo(node_id=b"h" * 28, alive=True, start_time=1.0,
                                     raylet_address=common_pb2.Address(host="127.0.0.1", port=1),
                                     resources_total={"CPU": cpus})
        self.drivers: list[gcs_pb2.JobInfo] = []
        self.packages: dict[str, bytes] = {}

    async def put(self, record: JobRecord) -> None:
        self.records[record.submission_id] = record.to_json()

    async def add(self, record: JobRecord) -> bool:
        if record.submission_id in self.records:
            return False
        await self.put(record)
        return True

    async def get(self, submission_id: str) -> JobRecord | None:
        data = self.records.get(submission_id)
        return JobRecord.from_json(data) if data else None

    async def all(self) -> list[JobRecord]:
        return [JobRecord.from_json(v) for v in self.records.values()]

    async def delete(self, submission_id: str) -> bool:
        return self.records.pop(submission_id, None) is not None

    async def driver_jobs(self) -> list[gcs_pb2.JobInfo]:
        return list(self.drivers)

    async def nodes(self) -> list[gcs_pb2.NodeInfo]:
        return [self.node]

    async def package(self, uri: str) -> bytes | None:
        return self.packages.get(uri)

    def stored(self, sid: str) -> dict[str, Any]:
        return json.loads(self.records[sid])


@pytest.fixture
def loop():
    lp = ManualLoop()
    yield lp
    lp.shut()


def manager(loop: ManualLoop, tmp_path, cluster: FakeCluster, launcher: FakeLauncher) -> JobManager:
    m = JobManager("127.0.0.1:6380", str(tmp_path / "logs"), cluster, launcher=launcher,
                   base_env={"PATH": "/bin"}, stop_grace_s=3.0)
    loop.run_coro(m.start())
    return m


def test_submit_sets_the_environment_and_refuses_a_duplicate(loop, tmp_path):
    cluster, launcher = FakeCluster(), FakeLauncher(loop)
    m = manager(loop, tmp_path, cluster, launcher)
    sid = loop.run_coro(m.submit("python run.py", runtime_env={"env_vars": {"X": "1"}}, metadata={"owner": "me"}))
    loop.settle()
    assert sid.startswith("polyjob_")
    command, env, cwd = launcher.calls[0]
    assert command == "python run.py" and cwd is None
    assert env["POLYRAY_ADDRESS"] == "127.0.0.1:6380" and env["POLYRAY_JOB_SUBMISSION_ID"] == sid
    assert json.loads(env["POLYRAY_RUNTIME_ENV_JSON"]) == {"env_vars": {"X": "1"}} and env["X"] == "1"
    assert cluster.stored(sid)["status"] == "RUNNING" and cluster.stored(sid)["metadata"] == {"owner": "me"}
    assert (tmp_path / "logs" / f"job-driver-{sid}.log").exists()
    with pytest.raises(JobExists):
        loop.run_coro(m.submit("echo again", submission_id=sid))
    loop.run_coro(m.submit("echo", submission_id="mine"))
    with pytest.raises(JobExists):
        loop.run_coro(m.submit("echo", submission_id="mine"))


@pytest.mark.parametrize("kwargs,field", [
    ({"entrypoint": ""}, "entrypoint"),
    ({"submission_id": "a/b"}, "submission_id"),
    ({"runtime_env": []}, "runtime_env"),
    ({"runtime_env": {"env_vars": {"A": 1}}}, "env_vars"),
    ({"runtime_env": {"working_dir": "relative/dir"}}, "working_dir"),
    ({"metadata": {"k": 2}}, "metadata"),
    ({"entrypoint_num_cpus": -1}, "entrypoint_num_cpus"),
    ({"entrypoint_num_gpus": "1"}, "entrypoint_num_gpus"),
    ({"entrypoint_memory": 1.5}, "entrypoint_memory"),
    ({"entrypoint_resources": {"TPU": -2}}, "entrypoint_resources.TPU"),
])
def test_a_bad_field_is_named(loop, tmp_path, kwargs, field):
    m = manager(loop, tmp_path, FakeCluster(), FakeLauncher(loop))
    args = {"entrypoint": "echo", **kwargs}
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        loop.run_coro(m.submit(**args))


def test_entrypoint_resources_hold_a_job_pending_until_they_are_free(loop, tmp_path):
    cluster, launcher = FakeCluster(cpus=2), FakeLauncher(loop)
    m = manager(loop, tmp_path, cluster, launcher)
    first = loop.run_coro(m.submit("a", entrypoint_num_cpus=2))
    second = loop.run_coro(m.submit("b", entrypoint_num_cpus=1))
    never = loop.run_coro(m.submit("c", entrypoint_resources={"TPU": 1}))
    loop.advance(s=5)
    assert [c[0] for c in launcher.calls] == ["a"]
    rec = loop.run_coro(m.get(second))
    assert rec.status is JobStatus.PENDING and "waiting for entrypoint resources" in rec.message
    launcher.started[0].exit(0)
    loop.advance(s=0.1)
    assert [c[0] for c in launcher.calls] == ["a", "b"]
    assert loop.run_coro(m.get(first)).status is JobStatus.SUCCEEDED
    # Stop while PENDING: it never starts, even once the resource appears.
    assert loop.call(m.stop, never) is True
    loop.settle()
    cluster.node.resources_total["TPU"] = 1
    loop.advance(s=5)
    assert loop.run_coro(m.get(never)).status is JobStatus.STOPPED
    assert [c[0] for c in launcher.calls] == ["a", "b"]


def test_delete_only_in_a_terminal_state(loop, tmp_path):
    cluster, launcher = FakeCluster(), FakeLauncher(loop)
    m = manager(loop, tmp_path, cluster, launcher)
    sid = loop.run_coro(m.submit("a"))
    loop.settle()
    with pytest.raises(NotTerminal, match="RUNNING"):
        loop.run_coro(m.delete(sid))
    launcher.started[0].exit(1)
    loop.settle()
    assert loop.run_coro(m.delete(sid)) is True
    assert sid not in cluster.records and not (tmp_path / "logs" / f"job-driver-{sid}.log").exists()
    assert loop.run_coro(m.get(sid)) is None and loop.run_coro(m.delete(sid)) is False


def test_the_driver_is_linked_by_its_pid(loop, tmp_path):
    cluster, launcher = FakeCluster(), FakeLauncher(loop)
    m = manager(loop, tmp_path, cluster, launcher)
    sid = loop.run_coro(m.submit("python drv.py"))
    loop.settle()
    pid = launcher.started[0].pid
    cluster.drivers.append(gcs_pb2.JobInfo(job_id=bytes.fromhex("05000000"), driver_pid=pid,
                                           driver_language=common_pb2.JAVA))
    loop.advance(s=1)
    rec = loop.run_coro(m.get(sid))
    assert (rec.driver_job_id, rec.driver_language) == ("05000000", "JAVA")
    assert loop.run_coro(m.find("05000000")).submission_id == sid  # Ray's routes take either id


def test_a_restarted_manager_fails_what_was_left_running_and_keeps_the_rest(loop, tmp_path):
    cluster, launcher = FakeCluster(), FakeLauncher(loop)
    m = manager(loop, tmp_path, cluster, launcher)
    done = loop.run_coro(m.submit("a", submission_id="done"))
    loop.run_coro(m.submit("b", submission_id="left"))
    loop.settle()
    launcher.started[0].exit(0)
    loop.settle()
    # A new manager over the same GCS (the first one's process died; pid 0: no group to kill).
    cluster.records["left"] = cluster.records["left"].replace(b'"pid": 1001', b'"pid": 0')
    m2 = manager(loop, tmp_path, cluster, FakeLauncher(loop))
    recs = {r.submission_id: r for r in loop.run_coro(m2.list())}
    assert recs[done].status is JobStatus.SUCCEEDED
    assert recs["left"].status is JobStatus.FAILED and "restarted while the job was RUNNING" in recs["left"].message


def test_the_runtime_env_is_prepared_on_the_head_or_fails_the_job(loop, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.py").write_text("print('hi')\n")
    data = rte.zip_package(str(code))
    uri = rte.package_uri(data)
    cluster, launcher = FakeCluster(), FakeLauncher(loop)
    cluster.packages[uri] = data
    m = manager(loop, tmp_path, cluster, launcher)
    sid = loop.run_coro(m.submit("python main.py", runtime_env={"working_dir": uri, "env_vars": {"X": "1"}}))
    for _ in range(200):  # the agent unpacks in a thread: real time passes here
        loop.settle()
        if launcher.calls:
            break
        time.sleep(0.01)
    command, env, cwd = launcher.calls[0]
    assert cwd is not None and (tmp_path / "logs" / "runtime_resources") in Path(cwd).parents
    assert open(f"{cwd}/main.py").read() == "print('hi')\n"
    assert env["X"] == "1" and env["PYTHONPATH"].split(":")[0] == cwd
    # A package the GCS does not have: FAILED with the reason, the entrypoint never started.
    missing = rte.package_uri(b"not uploaded")
    bad = loop.run_coro(m.submit("python main.py", runtime_env={"working_dir": missing}))
    loop.settle()
    rec = loop.run_coro(m.get(bad))
    assert rec.status is JobStatus.FAILED and rec.error_type == "RUNTIME_ENV_SETUP_FAILED"
    assert "is not in the GCS" in rec.message and len(launcher.calls) == 1
    assert loop.run_coro(m.get(sid)).status is JobStatus.RUNNING
