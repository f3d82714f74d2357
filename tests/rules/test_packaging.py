"""What a fresh machine needs from the project's own files: the checkers and the py.typed marker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    """pyproject.toml, parsed."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_py_typed_ships_with_the_package(pyproject):
    """PEP 561: without py.typed in the installed package, type checkers ignore polyray's annotations."""
    assert (ROOT / "python" / "polyray" / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["polyray"]
    assert "include python/polyray/py.typed" in (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()


def test_make_setup_installs_the_checkers(pyproject):
    """`make setup` installs the test extra; `make lint` runs ruff and mypy from it."""
    extra = pyproject["project"]["optional-dependencies"]["test"]
    names = {re.split(r"[<>=!~\[ ]", req, maxsplit=1)[0] for req in extra}
    assert {"pytest", "ruff", "mypy"} <= names
    assert "'.[test]'" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_cluster_marker_is_registered(pyproject):
    """An unregistered marker is a typo waiting to happen: pytest would select nothing by it."""
    markers = pyproject["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("cluster:") for m in markers)
