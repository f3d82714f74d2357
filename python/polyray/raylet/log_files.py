"""The node's worker log files, listed and read in pages (ListLogs, ReadLog).

`polyray logs`, ``polyray.util.state.list_logs`` / ``get_log`` and the
dashboard's ``/api/v0/logs`` read the files of any node through its raylet,
so a client needs no access to that machine's file system.

Invariants: only plain files directly inside the log folder are served. A
name is refused (ValueError, answered INVALID_ARGUMENT) when it is empty,
holds a "/" or a NUL, is "." or "..", or when its real path is not inside
the folder's real path (a symlink out); the file is opened with O_NOFOLLOW,
so a symlink swapped in after the check is refused by the kernel. A page is
at most ``MAX_READ_BYTES``; reads run in a thread, off the raylet's loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: A page when the request does not say (ReadLogRequest.max_bytes 0).
DEFAULT_READ_BYTES = 64 * 1024
#: The largest page a ReadLog answers.
MAX_READ_BYTES = 1024 * 1024
#: Files a ListLogs answers at most (the newest by name order are cut last).
MAX_FILES = 10_000

#: worker-<16 hex of the worker id>-<job id hex>-<pid>.out|.err (worker_process.py).
_WORKER_FILE = re.compile(r"^worker-([0-9a-f]{16})-([0-9a-f]*)-(\d+)\.(out|err)$")


@dataclass(frozen=True)
class Writer:
    """A worker process the raylet runs, as the log files see it."""

    worker_id: bytes
    pid: int
    alive: bool


def parse_name(filename: str) -> tuple[str, int] | None:
    """(16 hex of the worker id, pid) of a worker's log file name, else None."""
    m = _WORKER_FILE.match(filename)
    return (m.group(1), int(m.group(3))) if m else None


def check_name(filename: str) -> None:
    """Refuse anything but a plain file name (ValueError names why)."""
    if not filename:
        raise ValueError("filename is empty")
    if "/" in filename or "\\" in filename or "\0" in filename:
        raise ValueError(f"filename {filename!r} must be a file name inside the log folder, not a path")
    if filename in (".", ".."):
        raise ValueError(f"filename {filename!r} is not a file")


class LogFiles:
    """Lists and reads the files of one node's log folder."""

    def __init__(self, log_dir: str, writers: Callable[[], Iterable[Writer]] = lambda: ()) -> None:
        self.log_dir = os.path.abspath(log_dir)
        self._writers = writers

    def _writer_map(self) -> dict[tuple[str, int], Writer]:
        out: dict[tuple[str, int], Writer] = {}
        for w in self._writers():
            out[(w.worker_id.hex()[:16], w.pid)] = w
        return out

    def _alive(self, filename: str, writers: dict[tuple[str, int], Writer] | None = None) -> tuple[Writer | None,
                                                                                                   int]:
        parsed = parse_name(filename)
        if parsed is None:
            return None, 0
        w = (writers if writers is not None else self._writer_map()).get(parsed)
        return w, parsed[1]

    def list(self) -> list[dict]:
        """Every plain file of the folder: name, size, mtime, writer (blocking)."""
        try:
            entries = sorted(os.scandir(self.log_dir), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        writers = self._writer_map()
        out = []
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            if not stat.S_ISREG(st.st_mode):
                continue
            w, pid = self._alive(e.name, writers)
            out.append({"filename": e.name, "size": st.st_size, "mtime": st.st_mtime,
                        "worker_id": w.worker_id if w is not None else b"", "pid": pid,
                        "alive": bool(w is not None and w.alive)})
            if len(out) >= MAX_FILES:
                break
        return out

    def resolve(self, filename: str) -> str:
        """The file's path, once checked (ValueError: refused; FileNotFoundError: none)."""
        check_name(filename)
        path = os.path.join(self.log_dir, filename)
        real_dir = os.path.realpath(self.log_dir)
        real = os.path.realpath(path)
        if os.path.dirname(real) != real_dir:
            raise ValueError(f"filename {filename!r} leads out of the log folder")
        if not os.path.lexists(path):
            raise FileNotFoundError(f"no log file {filename!r} on this node")
        return path

    def read(self, filename: str, offset: int = 0, max_bytes: int = 0, tail_lines: int = 0) -> dict:
        """One page of the file: ``{"data", "offset", "size", "alive"}`` (blocking)."""
        path = self.resolve(filename)
        limit = min(max_bytes or DEFAULT_READ_BYTES, MAX_READ_BYTES)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            if e.errno == getattr(os, "ELOOP", 40):
                raise ValueError(f"filename {filename!r} is a symlink") from None
            if isinstance(e, FileNotFoundError):
                raise FileNotFoundError(f"no log file {filename!r} on this node") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ValueError(f"{filename!r} is not a plain file")
            size = st.st_size
            if tail_lines > 0:
                start = _tail_start(fd, size, tail_lines, limit)
            else:
                start = min(offset, size)
            data = os.pread(fd, min(limit, size - start), start) if size > start else b""
        finally:
            os.close(fd)
        w, _ = self._alive(filename)
        return {"data": data, "offset": start, "size": size, "alive": bool(w is not None and w.alive)}

    async def list_async(self) -> list[dict]:
        return await asyncio.to_thread(self.list)

    async def read_async(self, filename: str, offset: int, max_bytes: int, tail_lines: int) -> dict:
        # The checks run here, so a refused name never reaches the thread pool.
        check_name(filename)
        return await asyncio.to_thread(self.read, filename, offset, max_bytes, tail_lines)


def _tail_start(fd: int, size: int, lines: int, limit: int) -> int:
    """The offset of the last ``lines`` lines of the file (no further back than ``limit`` bytes)."""
    floor = max(0, size - limit)
    pos = size
    # A final newline ends the last line; it does not start an empty one.
    if size and os.pread(fd, 1, size - 1) == b"\n":
        pos = size - 1
    seen = 0
    while pos > floor:
        step = min(8192, pos - floor)
        chunk = os.pread(fd, step, pos - step)
        for i in range(len(chunk) - 1, -1, -1):
            if chunk[i] == 0x0A:
                seen += 1
                if seen == lines:
                    return pos - step + i + 1
        pos -= step
    return floor
