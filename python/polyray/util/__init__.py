"""Utilities of the public API: scheduling strategies (and, later, placement groups)."""
