"""Per-task marks in a Python worker's output, for ``polyray logs --task-id``.

A worker's stdout and stderr are wrapped (``install``) so that a write made
by a task other than the one that wrote last is preceded by a line
``:polyray_task:<task id hex>`` (an empty id: output outside any task). The
raylet writes the line to the worker's log file but does not forward it to
the driver (raylet/worker_process.py), and ``polyray logs --task-id`` prints
the lines between a task's marks (util/logs.py ``task_section``).

Costs nothing per task: a mark is written only when the writer changed, so a
task that prints nothing adds nothing, and one that prints adds one line.
The writer is the running task of the thread or coroutine that writes
(``current_task``), so tasks of a threaded or async actor that print in turn
are told apart at each write. Invariants: what reaches the wrapped stream is
what was written, in order, with mark lines only between writes, and a mark
never splits a line: a write into the middle of a line (no newline written
yet) is not marked, it stays with the line it continues. Writes that bypass
``sys.stdout`` (``os.write(1, ...)``, C extensions, child processes) are
not marked: their lines go with the last mark before them.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from polyray.core.worker_context import current_task

#: The mark line's prefix (the raylet drops such lines from what it forwards).
TASK_MARKER = ":polyray_task:"
_current = current_task.get


class TaskMarkingStream:
    """A text stream that marks which task wrote what (see the module docstring)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._write = stream.write
        self._last: bytes | None = None  # the task id of the last write (None: nothing yet)
        self._at_line_start = True
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        ctx = _current()
        task_id = ctx.task_id if ctx is not None else b""
        if task_id == self._last or not text:
            # The same writer as last (the common case): no mark, no lock.
            if text:
                self._at_line_start = text[-1] == "\n"
            return self._write(text)
        with self._lock:
            if task_id != self._last and self._at_line_start:
                if self._last is not None or task_id:
                    self._stream.write(f"{TASK_MARKER}{task_id.hex()}\n")
                self._last = task_id
            self._at_line_start = text.endswith("\n")
            return self._write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # Everything else (flush, fileno, buffer, encoding, isatty, reconfigure, ...) is the stream's.
        return getattr(self._stream, name)


def install() -> None:
    """Wrap this process's ``sys.stdout`` and ``sys.stderr`` (a worker's, at start)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, TaskMarkingStream):
            setattr(sys, name, TaskMarkingStream(stream))
