"""A static import graph of one Python package, and the checks the import contract needs.

The package is read with ``ast``, never imported, so a broken or half-rewritten
module cannot hide its imports and the check needs no build. Every import
counts wherever it is written: at module level, inside a function and under
``if TYPE_CHECKING:`` (a type-only import still ties the two modules together
and still makes a circle), and ``importlib.import_module("a.b")`` with a
literal name (how ``polyray/__init__.py`` loads the API lazily).

Resolution: ``import a.b.c`` is an edge to ``a.b.c``; ``from a.b import c``
is an edge to ``a.b.c`` when that is a module of the package, else to ``a.b``;
relative imports are resolved against the importing module's package. The
parent packages that Python also runs on the way (``a``, ``a.b``) are not
edges, as in import-linter: a package ``__init__`` that re-exports its
submodules would otherwise close a circle with each of them.
"""

from __future__ import annotations

import ast
import fnmatch
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path


@dataclass
class ImportGraph:
    """Modules of one package and the imports between them (package-internal edges only)."""

    #: The package's own folder; messages name files relative to its parent.
    root: Path = Path(".")
    #: Module name -> its source file, for every ``.py`` of the package.
    modules: dict[str, Path] = field(default_factory=dict)
    #: Importer -> imported -> line of the first such import in the importer.
    edges: dict[str, dict[str, int]] = field(default_factory=dict)

    def imports(self, module: str) -> dict[str, int]:
        """The modules ``module`` imports, each with the line of its first import."""
        return self.edges.get(module, {})

    def where(self, importer: str, imported: str) -> str:
        """``file:line`` of the import of ``imported`` in ``importer``, for messages."""
        path = self.modules[importer].relative_to(self.root.parent)
        return f"{path}:{self.edges[importer][imported]}"


def build_graph(package_dir: Path, package: str | None = None) -> ImportGraph:
    """Parse every module under ``package_dir`` (the package's own folder) into an import graph."""
    package_dir = Path(package_dir)
    package = package or package_dir.name
    graph = ImportGraph(root=package_dir)
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        graph.modules[".".join([package, *parts])] = path
    for module, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        targets = graph.edges.setdefault(module, {})
        for imported, line in _imports_of(tree, module, is_package, graph.modules):
            if (imported == package or imported.startswith(package + ".")) and imported != module:
                targets.setdefault(imported, line)
    return graph


def _imports_of(tree: ast.AST, module: str, is_package: bool, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every (imported module, line) of one parsed module, resolved to absolute names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, module, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                # `from a import b`: b is a submodule or a name defined in a.
                yield (sub if sub in known else base), node.lineno
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
                yield arg.value, node.lineno


def _absolute(name: str | None, level: int, module: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names (``level`` dots before ``name``)."""
    if level == 0:
        return name or ""
    anchor = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, name] if name else anchor)


def _is_import_module(func: ast.expr) -> bool:
    """Whether a call is ``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


# --- circles ---------------------------------------------------------------------------------


def import_cycles(graph: ImportGraph) -> list[list[str]]:
    """Circles of imports, each as a chain ``[a, b, ..., a]``.

    Every edge that lies on some circle appears in at least one chain (each
    chain is a shortest circle through one not yet covered edge), so the list
    says exactly which imports must go, without listing the exponentially many
    circles of a tangled group.
    """
    cycles: list[list[str]] = []
    for group in strongly_connected(graph):
        inside = set(group)
        covered: set[tuple[str, str]] = set()
        for a in group:
            for b in sorted(graph.imports(a)):
                if b not in inside or (a, b) in covered:
                    continue
                back = _shortest_path(graph, b, {a}, within=inside)
                assert back is not None, "an edge inside a strongly connected group lies on a circle"
                chain = [a, *back]
                covered.update(pairwise(chain))
                cycles.append(chain)
    return cycles


def strongly_connected(graph: ImportGraph) -> list[list[str]]:
    """Groups of modules that all reach each other (Tarjan), only those with a circle, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:
        # Iterative Tarjan: a long import chain must not hit the recursion limit.
        nonlocal counter
        work = [(root, iter(sorted(graph.imports(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.imports(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:  # build_graph drops self-imports, so one module is no circle
                        groups.append(sorted(group))

    for module in sorted(graph.edges):
        if module not in index:
            visit(module)
    return sorted(groups)


def _shortest_path(graph: ImportGraph, start: str, goals: set[str], within: set[str] | None = None,
                   avoid: frozenset[str] | set[str] = frozenset()) -> list[str] | None:
    """Shortest import chain ``[start, ..., goal]`` of at least one step (BFS).

    The chain stays inside ``within`` when given and never passes through ``avoid``.
    """
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(graph.imports(node)):
            if child in goals:
                chain = [child, node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return chain[::-1]
            if child in seen or child in avoid or (within is not None and child not in within):
                continue
            seen.add(child)
            previous[child] = node
            queue.append(child)
    return None


# --- layering --------------------------------------------------------------------------------


def package(name: str) -> tuple[str, str]:
    """Patterns matching a module or package and everything below it."""
    return name, f"{name}.*"


def matches(module: str, patterns: Iterable[str]) -> bool:
    """Whether ``module`` matches one of the ``fnmatch`` patterns (matched against the whole name)."""
    return any(fnmatch.fnmatchcase(module, p) for p in patterns)


@dataclass(frozen=True)
class Contract:
    """One layering rule: what the modules matching ``sources`` may import.

    ``forbidden``: modules the sources may not reach through any chain of
    imports (so a detour through a third module is caught too).
    ``only``: when set, the sources may import nothing of the package but these.
    """

    name: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None

    def breaches(self, graph: ImportGraph) -> list[str]:
        """Each way the graph breaks this rule, as a readable chain ``a -> b -> c (file:line)``."""
        found: list[str] = []
        inside = {m for m in graph.edges if matches(m, self.sources)}
        for src in sorted(inside):
            for dst in sorted(graph.imports(src)):
                if dst in inside:
                    continue
                if self.only is not None and not matches(dst, self.only):
                    found.append(render_chain(graph, [src, dst]))
                if not self.forbidden:
                    continue
                # Report each chain at its last step out of the sources: a path that
                # comes back into them is reported where it leaves them again.
                bad = {m for m in _reachable(graph, dst, avoid=inside) if matches(m, self.forbidden)}
                if not bad:
                    continue
                rest = [dst] if dst in bad else _shortest_path(graph, dst, bad, avoid=inside)
                assert rest is not None
                found.append(render_chain(graph, [src, *rest]))
        return found


def _reachable(graph: ImportGraph, start: str, avoid: set[str]) -> set[str]:
    """``start`` and every module it reaches without passing through ``avoid``."""
    seen = {start}
    queue = deque([start])
    while queue:
        for child in graph.imports(queue.popleft()):
            if child not in seen and child not in avoid:
                seen.add(child)
                queue.append(child)
    return seen


def render_chain(graph: ImportGraph, chain: list[str]) -> str:
    """``a -> b -> c`` followed by where each import is written."""
    steps = ", ".join(graph.where(a, b) for a, b in pairwise(chain))
    return f"{' -> '.join(chain)}   ({steps})"
