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
        self._prefaulter: Any | None = None
        self._closed = False

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

    def prefault_in_background(self) -> None:
        """Map the segment and populate its first $POLYRAY_STORE_PREFAULT bytes
        (default 256 MiB) in this process, on a thread, so this process's first
        large puts take no page faults (polyray.store.prefault). A driver calls
        it at init; any failure only leaves the pages to fault on first use."""
        from polyray.store.prefault import prefault_bytes_from_env
        try:
            limit = prefault_bytes_from_env()
        except ValueError:
            return
        if limit > 0:
            threading.Thread(target=self._prefault, args=(limit,), name="polyray-store-prefault",
                             daemon=True).start()

    def _prefault(self, limit: int) -> None:
        from polyray.store import Store
        from polyray.store.prefault import Prefaulter
        try:
            with self._lock:
                if self._closed:
                    return
                if self._store is None:
                    self._store = Store.open(self.name)
                p = self._prefaulter = Prefaulter(self._store, limit)
            p.run()
        except Exception:  # noqa: BLE001 - no segment (a fake), closed meanwhile: nothing to populate
            pass

    def close(self) -> None:
        """Unmap the segment and drop this process's pins (shutdown)."""
        with self._lock:
            self._closed = True
            p = self._prefaulter
        if p is not None:
            p.stop()
        s, self._store = self._store, None
        if s is not None:
            try:
                s.close(drop_pins=True)
            except Exception:  # noqa: BLE001 - shutting down: nothing to tell anyone
                pass
