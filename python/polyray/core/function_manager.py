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
import sys
from typing import Any

from polyray.core.connections import Connections
from polyray.core.io_loop import IoLoop
from polyray.core.rpc import RPC_TIMEOUT
from polyray.protocol import gcs_pb2 as gcs

#: The paths a runtime env put first on a Python worker's PYTHONPATH (the raylet's launcher sets it).
RUNTIME_ENV_PYTHONPATH = "POLYRAY_RUNTIME_ENV_PYTHONPATH"


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
            at = 0
            while at < len(sys.path) and sys.path[at] in front:
                at += 1
            for p in reversed(json.loads(reply.value)):
                if p not in sys.path:
                    sys.path.insert(at, p)
        self._job_paths.add(job_id)
