"""Fixtures of tests/xlang: the C++ test library, driver and Java classes (see xlang_support)."""

from xlang_support import cpp_broken_lib, cpp_driver, cpp_lib, xlang_java_classes  # noqa: F401
