"""The import contract of python/polyray (docs/architecture.md: "Imports run one way").

api -> core -> protocol/store; gcs and raylet never import the api or the
core; the protocol is the only thing two components share. The package is
read with ``ast`` (tests/rules/import_graph.py), never imported, and every
import counts: module level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import Contract, build_graph, import_cycles, matches, package, render_chain

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "python" / "polyray"

# The API side: the public functions and the handles they hand out. Each of
# these imports polyray.core, so the core importing one of them is a circle.
# `polyray` itself counts: its __init__ loads polyray.api on first attribute use.
# util.placement_group is the placement-group API (it imports core.object_ref).
# sdk (where the built SDK files are) imports nothing of polyray: anyone may use it.
API_SIDE = (
    "polyray",
    *package("polyray.api"),
    *package("polyray.actor"),
    *package("polyray.remote_function"),
    *package("polyray.xlang"),
    *package("polyray.util.placement_group"),
)

# The process entry points sit above every component: they wire them together.
ENTRY_POINTS = (
    *package("polyray.worker"),
    *package("polyray.node"),
    *package("polyray.cli"),
    *package("polyray.bench"),
)

# The store binding: polyray/store.py with its parts today, the polyray/store/ package later.
STORE = ("polyray.store", "polyray.store.*", "polyray.store_*")

CORE = package("polyray.core")
GCS = package("polyray.gcs")
RAYLET = package("polyray.raylet")
PROTOCOL = package("polyray.protocol")

CONTRACTS = [
    # Forbidden targets are checked through any chain of imports, so a detour
    # through a top-level module that imports the api or the core (actor,
    # remote_function, xlang, worker, util.placement_group, ...) is caught too.
    Contract("gcs never imports the api or the core", GCS, forbidden=(*API_SIDE, *CORE, *ENTRY_POINTS)),
    Contract("raylet never imports the api or the core", RAYLET, forbidden=(*API_SIDE, *CORE, *ENTRY_POINTS)),
    Contract("core never imports the api side or an entry point", CORE, forbidden=(*API_SIDE, *ENTRY_POINTS)),
    # Components meet only through the protocol (docs/architecture.md): no component imports another.
    Contract("core never imports gcs or raylet", CORE, forbidden=(*GCS, *RAYLET)),
    Contract("gcs never imports raylet", GCS, forbidden=RAYLET),
    Contract("raylet never imports gcs", RAYLET, forbidden=GCS),
    Contract("protocol imports nothing of polyray but the protocol", PROTOCOL, only=PROTOCOL),
    Contract("store never imports the api, core, gcs or raylet", STORE,
             forbidden=(*API_SIDE, *CORE, *GCS, *RAYLET, *ENTRY_POINTS)),
]


@pytest.fixture(scope="module")
def graph():
    """The import graph of python/polyray, parsed once for the module."""
    return build_graph(PACKAGE_DIR)


def test_the_graph_sees_the_package(graph):
    """Guards the rules below against passing vacuously on an empty or misread package."""
    for module in ("polyray.api", "polyray.core.core_worker", "polyray.gcs.server", "polyray.raylet.server",
                   "polyray.protocol.envelope"):
        assert module in graph.modules
    assert "polyray.core.core_worker" in graph.imports("polyray.api")


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test_layering(graph, contract):
    """Each layering rule holds; a breach is reported as the import chain that breaks it."""
    assert any(matches(m, contract.sources) for m in graph.modules), f"{contract.name}: no module matches its sources"
    breaches = contract.breaches(graph)
    if breaches:
        pytest.fail(f"{contract.name}: {len(breaches)} breach(es)\n  " + "\n  ".join(breaches), pytrace=False)


def test_no_import_cycles(graph):
    """No module reaches itself through imports (TYPE_CHECKING and function-level imports included)."""
    cycles = import_cycles(graph)
    if cycles:
        pytest.fail(f"{len(cycles)} import circle(s) in python/polyray; every import listed lies on one:\n  "
                    + "\n  ".join(render_chain(graph, c) for c in cycles), pytrace=False)

