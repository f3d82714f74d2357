"""Job submission tests (docs/jobs.md).

tests/jobs/*.py start a real head (python -m polyray.node) and submit through
its dashboard's REST and the ``polyray job`` CLI: the ``cluster`` lane.
tests/jobs/unit/ drives the record, supervisor and manager with fakes and
tests/core/unit/fakes.py's ManualLoop: the fast lane.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in (os.path.join("core", "unit"), "xlang"):
    _path = os.path.abspath(os.path.join(_HERE, "..", _folder))
    if _path not in sys.path:
        sys.path.insert(0, _path)
