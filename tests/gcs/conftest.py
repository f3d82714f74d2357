"""GCS tests: make the in-tree package importable when it is not installed."""

from __future__ import annotations

import pathlib
import sys

try:
    import polyray.gcs  # noqa: F401
except ImportError:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
