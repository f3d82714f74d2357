"""Samples of the cluster over the last hour, in memory, for the dashboard's charts.

The dashboard takes one ``Snapshot`` every ``interval_s`` (by default 10 s;
360 samples are one hour) and keeps them in a ring; ``series(name)`` gives
one value per sample. Nothing is written to disk: a restarted head starts an
empty ring.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

#: Seconds of history kept.
HISTORY_S = 3600.0


@dataclass
class Snapshot:
    """What the dashboard knows of the cluster at one moment (see metrics.py for its families)."""

    time: float = field(default_factory=time.time)
    nodes_alive: int = 0
    nodes_dead: int = 0
    #: (state, language) -> task attempts.
    tasks: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (state, language) -> actors.
    actors: dict[tuple[str, str], int] = field(default_factory=dict)
    #: resource -> (used, total), summed over alive nodes.
    resources: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: node id hex -> (store bytes used, store capacity, objects).
    store: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    #: language -> worker processes (drivers not counted).
    workers: dict[str, int] = field(default_factory=dict)
    #: The head machine's CPU percent and memory used / total bytes.
    cpu_percent: float = 0.0
    mem_used: int = 0
    mem_total: int = 0
    #: Seconds the snapshot took to gather.
    took_s: float = 0.0

    def values(self) -> dict[str, float]:
        """The numbers the charts draw."""
        cpu = self.resources.get("CPU", (0.0, 0.0))
        return {
            "tasks_running": float(sum(n for (s, _), n in self.tasks.items() if s == "RUNNING")),
            "tasks_finished": float(sum(n for (s, _), n in self.tasks.items() if s == "FINISHED")),
            "tasks_failed": float(sum(n for (s, _), n in self.tasks.items() if s == "FAILED")),
            "actors_alive": float(sum(n for (s, _), n in self.actors.items() if s == "ALIVE")),
            "cpu_used": cpu[0], "cpu_total": cpu[1],
            "store_used_bytes": float(sum(u for u, _, _ in self.store.values())),
            "workers": float(sum(self.workers.values())),
            "node_cpu_percent": self.cpu_percent,
            "node_mem_used_bytes": float(self.mem_used),
        }


class MetricsHistory:
    """A ring of snapshots over the last ``HISTORY_S`` seconds."""

    def __init__(self, interval_s: float = 10.0, history_s: float = HISTORY_S) -> None:
        self.interval_s = interval_s
        self._ring: deque[tuple[float, dict[str, float]]] = deque(maxlen=max(1, int(history_s / interval_s)))

    def add(self, snap: Snapshot) -> None:
        self._ring.append((snap.time, snap.values()))

    def __len__(self) -> int:
        return len(self._ring)

    def series(self, name: str) -> list[tuple[float, float]]:
        """(time, value) of every kept sample, oldest first."""
        return [(t, v.get(name, 0.0)) for t, v in self._ring]

    def names(self) -> list[str]:
        return sorted(self._ring[-1][1]) if self._ring else sorted(Snapshot().values())
