"""Checking a runtime_env dict where it enters (init, .options(), job submission, the raylet)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

#: Every key a runtime env may hold.
KNOWN_KEYS = ("working_dir", "py_modules", "java_jars", "cpp_libs", "env_vars", "pip")
#: The scheme of a package stored in the GCS (packaging.package_uri).
URI_SCHEME = "gcs://"
#: Keys whose values are lists of paths or URIs.
_LIST_KEYS = ("py_modules", "java_jars", "cpp_libs")


def _is_uri(value: str) -> bool:
    return value.startswith(URI_SCHEME)


def _check_path(key: str, value: Any, *, local: bool, kinds: tuple[str, ...]) -> str:
    """One path or URI: a str; a local one must exist and be a folder or end with one of ``kinds``."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"runtime_env[{key!r}] entries must be non-empty strings (a path or a gcs:// URI), "
                         f"got {value!r}")
    if _is_uri(value):
        return value
    if not local:
        if not os.path.isabs(value):
            raise ValueError(f"runtime_env[{key!r}]: {value!r} is neither a gcs:// URI nor an absolute path")
        return value
    path = os.path.abspath(os.path.expanduser(value))
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise ValueError(f"runtime_env[{key!r}]: {value!r} does not exist")
    if not any(path.endswith(k) or (k == ".so" and ".so." in os.path.basename(path)) for k in kinds):
        raise ValueError(f"runtime_env[{key!r}]: {value!r} must be a folder or a {' / '.join(kinds)} file")
    return path


def validate(runtime_env: Mapping[str, Any] | None, *, local: bool = True) -> dict[str, Any]:
    """Check a runtime env and return a normalized copy.

    ``local`` (the default, where a user passes it): paths must exist on this
    machine and are made absolute. ``local=False`` (the raylet, for an env
    already uploaded): entries are gcs:// URIs or absolute node-local paths.
    ``pip`` given as ``{"packages": [...]}`` becomes the list. An unknown key or
    a value of the wrong type raises ValueError naming the key.
    """
    if runtime_env is None:
        return {}
    if not isinstance(runtime_env, Mapping):
        raise ValueError(f"runtime_env must be a dict, got {type(runtime_env).__name__}")
    out: dict[str, Any] = {}
    for key, value in runtime_env.items():
        if key not in KNOWN_KEYS:
            raise ValueError(f"unknown runtime_env key {key!r}; valid keys: {', '.join(KNOWN_KEYS)}")
        if value is None:
            continue
        if key == "working_dir":
            out[key] = _check_path(key, value, local=local, kinds=(".zip",))
        elif key in _LIST_KEYS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"runtime_env[{key!r}] must be a list, got {type(value).__name__}")
            kinds = {"py_modules": (".zip", ".py"), "java_jars": (".jar", ".zip"),
                     "cpp_libs": (".so", ".zip")}[key]
            out[key] = [_check_path(key, v, local=local, kinds=kinds) for v in value]
        elif key == "env_vars":
            if not isinstance(value, Mapping):
                raise ValueError(f"runtime_env['env_vars'] must be a dict of str -> str, got {type(value).__name__}")
            for name, v in value.items():
                if not isinstance(name, str) or not name or "=" in name or "\0" in name:
                    raise ValueError(f"runtime_env['env_vars']: bad variable name {name!r}")
                if not isinstance(v, str) or "\0" in v:
                    raise ValueError(f"runtime_env['env_vars'][{name!r}] must be a str, got {type(v).__name__}")
            out[key] = dict(value)
        elif key == "pip":
            packages = value
            if isinstance(value, Mapping):
                extra = set(value) - {"packages"}
                if extra:
                    raise ValueError(f"runtime_env['pip'] as a dict takes only 'packages', got {sorted(extra)}")
                packages = value.get("packages")
            if not isinstance(packages, (list, tuple)) or not all(isinstance(p, str) and p.strip()
                                                                   for p in packages):
                raise ValueError("runtime_env['pip'] must be a list of requirement strings "
                                 "or {'packages': [...]}")
            for p in packages:
                if p.strip().startswith("-"):
                    raise ValueError(f"runtime_env['pip']: options are not accepted, got {p!r}")
            if packages:
                out[key] = [p.strip() for p in packages]
    return out
