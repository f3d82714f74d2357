"""Fixtures of the shared-store tests: real segments, always unlinked."""

from __future__ import annotations

import os
import uuid

import pytest

from polyray.store import SegmentNotFoundError, Store


@pytest.fixture
def store_name():
    """A fresh segment name; the segment is unlinked after the test."""
    name = f"/prs-test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        Store.unlink(name)
    except SegmentNotFoundError:
        pass


@pytest.fixture
def store(store_name):
    """A 16 MiB store, closed after the test."""
    s = Store.create(store_name, 16 << 20)
    yield s
    s.close()
