"""An actor is destroyed when its last handle goes (issue 17; Ray's actor lifetime rule).

Real local cluster (tests/api/conftest.py): real workers, real gRPC, SIGKILL
for a borrower's death. The creator owns a non-detached actor; its handles
are counted like references wherever they are (local handles, handles
passed to tasks and actors, handles inside put values); when none is left
the owner asks the GCS to destroy it: its process ends, its name is free,
it is DEAD with REASON_OUT_OF_SCOPE. Detached actors and handles from
get_actor are not counted (Ray's rules).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

import polyray
from polyray.exceptions import ActorDiedError
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lifetime_support import actor_info as _info  # noqa: E402
from lifetime_support import alive as _alive  # noqa: E402
from lifetime_support import destroyed_within  # noqa: E402

pytestmark = pytest.mark.timeout(60)

GONE_S = 10.0  # the bound: a dropped actor's process ends and it is DEAD within this
T = 30


@polyray.remote
class Target:
    def pid(self):
        return os.getpid()

    def actor_id(self):
        return polyray.get_runtime_context().get_actor_id()

    def slow(self, s):
        time.sleep(s)
        return "done"


@polyray.remote
class Keeper:
    """Holds whatever handles it is given."""

    def __init__(self):
        self.kept = []

    def keep(self, box):
        self.kept.append(box["h"])
        return len(self.kept)

    def drop(self):
        self.kept.clear()
        return True

    def call_kept(self):
        return polyray.get(self.kept[0].pid.remote(), timeout=30)

    def pid(self):
        return os.getpid()


@polyray.remote
def hand_to_keeper(box, keeper):
    # A task that stores the handle it was given in an actor, then returns.
    return polyray.get(keeper.keep.remote(box), timeout=30)


def _wait_destroyed(pid: int, actor_id_hex: str, timeout: float = GONE_S) -> float:
    """Seconds until the process is gone and the actor DEAD (fails the test past ``timeout``)."""
    took = destroyed_within(pid, actor_id_hex, timeout)
    if took is not None:
        return took
    pytest.fail(f"actor {actor_id_hex} (pid {pid}) still alive={_alive(pid)} "
                f"state={gcs.ActorState.Name(_info(actor_id_hex).state)} after {timeout} s")


def _stays(pid: int, actor_id_hex: str, s: float = 1.5) -> None:
    """The actor is still alive after ``s`` seconds (the time a destruction takes here is ~0.1 s)."""
    time.sleep(s)
    assert _alive(pid) and _info(actor_id_hex).state == gcs.ALIVE


def _ids(handle) -> tuple[int, str]:
    return polyray.get(handle.pid.remote(), timeout=T), polyray.get(handle.actor_id.remote(), timeout=T)


def test_del_last_handle_destroys_and_frees_the_name(cluster):
    a = Target.options(name="lifetime-a").remote()
    pid, aid = _ids(a)
    looked_up = polyray.get_actor("lifetime-a")  # does not keep it alive (Ray's rule)
    del a
    _wait_destroyed(pid, aid)
    info = _info(aid)
    assert info.death_cause.reason == pb.REASON_OUT_OF_SCOPE
    assert "out of scope" in info.death_cause.message
    with pytest.raises(ActorDiedError) as e:
        polyray.get(looked_up.pid.remote(), timeout=T)
    assert e.value.reason == "REASON_OUT_OF_SCOPE"
    with pytest.raises(ValueError):
        polyray.get_actor("lifetime-a")
    b = Target.options(name="lifetime-a").remote()  # the name is free
    assert polyray.get(b.pid.remote(), timeout=T) != pid


def test_copies_keep_it_and_calls_in_flight_finish_first(cluster):
    a = Target.remote()
    pid, aid = _ids(a)
    copy = a
    del a
    _stays(pid, aid)
    # The last handle goes with a call in flight: the call completes, then the actor goes.
    ref = copy.slow.remote(1.0)
    del copy
    assert polyray.get(ref, timeout=T) == "done"
    _wait_destroyed(pid, aid)
    # The Ray idiom: a temporary handle's call still runs.
    assert polyray.get(Target.remote().slow.remote(0.1), timeout=T) == "done"


def test_handle_stored_in_an_actor_by_a_task_keeps_it_until_dropped(cluster):
    keeper = Keeper.remote()
    a = Target.remote()
    pid, aid = _ids(a)
    assert polyray.get(hand_to_keeper.remote({"h": a}, keeper), timeout=T) == 1
    del a
    _stays(pid, aid)
    assert polyray.get(keeper.call_kept.remote(), timeout=T) == pid
    assert polyray.get(keeper.drop.remote(), timeout=T)
    _wait_destroyed(pid, aid)


def test_detached_actor_stays(cluster):
    a = Target.options(name="lifetime-detached", lifetime="detached").remote()
    pid, aid = _ids(a)
    del a
    _stays(pid, aid)
    h = polyray.get_actor("lifetime-detached")
    polyray.kill(h)
    _wait_destroyed(pid, aid)


def test_handle_in_a_put_object_keeps_it_while_the_object_lives(cluster):
    a = Target.remote()
    pid, aid = _ids(a)
    obj = polyray.put({"h": a})
    del a
    _stays(pid, aid)
    again = polyray.get(obj, timeout=T)["h"]
    assert polyray.get(again.pid.remote(), timeout=T) == pid
    del again
    _stays(pid, aid, 0.5)
    del obj
    _wait_destroyed(pid, aid)


def test_sigkilled_borrower_releases(cluster):
    keeper = Keeper.remote()
    keeper_pid = polyray.get(keeper.pid.remote(), timeout=T)
    a = Target.remote()
    pid, aid = _ids(a)
    assert polyray.get(keeper.keep.remote({"h": a}), timeout=T) == 1
    del a
    _stays(pid, aid)
    os.kill(keeper_pid, signal.SIGKILL)
    # The owner's BorrowerWatch finds the dead borrower (two watch rounds) and releases its borrow.
    took = _wait_destroyed(pid, aid, timeout=GONE_S)
    assert took < GONE_S
