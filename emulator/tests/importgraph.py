"""The import graph of vaultlab's own modules, read from the source with :mod:`ast`.

Every import counts, wherever it sits: at module level, inside a function (a deferred import
still makes the importing module depend on the imported one, it only hides a cycle from the
interpreter) or under ``if TYPE_CHECKING:``.  Importing ``a.b.c`` also runs the package
``__init__`` files of ``a`` and ``a.b``, so a module depends on its parent packages too.

``python tests/importgraph.py [SRC]`` prints the strongly connected components (the import
cycles) and the imports that are not at module level; test_layers.py asserts on the same data.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "vaultlab"
DEFAULT_SRC = Path(__file__).resolve().parent.parent / "src"

TOP, DEFERRED, TYPING, PARENT = "top", "deferred", "typing", "parent"


@dataclass
class Graph:
    modules: dict[str, Path]
    packages: set[str]
    # edges[a][b] = set of kinds (TOP, DEFERRED, TYPING, PARENT) by which a imports b
    edges: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def add(self, source: str, target: str, kind: str) -> None:
        if target != source:
            self.edges.setdefault(source, {}).setdefault(target, set()).add(kind)

    def runtime_edges(self, source: str) -> list[str]:
        """Targets that ``source`` imports when it runs (TYPE_CHECKING-only imports do not)."""
        return sorted(t for t, kinds in self.edges.get(source, {}).items() if kinds - {TYPING})

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module (Tarjan), runtime edges."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        counter = 0

        def visit(v: str) -> None:
            nonlocal counter
            index[v] = low[v] = counter
            counter += 1
            stack.append(v)
            on_stack.add(v)
            for w in self.runtime_edges(v):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for module in sorted(self.modules):
            if module not in index:
                visit(module)
        return sorted(found)

    def imports_of_kind(self, kind: str) -> list[tuple[str, str]]:
        return sorted((s, t) for s, targets in self.edges.items() for t, kinds in targets.items() if kind in kinds)


def _module_names(src: Path) -> tuple[dict[str, Path], set[str]]:
    modules: dict[str, Path] = {}
    packages: set[str] = set()
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            packages.add(".".join(parts))
        modules[".".join(parts)] = path
    return modules, packages


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def build(src: Path = DEFAULT_SRC) -> Graph:
    modules, packages = _module_names(src)
    graph = Graph(modules, packages)

    def resolve(name: str) -> str | None:
        while name:
            if name in modules:
                return name
            name = name.rpartition(".")[0]
        return None

    for module, path in modules.items():
        parts = module.split(".")
        for depth in range(1, len(parts)):
            graph.add(module, ".".join(parts[:depth]), PARENT)
        package = module if module in packages else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))

        def visit(node: ast.AST, kind: str) -> None:
            for child in ast.iter_child_nodes(node):
                child_kind = kind
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and kind == TOP:
                    child_kind = DEFERRED
                if isinstance(child, ast.If) and _is_type_checking(child.test):
                    for sub in child.body:
                        visit_one(sub, TYPING)
                    for sub in child.orelse:
                        visit_one(sub, kind)
                    continue
                visit_one(child, child_kind)

        def visit_one(child: ast.AST, kind: str) -> None:
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    origin = ".".join(base + ([child.module] if child.module else []))
                else:
                    origin = child.module or ""
                # ``from pkg import mod`` imports the submodule; ``from mod import name`` the module.
                targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                           for alias in child.names]
            for target in targets:
                resolved = resolve(target) if target.split(".")[0] == PACKAGE else None
                if resolved is not None:
                    graph.add(module, resolved, kind)
                    for depth in range(1, len(resolved.split("."))):
                        graph.add(module, ".".join(resolved.split(".")[:depth]), PARENT)
            if not isinstance(child, (ast.Import, ast.ImportFrom)):
                visit(child, kind)

        visit(tree, TOP)
    return graph


def report(graph: Graph) -> str:
    lines = [f"{len(graph.modules)} modules"]
    cycles = graph.cycles()
    lines.append(f"import cycles (strongly connected components): {len(cycles)}")
    for component in cycles:
        lines.append(f"  {len(component)} modules: " + ", ".join(component))
    deferred = graph.imports_of_kind(DEFERRED)
    lines.append(f"imports inside functions: {len(deferred)}")
    lines.extend(f"  {source} -> {target}" for source, target in deferred)
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SRC)))
