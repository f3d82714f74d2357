"""Job submission under Ray's Jobs REST paths (docs/jobs.md "REST").

    GET    /api/version                    {"version", "ray_version", "ray_commit", "polyray_version",
                                           "gcs_address"}
    POST   /api/jobs/                      submit: {"entrypoint", "submission_id"?, "runtime_env"?, "metadata"?,
                                           "entrypoint_num_cpus"?, "entrypoint_num_gpus"?, "entrypoint_memory"?,
                                           "entrypoint_resources"?} -> {"submission_id", "job_id"}
    GET    /api/jobs/                      submitted jobs and driver jobs (a driver of a submission is shown
                                           once, as its submission), Ray's JobDetails list
    GET    /api/jobs/{id}                  one job, by submission id or driver job id
    POST   /api/jobs/{id}/stop[?grace_s=]  {"stopped": bool}
    GET    /api/jobs/{id}/logs             {"logs": "..."}
    GET    /api/jobs/{id}/logs/tail        the log followed (chunked text, or a websocket as Ray's client
           [?timeout=&offset=]             opens) from byte ``offset`` until the job ends or ``timeout``
                                           seconds (default 300, at most 3600)
    DELETE /api/jobs/{id}                  {"deleted": true}; 400 when the job has not ended

The dashboard's middleware asks every request for the cluster token. A body
that is not JSON, or a bad field, is 400 with ``msg`` naming it; an unknown
job 404. Errors are ``{"result": false, "msg": ...}``.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from polyray.dashboard.rest_logs import job_view
from polyray.jobs.manager import JobExists, JobManager, NotTerminal
from polyray.jobs.record import JobRecord
from polyray.jobs.store import GcsJobStore
from polyray.jobs.supervisor import DEFAULT_SETUP_TIMEOUT_S, DEFAULT_STOP_GRACE_S
from polyray.util import state

#: The Jobs API version this server speaks (Ray's is "0"... its clients only check it is there).
API_VERSION = "1"
SUBMIT_FIELDS = ("entrypoint", "submission_id", "job_id", "runtime_env", "metadata", "entrypoint_num_cpus",
                 "entrypoint_num_gpus", "entrypoint_memory", "entrypoint_resources")
TAIL_POLL_S = 0.2
TAIL_DEFAULT_S = 300.0
TAIL_MAX_S = 3600.0
READ_CHUNK = 1 << 16


#: The head's default stop grace period, in seconds (docs/jobs.md "Stop").
ENV_STOP_GRACE = "POLYRAY_JOB_STOP_GRACE_S"
#: How long a job may stay PENDING (entrypoint resources, runtime env setup) before it is FAILED.
ENV_START_TIMEOUT = "POLYRAY_JOB_START_TIMEOUT_S"


async def start_job_manager(gcs_address: str, session_dirs: tuple[str, ...]) -> JobManager:
    """The head's job manager: logs in the head's log folder, records in the GCS."""
    log_dir = session_dirs[0] if session_dirs else tempfile.mkdtemp(prefix="polyray-jobs-")
    grace = float(os.environ.get(ENV_STOP_GRACE) or DEFAULT_STOP_GRACE_S)
    start_timeout = float(os.environ.get(ENV_START_TIMEOUT) or DEFAULT_SETUP_TIMEOUT_S)
    manager = JobManager(gcs_address, log_dir, GcsJobStore(gcs_address), stop_grace_s=grace,
                         setup_timeout_s=start_timeout)
    await manager.start()
    return manager


def _fail(status: int, msg: str) -> web.Response:
    return web.json_response({"result": False, "msg": msg}, status=status)


def _float_query(request: web.Request, name: str, default: float, hi: float) -> float:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not 0 <= value <= hi:
        raise ValueError(f"{name} must be between 0 and {hi:g}, got {raw!r}")
    return value


class JobsRest:
    """The job routes of one dashboard, over its JobManager."""

    def __init__(self, address: str, manager: JobManager, run: Callable[..., Any]) -> None:
        self.address = address
        self.manager = manager
        self._run = run  # a blocking call in the dashboard's threads

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/version", self.version),
            web.post("/api/jobs/", self.submit),
            web.post("/api/jobs", self.submit),
            web.get("/api/jobs/", self.list),
            web.get("/api/jobs", self.list),
            web.get("/api/jobs/{job_id}", self.get),
            web.delete("/api/jobs/{job_id}", self.delete),
            web.post("/api/jobs/{job_id}/stop", self.stop),
            web.get("/api/jobs/{job_id}/logs", self.logs),
            web.get("/api/jobs/{job_id}/logs/tail", self.tail),
        ]

    async def version(self, request: web.Request) -> web.Response:
        from importlib.metadata import PackageNotFoundError, version
        try:
            polyray_version = version("polyray")
        except PackageNotFoundError:
            polyray_version = "unknown"
        # gcs_address: where a client uploads runtime env packages (polyray job submit --working-dir).
        return web.json_response({"version": API_VERSION, "ray_version": polyray_version, "ray_commit": "",
                                  "polyray_version": polyray_version, "gcs_address": self.address})

    # ------------------------------------------------------------------ submit

    async def submit(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError as e:
            return _fail(400, f"the request body is not JSON: {e}")
        if not isinstance(body, dict):
            return _fail(400, "the request body must be a JSON object with an entrypoint")
        unknown = sorted(set(body) - set(SUBMIT_FIELDS))
        if unknown:
            return _fail(400, f"unknown field {unknown[0]!r} (known: {', '.join(SUBMIT_FIELDS)})")
        entrypoint = body.get("entrypoint")
        if not isinstance(entrypoint, str) or not entrypoint.strip():
            return _fail(400, "entrypoint must be a non-empty string (a shell command)")
        sid = body.get("submission_id") or body.get("job_id")  # job_id: Ray's deprecated name
        try:
            sid = await self.manager.submit(
                entrypoint, submission_id=sid, runtime_env=body.get("runtime_env"),
                metadata=body.get("metadata"), entrypoint_num_cpus=body.get("entrypoint_num_cpus"),
                entrypoint_num_gpus=body.get("entrypoint_num_gpus"), entrypoint_memory=body.get("entrypoint_memory"),
                entrypoint_resources=body.get("entrypoint_resources"))
        except JobExists as e:
            return _fail(400, str(e))
        except ValueError as e:
            return _fail(400, str(e))
        except Exception as e:  # the GCS away
            return _fail(503, f"the job could not be stored in the GCS: {e}")
        return web.json_response({"submission_id": sid, "job_id": sid})

    # ------------------------------------------------------------------ read

    async def _find(self, request: web.Request) -> JobRecord | None:
        return await self.manager.find(request.match_info["job_id"])

    async def list(self, request: web.Request) -> web.Response:
        try:
            records = await self.manager.list()
            rows = await self._run(lambda: state.list_jobs(self.address, limit=state.MAX_LIMIT, detail=True))
        except Exception as e:
            return _fail(503, f"the GCS at {self.address}: {e}")
        linked = {r.driver_job_id for r in records if r.driver_job_id}
        out = [r.details() for r in records]
        out += [job_view(row) for row in rows if row["job_id"] not in linked]
        return web.json_response(out)  # Ray's GET /api/jobs/ answers a bare list

    async def get(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        try:
            rec = await self._find(request)
            if rec is not None:
                return web.json_response(rec.details())
            try:
                bytes.fromhex(job_id)
            except ValueError:
                return _fail(404, f"no job {job_id}")
            row = await self._run(state.get_job, job_id, self.address)
        except (ValueError, state.StateApiError) as e:
            return _fail(400 if isinstance(e, ValueError) else 503, str(e))
        if row is None:
            return _fail(404, f"no job {job_id}")
        return web.json_response(job_view(row))

    # ------------------------------------------------------------------ stop, delete

    async def stop(self, request: web.Request) -> web.Response:
        try:
            grace = _float_query(request, "grace_s", self.manager.stop_grace_s, 3600.0)
        except ValueError as e:
            return _fail(400, str(e))
        rec = await self._find(request)
        if rec is None:
            return _fail(404, f"no submitted job {request.match_info['job_id']}")
        return web.json_response({"stopped": self.manager.stop(rec.submission_id, grace)})

    async def delete(self, request: web.Request) -> web.Response:
        rec = await self._find(request)
        if rec is None:
            return _fail(404, f"no submitted job {request.match_info['job_id']}")
        try:
            return web.json_response({"deleted": await self.manager.delete(rec.submission_id)})
        except NotTerminal as e:
            return _fail(400, str(e))

    # ------------------------------------------------------------------ logs

    async def logs(self, request: web.Request) -> web.Response:
        rec = await self._find(request)
        if rec is None:
            return _fail(404, f"no submitted job {request.match_info['job_id']}")
        data, _ = self.manager.read_log(rec)
        return web.json_response({"logs": data.decode("utf-8", "replace")})

    async def tail(self, request: web.Request) -> web.StreamResponse:
        try:
            timeout = _float_query(request, "timeout", TAIL_DEFAULT_S, TAIL_MAX_S)
            start = int(_float_query(request, "offset", 0, float(1 << 50)))
        except ValueError as e:
            return _fail(400, str(e))
        rec = await self._find(request)
        if rec is None:
            return _fail(404, f"no submitted job {request.match_info['job_id']}")
        sid = rec.submission_id
        ws: web.WebSocketResponse | None = None
        resp: web.StreamResponse
        if request.headers.get("Upgrade", "").lower() == "websocket":
            resp = ws = web.WebSocketResponse()
        else:
            resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        deadline = time.monotonic() + timeout
        offset = start
        decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a chunk may end inside a character
        while True:
            current = await self.manager.get(sid) or rec
            ended = current.status.is_terminal()  # read before the file: nothing written after is missed
            data, offset = self.manager.read_log(current, offset, READ_CHUNK)
            if data:
                if ws is not None:
                    await ws.send_str(decoder.decode(data))
                else:
                    await resp.write(data)
                continue
            if ended or time.monotonic() >= deadline:
                break
            await asyncio.sleep(TAIL_POLL_S)
        if ws is not None:
            await ws.close()
        else:
            await resp.write_eof()
        return resp
