"""Observability tests: task events, the state API and the CLI against real clusters.

Every test here starts real processes and is in the ``cluster`` lane
(tests/conftest.py). The C++ library and Java classes come from
tests/xlang/xlang_support.py's builders.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in ("core", "xlang"):
    _path = os.path.abspath(os.path.join(_HERE, "..", _folder))
    if _path not in sys.path:
        sys.path.insert(0, _path)
