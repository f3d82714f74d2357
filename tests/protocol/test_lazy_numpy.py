"""numpy is imported by the codec only when a value needs it (issue 14: a third of
a worker's start-up imports, on the path to a fresh driver's first task result)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from polyray.protocol import envelope

# Run in a fresh interpreter: this test process has imported numpy already.
_CHILD = r"""
import sys
import polyray.worker
from polyray.core import task_output
from polyray.actor import ActorHandle
from polyray.core.core_worker import CoreWorker
from polyray.protocol import envelope
assert "numpy" not in sys.modules, "importing the worker runtime imported numpy"
# Values without numpy encode and decode without importing it.
enc = envelope.encode({"a": [1, 2.5, b"x" * 10], "b": None}, target=envelope.JAVA)
assert envelope.decode(enc.format, enc.body, enc.buffers) == {"a": [1, 2.5, b"x" * 10], "b": None}
assert "numpy" not in sys.modules, "a plain value imported numpy"
# An XLANG ndarray (from the parent, on stdin) imports numpy when decoded.
from polyray.protocol import common_pb2
arr = envelope.decode_proto(common_pb2.Envelope.FromString(sys.stdin.buffer.read()))
assert "numpy" in sys.modules
print(arr.dtype.str, list(arr.shape), arr.tolist())
"""


def test_worker_imports_skip_numpy_until_a_value_needs_it() -> None:
    enc = envelope.encode(np.arange(6, dtype="<i4").reshape(2, 3), target=envelope.JAVA)
    assert enc.format == envelope.FORMAT_XLANG
    out = subprocess.run([sys.executable, "-c", _CHILD], input=enc.to_proto().SerializeToString(), capture_output=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "<i4 [2, 3] [[0, 1, 2], [3, 4, 5]]"


class _Sub(np.ndarray):
    """An ndarray subclass (as np.matrix or a masked array's data)."""


def test_numpy_scalars_and_subclasses_still_encode() -> None:
    """With numpy imported (as in any process that made a numpy value), scalars become
    XLANG numbers and array subclasses XLANG arrays, as before the lazy import."""
    value = [np.int64(3), np.float32(0.5), np.bool_(True), np.arange(2.0).reshape(1, 2).view(_Sub)]
    enc = envelope.encode(value, target=envelope.JAVA)
    out = envelope.decode(enc.format, enc.body, enc.buffers)
    assert out[:3] == [3, 0.5, True]
    assert type(out[3]) is np.ndarray and out[3].tolist() == [[0.0, 1.0]]
