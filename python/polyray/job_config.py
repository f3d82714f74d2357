"""``JobConfig``: a job's settings for ``polyray.init(job_config=...)``, as Ray's ``ray.job_config.JobConfig``.

The fields of Ray's that apply: ``runtime_env``, ``metadata``, ``code_search_path``,
``default_actor_lifetime`` and ``ray_namespace`` (also readable as ``namespace``).
``init()``'s own arguments of the same meaning (``runtime_env``, ``code_search_path``,
``namespace``) are merged with them; a setting given both ways with different values is a
ValueError naming both. Not here: Ray's ``jvm_options`` and ``_client_job``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

LIFETIMES = ("detached", "non_detached")


class JobConfig:
    """A job's configuration (Ray's ``JobConfig``)."""

    def __init__(self, *, runtime_env: dict[str, Any] | None = None, metadata: dict[str, str] | None = None,
                 code_search_path: Sequence[str] | None = None, default_actor_lifetime: str = "non_detached",
                 ray_namespace: str | None = None) -> None:
        self.runtime_env: dict[str, Any] | None = None
        self.metadata: dict[str, str] = {}
        self.code_search_path: list[str] = []
        self.default_actor_lifetime = "non_detached"
        self.ray_namespace: str | None = None
        self.set_runtime_env(runtime_env)
        self.set_metadata_dict(metadata or {})
        if code_search_path is not None:
            if isinstance(code_search_path, str) or not all(isinstance(p, str) for p in code_search_path):
                raise TypeError("JobConfig(code_search_path=...) must be a list of str")
            self.code_search_path = list(code_search_path)
        self.set_default_actor_lifetime(default_actor_lifetime)
        self.set_ray_namespace(ray_namespace)

    @property
    def namespace(self) -> str | None:
        """``ray_namespace`` under polyray's name."""
        return self.ray_namespace

    def set_runtime_env(self, runtime_env: dict[str, Any] | None) -> None:
        if runtime_env is not None:
            from polyray.runtime_env import validate as validate_runtime_env
            runtime_env = validate_runtime_env(runtime_env)  # a bad key: ValueError naming it
        self.runtime_env = runtime_env or None

    def set_metadata(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"JobConfig metadata keys and values must be str, got {key!r}: {value!r}")
        self.metadata[key] = value

    def set_metadata_dict(self, metadata: dict[str, str]) -> None:
        if not isinstance(metadata, dict):
            raise TypeError(f"JobConfig(metadata=...) must be a dict of str -> str, got {type(metadata).__name__}")
        for k, v in metadata.items():
            self.set_metadata(k, v)

    def set_default_actor_lifetime(self, lifetime: str) -> None:
        if lifetime not in LIFETIMES:
            raise ValueError(f"JobConfig(default_actor_lifetime=...) must be 'detached' or 'non_detached', "
                             f"got {lifetime!r}")
        self.default_actor_lifetime = lifetime

    def set_ray_namespace(self, namespace: str | None) -> None:
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError(f"JobConfig(ray_namespace=...) must be a str, got {type(namespace).__name__}")
        self.ray_namespace = namespace

    def to_json(self) -> str:
        return json.dumps({"runtime_env": self.runtime_env, "metadata": self.metadata,
                           "code_search_path": self.code_search_path,
                           "default_actor_lifetime": self.default_actor_lifetime, "ray_namespace": self.ray_namespace})

    @classmethod
    def from_json(cls, text: str) -> JobConfig:
        return cls(**json.loads(text))

    def __repr__(self) -> str:
        return f"JobConfig({self.to_json()})"


def merge(job_config: JobConfig | None, *, namespace: str | None, runtime_env: dict[str, Any] | None,
          code_search_path: Sequence[str] | None) -> tuple[str | None, dict[str, Any] | None, list[str] | None]:
    """``init()``'s arguments merged with its ``job_config``: ``(namespace, runtime_env, code_search_path)``.
    Either side may set each; both, with different values, is a ValueError naming both."""
    if job_config is None:
        return namespace, runtime_env, list(code_search_path) if code_search_path is not None else None
    if not isinstance(job_config, JobConfig):
        raise TypeError(f"init(job_config=...) takes a polyray.job_config.JobConfig, got {type(job_config).__name__}")

    def pick(arg_name: str, arg: Any, field: str, value: Any) -> Any:
        if arg is not None and value is not None and arg != value:
            raise ValueError(f"init({arg_name}={arg!r}) and JobConfig({field}={value!r}) conflict: set it in one place")
        return arg if arg is not None else value

    ns = pick("namespace", namespace, "ray_namespace", job_config.ray_namespace)
    env = pick("runtime_env", runtime_env, "runtime_env", job_config.runtime_env)
    csp = pick("code_search_path", list(code_search_path) if code_search_path is not None else None,
               "code_search_path", job_config.code_search_path or None)
    return ns, env, csp
