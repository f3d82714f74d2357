"""The spinning selector of a driver's io loop (python/polyray/core/spin_selector.py)."""

from __future__ import annotations

import selectors
import socket
import threading
import time

import pytest

from polyray.core.spin_selector import SpinSelector, spin_seconds


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
