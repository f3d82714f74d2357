"""Functions exported through the GCS, and the job's import path.

A driver exports functions and classes it cannot name by module (defined in
``__main__``, closures) to the GCS function table, keyed by the hash of their
pickle; workers fetch them by that hash. Before a worker imports the job's
code it puts the driver's import path (stored in the GCS KV) on sys.path.

Invariants: the job path is added at most once per job; an export is
idempotent (same pickle, same key).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from typing import Any

from polyray.core.connections import Connections
from polyray.core.io_loop import IoLoop
from polyray.core.rpc import RPC_TIMEOUT
from polyray.protocol import gcs_pb2 as gcs

#: The paths a runtime env put first on a Python worker's PYTHONPATH (the raylet's launcher sets it).
RUNTIME_ENV_PYTHONPATH = "POLYRAY_RUNTIME_ENV_PYTHONPATH"
#: A folder of a node's runtime env cache: an unpacked package or a pip venv (runtime_env/agent.py).
_RUNTIME_ENV_CACHE = re.compile(r"(^|/)runtime_resources/(pkg_[0-9a-f]+|pip_[0-9a-f]+)(/|$)")


def merge_job_path(current: list[str], driver_paths: list[str], front: list[str]) -> list[str]:
    """The worker's sys.path with the driver's import path added.

    The driver's paths go after the runtime env's (``front``), except:
    folders of a runtime env cache (the driver's own unpacked working_dir or
    pip venv on its node; the worker has its own env's copies, and on one
    machine it would otherwise read another node's) are left out, and the
    driver's site-packages go last, so the worker's interpreter and venv (a
    runtime env's pip requirements) win over the driver's venv.
    """
    out = list(current)
    at = 0
    while at < len(out) and out[at] in front:
        at += 1
    late = []
    for p in driver_paths:
        if p in out or p in late or _RUNTIME_ENV_CACHE.search(p):
            continue
        if os.path.basename(p.rstrip("/")) in ("site-packages", "dist-packages"):
            late.append(p)
        else:
            out.insert(at, p)
            at += 1
    return out + late


class FunctionManager:
    """Exports and fetches pickled functions; sets up the job's import path."""

    def __init__(self, *, io: IoLoop, connections: Connections, job_id: bytes) -> None:
        self._io = io
        self._connections = connections
        self._job_id = job_id
        self._job_paths: set[bytes] = set()

    def export_function(self, pickled: bytes, name: str) -> bytes:
        """Put a pickled function or class into the GCS function table; returns its hash."""
        digest = hashlib.sha1(pickled).digest()
        self._io.rpc(lambda: self._connections.gcs.ExportFunction(
            gcs.ExportFunctionRequest(job_id=self._job_id, function_hash=digest, pickled=pickled, name=name),
            timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        return digest

    def fetch_function(self, job_id: bytes, function_hash: bytes) -> Any:
        """The function or class a job exported under ``function_hash`` (unpickled)."""
        import cloudpickle
        self.ensure_job_path(job_id)
        reply = self._io.rpc(lambda: self._connections.gcs.GetFunction(
            gcs.GetFunctionRequest(job_id=job_id, function_hash=function_hash), timeout=RPC_TIMEOUT),
            timeout=RPC_TIMEOUT + 5)
        if not reply.found:
            raise LookupError(f"function {function_hash.hex()} of job {job_id.hex()} is not in the GCS function table")
        return cloudpickle.loads(reply.pickled)

    def ensure_job_path(self, job_id: bytes) -> None:
        """Put the job's driver import path on sys.path (once per job)."""
        if job_id in self._job_paths:
            return
        reply = self._io.rpc(lambda: self._connections.gcs.KVGet(
            gcs.KVGetRequest(namespace="job", key=job_id + b":sys_path"), timeout=RPC_TIMEOUT),
            timeout=RPC_TIMEOUT + 5)
        if reply.found:
            # A runtime env's working_dir and py_modules stay ahead of the driver's path.
            front = [p for p in os.environ.get(RUNTIME_ENV_PYTHONPATH, "").split(os.pathsep) if p]
            sys.path[:] = merge_job_path(sys.path, [str(p) for p in json.loads(reply.value)], front)
        self._job_paths.add(job_id)
