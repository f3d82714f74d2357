"""Worker log files read through each node's raylet (ListLogs, ReadLog).

The parts of ``polyray logs`` that need no cluster lookup: calls to one
raylet, the rows the state API shows, and the cutting of a worker's file to
the lines of one task. ``polyray.util.state.list_logs`` / ``get_log`` find the
node and the file (by name, worker, pid, actor or task) and use these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc

from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc

#: A page of ReadLog (the raylet caps it at 1 MiB).
PAGE_BYTES = 256 * 1024
#: What a whole-file read returns at most (a larger file: its end; --tail or paging for more).
MAX_FILE_BYTES = 16 * 1024 * 1024
#: How often a follower asks for more.
FOLLOW_POLL_S = 0.5
#: The line a worker writes before a task whose name differs from the previous one's (worker_process.py).
NAME_MARKER = ":polyray_name:"
#: The line a Python worker writes before the output of another task than the last (core/task_output.py).
TASK_MARKER = ":polyray_task:"


class LogError(RuntimeError):
    """A log could not be read; ``code`` is the gRPC status name (INVALID_ARGUMENT, NOT_FOUND, ...)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def check_name(filename: str) -> None:
    """A log file is named by its plain name inside the node's log folder (the raylet checks it
    too: raylet/log_files.py); ValueError for a path."""
    if not filename or "/" in filename or "\\" in filename or "\0" in filename or filename in (".", ".."):
        raise ValueError(f"refused: {filename!r} is not a file name inside the log folder (no paths, no '..')")


def _stub_call(target: str, fn: Callable[[raylet_pb2_grpc.RayletServiceStub], object]) -> object:
    with auth.channel(target) as ch:
        try:
            return fn(raylet_pb2_grpc.RayletServiceStub(ch))
        except grpc.RpcError as e:
            raise LogError(f"the raylet at {target}: {e.code().name}: {e.details()}", e.code().name) from None


def list_node(target: str, timeout: float) -> raylet_pb2.ListLogsReply:
    """The log files of the node whose raylet is ``target`` (host:port)."""
    reply = _stub_call(target, lambda s: s.ListLogs(raylet_pb2.ListLogsRequest(), timeout=timeout))
    assert isinstance(reply, raylet_pb2.ListLogsReply)
    return reply


def read_page(target: str, filename: str, *, offset: int = 0, max_bytes: int = PAGE_BYTES, tail_lines: int = 0,
              timeout: float = 30.0) -> raylet_pb2.ReadLogReply:
    """One page of a file of that node."""
    req = raylet_pb2.ReadLogRequest(filename=filename, offset=offset, max_bytes=max_bytes, tail_lines=tail_lines)
    reply = _stub_call(target, lambda s: s.ReadLog(req, timeout=timeout))
    assert isinstance(reply, raylet_pb2.ReadLogReply)
    return reply


def read_from(target: str, filename: str, offset: int, timeout: float,
              max_total: int = MAX_FILE_BYTES) -> tuple[bytes, int, bool]:
    """The file from ``offset`` to its current end (at most ``max_total`` bytes, its end when larger):
    (data, the offset after it, its writer alive)."""
    first = read_page(target, filename, offset=offset, max_bytes=1, timeout=timeout)
    if first.size - offset > max_total:
        offset = first.size - max_total
    chunks = []
    alive = first.alive
    while True:
        page = read_page(target, filename, offset=offset, timeout=timeout)
        alive = page.alive
        if not page.data:
            return b"".join(chunks), offset, alive
        chunks.append(page.data)
        offset = page.offset + len(page.data)
        if offset >= page.size or sum(map(len, chunks)) >= max_total:
            return b"".join(chunks), offset, alive


def follow(target: str, filename: str, offset: int, *, timeout: float, until_writer_exits: bool = True,
           poll_s: float = FOLLOW_POLL_S, deadline: float | None = None) -> Iterator[bytes]:
    """What is written to the file from ``offset`` on, as it comes: polls every ``poll_s``; ends when
    the file's writer is gone (and everything it wrote was read) unless ``until_writer_exits`` is
    False, or at ``deadline`` (time.monotonic()), or when the caller stops iterating (Ctrl-C)."""
    while True:
        data, offset, alive = read_from(target, filename, offset, timeout)
        if data:
            yield data
        if until_writer_exits and not alive:
            # Read once more: the last bytes may have landed after that page.
            data, offset, _ = read_from(target, filename, offset, timeout)
            if data:
                yield data
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(poll_s)


def task_section(text: str, task_id: str) -> str | None:
    """The lines of ``text`` written by task ``task_id`` (hex), between its task marks (markers
    dropped); "" when the file has task marks but none of this task (it printed nothing there);
    None when the file has no task marks (a Java or C++ worker's: see ``task_lines``)."""
    out: list[str] = []
    current = None
    marked = False
    task_id = task_id.lower()
    for line in text.splitlines(keepends=True):
        if line.startswith(TASK_MARKER):
            marked = True
            current = line[len(TASK_MARKER):].strip()
            continue
        if line.startswith(NAME_MARKER):
            continue
        if current == task_id:
            out.append(line)
    return "".join(out) if marked else None


def task_lines(text: str, names: set[str]) -> str | None:
    """The lines of ``text`` written under a name marker in ``names`` (markers dropped),
    or None when the file has no marker of those names."""
    out: list[str] = []
    current = None
    found = False
    for line in text.splitlines(keepends=True):
        if line.startswith(NAME_MARKER):
            current = line[len(NAME_MARKER):].strip()
            found = found or current in names
            continue
        if current in names:
            out.append(line)
    return "".join(out) if found else None


def marker_names(task_name: str) -> set[str]:
    """The names a worker's marker may give a task called ``task_name`` (events say ``module.func``,
    ``Class.method``; markers the function, or the actor's class)."""
    names = {task_name}
    if "." in task_name:
        head, _, tail = task_name.rpartition(".")
        names |= {tail, head, head.rpartition(".")[2]}
    if "::" in task_name:
        names.add(task_name.split("::")[0])
    return {n for n in names if n}


def file_row(node_id: bytes, node_ip: str, f: raylet_pb2.LogFileInfo) -> dict:
    """A log file as the state API lists it."""
    return {"node_id": node_id.hex(), "node_ip": node_ip, "filename": f.filename, "size": f.size,
            "mtime": round(f.mtime, 3), "worker_id": f.worker_id.hex(), "pid": f.pid, "alive": f.alive}
