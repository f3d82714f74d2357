"""The dashboard's HTTP server (aiohttp), run in the head's process and event loop.

``DashboardServer(gcs_address, host, port).start()`` binds (port 0: any free
port; the default 8265, when taken, falls back to a free port with a
warning), serves the pages, ``/api/v0/...`` and ``/metrics``, and samples the
cluster every ``interval_s`` into the hour of history the charts draw.

Every request must carry the cluster token (docs/security.md "HTTP"):
``Authorization: Bearer <token>``, or the ``polyray_token`` cookie that a
visit to ``/?token=<token>`` sets (the head prints that URL, as Jupyter
does). Others get 401 and a log line; the comparison is constant-time. With
``POLYRAY_AUTH_MODE=disabled`` every request is served. Under
``POLYRAY_USE_TLS=1`` it serves HTTPS only, with the node's certificate
(server authentication; ``auth.https_ssl_context``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from polyray.dashboard import metrics, pages, task_counts
from polyray.dashboard.metrics_history import MetricsHistory
from polyray.dashboard.rest import Rest
from polyray.dashboard.rest_jobs import JobsRest, start_job_manager
from polyray.dashboard.rest_logs import LogsJobsRest
from polyray.protocol import auth
from polyray.util import state

log = logging.getLogger(__name__)

DEFAULT_PORT = 8265
COOKIE = "polyray_token"
#: A /metrics scrape reuses a snapshot younger than this.
FRESH_S = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DashboardServer:
    def __init__(self, gcs_address: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 interval_s: float = 10.0, session_dirs: tuple[str, ...] = (), task_events: Any = None) -> None:
        self.gcs_address = gcs_address
        #: The GCS's TaskEvents when in the head's process (task_counts.py), else None.
        self.task_events = task_events
        self.host = host
        self.port = port
        self.session_dirs = session_dirs
        self.history = MetricsHistory(interval_s)
        self._collector = metrics.SnapshotCollector()
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self._collector)
        self._snap_at = 0.0
        self._snap_lock = asyncio.Lock()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="dashboard")
        self._runner: web.AppRunner | None = None
        self._sampler: asyncio.Task | None = None
        self._token = auth.current_token()
        #: HTTPS with the node's certificate under POLYRAY_USE_TLS (docs/security.md "HTTP").
        self._ssl = auth.https_ssl_context() if auth.tls_enabled() else None
        #: Job submission (docs/jobs.md), started with the server.
        self.jobs: Any = None

    # ----------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl is not None else 'http'}://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        """The URL to open once (sets the token cookie)."""
        return f"{self.url}/?token={self._token}" if self._token else self.url

    async def start(self) -> int:
        app = web.Application(middlewares=[self._auth])
        rest = Rest(self.gcs_address, self.run, self.summarize_tasks)
        self.jobs = await start_job_manager(self.gcs_address, self.session_dirs)
        app.add_routes([
            web.get("/", self._page("Cluster", self._cluster)),
            web.get("/jobs", self._page("Jobs", lambda q: pages.jobs_body(self.gcs_address))),
            web.get("/actors", self._page("Actors", lambda q: pages.actors_body(self.gcs_address))),
            web.get("/tasks", self._tasks_page),
            web.get("/logs", self._page("Logs", lambda q: pages.logs_body(self.gcs_address, self.session_dirs))),
            web.get("/metrics-charts", self._page("Metrics", lambda q: pages.metrics_body(self.history))),
            web.get("/metrics", self._metrics),
            *JobsRest(self.gcs_address, self.jobs, self.run).routes(),
            *LogsJobsRest(self.gcs_address, self.run).routes(),
            *rest.routes(),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl)
            await site.start()
        except OSError as e:
            if self.port != DEFAULT_PORT:
                await self._runner.cleanup()
                raise OSError(f"the dashboard cannot listen on {self.host}:{self.port}: {e.strerror}") from None
            log.warning("the dashboard's port %d is taken; using a free port", DEFAULT_PORT)
            site = web.TCPSite(self._runner, self.host, 0, ssl_context=self._ssl)
            await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._sampler = asyncio.create_task(self._sample_loop(), name="dashboard-sampler")
        return self.port

    async def stop(self) -> None:
        if self.jobs is not None:
            await self.jobs.shutdown()
        if self._sampler is not None:
            self._sampler.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A blocking call (a state query) in the dashboard's threads, off the head's loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # ----------------------------------------------------------- auth

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._token is None:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        presented = header[len(auth.BEARER):] if header.startswith(auth.BEARER) else None
        if presented is not None and auth.token_matches(presented, self._token):
            return await handler(request)
        query_token = request.query.get("token")
        if query_token is not None and auth.token_matches(query_token, self._token):
            # Set the cookie and drop the token from the address bar.
            rest = [(k, v) for k, v in request.query.items() if k != "token"]
            # Same origin only: "//host/..." would send the browser elsewhere.
            path = "/" + request.path.lstrip("/")
            target = path + ("?" + urlencode(rest) if rest else "")
            resp = web.HTTPFound(target)
            resp.set_cookie(COOKIE, self._token, httponly=True, samesite="Strict")
            raise resp
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and auth.token_matches(cookie, self._token):
            return await handler(request)
        why = "a wrong token" if (presented or cookie or query_token) else "no token"
        log.warning("dashboard: refused %s %s from %s: %s", request.method, request.path, request.remote, why)
        return web.Response(status=401, text="401: the cluster token is required (Authorization: Bearer <token>, "
                                             "or open the URL the head printed, /?token=<token>, once)\n")

    # ----------------------------------------------------------- pages, metrics

    def _page(self, title: str, body: Callable[[Any], str]) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            t0 = time.monotonic()
            try:
                text = await self.run(body, request.query)
            except Exception as e:  # the GCS away, a bad filter: say so on the page
                text = f"<p class='bad'>{pages.esc(type(e).__name__)}: {pages.esc(e)}</p>"
            return web.Response(text=pages.layout(title, request.path, text, time.monotonic() - t0),
                                content_type="text/html")
        return handle

    async def summarize_tasks(self, filters: list[Any]) -> dict:
        """state.summarize_tasks's result: counted in place when the GCS is in this process."""
        if self.task_events is not None:
            done = task_counts.summarize(self.task_events, filters)
            if done is not None:
                return done
        return await self.run(lambda: state.summarize_tasks(self.gcs_address, filters))

    async def _tasks_page(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        try:
            summary: dict | None = await self.summarize_tasks(pages.task_filters(q))
        except Exception:
            summary = None  # the page shows the error
        return await self._page("Tasks", lambda q: pages.tasks_body(self.gcs_address, q, summary))(request)

    def _cluster(self, q: Any) -> str:
        return pages.cluster_body(self.gcs_address, self._collector.snapshot.store)

    async def refresh(self, max_age_s: float = FRESH_S) -> metrics.Snapshot:
        """The latest snapshot, gathered anew if older than ``max_age_s``."""
        async with self._snap_lock:
            if time.monotonic() - self._snap_at > max_age_s:
                summary = (task_counts.summarize(self.task_events) if self.task_events is not None else None)
                self._collector.snapshot = await self.run(metrics.gather, self.gcs_address, summary)
                self._snap_at = time.monotonic()
            return self._collector.snapshot

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            await self.refresh()
        except Exception as e:  # serve what we had: a scrape must not fail because the GCS is slow
            log.warning("dashboard: metrics snapshot failed: %s", e)
        body = generate_latest(self._registry) + generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _sample_loop(self) -> None:
        while True:
            try:
                self.history.add(await self.refresh(max_age_s=0.0))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("dashboard: sample failed: %s", e)
            await asyncio.sleep(self.history.interval_s)
