"""Chaos tests: real clusters whose processes are SIGKILLed or fed bad input.

Every test here starts real processes (daemons, drivers, workers) and is in the
``cluster`` lane (tests/conftest.py). Helpers come from tests/core/core_util.py.
"""

from __future__ import annotations

import os
import sys

_CORE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core")
if os.path.abspath(_CORE) not in sys.path:
    sys.path.insert(0, os.path.abspath(_CORE))
