"""A C++ worker that exits right after a call still reports that call's task events
(issue 16; the C++ worker waits at its exit for a task-events send in flight,
cpp/src/core/task_events.cc, until now shown by a unit test only).

A C++ actor answers ``Pid`` and, in the same breath, is ended: by ``ExitActor()``
inside its next method, or by the graceful ``__polyray_terminate__``. Its worker
exits within milliseconds of the reply, well before its next periodic flush (1 s).
The GCS must still have the worker's own events of ``Pid``: its row is FINISHED,
from the actor's pid, with start and end times (``polyray list tasks``). Without the
flush at exit the row would stay at the owner's SUBMITTED/PENDING states.
"""

from __future__ import annotations

import os

import pytest
from core_util import pid_alive, wait_until
from xlang_support import build_cpp

import polyray
from polyray.exceptions import ActorDiedError
from polyray.util import state

pytestmark = pytest.mark.timeout(180)  # the first run compiles the C++ library
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 60


@pytest.fixture(scope="module")
def cluster():
    lib = build_cpp("chaos_quitter", [os.path.join(HERE, "cpp_src", "quitter_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2, code_search_path=[os.path.dirname(lib)])
    try:
        yield info
    finally:
        polyray.shutdown()


@pytest.mark.parametrize("ending", ["ExitActor", "__polyray_terminate__"])
def test_the_last_call_of_an_exiting_cpp_actor_is_finished_in_the_task_list(cluster, ending):
    a = polyray.cpp_actor_class("Quitter::Create", "Quitter").remote()
    pid_ref = a.Pid.remote()
    end_ref = a.Quit.remote() if ending == "ExitActor" else a.__polyray_terminate__.remote()
    pid = polyray.get(pid_ref, timeout=TIMEOUT)
    with pytest.raises(ActorDiedError):  # the ending call itself fails, as every later one
        polyray.get(end_ref, timeout=TIMEOUT)
    assert wait_until(lambda: not pid_alive(pid), 20), f"the actor's worker {pid} did not exit"
    actor_id = a._actor_id.hex()

    def finished() -> list[dict]:
        rows = state.list_tasks(filters=[("actor_id", "=", actor_id)], limit=100, detail=True)
        return [r for r in rows if r["name"].endswith("Pid") and r["state"] == "FINISHED" and r["worker_pid"] == pid]

    # The worker is gone: whatever it sent before exiting is all there will be (bounded wait for the GCS).
    assert wait_until(lambda: bool(finished()), 10), (
        f"Pid of the {ending} actor is not FINISHED from its worker {pid}: "
        f"{state.list_tasks(filters=[('actor_id', '=', actor_id)], limit=100, detail=True)}")
    (row,) = finished()
    assert 0 < row["start_time_ms"] <= row["end_time_ms"], row
