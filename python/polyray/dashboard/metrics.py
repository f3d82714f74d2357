"""Prometheus metrics of the cluster (``/metrics`` on the dashboard's port).

Ray's metric names with a ``polyray_`` prefix and a ``language`` label where
it applies (docs/observability.md "Metrics"). The values come from a
``Snapshot`` (gathered through ``polyray.util.state`` and each raylet's
GetNodeStats) and from the GCS's RPC latency histogram, which the GCS
process keeps in prometheus_client's default registry
(``polyray.gcs.rpc_metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import grpc
import psutil
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from polyray.dashboard.metrics_history import Snapshot
from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc
from polyray.util import state


def gather(address: str, task_summary: dict | None = None, timeout: float = 10.0) -> Snapshot:
    """A snapshot of the cluster at ``address`` (blocking: run it in a thread). ``task_summary``:
    ``summarize_tasks``'s result when the caller has it (task_counts.py), else it is asked for."""
    t0 = time.monotonic()
    snap = Snapshot()
    nodes = state.list_nodes(address, limit=state.MAX_LIMIT, detail=True, timeout=timeout)
    for n in nodes:
        if n["state"] != "ALIVE":
            snap.nodes_dead += 1
            continue
        snap.nodes_alive += 1
        for name, total in n["resources_total"].items():
            used, tot = snap.resources.get(name, (0.0, 0.0))
            free = n["resources_available"].get(name, 0.0)
            snap.resources[name] = (used + total - free, tot + total)
        with auth.channel(n["raylet_address"]) as ch:
            try:
                st = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(),
                                                                         timeout=timeout)
            except grpc.RpcError:
                continue
        snap.store[n["node_id"]] = (st.store_bytes_used, st.store_capacity, st.store_objects)
    for w in state.list_workers(address, limit=state.MAX_LIMIT, timeout=timeout):
        if w["worker_type"] == "WORKER":
            snap.workers[w["language"]] = snap.workers.get(w["language"], 0) + 1
    for a in state.list_actors(address, limit=state.MAX_LIMIT, timeout=timeout):
        key = (a["state"], a["language"])
        snap.actors[key] = snap.actors.get(key, 0) + 1
    if task_summary is None:
        task_summary = state.summarize_tasks(address, timeout=timeout)
    for entry in task_summary["summary"].values():
        for st_name, count in entry["state_counts"].items():
            key = (st_name, entry["language"])
            snap.tasks[key] = snap.tasks.get(key, 0) + count
    snap.cpu_percent = psutil.cpu_percent(interval=None)
    vm = psutil.virtual_memory()
    snap.mem_used, snap.mem_total = vm.total - vm.available, vm.total
    snap.took_s = time.monotonic() - t0
    return snap


def families(snap: Snapshot) -> Iterator[Metric]:
    """The cluster's metric families from one snapshot."""
    g = GaugeMetricFamily("polyray_tasks", "Task attempts by state and language (from task events).",
                          labels=["State", "language"])
    for (s, lang), n in sorted(snap.tasks.items()):
        g.add_metric([s, lang], n)
    yield g
    g = GaugeMetricFamily("polyray_actors", "Actors by state and language.", labels=["State", "language"])
    for (s, lang), n in sorted(snap.actors.items()):
        g.add_metric([s, lang], n)
    yield g
    g = GaugeMetricFamily("polyray_resources", "Logical resources of the alive nodes, used and total.",
                          labels=["Name", "State"])
    for name, (used, total) in sorted(snap.resources.items()):
        g.add_metric([name, "USED"], used)
        g.add_metric([name, "AVAILABLE"], total - used)
        g.add_metric([name, "TOTAL"], total)
    yield g
    g = GaugeMetricFamily("polyray_object_store_memory", "Bytes in each node's shared store (primary copies; "
                          "polyray does not spill).", labels=["Location", "node_id"])
    c = GaugeMetricFamily("polyray_object_store_available_memory", "Bytes free in each node's store.",
                          labels=["node_id"])
    o = GaugeMetricFamily("polyray_object_store_num_local_objects", "Objects in each node's store.",
                          labels=["node_id"])
    for node, (used, cap, objs) in sorted(snap.store.items()):
        g.add_metric(["MMAP_SHM", node], used)
        c.add_metric([node], cap - used)
        o.add_metric([node], objs)
    yield g
    yield c
    yield o
    g = GaugeMetricFamily("polyray_workers", "Worker processes by language (drivers not counted).",
                          labels=["language"])
    for lang, n in sorted(snap.workers.items()):
        g.add_metric([lang], n)
    yield g
    g = GaugeMetricFamily("polyray_cluster_active_nodes", "Alive nodes.")
    g.add_metric([], snap.nodes_alive)
    yield g
    g = GaugeMetricFamily("polyray_cluster_dead_nodes", "Nodes known dead.")
    g.add_metric([], snap.nodes_dead)
    yield g
    yield from node_families(snap.cpu_percent, snap.mem_used, snap.mem_total)


def node_families(cpu_percent: float, mem_used: int, mem_total: int) -> Iterable[Metric]:
    """This machine's CPU and memory (Ray's ray_node_* names)."""
    g = GaugeMetricFamily("polyray_node_cpu_utilization", "CPU use of this machine, percent.")
    g.add_metric([], cpu_percent)
    yield g
    g = GaugeMetricFamily("polyray_node_cpu_count", "CPUs of this machine.")
    g.add_metric([], psutil.cpu_count() or 0)
    yield g
    g = GaugeMetricFamily("polyray_node_mem_used", "Memory used on this machine, bytes.")
    g.add_metric([], mem_used)
    yield g
    g = GaugeMetricFamily("polyray_node_mem_total", "Memory of this machine, bytes.")
    g.add_metric([], mem_total)
    yield g


class SnapshotCollector(Collector):
    """A prometheus_client collector over the latest snapshot the dashboard took."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterable[Metric]:
        return list(families(self.snapshot))
