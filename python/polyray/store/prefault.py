"""Background prefault of a store segment's data region (``prs_prefault``).

A put into store pages nobody has touched pays the kernel's page allocation,
zeroing and one fault per 4 KiB page: about 1-1.5 GB/s here, against ~10 GB/s
into pages faulted before. ``Prefaulter`` populates the first ``limit`` bytes
of the data region (lowest offsets first, the order the allocator hands
fresh memory out) in ``chunk``-sized calls on a thread of its own, so a node's
start never waits for it. The thread runs at nice 10 (a low share of the CPU
while anything else wants it, but not SCHED_IDLE: populating holds this
process's mmap lock for a chunk at a time, and a thread that could be starved
for a second while holding it would stall every mmap of the process) and
sleeps ``pause`` between chunks. ``stop()`` ends it after the chunk in flight.

Invariants: a Prefaulter never changes a byte of the store and takes no store
lock; it touches at most ``min(limit, capacity)`` bytes; it is done (``done``
set) after covering them, after an error (kept in ``error``), or after stop.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyray.store.segment import Store

log = logging.getLogger(__name__)

#: Environment knob of a node's prefault: bytes to populate (suffixes K, M, G;
#: 0 or "off" turns it off). `python -m polyray.node --store-prefault` sets it.
ENV_PREFAULT = "POLYRAY_STORE_PREFAULT"
#: Default bytes a node prefaults (capped at its store's capacity).
DEFAULT_PREFAULT_BYTES = 256 * 1024 * 1024
CHUNK_BYTES = 8 * 1024 * 1024
PAUSE_S = 0.0005
NICE = 10

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMG]?)(?:I?B)?")


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912; ``"0"``/``"off"`` -> 0. ValueError on anything else."""
    t = text.strip().upper()
    if t in ("OFF", "FALSE", "NO"):
        return 0
    m = _SIZE.fullmatch(t)
    if m is None:
        raise ValueError(f"not a byte count: {text!r} (use e.g. 512M, 2G, 0 or off)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def prefault_bytes_from_env(default: int = DEFAULT_PREFAULT_BYTES) -> int:
    """The node's prefault bytes: ``$POLYRAY_STORE_PREFAULT`` when set, else ``default``."""
    text = os.environ.get(ENV_PREFAULT)
    if text is None or not text.strip():
        return default
    return parse_bytes(text)


class Prefaulter:
    """Populates ``store``'s data region [0, limit) on a background thread."""

    def __init__(self, store: Store, limit: int, *, chunk: int = CHUNK_BYTES, pause: float = PAUSE_S,
                 nice: int = NICE) -> None:
        self._store = store
        self.limit = max(0, min(int(limit), store.stats().capacity))
        self._chunk = max(4096, int(chunk))
        self._pause = pause
        self._nice = nice
        self._stop = threading.Event()
        self.done = threading.Event()
        self.covered = 0
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> Prefaulter:
        """Start the thread (at once done when limit is 0)."""
        if self.limit == 0:
            self.done.set()
            return self
        self._thread = threading.Thread(target=self.run, name="polyray-store-prefault", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        """Populate on the calling thread (``start`` runs it on a new one)."""
        if self._thread is None:
            self._thread = threading.current_thread()
        t0 = time.perf_counter()
        try:
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)  # this thread only
            except (OSError, AttributeError):
                pass
            while self.covered < self.limit and not self._stop.is_set():
                n = self._store.prefault(self.covered, min(self._chunk, self.limit - self.covered))
                if n == 0:
                    break
                self.covered += n
                if self._pause:
                    self._stop.wait(self._pause)
        except BaseException as e:  # noqa: BLE001 - kept for the caller; the store works without it
            self.error = e
            log.warning("store prefault stopped after %d bytes: %s", self.covered, e)
        finally:
            self.seconds = time.perf_counter() - t0
            self.done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once done (within ``timeout`` s)."""
        return self.done.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end after its chunk in flight and wait for it (bounded)."""
        self._stop.set()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            try:
                os.setpriority(os.PRIO_PROCESS, t.native_id or 0, 0)  # finish the chunk promptly
            except (OSError, TypeError):
                pass
            t.join(timeout)
