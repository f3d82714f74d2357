"""Log files, read through each node's raylet (polyray.util.state; `polyray logs`, util/logs.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from polyray.util.state._common import (
    DEFAULT_TIMEOUT_S,
    MAX_LIMIT,
    Filter,
    StateApiError,
    _check_filters,
    _finish,
    _limit,
    _nodes,
    resolve_address,
)
from polyray.util.state.actors import get_actor
from polyray.util.state.cluster import list_workers
from polyray.util.state.tasks import get_task

LOG_COLUMNS = ("node_id", "filename", "size", "worker_id", "pid", "alive")


class LogNotFound(ValueError):
    """No log file matches (the REST API answers 404)."""


def _alive_raylets(address: str, timeout: float, node_id: str | None = None) -> list[tuple[bytes, str, str]]:
    """(node id, ip, raylet host:port) of the alive nodes (or of ``node_id``, a hex prefix)."""
    out = []
    for n in _nodes(address, timeout):
        if not n.alive or (node_id and not n.node_id.hex().startswith(node_id.lower())):
            continue
        out.append((n.node_id, n.raylet_address.host, f"{n.raylet_address.host}:{n.raylet_address.port}"))
    if node_id and not out:
        raise ValueError(f"no alive node {node_id}")
    return out


def list_logs(address: str | None = None, node_id: str | None = None, filters: Iterable[Filter] | None = None,
              limit: int | None = None, detail: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """The log files of every alive node (or of ``node_id``), read through each node's raylet:
    ``node_id, filename, size, worker_id, pid, alive`` (+ ``node_ip, mtime`` with ``detail``)."""
    from polyray.util import logs

    rows: list[dict] = []
    for nid, ip, target in _alive_raylets(resolve_address(address), timeout, node_id):
        try:
            reply = logs.list_node(target, timeout)
        except logs.LogError:
            continue  # the node went away meanwhile
        rows.extend(logs.file_row(nid, ip, f) for f in reply.files)
    return _finish(rows, _check_filters(filters), _limit(limit) if limit is not None else MAX_LIMIT,
                   None if detail else LOG_COLUMNS)


def locate_log(address: str | None = None, *, node_id: str | None = None, filename: str | None = None,
               worker_id: str | None = None, pid: int | None = None, actor_id: str | None = None,
               task_id: str | None = None, suffix: str = "out", timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Which file holds what was asked for: ``{"node_id", "raylet", "filename", "task_names", "note"}``
    (``task_names``: with ``task_id``, the names its lines are marked with). ValueError when
    nothing or more than one file matches."""
    from polyray.util import logs

    if suffix not in ("out", "err"):
        raise ValueError(f"suffix must be 'out' or 'err', got {suffix!r}")
    given = [k for k, v in (("filename", filename), ("worker_id", worker_id), ("pid", pid),
                            ("actor_id", actor_id), ("task_id", task_id)) if v not in (None, "")]
    if len(given) != 1:
        raise ValueError("give exactly one of filename, worker_id, pid, actor_id, task_id"
                         + (f" (got {', '.join(given)})" if given else ""))
    addr = resolve_address(address)
    note = ""
    task_names: list[str] = []
    if actor_id:
        actor = get_actor(actor_id, addr, timeout=timeout)
        if actor is None:
            raise ValueError(f"no actor {actor_id}")
        if not actor["worker_id"]:
            raise ValueError(f"actor {actor_id} has no worker (state {actor['state']})")
        worker_id, node_id = actor["worker_id"], actor["node_id"] or node_id
    elif task_id:
        task = get_task(task_id, addr, timeout=timeout)
        if task is None:
            raise ValueError(f"no task {task_id}")
        if not task["worker_id"] or task["worker_id"] == "0" * len(task["worker_id"]):
            raise ValueError(f"task {task_id} did not start on a worker (state {task['state']})")
        worker_id, node_id = task["worker_id"], task["node_id"] or node_id
        task_names = sorted(logs.marker_names(task["name"]))
    if filename:
        logs.check_name(filename)
    raylets = _alive_raylets(addr, timeout, node_id)
    if filename and node_id and len(raylets) == 1:
        # The node is known: its raylet checks the name and says whether the file is there.
        nid, _, target = raylets[0]
        return {"node_id": nid.hex(), "raylet": target, "filename": filename, "task_names": [], "note": "",
                "alive": False}
    files = [(nid, ip, target, row) for nid, ip, target in raylets for row in _node_files(logs, target, timeout)]
    if filename:
        match = [f for f in files if f[3].filename == filename]
    elif worker_id:
        prefix = worker_id.lower()[:16]
        match = [f for f in files if f[3].filename.startswith(f"worker-{prefix}-")
                 and f[3].filename.endswith("." + suffix)]
    else:
        match = [f for f in files if f[3].pid == pid and f[3].filename.endswith("." + suffix)]
        if not match:  # a worker that reports another pid than the one its raylet started
            by_pid = [w for w in list_workers(addr, [("pid", "=", str(pid))], limit=MAX_LIMIT, timeout=timeout)]
            ids = {w["worker_id"][:16] for w in by_pid}
            match = [f for f in files if any(f[3].filename.startswith(f"worker-{i}-") for i in ids)
                     and f[3].filename.endswith("." + suffix)]
    if not match:
        what = given[0].replace("_", " ")
        raise LogNotFound(f"no log file of {what} {filename or worker_id or pid or actor_id or task_id}"
                         + (f" on node {node_id}" if node_id else " on the alive nodes"))
    if len(match) > 1:
        raise ValueError("more than one log file matches: " + ", ".join(
            f"{f[3].filename} (node {f[0].hex()[:12]})" for f in match[:10]) + "; give node_id or filename")
    nid, _, target, row = match[0]
    if task_id:
        note = f"task {task_id} ran on worker {worker_id[:16]}"
    return {"node_id": nid.hex(), "raylet": target, "filename": row.filename, "task_names": task_names,
            "task_id": (task_id or "").lower(), "note": note, "alive": row.alive}


