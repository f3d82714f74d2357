"""Validation of ``@polyray.remote`` / ``.options()`` arguments.

Unknown options and bad values fail early with a ValueError that names the
option, so a typo never silently changes scheduling; a value of the wrong
type is a TypeError (as in Ray).
"""

from __future__ import annotations

from typing import Any

TASK_OPTIONS = {
    "num_cpus", "num_gpus", "memory", "resources", "num_returns", "max_retries", "retry_exceptions",
    "scheduling_strategy", "name", "runtime_env", "max_calls", "label_selector", "fallback_strategy",
}
ACTOR_OPTIONS = {
    "num_cpus", "num_gpus", "memory", "resources", "max_restarts", "max_task_retries", "max_concurrency",
    "name", "namespace", "lifetime", "scheduling_strategy", "runtime_env", "concurrency_groups",
    "label_selector", "fallback_strategy",
}
METHOD_OPTIONS = {"num_returns", "name", "max_task_retries", "concurrency_group"}
#: num_returns of generator tasks -> TaskSpec.generator.
GENERATOR_RETURNS = {"dynamic": 1, "streaming": 2}


def validate(options: dict[str, Any], allowed: set[str], what: str) -> dict[str, Any]:
    """Check option names and values; returns a copy."""
    for key in options:
        if key not in allowed:
            raise ValueError(f"unknown option {key!r} for {what}; valid options: {', '.join(sorted(allowed))}")
    out = dict(options)
    for key in ("num_cpus", "num_gpus", "memory"):
        v = out.get(key)
        if v is not None:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise TypeError(f"option {key!r} must be a number, got {type(v).__name__}")
            if v < 0:
                raise ValueError(f"option {key!r} must not be negative, got {v}")
    gpus = out.get("num_gpus")
    if gpus is not None and gpus > 1 and gpus != int(gpus):
        raise ValueError(f"option 'num_gpus' above 1 must be a whole number (as in Ray), got {gpus}")
    if out.get("label_selector") is not None or out.get("fallback_strategy") is not None:
        from polyray.protocol import labels
        if out.get("label_selector") is not None:
            out["label_selector"] = labels.check_selector(out["label_selector"])
        if out.get("fallback_strategy") is not None:
            out["fallback_strategy"] = labels.check_fallback(out["fallback_strategy"])
    res = out.get("resources")
    if res is not None:
        if not isinstance(res, dict):
            raise TypeError(f"option 'resources' must be a dict of name -> amount, got {type(res).__name__}")
        for name, amount in res.items():
            if name in ("CPU", "GPU", "memory"):
                raise ValueError(f"use num_cpus/num_gpus/memory instead of resources[{name!r}]")
            if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
                raise ValueError(f"resource {name!r} must be a non-negative number, got {amount!r}")
    for key in ("num_returns", "max_retries", "max_restarts", "max_task_retries", "max_concurrency", "max_calls"):
        v = out.get(key)
        if key == "num_returns" and v in GENERATOR_RETURNS:
            continue  # generator tasks (core/generators.py)
        if v is not None:
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"option {key!r} must be an int, got {type(v).__name__}")
            retries = ("max_retries", "max_restarts", "max_task_retries")
            low = 1 if key == "max_concurrency" else (-1 if key in retries else 0)
            if v < low:
                raise ValueError(f"option {key!r} must be >= {low}, got {v}")
    if out.get("runtime_env") is not None:
        # Checked here (a ValueError names the key); uploaded when first submitted.
        from polyray.runtime_env import validate as validate_runtime_env
        out["runtime_env"] = validate_runtime_env(out["runtime_env"])
    groups = out.get("concurrency_groups")
    if groups is not None:
        out["concurrency_groups"] = check_concurrency_groups(groups)
    group = out.get("concurrency_group")
    if group is not None and not isinstance(group, str):
        raise TypeError(f"option 'concurrency_group' must be a str, got {type(group).__name__}")
    lifetime = out.get("lifetime")
    if lifetime is not None and lifetime not in ("detached", "non_detached"):
        raise ValueError(f"option 'lifetime' must be 'detached' or 'non_detached', got {lifetime!r}")
    return out


def check_concurrency_groups(groups: Any) -> dict[str, int]:
    """Ray's ``concurrency_groups``: a dict of group name -> how many of its calls may run at once."""
    if not isinstance(groups, dict):
        raise TypeError(f"option 'concurrency_groups' must be a dict of name -> max concurrency, "
                        f"got {type(groups).__name__}")
    out: dict[str, int] = {}
    for name, n in groups.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"concurrency group names must be non-empty str, got {name!r}")
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"concurrency group {name!r} must be given an int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"concurrency group {name!r} must allow at least 1 call at a time, got {n}")
        out[name] = n
    return out


def apply_labels(options: dict[str, Any], strategy: Any) -> None:
    """Put ``label_selector`` and ``fallback_strategy`` into a SchedulingStrategy
    (DEFAULT or SPREAD only: a ValueError with a node affinity or a placement group)."""
    selector = options.get("label_selector")
    fallback = options.get("fallback_strategy")
    if not selector and not fallback:
        return
    from polyray.protocol import common_pb2
    if strategy.kind not in (common_pb2.SCHEDULING_DEFAULT, common_pb2.SCHEDULING_SPREAD):
        raise ValueError("label_selector / fallback_strategy go with the DEFAULT or SPREAD scheduling_strategy "
                         "only, not with a node affinity or a placement group")
    strategy.label_selector.update(selector or {})
    for each in fallback or ():
        strategy.fallback.add().selector.update(each["label_selector"])


def resources_of(options: dict[str, Any], default_cpus: float) -> dict[str, float]:
    """The resource map a task or actor asks for."""
    res: dict[str, float] = {}
    cpus = options.get("num_cpus", default_cpus)
    if cpus or default_cpus:
        # A task's explicit num_cpus=0 travels as CPU: 0 (the raylet adds Ray's default
        # 1 CPU only when a normal task names no CPU amount), so it needs no CPU at all.
        res["CPU"] = float(cpus)
    if options.get("num_gpus"):
        res["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        res["memory"] = float(options["memory"])
    for k, v in (options.get("resources") or {}).items():
        if v:
            res[k] = float(v)
    return res
