"""runtime_env tests: make the in-tree package importable when it is not installed."""

from __future__ import annotations

import importlib.util
import os
import sys

if importlib.util.find_spec("polyray") is None:
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python")))