def _node_files(logs: Any, target: str, timeout: float) -> list:
    try:
        return list(logs.list_node(target, timeout).files)
    except logs.LogError:
        return []


def get_log(address: str | None = None, *, node_id: str | None = None, filename: str | None = None,
            worker_id: str | None = None, pid: int | None = None, actor_id: str | None = None,
            task_id: str | None = None, suffix: str = "out", tail: int = -1, follow: bool = False,
            follow_until_exit: bool = True, follow_timeout: float | None = None,
            timeout: float = DEFAULT_TIMEOUT_S, notes: list[str] | None = None) -> Iterator[str]:
    """The text of a log file, in chunks (as Ray's ``get_log``): the file given by name (and
    ``node_id`` when several nodes have one), or a worker's, a pid's, an actor's worker's, or a
    task's lines (see ``locate_log``); ``suffix`` "out" or "err"; ``tail`` N: the last N lines
    (of a task's: the last N of its lines); ``follow``: then what is written, until the writer
    exits (``follow_until_exit``), or ``follow_timeout`` seconds pass, or the caller stops.
    ``notes`` (a list) gets a line saying how a task's lines were found.

    A task's lines: a Python worker marks each task's output (``:polyray_task:<id>`` lines,
    core/task_output.py), so they are exactly its own; a Java or C++ worker marks only a change
    of function (``:polyray_name:``), so they are the lines under the task's name, other tasks
    of that name on that worker included; a file with neither mark is shown whole."""
    import time as _time

    from polyray.util import logs

    where = locate_log(address, node_id=node_id, filename=filename, worker_id=worker_id, pid=pid,
                       actor_id=actor_id, task_id=task_id, suffix=suffix, timeout=timeout)
    target, name = where["raylet"], where["filename"]
    try:
        cut = bool(where.get("task_id"))
        if tail is not None and tail >= 0 and not cut:
            page = logs.read_page(target, name, tail_lines=max(tail, 1), max_bytes=1024 * 1024, timeout=timeout)
            data, offset = (page.data if tail > 0 else b""), page.size
        else:
            data, offset, _ = logs.read_from(target, name, 0, timeout)
        text = data.decode("utf-8", errors="replace")
        if cut:
            note = where["note"]
            section = logs.task_section(text, where["task_id"])
            if section is not None:
                text = section
                note += (": its lines, between its task marks" if section else
                         ": it printed nothing to this file")
            else:
                section = logs.task_lines(text, set(where["task_names"]))
                if section is not None:
                    text = section
                    note += (": the lines under the task's name (this worker marks a change of function, not "
                             "each task: other tasks of that name on it may be among them)")
                else:
                    note += ": the worker's whole file (it has no marks of the task)"
            if notes is not None:
                notes.append(note)
            if tail is not None and tail >= 0:
                text = "".join(text.splitlines(keepends=True)[-tail:]) if tail > 0 else ""
        yield text
        if follow:
            deadline = None if follow_timeout is None else _time.monotonic() + follow_timeout
            for chunk in logs.follow(target, name, offset, timeout=timeout, until_writer_exits=follow_until_exit,
                                     deadline=deadline):
                yield chunk.decode("utf-8", errors="replace")
    except logs.LogError as e:
        if e.code == "NOT_FOUND":
            raise LogNotFound(str(e)) from None
        if e.code == "INVALID_ARGUMENT":
            raise ValueError(f"refused: {e}") from None
        raise StateApiError(str(e)) from None
