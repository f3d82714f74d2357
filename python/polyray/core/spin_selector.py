"""A selector that polls for a short while before it sleeps, when that pays.

Why: on the sync path (one call, then wait for its result) every hop wakes
a sleeping thread, and on this kind of machine (a VM whose idle vCPUs halt)
waking one costs 50-70 µs, about as much as the rest of the hop. A selector
that keeps polling (epoll with a zero timeout) before it blocks catches the
reply, or the next call, while its thread is still running (docs/performance.md).
Who spins: a driver's io loop while a user thread waits for a result (not
while the user thread runs: they would fight over the GIL), and a Python
worker's main thread between tasks. Each poll yields the core (sched_yield).

When it spins (the policy "spin_budget" of proto/runtime/runtime_spec.toml,
the same in Java's Spin and C++'s spin.h): never when the cap
(``POLYRAY_SPIN_US``, default 300 µs, 0 = off) is 0; never when the machine is
oversubscribed (the runnable threads other than this one, /proc/loadavg's
fourth field minus one, sampled at most every 100 ms, fill the cores: a
spinner would take a core from a thread with work); never when recent waits
mostly outlasted the cap (spinning would not have caught them); and only in a
process that holds one of ``cores`` token files (``SpinTokens``), so never
more spinning processes than cores.

Invariants: select() returns the same events a plain selector would, never
later than it would; it spins only when it would otherwise block (a
``timeout`` of 0 never spins) and ``only_while`` (if given) is true, and
never longer than the cap (or the timeout, when that is shorter); an idle
process sleeps as before.
"""

from __future__ import annotations

import collections
import fcntl
import os
import selectors
import threading
import time
from collections.abc import Callable, Sequence

from polyray.protocol import runtime_spec as spec

DEFAULT_SPIN_US = spec.SPIN_DEFAULT_US


def spin_seconds() -> float:
    """The spin cap this process uses: ``POLYRAY_SPIN_US`` or the default, in seconds."""
    raw = os.environ.get("POLYRAY_SPIN_US", "")
    try:
        us = int(raw) if raw else DEFAULT_SPIN_US
    except ValueError:
        raise ValueError(f"POLYRAY_SPIN_US must be a whole number of microseconds, not {raw!r}") from None
    if us < 0:
        raise ValueError(f"POLYRAY_SPIN_US must not be negative, got {us}")
    return us / 1e6


def spin_budget_us(cap_us: int, runnable: int, cores: int, waits_us: Sequence[int]) -> int:
    """Policy "spin_budget": how long to poll before sleeping, in µs.

    ``runnable`` counts the runnable threads of the machine including the
    caller; ``waits_us`` are the last waits (oldest first, at most
    SPIN_HISTORY)."""
    if cap_us <= 0:
        return 0
    if runnable - 1 >= cores:
        return 0
    if len(waits_us) >= spec.SPIN_MIN_SAMPLES:
        within = sum(1 for w in waits_us if w <= cap_us)
        if within < spec.SPIN_HIT_MIN_RATIO * len(waits_us):
            return 0
    return cap_us


