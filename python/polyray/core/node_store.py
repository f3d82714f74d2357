"""This process's handle on its node's shared store, opened on first use.

Why lazy: a driver that never puts or reads a large value never maps the
segment. Invariants: at most one Store is open per NodeStore; ``close``
drops this process's pins (the store reclaims them from a dead process too).
"""

from __future__ import annotations

import threading
from typing import Any


class NodeStore:
    """The node's shared store (polyray.store.Store), mapped on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._store: Any | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Any:
        """The open Store (mapping the segment now if needed)."""
        s = self._store
        if s is None:
            with self._lock:
                if self._store is None:
                    from polyray.store import Store
                    self._store = Store.open(self.name)
                s = self._store
        return s

    @property
    def is_open(self) -> bool:
        """Whether the segment is mapped in this process."""
        return self._store is not None

    def close(self) -> None:
        """Unmap the segment and drop this process's pins (shutdown)."""
        s, self._store = self._store, None
        if s is not None:
            try:
                s.close(drop_pins=True)
            except Exception:  # noqa: BLE001 - shutting down: nothing to tell anyone
                pass
