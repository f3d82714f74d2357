"""Runs the raylet tests' ``async def`` tests, each in a fresh event loop.

No asyncio plugin is needed: a test coroutine is run with ``asyncio.run``
under a hard timeout, so a stuck test fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import sys

import pytest

_PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "python")
if importlib.util.find_spec("polyray") is None:  # a checkout that is not pip-installed
    sys.path.insert(0, os.path.abspath(_PYTHON_DIR))

#: Seconds one async test may take.
ASYNC_TEST_TIMEOUT_S = 60.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run coroutine test functions to completion."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_TIMEOUT_S))
    return True
