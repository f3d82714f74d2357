"""Shared fixtures of the protocol tests."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from polyray.protocol import envelope as E


def _roundtrip(value: Any, target: int = E.PYTHON, hooks: E.CodecHooks = E.DEFAULT_HOOKS, **kw: Any):
    enc = E.encode(value, target, hooks, **kw)
    # Through the protobuf Envelope, as a receiver gets it.
    return enc, E.decode_proto(enc.to_proto(), hooks)


def _same(a: Any, b: Any) -> bool:
    """Equal values of exactly the same types, recursively (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b


@pytest.fixture
def roundtrip() -> Callable[..., tuple]:
    """roundtrip(value, target, hooks, **kw) -> (Encoded, decoded value)."""
    return _roundtrip


@pytest.fixture
def same() -> Callable[[Any, Any], bool]:
    """same(a, b): equal with exactly the same types, recursively."""
    return _same