def read_runnable() -> int:
    """Runnable threads of the machine now (/proc/loadavg's "R/T" field); 0 if unknown."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SpinTokens:
    """At most ``cores`` spinning processes on the machine: a process spins
    only while it holds an fcntl lock on one of ``cores`` files in a folder
    per user (POSIX record locks, which Java's FileChannel.tryLock and C++'s
    fcntl take too, and which the kernel drops when a process dies). Threads
    of one process share its token (a count)."""

    def __init__(self, cores: int, folder: str | None = None) -> None:
        # /tmp, not $TMPDIR: the folder is the machine-wide rendezvous of every polyray process
        # of this user, in every language (the C++ gate uses /tmp, Java's java.io.tmpdir is /tmp).
        self._folder = folder or f"/tmp/polyray-spin-{os.getuid()}"
        self._cores = cores
        self._mu = threading.Lock()
        self._holders = 0
        self._held: int | None = None
        self._fds: list[int] | None = None

    def _open(self) -> list[int]:
        os.makedirs(self._folder, exist_ok=True)
        return [os.open(os.path.join(self._folder, f"token-{i}"), os.O_RDWR | os.O_CREAT, 0o600)
                for i in range(self._cores)]

    def acquire(self) -> bool:
        with self._mu:
            if self._holders:
                self._holders += 1
                return True
            try:
                if self._fds is None:
                    self._fds = self._open()
            except OSError:
                self._fds = []
            for fd in self._fds:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue
                self._held = fd
                self._holders = 1
                return True
            return False

    def release(self) -> None:
        with self._mu:
            self._holders -= 1
            if self._holders == 0 and self._held is not None:
                fcntl.lockf(self._held, fcntl.LOCK_UN)
                self._held = None


class SpinPolicy:
    """The process's spin decision: the cap, the machine's load (sampled at
    most every SPIN_LOAD_SAMPLE_MS) and the record of recent waits. The clock
    and the load source are parameters for tests."""

    def __init__(self, cap_s: float, *, clock: Callable[[], float] = time.monotonic,
                 runnable: Callable[[], int] = read_runnable, cores: int | None = None,
                 tokens: SpinTokens | None = None) -> None:
        self.cap_us = int(round(cap_s * 1e6))
        self._clock = clock
        self._runnable = runnable
        self.cores = cores or machine_cores()
        self.tokens = tokens if tokens is not None else SpinTokens(self.cores)
        self._waits: collections.deque[int] = collections.deque(maxlen=spec.SPIN_HISTORY)
        self._load = 0
        self._load_at = float("-inf")
        # POLYRAY_SPIN_ADAPTIVE=0: the old fixed spin (for before/after benchmarks).
        self.fixed = os.environ.get("POLYRAY_SPIN_ADAPTIVE", "") == "0"

    def budget_s(self) -> float:
        if self.cap_us <= 0 or self.fixed:
            return self.cap_us / 1e6 if self.cap_us > 0 else 0.0
        now = self._clock()
        if now - self._load_at >= spec.SPIN_LOAD_SAMPLE_MS / 1000:
            self._load = self._runnable()
            self._load_at = now
        return spin_budget_us(self.cap_us, self._load, self.cores, list(self._waits)) / 1e6

    def record(self, wait_s: float) -> None:
        self._waits.append(int(wait_s * 1e6))


_shared: dict[float, SpinPolicy] = {}
_shared_mu = threading.Lock()


def shared_policy(cap_s: float) -> SpinPolicy:
    """One policy (and one token) per cap per process."""
    with _shared_mu:
        p = _shared.get(cap_s)
        if p is None:
            p = _shared[cap_s] = SpinPolicy(cap_s)
        return p


class SpinSelector(selectors.DefaultSelector):
    """The platform's default selector, polling up to the policy's budget
    before it blocks, when ``only_while()`` (if given) says so."""

    def __init__(self, spin_s: float, only_while: Callable[[], bool] | None = None,
                 policy: SpinPolicy | None = None) -> None:
        super().__init__()
        self._spin_s = spin_s
        self._only_while = only_while
        self._policy = policy if policy is not None or spin_s <= 0 else shared_policy(spin_s)

    def select(self, timeout: float | None = None):
        policy = self._policy
        if policy is None or timeout == 0 or (timeout is not None and timeout < 0):
            return super().select(timeout)
        if self._only_while is not None and not self._only_while():
            return super().select(timeout)
        clock = time.perf_counter
        start = clock()
        spin = policy.budget_s()
        if spin > 0 and (policy.fixed or policy.tokens.acquire()):
            try:
                if timeout is not None and timeout < spin:
                    spin = timeout
                poll = super().select
                end = start + spin
                while True:
                    events = poll(0)
                    if events:
                        policy.record(clock() - start)
                        return events
                    if clock() >= end:
                        break
                    # A spinner gives its core to any thread that is ready to
                    # run on it: with 2 cores, the thread a reply depends on.
                    os.sched_yield()
            finally:
                if not policy.fixed:
                    policy.tokens.release()
            if timeout is not None:
                timeout = max(0.0, timeout - spin)
        events = super().select(timeout)
        if events or timeout is None or timeout * 1e6 > policy.cap_us:
            policy.record(clock() - start)
        return events
