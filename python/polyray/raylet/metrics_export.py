"""A node's Prometheus metrics: ``/metrics`` on ``--metrics-export-port`` (127.0.0.1 unless told).

Served by aiohttp in the raylet's own event loop, so each scrape reads the
raylet's state (workers, leases, store) without locks. Names as Ray's with a
``polyray_`` prefix (docs/observability.md "Metrics"): workers by language
and state, resources used/total of this node, store bytes and objects, this
machine's CPU and memory. Like Ray's per-node exporter it takes no token:
keep it on 127.0.0.1 or a private network (docs/security.md "HTTP").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psutil
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from polyray.protocol import common_pb2

if TYPE_CHECKING:
    from polyray.raylet.server import RayletServer


class _RayletCollector(Collector):
    def __init__(self, raylet: RayletServer) -> None:
        self.raylet = raylet

    def collect(self) -> list[Metric]:
        r = self.raylet
        node = r.config.node_id_hex
        out: list[Metric] = []
        g = GaugeMetricFamily("polyray_workers", "Worker processes of this node by language and state.",
                              labels=["language", "State", "node_id"])
        counts: dict[tuple[str, str], int] = {}
        for w in list(r.pool.workers.values()):
            key = (common_pb2.Language.Name(w.language), "ACTOR" if w.actor_id else str(w.state.name))
            counts[key] = counts.get(key, 0) + 1
        for (lang, wstate), n in sorted(counts.items()):
            g.add_metric([lang, wstate, node], n)
        out.append(g)
        g = GaugeMetricFamily("polyray_resources", "This node's logical resources.",
                              labels=["Name", "State", "node_id"])
        total = r.leases.resources.total.to_dict()
        avail = r.leases.resources.available.to_dict()
        for name, t in sorted(total.items()):
            g.add_metric([name, "USED", node], t - avail.get(name, 0.0))
            g.add_metric([name, "TOTAL", node], t)
        out.append(g)
        try:
            st = r.objects.stats()
        except Exception:  # the store is gone (stopping)
            st = None
        if st is not None:
            g = GaugeMetricFamily("polyray_object_store_memory", "Bytes in this node's store.",
                                  labels=["Location", "node_id"])
            g.add_metric(["MMAP_SHM", node], st.bytes_used)
            out.append(g)
            for name, doc, v in (("polyray_object_store_available_memory", "Bytes free in the store.",
                                  st.capacity - st.bytes_used),
                                 ("polyray_object_store_num_local_objects", "Objects in the store.", st.objects),
                                 ("polyray_object_store_evictions", "Objects evicted so far.", st.evictions)):
                g = GaugeMetricFamily(name, doc, labels=["node_id"])
                g.add_metric([node], v)
                out.append(g)
        vm = psutil.virtual_memory()
        node_values: tuple[tuple[str, str, float], ...] = (
            ("polyray_node_cpu_utilization", "CPU use of this machine, percent.", psutil.cpu_percent(interval=None)),
            ("polyray_node_mem_used", "Memory used, bytes.", vm.total - vm.available),
            ("polyray_node_mem_total", "Memory, bytes.", vm.total),
        )
        for name, doc, value in node_values:
            g = GaugeMetricFamily(name, doc, labels=["node_id"])
            g.add_metric([node], value)
            out.append(g)
        return out


class MetricsExporter:
    """``/metrics`` of one raylet; ``start()`` binds (port 0: any free port) in the running loop."""

    def __init__(self, raylet: RayletServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_RayletCollector(raylet))
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.add_routes([web.get("/metrics", self._metrics)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
