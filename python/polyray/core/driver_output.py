"""Worker output printed in a driver goes between the driver's own lines, never into one.

A driver prints its workers' lines (``(label) line``, core_worker ``_print_logs``)
on its io thread while its own code prints on other threads. ``print("result", x)``
is four writes ("result", " ", "x", "\\n"): a worker line written between two of
them would land inside the driver's line ("result(f pid=1) line-7" then " x"),
and both lines are spoilt. So a driver's ``sys.stdout`` and ``sys.stderr`` are
wrapped (``install``): every write notes whether the stream is at a line start,
under a lock, and ``write_lines`` writes a block of worker lines only at a line
start, waiting for the driver's line to end. The wait is bounded
(``MAX_WAIT_S``): a line that stays open (an ``input()`` prompt) gets the worker
lines after that wait, and later blocks do not wait again until the driver ends
a line. Writes that bypass ``sys.stdout`` (``os.write``, C extensions) are not
seen. Cost to the driver's own writes: one uncontended lock (~0.1 us).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

#: How long worker lines wait for the driver to end the line it is printing.
MAX_WAIT_S = 0.2


class LineGate:
    """A text stream that lets ``write_lines`` in only between lines (see the module docstring)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._cond = threading.Condition(threading.RLock())  # a write may print (a warning) again
        self._at_line_start = True
        self._gave_up = False  # the last wait timed out on this open line

    def write(self, text: str) -> int:
        with self._cond:
            n = self._stream.write(text)
            if text:
                self._at_line_start = text[-1] == "\n"
                if self._at_line_start:
                    self._gave_up = False
                    self._cond.notify_all()
            return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def write_lines(self, block: str) -> None:
        """Write ``block`` (whole lines) at a line start: after the driver's open line ends,
        or after MAX_WAIT_S."""
        with self._cond:
            if not self._at_line_start and not self._gave_up:
                deadline = time.monotonic() + MAX_WAIT_S
                while not self._at_line_start:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._gave_up = True
                        break
                    self._cond.wait(left)
            self._stream.write(block)

    def __getattr__(self, name: str) -> Any:
        # Everything else (flush, fileno, buffer, encoding, isatty, ...) is the stream's.
        return getattr(self._stream, name)


def install() -> None:
    """Wrap this process's ``sys.stdout`` and ``sys.stderr`` (a driver's, when it prints its workers' output)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, LineGate):
            setattr(sys, name, LineGate(stream))


def write_lines(stream: Any, block: str) -> None:
    """Write worker lines to ``stream``: between the driver's lines when it is wrapped."""
    if isinstance(stream, LineGate):
        stream.write_lines(block)
    else:
        stream.write(block)
