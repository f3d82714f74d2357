"""Merging a task's runtime env over its job's, and its canonical form on the wire."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: The variable a job's driver reads as its job-level runtime env (JSON), set
#: by the job supervisor, and that the raylet sets for the workers it starts.
ENV_VAR = "POLYRAY_RUNTIME_ENV_JSON"


def merge(job: Mapping[str, Any] | None, task: Mapping[str, Any] | None) -> dict[str, Any]:
    """``task`` over ``job`` (Ray's rules): ``env_vars`` are merged, the task's
    winning on a clash; every other key the task sets replaces the job's."""
    out = dict(job or {})
    for key, value in (task or {}).items():
        if key == "env_vars":
            out[key] = {**dict(out.get("env_vars") or {}), **dict(value)}
        else:
            out[key] = value
    return out


def canonical_json(runtime_env: Mapping[str, Any] | None) -> str:
    """The TaskSpec.runtime_env form: sorted keys, no spaces; "" for an empty env."""
    if not runtime_env:
        return ""
    return json.dumps(runtime_env, sort_keys=True, separators=(",", ":"))


def from_json(text: str) -> dict[str, Any]:
    """The dict of a TaskSpec.runtime_env (or $POLYRAY_RUNTIME_ENV_JSON); {} for "".
    ValueError when it is not a JSON object."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"runtime_env is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"runtime_env must be a JSON object, got {type(value).__name__}")
    return value


def env_hash(text: str) -> str:
    """A short hash of a runtime env's JSON (any key order): "" for none."""
    env = from_json(text)
    if not env:
        return ""
    return hashlib.sha256(canonical_json(env).encode()).hexdigest()[:16]
