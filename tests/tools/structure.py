"""Size facts the project holds itself to: the largest modules, the longest Celery task bodies and
the longest functions of app/ and workers/. Hand-written with the standard library's `ast`: it is
a few dozen lines, and no linter reports "task body length" (a task is a function under a
`.task(...)` decorator, and its body should only call into app/).

    python tests/tools/structure.py [--top N]
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "workers")


def is_task(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with `<something>.task(...)` or `<something>.task`."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "task":
            return True
    return False


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the body, the docstring left out."""
    body = function.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=5)
    top = parser.parse_args().top
    modules: list[tuple[int, str]] = []
    tasks: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text()
            name = str(path.relative_to(ROOT))
            modules.append((len(source.splitlines()), name))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    where = (body_lines(node), f"{name}:{node.lineno} {node.name}")
                    (tasks if is_task(node) else functions).append(where)
    for title, rows in (
        ("largest modules (lines)", modules),
        ("longest task bodies (lines)", tasks),
        ("longest functions (body lines)", functions),
    ):
        print(title)
        for count, where in sorted(rows, reverse=True)[:top]:
            print(f"  {count:5d}  {where}")
    print(f"{len(modules)} modules, {len(tasks)} tasks, {len(functions)} other functions")


if __name__ == "__main__":
    main()
