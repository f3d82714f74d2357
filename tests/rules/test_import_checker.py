"""The import checker itself (tests/rules/import_graph.py), on tiny synthetic packages.

Without these, a checker that resolved nothing would let test_imports.py pass.
"""

from __future__ import annotations

import textwrap
from itertools import pairwise
from pathlib import Path

from import_graph import Contract, build_graph, import_cycles, package


def write_package(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path relative to the package -> source) as package ``pkg`` under ``root``."""
    pkg = root / "pkg"
    for rel, source in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    for folder in {p.parent for p in pkg.rglob("*.py")} | {pkg}:
        (folder / "__init__.py").touch()
    return pkg


LAYERED = {
    "api.py": "from pkg.core import worker\n",
    # `from . import b`, `from .b import X` and `import_module` must all resolve to pkg.core.b.
    "core/worker.py": "from . import helper\n",
    "core/helper.py": """\
        import os
        from typing import TYPE_CHECKING

        from pkg.protocol import ids
        if TYPE_CHECKING:
            from pkg.core.worker import Worker   # closes the circle worker -> helper -> worker
        """,
    "protocol/ids.py": "import struct\n",
    "gcs/server.py": """\
        def handler():
            from ..api import get                # layering breach, inside a function
        """,
    "raylet/pool.py": "import pkg.util.tools\n",   # a breach through a detour
    "util/tools.py": "import importlib\nimportlib.import_module('pkg.core.worker')\n",
    "store/segment.py": "from pkg.protocol.ids import ObjectID\n",
}


def test_resolves_relative_submodule_and_dynamic_imports(tmp_path):
    graph = build_graph(write_package(tmp_path, LAYERED))
    assert set(graph.imports("pkg.core.worker")) == {"pkg.core.helper"}
    assert set(graph.imports("pkg.core.helper")) == {"pkg.protocol.ids", "pkg.core.worker"}  # os, typing dropped
    assert set(graph.imports("pkg.gcs.server")) == {"pkg.api"}  # `get` is a name in pkg.api, not a module
    assert set(graph.imports("pkg.util.tools")) == {"pkg.core.worker"}
    assert set(graph.imports("pkg.store.segment")) == {"pkg.protocol.ids"}
    assert graph.imports("pkg.protocol.ids") == {}


def test_finds_a_circle_through_type_checking(tmp_path):
    graph = build_graph(write_package(tmp_path, LAYERED))
    assert import_cycles(graph) == [["pkg.core.helper", "pkg.core.worker", "pkg.core.helper"]]


def test_no_circle_in_a_tree(tmp_path):
    files = dict(LAYERED, **{"core/helper.py": "from pkg.protocol import ids\n"})
    assert import_cycles(build_graph(write_package(tmp_path, files))) == []


def test_every_edge_of_a_tangle_is_on_a_reported_circle(tmp_path):
    # a -> b -> c -> a and a -> c: both a -> b and a -> c lie on circles.
    files = {"a.py": "from pkg import b, c\n", "b.py": "from pkg import c\n", "c.py": "import pkg.a\n"}
    cycles = import_cycles(build_graph(write_package(tmp_path, files)))
    edges = {(x, y) for chain in cycles for x, y in pairwise(chain)}
    assert edges == {("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a"), ("pkg.a", "pkg.c")}
    assert all(chain[0] == chain[-1] for chain in cycles)


def test_catches_a_direct_breach_inside_a_function(tmp_path):
    graph = build_graph(write_package(tmp_path, LAYERED))
    gcs = Contract("gcs", package("pkg.gcs"), forbidden=(*package("pkg.api"), *package("pkg.core")))
    breaches = gcs.breaches(graph)
    assert len(breaches) == 1 and breaches[0].startswith("pkg.gcs.server -> pkg.api ")
    assert "pkg/gcs/server.py:2" in breaches[0]


def test_catches_a_breach_through_a_detour(tmp_path):
    graph = build_graph(write_package(tmp_path, LAYERED))
    breaches = Contract("raylet", package("pkg.raylet"), forbidden=package("pkg.core")).breaches(graph)
    assert len(breaches) == 1
    assert breaches[0].startswith("pkg.raylet.pool -> pkg.util.tools -> pkg.core.worker ")


def test_only_rule(tmp_path):
    graph = build_graph(write_package(tmp_path, LAYERED))
    protocol = package("pkg.protocol")
    assert Contract("protocol", protocol, only=protocol).breaches(graph) == []
    leaky = build_graph(write_package(tmp_path / "leaky", dict(LAYERED, **{"protocol/ids.py": "import pkg.store\n"})))
    assert Contract("protocol", protocol, only=protocol).breaches(leaky) == [
        "pkg.protocol.ids -> pkg.store   (pkg/protocol/ids.py:1)"]


def test_a_clean_layering_passes(tmp_path):
    graph = build_graph(write_package(tmp_path, LAYERED))
    assert Contract("store", package("pkg.store"), forbidden=(*package("pkg.core"), "pkg.api")).breaches(graph) == []
