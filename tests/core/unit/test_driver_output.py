"""A driver's worker-output lines go between its own lines (core/driver_output.py):
the cause of test_output's lost line under load was a worker line written between
the parts of the driver's own ``print("result", n)`` ("result(speak ...) line-k")."""

from __future__ import annotations

import io
import threading
import time

from polyray.core import driver_output
from polyray.core.driver_output import LineGate


def test_worker_lines_wait_for_the_drivers_open_line_to_end():
    raw = io.StringIO()
    out = LineGate(raw)
    out.write("result")  # print() writes its parts one by one
    done = threading.Event()
    t = threading.Thread(target=lambda: (out.write_lines("(w pid=1) line-7\n"), done.set()))
    t.start()
    assert not done.wait(0.05), "the worker line went into the driver's line"
    assert raw.getvalue() == "result"
    out.write(" ")
    out.write("20000")
    out.write("\n")
    assert done.wait(5)
    t.join()
    assert raw.getvalue() == "result 20000\n(w pid=1) line-7\n"


def test_at_a_line_start_they_go_at_once():
    raw = io.StringIO()
    out = LineGate(raw)
    t0 = time.monotonic()
    out.write_lines("(w) a\n")
    out.write("mine\n")
    out.write_lines("(w) b\n")
    assert time.monotonic() - t0 < driver_output.MAX_WAIT_S / 2
    assert raw.getvalue() == "(w) a\nmine\n(w) b\n"


def test_a_line_left_open_delays_them_once_by_the_bound():
    raw = io.StringIO()
    out = LineGate(raw)
    out.write("name? ")  # an input() prompt: the line stays open
    t0 = time.monotonic()
    out.write_lines("(w) a\n")
    waited = time.monotonic() - t0
    assert driver_output.MAX_WAIT_S * 0.9 <= waited < driver_output.MAX_WAIT_S + 1.0
    t0 = time.monotonic()
    out.write_lines("(w) b\n")  # the same open line: no second wait
    assert time.monotonic() - t0 < driver_output.MAX_WAIT_S / 2
    out.write("bob\n")
    out.write("x")
    t0 = time.monotonic()
    threading.Timer(0.05, lambda: out.write("\n")).start()
    out.write_lines("(w) c\n")  # a new open line: waits again, until it ends
    assert time.monotonic() - t0 < driver_output.MAX_WAIT_S
    assert raw.getvalue() == "name? (w) a\n(w) b\nbob\nx\n(w) c\n"


def test_concurrent_prints_and_worker_lines_all_arrive_whole():
    raw = io.StringIO()
    out = LineGate(raw)

    def driver_prints():
        for i in range(2000):
            print("result", i, file=out)

    t = threading.Thread(target=driver_prints)
    t.start()
    for k in range(500):
        out.write_lines("".join(f"(w) line-{k}-{j}\n" for j in range(3)))
    t.join()
    lines = raw.getvalue().splitlines()
    assert sorted(line for line in lines if line.startswith("result ")) == sorted(f"result {i}" for i in range(2000))
    assert sum(1 for line in lines if line.startswith("(w) line-")) == 1500
    assert len(lines) == 3500, [line for line in lines if not line.startswith(("result ", "(w) "))][:5]


def test_install_wraps_once_and_keeps_the_streams_attributes(monkeypatch):
    raw = io.StringIO()
    monkeypatch.setattr("sys.stdout", raw)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    driver_output.install()
    driver_output.install()
    import sys
    assert isinstance(sys.stdout, LineGate) and sys.stdout._stream is raw
    sys.stdout.flush()
    assert sys.stdout.getvalue() == ""
    driver_output.write_lines(raw, "plain\n")  # not wrapped: written as it is
    assert raw.getvalue() == "plain\n"
