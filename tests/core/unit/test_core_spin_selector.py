"""The spinning selector of a driver's io loop (python/polyray/core/spin_selector.py)."""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time

import pytest

from polyray.core.spin_selector import SpinPolicy, SpinSelector, SpinTokens, spin_seconds


def _pair_with(spin_s: float):
    a, b = socket.socketpair()
    sel = SpinSelector(spin_s)
    sel.register(a, selectors.EVENT_READ, "a")
    return sel, a, b


def test_events_ready_before_the_call_come_at_once():
    sel, a, b = _pair_with(2.0)
    with a, b:
        b.send(b"x")
        t = time.perf_counter()
        events = sel.select(10)
        assert [k.data for k, _ in events] == ["a"]
        assert time.perf_counter() - t < 1.0  # did not spin out the whole 2 s


def test_an_event_during_the_spin_and_one_after_it_are_both_seen():
    for delay in (0.01, 0.2):  # inside the 50 ms spin, and after it (blocking)
        sel, a, b = _pair_with(0.05)
        with a, b:
            threading.Timer(delay, b.send, args=(b"x",)).start()
            events = sel.select(10)
            assert [k.data for k, _ in events] == ["a"], delay
            a.recv(1)


def test_timeouts_are_kept_and_zero_never_spins():
    sel, a, b = _pair_with(2.0)
    with a, b:
        t = time.perf_counter()
        assert sel.select(0) == []
        assert time.perf_counter() - t < 1.0
        t = time.perf_counter()
        assert sel.select(0.03) == []  # shorter than the spin: the timeout wins
        assert 0.02 < time.perf_counter() - t < 1.0
    sel, a, b = _pair_with(0.05)
    with a, b:
        t = time.perf_counter()
        assert sel.select(0.3) == []  # longer: spin, then block for the rest
        assert 0.25 < time.perf_counter() - t < 5.0


def test_the_spin_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("POLYRAY_SPIN_US", "0")
    assert spin_seconds() == 0.0
    monkeypatch.setenv("POLYRAY_SPIN_US", "150")
    assert spin_seconds() == pytest.approx(150e-6)
    monkeypatch.delenv("POLYRAY_SPIN_US")
    assert spin_seconds() == pytest.approx(300e-6)
    monkeypatch.setenv("POLYRAY_SPIN_US", "fast")
    with pytest.raises(ValueError, match="POLYRAY_SPIN_US.*'fast'"):
        spin_seconds()
    monkeypatch.setenv("POLYRAY_SPIN_US", "-5")
    with pytest.raises(ValueError, match="must not be negative"):
        spin_seconds()


def test_only_while_false_means_it_sleeps_instead():
    a, b = socket.socketpair()
    sel = SpinSelector(0.3, only_while=lambda: False)
    sel.register(a, selectors.EVENT_READ, "a")
    with a, b:
        cpu = time.thread_time()
        assert sel.select(0.3) == []
        assert time.thread_time() - cpu < 0.1  # slept through the 0.3 s; a spin burns it


# The spin policy with a fake clock and a fake load source (the vectors of
# "spin_budget" in proto/vectors/policy.json run in test_runtime_spec.py).

class _FakeLoad:
    def __init__(self, runnable: int) -> None:
        self.runnable = runnable
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.runnable


def _policy(cap_s: float, load: _FakeLoad, clock: list[float], tmp_path) -> SpinPolicy:
    return SpinPolicy(cap_s, clock=lambda: clock[0], runnable=load, cores=2,
                      tokens=SpinTokens(2, str(tmp_path)))


def test_load_is_sampled_at_most_every_100_ms_and_stops_the_spin(tmp_path):
    load, clock = _FakeLoad(1), [0.0]
    p = _policy(300e-6, load, clock, tmp_path)
    assert p.budget_s() == pytest.approx(300e-6)
    load.runnable = 12  # the machine gets busy
    clock[0] = 0.05
    assert p.budget_s() == pytest.approx(300e-6)  # not read again yet
    assert load.reads == 1
    clock[0] = 0.1
    assert p.budget_s() == 0.0
    assert load.reads == 2
    load.runnable = 2
    clock[0] = 0.25
    assert p.budget_s() == pytest.approx(300e-6)


def test_long_waits_stop_the_spin_and_short_ones_bring_it_back(tmp_path):
    p = _policy(300e-6, _FakeLoad(1), [0.0], tmp_path)
    for _ in range(16):
        p.record(0.01)
    assert p.budget_s() == 0.0
    for _ in range(7):
        p.record(50e-6)
    assert p.budget_s() == 0.0  # 7 of 16 within the cap
    p.record(50e-6)
    assert p.budget_s() == pytest.approx(300e-6)  # 8 of 16


def test_a_selector_under_load_does_not_spin(tmp_path):
    load, clock = _FakeLoad(12), [0.0]
    policy = _policy(2.0, load, clock, tmp_path)
    sel = SpinSelector(2.0, policy=policy)
    a, b = socket.socketpair()
    with a, b:
        sel.register(a, selectors.EVENT_READ, "a")
        threading.Timer(0.05, b.send, args=(b"x",)).start()
        t0 = time.thread_time()
        assert [k.data for k, _ in sel.select(10)] == ["a"]
        assert time.thread_time() - t0 < 0.03  # slept, did not poll for 50 ms


def test_no_more_spinning_processes_than_tokens(tmp_path):
    import subprocess
    import sys
    # Two other processes take both tokens; this one then gets none.
    code = ("import sys,time; from polyray.core.spin_selector import SpinTokens;"
            f"t=SpinTokens(2, {str(tmp_path)!r}); ok=t.acquire(); print(ok, flush=True); time.sleep(30)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["True", "True"]
        mine = SpinTokens(2, str(tmp_path))
        assert not mine.acquire()
        procs[0].kill()  # SIGKILL: the kernel drops its lock
        procs[0].wait(10)
        assert mine.acquire()
        assert mine.acquire()  # a second thread of this process shares the token
        mine.release()
        mine.release()
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


def test_the_token_folder_is_the_same_for_every_tmpdir(monkeypatch, tmp_path):
    """Python, Java and C++ processes of one user share /tmp/polyray-spin-<uid> (the C++ gate's
    path); a $TMPDIR must not split them, nor leave a folder in a job's own TMPDIR."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tokens = SpinTokens(2)
    assert tokens._folder == f"/tmp/polyray-spin-{os.getuid()}"
