"""The runtime env a driver or worker puts in a TaskSpec: the job's, with a task's merged over it."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from polyray.runtime_env.merge import ENV_VAR, canonical_json, from_json, merge
from polyray.runtime_env.packaging import upload_packages
from polyray.runtime_env.validation import validate

_lock = threading.Lock()
_cache: dict[tuple[str, str, str], str] = {}


def job_runtime_env(runtime_env: Mapping[str, Any] | None, gcs_address: str) -> str:
    """A job's runtime env, uploaded, as canonical JSON ("" for none).

    ``runtime_env`` is what ``init()`` was given; None reads
    $POLYRAY_RUNTIME_ENV_JSON (set by the job supervisor for a submitted
    job's driver). ValueError names a bad key.
    """
    if runtime_env is None:
        raw = os.environ.get(ENV_VAR, "")
        try:
            runtime_env = from_json(raw)
        except ValueError as exc:
            raise ValueError(f"${ENV_VAR}: {exc}") from None
    return canonical_json(upload_packages(runtime_env, gcs_address))


def task_runtime_env(job_json: str, task_env: Mapping[str, Any] | None, gcs_address: str) -> str:
    """The TaskSpec.runtime_env of a task or actor whose options hold ``task_env``:
    uploaded and merged over the job's (``job_json``). Uploads happen once per
    distinct env in this process (a folder changed afterwards is not sent again)."""
    if not task_env:
        return job_json
    key = (job_json, canonical_json(validate(task_env)), gcs_address)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    out = canonical_json(merge(from_json(job_json), upload_packages(task_env, gcs_address)))
    with _lock:
        _cache[key] = out
    return out
