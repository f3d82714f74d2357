"""The node's GPUs: how many, which indices, and which a lease holds.

Detection (``detect_gpu_ids``) runs once at node start when ``--num-gpus``
is not given: ``CUDA_VISIBLE_DEVICES`` of the node's own environment when set
(as Ray: the node then offers exactly those devices), else ``nvidia-smi
--query-gpu=index --format=csv,noheader`` when it is on PATH, else the CUDA
driver library (``cuDeviceGetCount`` of ``libcuda``, or of
``$POLYRAY_CUDA_LIBRARY``) when one is found, asked in a child process; each
bounded by a short timeout; else none.

``GpuInstances`` hands out indices to leases: a request of one or more GPUs
takes that many whole, unused indices (a whole amount is required, as in
Ray); a fraction below one shares one index with other fractions, best fit
(the index with the least room that holds it; lowest index on a tie).
Amounts are fixed point (1/10000) as in ``resources``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

log = logging.getLogger(__name__)

_SCALE = 10_000
#: Seconds nvidia-smi may take before the node gives up on it (and counts no GPU).
DETECT_TIMEOUT_S = 3.0


def detect_gpu_ids(timeout_s: float = DETECT_TIMEOUT_S) -> list[str]:
    """The GPU indices of this machine as the node should offer them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return _cuda_driver_ids(timeout_s)
    try:
        out = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("nvidia-smi did not answer (%s); this node offers no GPU", exc)
        return []
    if out.returncode != 0:
        log.warning("nvidia-smi exited with %d; this node offers no GPU", out.returncode)
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()]


# Run in a child: a driver that hangs in cuInit must not hang the node.
_CUDA_COUNT = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
n = ctypes.c_int(0)
if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(n)) != 0:
    sys.exit(3)
print(n.value)
"""


#: Where the NVIDIA driver installs libcuda (looked up directly: ctypes.util.find_library
#: runs ldconfig and a compiler, half a second at every node start).
_LIBCUDA_PATHS = ("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/aarch64-linux-gnu/libcuda.so.1",
                  "/usr/lib64/libcuda.so.1", "/usr/lib/libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1")


def _cuda_driver_ids(timeout_s: float) -> list[str]:
    """0..n-1 for the n devices the CUDA driver library reports; [] without one."""
    lib = os.environ.get("POLYRAY_CUDA_LIBRARY") or next(
        (p for p in _LIBCUDA_PATHS if os.path.exists(p)), "")
    if not lib:
        return []
    try:
        out = subprocess.run([sys.executable, "-c", _CUDA_COUNT, lib], capture_output=True, text=True,
                             timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("the CUDA driver (%s) did not answer (%s); this node offers no GPU", lib, exc)
        return []
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        log.warning("the CUDA driver (%s) reports no device (exit %d)", lib, out.returncode)
        return []
    return [str(i) for i in range(int(out.stdout.strip()))]


def gpu_ids_for(count: float, detected: list[str] | None = None) -> list[str]:
    """The indices of a node declaring ``count`` GPUs: the detected ones first
    (as far as they go), then the next integers."""
    ids = list(detected or [])[: int(count)]
    nxt = 0
    while len(ids) < int(count):
        if str(nxt) not in ids:
            ids.append(str(nxt))
        nxt += 1
    return ids


class GpuInstances:
    """Which share of each GPU index is free."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = list(ids)
        self._free = [_SCALE] * len(self.ids)

    def _pick(self, amount: float) -> list[int] | None:
        units = int(round(amount * _SCALE))
        if units <= 0:
            return []
        if units < _SCALE:
            # Best fit: the index with the least room that holds it, so
            # fractions pack onto GPUs already shared and whole ones stay free.
            fitting = [(free, i) for i, free in enumerate(self._free) if free >= units]
            return [min(fitting)[1]] if fitting else None
        whole = [i for i, free in enumerate(self._free) if free == _SCALE]
        need = -(-units // _SCALE)  # a whole count (validated by the API; rounded up here)
        return whole[:need] if len(whole) >= need else None

    def fits(self, amount: float) -> bool:
        """True when ``amount`` GPUs can be assigned indices now."""
        return self._pick(amount) is not None

    def take(self, amount: float) -> tuple[str, ...]:
        """Assign indices for ``amount`` GPUs (ValueError when they do not fit)."""
        picked = self._pick(amount)
        if picked is None:
            raise ValueError(f"cannot take {amount:g} GPU: free shares {self.free_shares()}")
        units = int(round(amount * _SCALE))
        for i in picked:
            self._free[i] -= units if units < _SCALE else _SCALE
        return tuple(self.ids[i] for i in picked)

    def give(self, ids: tuple[str, ...], amount: float) -> None:
        """Return what ``take(amount)`` gave as ``ids`` (never beyond a whole GPU)."""
        units = int(round(amount * _SCALE))
        for gpu in ids:
            if gpu in self.ids:
                i = self.ids.index(gpu)
                self._free[i] = min(_SCALE, self._free[i] + (units if units < _SCALE else _SCALE))

    def free_shares(self) -> dict[str, float]:
        """index -> free share, for messages and tests."""
        return {gpu: free / _SCALE for gpu, free in zip(self.ids, self._free)}
