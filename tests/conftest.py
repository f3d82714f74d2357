"""Test lanes: the ``cluster`` marker, put on tests by the folder they live in.

A test that starts a polyray cluster (GCS + raylet + worker processes) is in
the slow lane, ``-m cluster``; every other test is in the fast lane,
``-m "not cluster"`` (``make test-unit``). The folders below start clusters in
their fixtures or tests (``polyray.init``, ``Cluster``, the microbenchmark's
embedded head); tests/gcs, tests/raylet, tests/store, tests/protocol and
tests/rules use in-process servers, fakes and real store segments, and
tests/core/unit/ tests CoreWorker components with fakes. A test elsewhere that
starts a cluster carries ``@pytest.mark.cluster`` itself.

Node settings of the cluster lane (to spend a 2-core machine's CPU on tests):
every node a cluster-lane test starts skips the store prefault
(``POLYRAY_STORE_PREFAULT=0``; the product default populates 256 MiB of the
store per node in the background, ~0.5 s of CPU and ~0.5 s of a cluster's
start on a loaded machine, which a test never notices otherwise), and a head
started without an explicit ``--include-dashboard`` serves no dashboard
(``POLYRAY_INCLUDE_DASHBOARD=0``: importing aiohttp and prometheus_client and
serving cost ~0.5 s of every ``polyray.init()``, measured). Tests under
PRODUCT_DEFAULT_FOLDERS (the API tests, the benchmarks, the scale tests,
whose timings and worker counts are the product's) and modules marked
``@pytest.mark.product_node_defaults`` (the tests of prefault and standby
workers) run with the product defaults; observability, jobs and security
keep the dashboard (they use it, its REST API and /metrics: KEEP_DEFAULT_IN).
A value set in the environment of pytest itself always wins. Joining nodes of
tests/cluster/cluster_util.py start no standby Python workers (only a driver
registered on a node adopts its standbys, and test drivers register with the
head). Measured on the loaded 2-core VM, 45 tests of tests/core (lifecycle,
api, push port, daemon), product settings vs these, twice each way:
45.6/47.9 s vs 38.0/32.8 s wall, 30-31 s vs 20-21 s of CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent

#: Folders (relative to tests/) whose tests start a cluster.
CLUSTER_FOLDERS = ("core", "cluster", "xlang", "bench", "chaos", "api", "scale", "security", "observability",
                   "runtime_env", "jobs")
#: Subfolders of those that do not: unit tests of components with fakes.
FAST_SUBFOLDERS = (("core", "unit"), ("runtime_env", "unit"), ("jobs", "unit"))
#: Cluster folders whose tests run their nodes with the product's settings.
PRODUCT_DEFAULT_FOLDERS = ("api", "bench", "scale")
#: Environment of the nodes the other cluster-lane tests start (docstring above).
TEST_NODE_ENV = {"POLYRAY_STORE_PREFAULT": "0", "POLYRAY_INCLUDE_DASHBOARD": "0"}
#: Cluster folders that keep one product default more: their tests use what it serves.
KEEP_DEFAULT_IN = {"POLYRAY_INCLUDE_DASHBOARD": ("observability", "jobs", "security")}
#: Variables of TEST_NODE_ENV set by whoever started pytest: never changed.
_USER_SET = frozenset(k for k in TEST_NODE_ENV if k in os.environ)


def starts_cluster(path: Path) -> bool:
    """Whether a test file at ``path`` is in the cluster lane by the folder rule above."""
    try:
        parts = path.resolve().relative_to(_TESTS).parts[:-1]
    except ValueError:  # a test outside tests/ (pytest run on another path)
        return False
    if not parts or parts[0] not in CLUSTER_FOLDERS:
        return False
    return not any(parts[: len(sub)] == sub for sub in FAST_SUBFOLDERS)


def _folder(item: pytest.Item) -> str:
    try:
        parts = item.path.resolve().relative_to(_TESTS).parts
    except ValueError:
        return ""
    return parts[0] if len(parts) > 1 else ""


def uses_product_node_defaults(item: pytest.Item) -> bool:
    """Whether a cluster-lane test's nodes keep all the product defaults (docstring above)."""
    return _folder(item) in PRODUCT_DEFAULT_FOLDERS or item.get_closest_marker("product_node_defaults") is not None


def node_env_of(item: pytest.Item) -> dict[str, str | None]:
    """The node environment of a cluster-lane test: TEST_NODE_ENV's variables, None where the
    product default applies (the variable unset)."""
    product = uses_product_node_defaults(item)
    folder = _folder(item)
    return {k: None if product or folder in KEEP_DEFAULT_IN.get(k, ()) else v for k, v in TEST_NODE_ENV.items()}


def pytest_configure(config: pytest.Config) -> None:
    """Register this file's marker (``cluster`` is in pyproject.toml)."""
    config.addinivalue_line("markers", "product_node_defaults: the test's nodes keep the product defaults "
                                       "(store prefault and dashboard on; tests/conftest.py)")


# tryfirst: before the item's fixtures (a module's cluster) are set up.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Set TEST_NODE_ENV for a cluster-lane test's nodes, or the product defaults (unset)."""
    if item.get_closest_marker("cluster") is None:
        return
    for key, value in node_env_of(item).items():
        if key in _USER_SET:
            continue
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# tryfirst: the marks must be on the items before `-m` deselects by them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from a cluster folder with ``cluster``."""
    for item in items:
        if starts_cluster(item.path):
            item.add_marker(pytest.mark.cluster)
