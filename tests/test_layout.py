"""The layout's import rules (../shared/DESIGN.md, "Layout"), read from the code: every import of a project
module, at the top of a file or inside a function, except those only a type checker runs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "store", "domain", "jobs", "connectors", "mappings", "sandbox")

# package -> the project packages it may import (itself always)
MAY_IMPORT = {
    "mappings": set(),
    "connectors": {"mappings"},
    "store": {"mappings"},
    "domain": {"store", "mappings"},
    "jobs": {"domain", "store", "connectors", "mappings", "hub"},
    "hub": {"jobs", "domain", "store", "connectors", "mappings"},
    "sandbox": {"hub", "jobs", "domain", "store", "connectors", "mappings"},
}
# what the jobs may use of hub/: the runtime's handles and the config, not the web side
JOBS_MAY_USE_OF_HUB = {"hub.state", "hub.config", "hub.redis", "hub.metrics", "hub.logs"}
# production code never imports the sandboxes; the CLI's run, demo and send commands serve and sign for them
SANDBOX_USERS = {"hub.cli.core", "hub.cli.demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
            if "migrations" not in p.parts}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for child in node.body for n in ast.walk(child))
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(project module imported, line) for every import ``name`` makes at run time."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                yield t, node.lineno


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, int]]]:
    known = modules()
    return {name: sorted(set(imports(name, path, known))) for name, path in known.items()}


def test_each_layer_imports_only_the_layers_below_it(graph):
    wrong = []
    for name, targets in graph.items():
        pkg = name.split(".")[0]
        for target, line in targets:
            tpkg = target.split(".")[0]
            if tpkg == pkg or (tpkg == "sandbox" and name in SANDBOX_USERS):
                continue
            if tpkg not in MAY_IMPORT[pkg]:
                wrong.append(f"{name}:{line} imports {target}")
            elif pkg == "jobs" and tpkg == "hub" and target not in JOBS_MAY_USE_OF_HUB:
                wrong.append(f"{name}:{line} imports {target} (jobs use only the hub's handles and config)")
    assert not wrong, "\n".join(wrong)


def test_production_code_does_not_import_the_sandboxes(graph):
    wrong = [f"{name}:{line} imports {target}" for name, targets in graph.items() if not name.startswith("sandbox")
             and name not in SANDBOX_USERS for target, line in targets if target.startswith("sandbox")]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles(graph):
    """Tarjan's strongly connected components: any of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w, _ in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_the_rules_see_the_imports_they_judge(graph):
    """The checker itself: it finds imports inside functions and relative ones, and skips type-only ones."""
    assert any(t == "domain.ledger" for t, _ in graph["domain.apply"])  # ``from . import ledger``
    assert any(t == "jobs.backfill" for t, _ in graph["jobs.push"])  # an import inside push_stock
    assert any(t.startswith("sandbox") for t, _ in graph["hub.cli.core"])  # inside the run command


def test_an_import_inside_a_function_says_why():
    """Imports go at the top; one inside a function avoids a heavy or optional import, and says so in a comment
    on its line or above it (a comment above a group of imports covers the group)."""
    silent = []
    for name, path in modules().items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        skip = _type_checking_only(tree) | {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in skip:
                continue
            said, above = "#" in lines[node.end_lineno - 1], node.lineno - 2
            while not said and above >= 0 and (not lines[above].strip() or lines[above].strip().startswith(
                    ("#", "from ", "import "))):
                said, above = lines[above].strip().startswith("#"), above - 1
            if not said:
                silent.append(f"{name}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not silent, "\n".join(silent)
