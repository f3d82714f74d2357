"""Node labels and label selectors (Ray's ``label_selector``), shared by the
raylet's and the GCS's schedulers and checked by the API.

A selector maps a label key to a condition on the node's value of that key:

* ``"v"``: the node has the key with value ``v``;
* ``"!v"``: the node has no such key, or another value;
* ``"in(a,b)"``: the node's value is one of ``a``, ``b``;
* ``"!in(a,b)"``: the node has no such key, or a value not among them.

Every condition of a selector must hold. A chain is a task's selector
followed by its ``fallback_strategy`` selectors, tried in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: The labels every node carries (Ray's ``ray.io/node-id``, under polyray's prefix).
NODE_ID_LABEL = "polyray.io/node-id"

_KEY = re.compile(r"^([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")
_VALUE = re.compile(r"^([a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?$")


def _values(condition: str) -> tuple[bool, tuple[str, ...]]:
    """(negated, accepted values) of one condition; ValueError when malformed."""
    negated = condition.startswith("!")
    body = condition[1:] if negated else condition
    if body.startswith("in(") and body.endswith(")"):
        values = tuple(v.strip() for v in body[3:-1].split(","))
        if not values or any(not v for v in values):
            raise ValueError(f"label selector value {condition!r}: in() needs one or more values")
    else:
        values = (body,)
    for v in values:
        if len(v) > 63 or not _VALUE.match(v):
            raise ValueError(f"label selector value {condition!r}: {v!r} is not a valid label value")
    return negated, values


def check_labels(labels: object, what: str = "labels") -> dict[str, str]:
    """``labels`` as a str -> str dict; TypeError / ValueError naming ``what``."""
    if not isinstance(labels, Mapping):
        raise TypeError(f"{what} must be a dict of str to str, got {type(labels).__name__}")
    out: dict[str, str] = {}
    for k, v in labels.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what} must be a dict of str to str, got {k!r}: {v!r}")
        if len(k) > 253 or not _KEY.match(k):
            raise ValueError(f"{what}: {k!r} is not a valid label key")
        if len(v) > 63 or not _VALUE.match(v):
            raise ValueError(f"{what}: {v!r} (of {k!r}) is not a valid label value")
        out[k] = v
    return out


def check_selector(selector: object, what: str = "label_selector") -> dict[str, str]:
    """A selector as a str -> str dict; TypeError / ValueError naming ``what``."""
    if not isinstance(selector, Mapping):
        raise TypeError(f"{what} must be a dict of str to str, got {type(selector).__name__}")
    out: dict[str, str] = {}
    for k, v in selector.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what} must be a dict of str to str, got {k!r}: {v!r}")
        if len(k) > 253 or not _KEY.match(k):
            raise ValueError(f"{what}: {k!r} is not a valid label key")
        _values(v)
        out[k] = v
    return out


def check_fallback(fallback: object) -> list[dict[str, dict[str, str]]]:
    """Ray's ``fallback_strategy``: a list of ``{"label_selector": {...}}`` (checked copy)."""
    if not isinstance(fallback, (list, tuple)):
        raise TypeError(f"fallback_strategy must be a list of dicts, got {type(fallback).__name__}")
    out = []
    for i, option in enumerate(fallback):
        if not isinstance(option, Mapping):
            raise TypeError(f"fallback_strategy[{i}] must be a dict, got {type(option).__name__}")
        unknown = set(option) - {"label_selector"}
        if unknown:
            raise ValueError(f"fallback_strategy[{i}]: unsupported option(s) {sorted(unknown)}; "
                             "only 'label_selector' is supported")
        out.append({"label_selector": check_selector(option.get("label_selector", {}),
                                                     f"fallback_strategy[{i}].label_selector")})
    return out


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """True when ``labels`` satisfy every condition of ``selector``."""
    for key, condition in selector.items():
        try:
            negated, values = _values(condition)
        except ValueError:
            return False
        has = labels.get(key)
        inside = has is not None and has in values
        if inside == negated:
            return False
    return True


def chain(strategy: object) -> list[dict[str, str]]:
    """The selectors of a SchedulingStrategy to try in order ([] for none:
    every node matches)."""
    primary = dict(getattr(strategy, "label_selector", {}) or {})
    fallback = [dict(s.selector) for s in getattr(strategy, "fallback", ())]
    if not primary and not fallback:
        return []
    return [primary, *fallback]


def first_matching(selectors: Iterable[Mapping[str, str]],
                   nodes: Iterable[tuple[Mapping[str, str], bool]]) -> Mapping[str, str] | None:
    """The first selector matched by a node that is feasible (``nodes``:
    (labels, could ever hold the request)), or None when no selector is."""
    listed = list(nodes)
    for selector in selectors:
        if any(feasible and matches(selector, labels) for labels, feasible in listed):
            return selector
    return None
