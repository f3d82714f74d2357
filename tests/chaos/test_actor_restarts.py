"""Issue 13, Deliver 5 and the actor part of 7: actor restarts under SIGKILL.

Real clusters, real worker processes, SIGKILL for deaths:

* a Python actor with max_restarts=-1 is SIGKILLed 10 times while a caller
  streams calls with max_task_retries=-1: every call returns, in order, with
  the counter semantic of a restarting actor (state resets on restart; calls
  in flight at a death run again on the next incarnation, before later ones);
* a call submitted while the actor is RESTARTING spends no retry
  (max_task_retries=0 and it still succeeds), while a call in flight at the
  death, with max_task_retries=0, fails with ActorDiedError(PROCESS_EXITED,
  exit code -9);
* ActorDiedError says why: kill() -> REASON_KILLED; os._exit(3) with
  max_restarts=0 -> REASON_PROCESS_EXITED with exit_code 3; a raising
  constructor -> REASON_CREATION_FAILED; GetActorInfo has the restart count
  and the last death cause.

The Java and C++ variants are in test_actor_restarts_xlang.py.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from core_util import wait_until

import polyray
from polyray.exceptions import ActorDiedError
from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc

KILLS = 10


@pytest.fixture
def cluster():
    polyray.init(num_cpus=2)
    try:
        yield
    finally:
        polyray.shutdown()


def actor_info(handle) -> gcs_pb2.ActorInfo:
    """The GCS's record of an actor (state, restarts, last death cause)."""
    from polyray.api import _core
    with auth.channel(_core().gcs_address) as ch:
        stub = gcs_pb2_grpc.GcsServiceStub(ch)
        return stub.GetActorInfo(gcs_pb2.GetActorInfoRequest(actor_id=handle._actor_id), timeout=10).actor


@polyray.remote
class Counter:
    def __init__(self, marker: str = ""):
        self.n = 0
        if marker:
            if os.path.exists(marker):
                time.sleep(2.0)  # a restart: slow, so calls can be made while it is RESTARTING
            else:
                open(marker, "w").close()

    def incr(self):
        self.n += 1
        return os.getpid(), self.n

    def pid(self):
        return os.getpid()

    def block(self):
        time.sleep(60)

    def exit(self, code):
        os._exit(code)


@polyray.remote
class Broken:
    def __init__(self):
        raise ValueError("bad config")

    def ping(self):
        return 1


def check_restart_semantics(results: list[tuple[int, int]], pids: list[int]) -> None:
    """Counter results in submission order: each incarnation counts 1, 2, 3... and
    incarnations follow one another (no call ran on an older one after a newer one)."""
    order = {pid: i for i, pid in enumerate(pids)}
    assert all(pid in order for pid, _ in results), "every result came from a known incarnation"
    prev_pid, prev_n = None, 0
    for i, (pid, n) in enumerate(results):
        if pid == prev_pid:
            assert n == prev_n + 1, f"call {i}: {n} after {prev_n} on pid {pid}: a call lost or reordered"
        else:
            assert prev_pid is None or order[pid] > order[prev_pid], f"call {i} ran on an older incarnation"
            assert n == 1, f"call {i}: the first call on incarnation {pid} saw count {n}, not a fresh state"
        prev_pid, prev_n = pid, n


def test_python_actor_killed_10_times_under_calls_every_call_returns_in_order(cluster):
    c = Counter.options(max_restarts=-1, max_task_retries=-1).remote()
    first = polyray.get(c.pid.remote(), timeout=60)
    refs: list = []
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            refs.append(c.incr.remote())
            time.sleep(0.002)

    caller = threading.Thread(target=stream)
    caller.start()
    pids = [first]
    restart_s = []
    try:
        for _ in range(KILLS):
            # Some calls reach this incarnation first.
            n0 = len(refs)
            assert wait_until(lambda n0=n0: len(refs) >= n0 + 20, 10)
            t0 = time.monotonic()
            os.kill(pids[-1], signal.SIGKILL)
            new = polyray.get(c.pid.remote(), timeout=30)
            restart_s.append(time.monotonic() - t0)
            assert new != pids[-1], "the pid call ran on the next incarnation"
            pids.append(new)
    finally:
        stop.set()
        caller.join(10)
    results = polyray.get(refs, timeout=60)
    assert len(results) == len(refs)
    check_restart_semantics(results, pids)
    info = actor_info(c)
    assert info.state == gcs_pb2.ALIVE and info.num_restarts == KILLS
    assert info.last_death_cause.reason == common_pb2.REASON_PROCESS_EXITED
    assert info.last_death_cause.exit_code == -signal.SIGKILL
    print(f"\npython actor: {len(refs)} calls sent, {len(results)} returned, 0 failed; {KILLS} kills; "
          f"restart (kill -> next call answered) mean {sum(restart_s) / len(restart_s) * 1000:.0f} ms, "
          f"max {max(restart_s) * 1000:.0f} ms; incarnations seen by calls: {len({p for p, _ in results})}")


def test_calls_made_while_restarting_spend_no_retry(cluster, tmp_path):
    c = Counter.options(max_restarts=1, max_task_retries=0).remote(str(tmp_path / "marker"))
    pid = polyray.get(c.pid.remote(), timeout=60)
    inflight = c.block.remote()
    assert wait_until(lambda: actor_info(c).state == gcs_pb2.ALIVE, 10)
    time.sleep(0.2)  # let block() start running (it sleeps 60 s, so it is surely in flight)
    os.kill(pid, signal.SIGKILL)
    # The restart's constructor takes 2 s: the GCS says RESTARTING meanwhile.
    assert wait_until(lambda: actor_info(c).state == gcs_pb2.RESTARTING, 10)
    during = c.incr.remote()
    new_pid, n = polyray.get(during, timeout=30)
    assert new_pid != pid and n == 1, "made while RESTARTING, max_task_retries=0: it waited and ran"
    with pytest.raises(ActorDiedError) as e:
        polyray.get(inflight, timeout=30)
    assert e.value.reason == "REASON_PROCESS_EXITED" and e.value.exit_code == -signal.SIGKILL


def test_actor_died_error_reasons(cluster):
    # kill() -> REASON_KILLED
    a = Counter.remote()
    polyray.get(a.pid.remote(), timeout=60)
    polyray.kill(a)
    with pytest.raises(ActorDiedError) as e:
        polyray.get(a.pid.remote(), timeout=30)
    assert e.value.reason == "REASON_KILLED" and e.value.exit_code is None
    # os._exit(3), max_restarts=0 -> REASON_PROCESS_EXITED, exit_code 3 (the call in flight and later ones)
    b = Counter.remote()
    polyray.get(b.pid.remote(), timeout=60)
    with pytest.raises(ActorDiedError) as e:
        polyray.get(b.exit.remote(3), timeout=30)
    assert e.value.reason == "REASON_PROCESS_EXITED" and e.value.exit_code == 3, str(e.value)
    with pytest.raises(ActorDiedError) as e:
        polyray.get(b.pid.remote(), timeout=30)
    assert e.value.reason == "REASON_PROCESS_EXITED" and e.value.exit_code == 3
    assert actor_info(b).death_cause.exit_code == 3
    # A raising constructor -> REASON_CREATION_FAILED
    d = Broken.remote()
    with pytest.raises(ActorDiedError) as e:
        polyray.get(d.ping.remote(), timeout=30)
    assert e.value.reason == "REASON_CREATION_FAILED" and "bad config" in str(e.value)
