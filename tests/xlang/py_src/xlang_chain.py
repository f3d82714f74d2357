"""Python hop of the cross-language error chain test (Java task -> here -> Java)."""

import polyray


def call_java(message, code_search_path=()):
    """Calls xlangtest.Chain.fail(message) in Java and returns its result (it throws).

    This worker was started with the job's code search path (the Java caller's
    task carries it), so the Java task it submits finds the xlangtest classes.
    ``code_search_path`` is accepted for the Java caller's signature and unused.
    """
    f = polyray.java_function("xlangtest.Chain", "fail")
    return polyray.get(f.remote(message), timeout=90)
