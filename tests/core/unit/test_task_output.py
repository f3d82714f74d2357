"""Per-task marks in a worker's output (core/task_output.py) and their cutting (util/logs.py).

A task other than the last writer gets a ``:polyray_task:<id>`` line before its write, only at
a line start; output outside tasks is marked with an empty id; ``task_section`` gives back
exactly each task's lines, also when two threads' tasks print in turn.
"""

from __future__ import annotations

import io
import threading

from polyray.core.task_output import TASK_MARKER, TaskMarkingStream
from polyray.core.worker_context import TaskContext, current_task
from polyray.util.logs import task_section

A, B = b"\x0a" * 24, b"\x0b" * 24


def _as(task_id: bytes | None, fn) -> None:
    token = current_task.set(TaskContext(task_id, None) if task_id is not None else None)
    try:
        fn()
    finally:
        current_task.reset(token)


def test_a_mark_before_each_change_of_writer_and_none_for_a_task_that_prints_nothing():
    raw = io.StringIO()
    out = TaskMarkingStream(raw)
    out.write("before any task\n")  # outside tasks, first: no mark
    _as(A, lambda: (out.write("a1"), out.write("\n"), out.write("a2\n")))
    _as(B, lambda: None)  # printed nothing: no mark
    _as(A, lambda: out.write("a3\n"))  # the same writer as last: no new mark
    _as(B, lambda: print("b1", file=out))
    out.write("after\n")
    assert raw.getvalue().splitlines() == [
        "before any task", f"{TASK_MARKER}{A.hex()}", "a1", "a2", "a3", f"{TASK_MARKER}{B.hex()}", "b1",
        f"{TASK_MARKER}", "after"]
    text = raw.getvalue()
    assert task_section(text, A.hex()) == "a1\na2\na3\n"
    assert task_section(text, B.hex().upper()) == "b1\n"
    assert task_section(text, "cc" * 24) == ""  # marks, but none of it: it printed nothing here
    assert task_section("no marks\n:polyray_name:f\nx\n", A.hex()) is None  # a Java or C++ worker's file


def test_a_mark_never_splits_a_line():
    raw = io.StringIO()
    out = TaskMarkingStream(raw)
    _as(A, lambda: out.write("half of a line "))
    _as(B, lambda: out.write("goes on\n"))  # continues A's line: not marked
    _as(B, lambda: out.write("b\n"))
    assert raw.getvalue().splitlines() == [f"{TASK_MARKER}{A.hex()}", "half of a line goes on",
                                           f"{TASK_MARKER}{B.hex()}", "b"]


def test_threads_printing_in_turn_are_told_apart():
    raw = io.StringIO()
    out = TaskMarkingStream(raw)
    turns = [threading.Semaphore(0), threading.Semaphore(0)]

    def task(me: int, task_id: bytes) -> None:
        def body() -> None:
            for i in range(50):
                turns[me].acquire()
                out.write(f"{task_id.hex()[:2]}-{i}\n")
                turns[1 - me].release()
        _as(task_id, body)

    threads = [threading.Thread(target=task, args=(0, A)), threading.Thread(target=task, args=(1, B))]
    for t in threads:
        t.start()
    turns[0].release()
    for t in threads:
        t.join(10)
    text = raw.getvalue()
    assert task_section(text, A.hex()) == "".join(f"0a-{i}\n" for i in range(50))
    assert task_section(text, B.hex()) == "".join(f"0b-{i}\n" for i in range(50))


def test_the_stream_passes_everything_else_through():
    raw = io.StringIO()
    out = TaskMarkingStream(raw)
    out.writelines(["x\n", "y\n"])
    out.flush()
    assert out.getvalue() == "x\ny\n" and out.write("") == 0
