"""The layout of the emulator: imports run one way (no circle, ``TYPE_CHECKING`` and lazy imports
included), modules stay small, and each route names the recording it follows.

The import graph is read from the source with :mod:`ast`, not by importing: an import under
``if TYPE_CHECKING:`` or inside a function never runs in a test, yet it ties two modules together all
the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import airflow_provider_dash

PACKAGE_DIR = Path(airflow_provider_dash.__file__).resolve().parent
RECORDINGS = PACKAGE_DIR.parents[1] / "shared" / "redash-api" / "recordings"
EMULATOR_MODULE_LINES = 400


def package_modules(package_dir: Path, package: str) -> dict[str, Path]:
    """:return: every module below ``package_dir`` by dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(dotted: str, modules: dict[str, Path]) -> str | None:
    """:return: the longest prefix of ``dotted`` that is one of ``modules`` (``a.b.name`` -> ``a.b``)."""
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """:return: the modules of ``modules`` that module ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            # ``from pkg import mod`` imports the module ``pkg.mod``; ``from mod import name``, ``mod``
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in (_known(target, modules) for target in targets) if t is not None and t != name)
    return found


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """:return: module -> the modules of the same package it imports."""
    modules = package_modules(package_dir, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """:return: one circle per knot of modules that import one another (Tarjan's strongly connected
    components), each as ``[a, b, ..., a]``, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    knots: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            knot = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                knot.add(member)
                if member == node:
                    break
            if len(knot) > 1:
                knots.append(knot)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_circle_in(knot, graph) for knot in knots)


def _circle_in(knot: set[str], graph: dict[str, set[str]]) -> list[str]:
    """:return: a shortest circle through the first module of ``knot`` (breadth first)."""
    start = min(knot)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & knot):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no circle in {sorted(knot)}")  # a strongly connected knot always has one


def describe(cycles: list[list[str]]) -> str:
    """:return: one line per circle, ``a -> b -> a``."""
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_emulator_modules_import_one_way() -> None:
    cycles = import_cycles(import_graph(PACKAGE_DIR / "testing", "airflow_provider_dash.testing"))
    assert cycles == [], "import circles:\n" + describe(cycles)


def test_the_whole_package_imports_one_way() -> None:
    cycles = import_cycles(import_graph(PACKAGE_DIR, "airflow_provider_dash"))
    assert cycles == [], "import circles:\n" + describe(cycles)


def test_the_cycle_check_names_a_circle_made_of_type_checking_and_lazy_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .app import App\n")
    (package / "app.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .server import S\n")
    (package / "server.py").write_text("def run():\n    from pkg.sub import handlers\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "handlers.py").write_text("from .. import app\nfrom ..state import State\n")
    (package / "state.py").write_text("import os\n")

    graph = import_graph(package, "pkg")

    assert graph["pkg.sub.handlers"] == {"pkg.app", "pkg.state"}
    assert describe(import_cycles(graph)) == "pkg.app -> pkg.server -> pkg.sub.handlers -> pkg.app"


def test_the_emulator_modules_are_small_and_say_what_they_are_for() -> None:
    too_long, undocumented = [], []
    for name, path in package_modules(PACKAGE_DIR / "testing", "airflow_provider_dash.testing").items():
        if len(path.read_text(encoding="utf-8").splitlines()) > EMULATOR_MODULE_LINES:
            too_long.append(name)
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))):
            undocumented.append(name)
    assert (too_long, undocumented) == ([], [])


@pytest.mark.skipif(not RECORDINGS.is_dir(), reason=f"recordings not found at {RECORDINGS}")
def test_each_route_of_the_redash_emulator_names_a_recording_it_follows() -> None:
    source = (PACKAGE_DIR / "testing" / "redash_app.py").read_text(encoding="utf-8").splitlines()
    calls = [i for i, line in enumerate(source) if re.match(r"\s+a\(", line)]
    assert len(calls) >= 28  # the routing table is really where the routes are added
    unnamed = []
    for i in calls:
        named = re.findall(r"[\w.]+\.json", source[i - 1]) if source[i - 1].strip().startswith("#") else []
        if not named or not all((RECORDINGS / file).is_file() for file in named):
            unnamed.append(source[i].strip())
    assert unnamed == []


PRODUCT_ROOMS = ("hooks", "operators", "sensors", "triggers", "lineage", "links", "tools", "testing")


def test_the_ground_never_imports_a_product_room() -> None:
    # The ground (the package's top-level modules, checks/, models/, sql/) is what both products stand
    # on: it must not reach up into hooks, operators, triggers ... (issue 10: "the ground reaches up").
    modules = package_modules(PACKAGE_DIR, "airflow_provider_dash")
    rooms = tuple(f"airflow_provider_dash.{room}" for room in PRODUCT_ROOMS)
    # parameters.py is the deprecated old path of hooks/_redash_parameters.py: a re-export, not ground.
    shims = {"airflow_provider_dash", "airflow_provider_dash.parameters"}
    ground = {name: path for name, path in modules.items() if name not in shims and not name.startswith(rooms)}
    reaching_up = {
        name: sorted(target for target in imports_of(name, path, modules) if target.startswith(rooms))
        for name, path in ground.items()
    }
    assert {name: targets for name, targets in reaching_up.items() if targets} == {}
