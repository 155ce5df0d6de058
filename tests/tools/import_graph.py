"""Checks our import rules: no cycles, and each layer imports only what it may.

Hand-written on purpose: it is some 80 lines over the standard library's `ast`, and it checks our
own rules (app never imports workers, domain does no I/O, the simulators stand alone), which no
general tool knows. Every import that runs counts, module level and inside functions alike; those
under `if TYPE_CHECKING:` never run (annotations only) and do not.

    .venv/bin/python tests/tools/import_graph.py      exit 0 when clean, 1 naming each cycle and violation
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "workers", "bench", "sim", "tests")
STANDALONE = "the simulators stand alone; sim/launcher/ is what starts the fleet beside them"
# (importer prefix, forbidden import prefixes, why). Every part of sim/ but the launcher is the
# simulators' (sim.zendesk and sim.llm import sim.common and sim.ticketgen).
RULES = [
    ("app", ("workers",), "app/ never imports workers/ (the tasks import app/)"),
    ("app.domain", ("requests", "redis", "app.clients", "app.fleet", "app.services"), "domain/ does no I/O"),
    *(
        (simulator, ("app", "workers", "sim.launcher"), STANDALONE)
        for simulator in ("sim.zendesk", "sim.llm", "sim.common", "sim.ticketgen", "sim.ticket_phrases")
    ),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below `node`, except what sits under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield from (n for other in child.orelse for n in [other, *runtime_nodes(other)])
            continue
        yield child
        yield from runtime_nodes(child)


def imports_of(path: Path, module: str, known: set[str]) -> set[str]:
    """Every module `path` imports, anywhere in it: `from pkg import name` counts as pkg.name when
    that is one of ours, relative imports are resolved, and bench/'s scripts (run with bench/ on
    sys.path) import their siblings by bare name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    sibling = "bench." if module.startswith("bench.") else None
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            stem = ".".join(filter(None, [base, node.module or ""]))
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        found.update(sibling + name if sibling and sibling + name in known else name for name in names)
    return found


def build_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(imports between our modules, every import of each of our modules)."""
    files = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    raw = {module: imports_of(path, module, set(files)) for module, path in files.items()}
    graph = {module: {name for name in names if name in files and name != module} for module, names in raw.items()}
    return graph, raw


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(raw: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} imports {name}: {why}"
        for module, names in sorted(raw.items())
        for owner, forbidden, why in RULES
        if within(module, owner)
        for name in sorted(names)
        if any(within(name, f) for f in forbidden)
    ]


def main() -> int:
    graph, raw = build_graph()
    found_cycles, found_violations = cycles(graph), violations(raw)
    for component in found_cycles:
        print("cycle: " + " <-> ".join(component))
    for line in found_violations:
        print("violation: " + line)
    edges = sum(len(targets) for targets in graph.values())
    print(
        f"{len(graph)} modules, {edges} imports between them: "
        f"{len(found_cycles)} cycles, {len(found_violations)} violations"
    )
    return 1 if found_cycles or found_violations else 0


if __name__ == "__main__":
    sys.exit(main())
