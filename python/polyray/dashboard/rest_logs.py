"""REST routes for log files and jobs, under Ray's paths (docs/observability.md).

``GET /api/v0/logs[?node_id=&glob=]``: the log files of the alive nodes, in
Ray's shape ``{node_id: {"worker_out": [...], "worker_err": [...], "other":
[...]}}`` plus polyray's rows with sizes and writers (``data.files``).

``GET /api/v0/logs/file?node_id=&filename=&lines=``: the file's text
(``text/plain``); instead of ``filename`` one of ``worker_id``, ``pid``,
``actor_id``, ``task_id`` (with ``suffix=out|err``), as ``polyray logs``.
``lines=N``: the last N lines. A name that is a path is 400, a file that is
not there 404, the cluster away 503 (Ray's envelope with the reason).

``job_view``: a row of the GCS's job table in Ray's job shape; the jobs
routes (``/api/jobs/...``, submission included) are in rest_jobs.py.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from aiohttp import web

from polyray.util import state


def _envelope(data: Any, status: int = 200, msg: str = "") -> web.Response:
    return web.json_response({"result": status == 200, "msg": msg, "data": {"result": data}}, status=status)


def _error(e: Exception) -> web.Response:
    if isinstance(e, state.LogNotFound):
        return _envelope(None, 404, str(e))
    return _envelope(None, 400 if isinstance(e, ValueError) else 503, str(e))


def logs_index(address: str, node_id: str | None, glob: str | None) -> dict:
    """The files by node and kind (blocking)."""
    rows = state.list_logs(address, node_id=node_id or None, detail=True)
    if glob:
        rows = [r for r in rows if fnmatch.fnmatch(r["filename"], glob)]
    by_node: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        kinds = by_node.setdefault(r["node_id"], {"worker_out": [], "worker_err": [], "other": []})
        name = r["filename"]
        kind = ("worker_out" if name.endswith(".out") else "worker_err" if name.endswith(".err") else "other") \
            if name.startswith("worker-") else "other"
        kinds[kind].append(name)
    return {"result": by_node, "files": rows}


def read_text(address: str, q: Any) -> str:
    """The text a /api/v0/logs/file query asks for (blocking)."""
    picks: dict[str, Any] = {k: q.get(k) or None for k in ("filename", "worker_id", "actor_id", "task_id")}
    if q.get("pid"):
        try:
            picks["pid"] = int(q["pid"])
        except ValueError:
            raise ValueError(f"pid must be an integer, got {q['pid']!r}") from None
    lines = q.get("lines", "")
    try:
        tail = int(lines) if lines not in ("", None) else -1
    except ValueError:
        raise ValueError(f"lines must be an integer, got {lines!r}") from None
    suffix = q.get("suffix", "out") or "out"
    return "".join(state.get_log(address, node_id=q.get("node_id") or None, suffix=suffix, tail=tail, **picks))


def job_view(row: dict) -> dict:
    """A job row in the shape of Ray's job API (the read-only part)."""
    finished = row["status"] == "FINISHED"
    return {
        "job_id": row["job_id"], "submission_id": None, "type": "DRIVER", "status": "SUCCEEDED" if finished
        else "RUNNING", "entrypoint": row.get("entrypoint", ""), "message": "", "error_type": None,
        "start_time": row["start_time_ms"], "end_time": row["end_time_ms"] or None,
        "metadata": {}, "runtime_env": {}, "driver_info": {
            "id": row["job_id"], "node_ip_address": row["driver_address"].rpartition(":")[0],
            "pid": str(row["driver_pid"]), "language": row["driver_language"]},
        "namespace": row["namespace"], "driver_node_id": row["driver_node_id"],
    }


class LogsJobsRest:
    """The log and job routes of one dashboard."""

    def __init__(self, address: str, run: Callable[..., Any]) -> None:
        self.address = address
        self._run = run  # runs a blocking call in the dashboard's thread pool

    def routes(self) -> list[web.RouteDef]:
        # Before /api/v0/{kind}/{id}, which would take /api/v0/logs/file.
        return [
            web.get("/api/v0/logs", self.logs),
            web.get("/api/v0/logs/file", self.log_file),
        ]

    async def logs(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            index = await self._run(logs_index, self.address, q.get("node_id"), q.get("glob"))
        except (ValueError, state.StateApiError) as e:
            return _error(e)
        return web.json_response({"result": True, "msg": "", "data": index})

    async def log_file(self, request: web.Request) -> web.Response:
        try:
            text = await self._run(read_text, self.address, request.query)
        except (ValueError, state.StateApiError) as e:
            return _error(e)
        return web.Response(text=text, content_type="text/plain")
