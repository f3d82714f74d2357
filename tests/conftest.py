"""Test lanes: the ``cluster`` marker, put on tests by the folder they live in.

A test that starts a polyray cluster (GCS + raylet + worker processes) is in
the slow lane, ``-m cluster``; every other test is in the fast lane,
``-m "not cluster"`` (``make test-unit``). The folders below start clusters in
their fixtures or tests (``polyray.init``, ``Cluster``, the microbenchmark's
embedded head); tests/gcs, tests/raylet, tests/store, tests/protocol and
tests/rules use in-process servers, fakes and real store segments, and
tests/core/unit/ tests CoreWorker components with fakes. A test elsewhere that
starts a cluster carries ``@pytest.mark.cluster`` itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent

#: Folders (relative to tests/) whose tests start a cluster.
CLUSTER_FOLDERS = ("core", "cluster", "xlang", "bench", "chaos", "api", "scale", "security", "observability",
                   "runtime_env", "jobs")
#: Subfolders of those that do not: unit tests of components with fakes.
FAST_SUBFOLDERS = (("core", "unit"), ("runtime_env", "unit"), ("jobs", "unit"))


def starts_cluster(path: Path) -> bool:
    """Whether a test file at ``path`` is in the cluster lane by the folder rule above."""
    try:
        parts = path.resolve().relative_to(_TESTS).parts[:-1]
    except ValueError:  # a test outside tests/ (pytest run on another path)
        return False
    if not parts or parts[0] not in CLUSTER_FOLDERS:
        return False
    return not any(parts[: len(sub)] == sub for sub in FAST_SUBFOLDERS)


# tryfirst: the marks must be on the items before `-m` deselects by them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from a cluster folder with ``cluster``."""
    for item in items:
        if starts_cluster(item.path):
            item.add_marker(pytest.mark.cluster)
