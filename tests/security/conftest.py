"""Security tests: the cluster token on every port of every language (docs/security.md).

Every test here starts real processes (the ``cluster`` lane, tests/conftest.py).
Helpers and fixtures come from tests/xlang (the C++ library and Java classes)
and tests/cluster.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in ("xlang", "cluster", "chaos"):
    _path = os.path.abspath(os.path.join(_HERE, "..", _folder))
    if _path not in sys.path:
        sys.path.insert(0, _path)
