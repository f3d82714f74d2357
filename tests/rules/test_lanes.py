"""The test lanes (tests/conftest.py): which tests the ``cluster`` marker puts in the slow lane."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def _load_root_conftest():
    """tests/conftest.py under its own name (every conftest is called `conftest`)."""
    spec = importlib.util.spec_from_file_location("polyray_tests_root_conftest", TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lanes = _load_root_conftest()


@pytest.mark.parametrize("rel,slow", [
    ("core/test_core_tasks.py", True),
    ("core/unit/test_reference_counter.py", False),
    ("cluster/test_scheduling.py", True),
    ("xlang/test_python_to_java.py", True),
    ("bench/test_bench_smoke.py", True),
    ("gcs/test_tables.py", False),
    ("raylet/test_leases.py", False),
    ("store/test_store_api.py", False),
    ("protocol/test_protocol_ids.py", False),
    ("rules/test_imports.py", False),
    ("test_top_level.py", False),
])
def test_folder_rule(rel, slow):
    assert lanes.starts_cluster(TESTS / rel) is slow


def test_this_test_is_in_the_fast_lane(request):
    assert request.node.get_closest_marker("cluster") is None


def _starts_a_cluster(tree: ast.AST) -> bool:
    """Whether a test module calls ``polyray.init(...)`` (the usual way a test starts a cluster)."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "init"
               and isinstance(n.func.value, ast.Name) and n.func.value.id == "polyray" for n in ast.walk(tree))


def _marks_cluster(source: str) -> bool:
    return "mark.cluster" in source


def test_fast_lane_files_start_no_cluster():
    """A test file outside the cluster folders that calls polyray.init must carry the marker itself.

    Only files pytest collects or runs fixtures from are checked: a support module (e.g. java_support.py)
    holds no test, and the tests that use it are checked where they are.
    """
    unmarked = []
    for path in sorted(TESTS.rglob("*.py")):
        if not (path.name.startswith("test_") or path.name == "conftest.py"):
            continue
        if lanes.starts_cluster(path):
            continue
        source = path.read_text(encoding="utf-8")
        if _starts_a_cluster(ast.parse(source)) and not _marks_cluster(source):
            unmarked.append(str(path.relative_to(TESTS)))
    assert not unmarked, f"these start a cluster but are in the fast lane; add @pytest.mark.cluster: {unmarked}"


def test_the_cluster_probe_sees_a_cluster():
    """The probe above finds polyray.init where the cluster lane's fixtures call it."""
    assert _starts_a_cluster(ast.parse((TESTS / "core" / "conftest.py").read_text(encoding="utf-8")))
    assert not _starts_a_cluster(ast.parse("import polyray\npolyray.get(x)\n"))
