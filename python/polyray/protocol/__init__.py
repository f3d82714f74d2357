"""The protocol: generated messages and services (from proto/), IDs, and the value envelope codec.

Every component shares only what is in this package.
"""
