"""A Java and a C++ worker that leave gracefully send the task events of their last flush
interval first (issue 16).

A head started with a 0.5 s idle timeout: the worker of a Java task and the worker of a
C++ task are asked to leave about half a second after their task ended, before their next
periodic flush in most runs (the flush interval is 1 s). The attempt's row must still
show the worker's own event: RUNNING and FINISHED from the worker's pid. Without the
flush at exit, the row stays at the owner's PENDING_NODE (in most runs).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from obs_support import code_search_path, wait_for

import polyray
from polyray.protocol import auth
from polyray.util import state

pytestmark = pytest.mark.timeout(300)
TIMEOUT = 90



@pytest.fixture(scope="module")
def head(tmp_path_factory):
    paths = code_search_path(tmp_path_factory, "obs_exit_flush_java")
    folder = tmp_path_factory.mktemp("exit_flush_head")
    log_path = folder / "head.log"
    address_file = folder / "gcs_address"
    env = dict(os.environ, POLYRAY_TASK_EVENTS="1")
    auth.ensure_head_token()
    env.update(auth.child_env())
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "2",
             "--address-file", str(address_file), "--no-include-dashboard", "--idle-worker-timeout", "0.5",
             "--warm-workers", "0",
             "--session-dir", str(folder / "logs")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        address = wait_for("the head's GCS address", lambda: next(
            (line.split("=", 1)[1] for line in log_path.read_text().splitlines()
             if line.startswith("GCS_ADDRESS=")), None) if proc.poll() is None else log_path.read_text(), 60)
        assert proc.poll() is None, address
        polyray.init(address=address, code_search_path=paths)
        yield address
    finally:
        polyray.shutdown()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("language", ["JAVA", "CPP"])
def test_a_worker_leaving_idle_sends_its_last_events(head, language):
    fn = (polyray.java_function("obstest.Quick", "plus1") if language == "JAVA"
          else polyray.cpp_function("Plus1"))
    assert polyray.get(fn.remote(41), timeout=TIMEOUT) == 42
    # Its worker: the one of that language on the node (the task's row may not name it yet).
    workers = wait_for(f"a {language} worker listed", lambda: [
        w for w in state.list_workers(head, limit=1000) if w["language"] == language and w["worker_type"] == "WORKER"])
    pids = {int(w["pid"]) for w in workers}
    # Idle for 0.5 s: asked to leave; it exits on its own (no SIGKILL: the answer is prompt).
    wait_for(f"the idle {language} worker(s) {sorted(pids)} left", lambda: not any(_alive(p) for p in pids))

    def reported():
        rows = state.list_tasks(head, filters=[("language", "=", language)], limit=1000, detail=True)
        done = [r for r in rows if r["state"] == "FINISHED" and r["worker_pid"] in pids]
        return done or None

    # Sent before the worker left: the GCS has the worker's RUNNING and FINISHED (one event).
    (row,) = wait_for(f"the {language} worker's FINISHED of its last task", reported, timeout=10)
    assert 0 < row["start_time_ms"] <= row["end_time_ms"], row
    assert row["submitted_time_ms"] > 0 and row["pending_node_time_ms"] > 0, row  # the owner's, folded too
