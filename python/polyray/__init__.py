"""polyray: a distributed runtime whose tasks, actors and objects cross languages.

The public API (README.md): ``init``, ``remote``, ``get``, ``put``, ``wait`` and
friends; ``polyray.exceptions`` has every error type. Names load on first
use, so the GCS and raylet processes (which only need the protocol and the
store) never import the CoreWorker.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "available_resources", "cancel", "cluster_resources", "get", "get_actor", "get_gpu_ids", "get_runtime_context",
    "init",
    "is_initialized", "kill", "nodes", "put", "remote", "shutdown", "wait",
}
_OTHER = {
    "ActorClass": "polyray.actor",
    "ActorHandle": "polyray.actor",
    "method": "polyray.actor",
    "ObjectRef": "polyray.core.object_ref",
    "ObjectRefGenerator": "polyray.core.generators",
    "java_function": "polyray.xlang",
    "java_actor_class": "polyray.xlang",
    "cpp_function": "polyray.xlang",
    "cpp_actor_class": "polyray.xlang",
    "timeline": "polyray.util.timeline",
}

__all__ = sorted(_API | set(_OTHER) | {"exceptions"})


def __getattr__(name: str) -> Any:
    if name in _API:
        module = importlib.import_module("polyray.api")
    elif name in _OTHER:
        module = importlib.import_module(_OTHER[name])
    elif name in ("actor", "exceptions", "util"):
        return importlib.import_module(f"polyray.{name}")
    else:
        raise AttributeError(f"module 'polyray' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
