"""Shared by this folder's cluster fixtures (conftest.py puts tests/xlang on sys.path)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))


def code_search_path(tmp_path_factory, label: str) -> list[str]:
    """The code search path of the folder's clusters: the Java classes of
    java_src (compiled once, cached: tests/java_support.py) and the C++ xlang_funcs library."""
    import java_support
    from xlang_support import CPP_SRC, build_cpp

    cpp_lib = build_cpp("xlang_funcs", [os.path.join(CPP_SRC, "xlang_funcs.cc")], "shared")
    return [java_support.compiled_java("obs_java", os.path.join(_HERE, "java_src")), cpp_lib]


#: The bound of the folder's waits for a cluster to show something.
WAIT_S = 30


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT_S, interval: float = 0.3) -> Any:
    """``probe()``'s first truthy answer within ``timeout`` s, else an AssertionError naming
    ``what`` and the last answer seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s; last saw {last!r}")
