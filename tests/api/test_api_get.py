"""get(): the first error wins (as Ray), and a task's get of objects that exist keeps its CPU."""

from __future__ import annotations

import time

import pytest

import polyray
from polyray.exceptions import GetTimeoutError, TaskError


@polyray.remote
def boom(msg):
    raise ValueError(msg)


@polyray.remote
def slow(s):
    time.sleep(s)
    return s


@polyray.remote(max_retries=0)
def boom_after(s, msg):
    time.sleep(s)
    raise KeyError(msg)


def test_get_raises_first_error_without_waiting_for_the_rest(cluster):
    polyray.get(slow.remote(0), timeout=30)  # workers warm
    t0 = time.monotonic()
    with pytest.raises(TaskError) as info:
        polyray.get([slow.remote(8), boom.remote("early")], timeout=30)
    took = time.monotonic() - t0
    assert isinstance(info.value, ValueError) and "early" in str(info.value)
    assert took < 5, f"get() waited {took:.1f} s for the slow task after the error was known"


def test_get_raises_the_first_error_in_list_order_among_those_known(cluster):
    # Both errors are known before the get: Ray raises the first in list order.
    a, b = boom.remote("first"), boom.remote("second")
    polyray.wait([a, b], num_returns=2, timeout=30)
    with pytest.raises(TaskError, match="second"):
        polyray.get([b, a], timeout=30)
    with pytest.raises(TaskError, match="first"):
        polyray.get([a, b], timeout=30)


def test_get_timeout_still_raises_timeout_when_no_error(cluster):
    with pytest.raises(GetTimeoutError):
        polyray.get([slow.remote(3), slow.remote(0)], timeout=0.5)


@polyray.remote
def hold_and_get(refs, hold_s):
    """Get refs that already exist, then hold the CPU; report when it ran."""
    start = time.time()
    values = polyray.get(refs[0])
    time.sleep(hold_s)
    return start, time.time(), len(values)


def test_task_get_of_existing_objects_keeps_its_cpu(cluster):
    # Six 1-CPU tasks on 2 CPUs, each getting objects that exist already
    # (borrowed from the driver, answered at once): no more than 2 run at once.
    small = [polyray.put(i) for i in range(5)]
    big = polyray.put(b"x" * (1 << 20))
    refs = [hold_and_get.remote([small + [big]], 0.6) for _ in range(6)]
    spans = polyray.get(refs, timeout=60)
    assert all(n == 6 for _, _, n in spans)
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans], key=lambda x: (x[0], x[1]))
    running = peak = 0
    for _, d in events:
        running += d
        peak = max(peak, running)
    assert peak <= 2, f"{peak} tasks ran at once on 2 CPUs"
