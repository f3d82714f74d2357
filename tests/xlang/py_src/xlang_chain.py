"""Python hop of the cross-language error chain test (Java task -> here -> Java)."""

import polyray
from polyray.api import _core


def call_java(message, code_search_path=()):
    """Calls xlangtest.Chain.fail(message) in Java and returns its result (it throws).

    ``code_search_path``: the Java caller's. A Python worker prestarted when the driver
    registered has an empty code search path (the raylet prestarts them with none, and
    reuses idle workers per job regardless of it), so the Java task it submits would not
    find xlangtest classes; adopt the caller's.
    """
    core = _core()
    for p in code_search_path:
        if p not in core.code_search_path:
            core.code_search_path.append(p)
    f = polyray.java_function("xlangtest.Chain", "fail")
    return polyray.get(f.remote(message), timeout=90)
