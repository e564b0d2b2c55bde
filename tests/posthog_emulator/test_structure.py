"""The emulator stands apart: the product never imports it, it judges the client without the product's
checks, its imports run one way, and its modules stay small and say what they are for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_dash"
EMULATOR = PACKAGE / "testing" / "posthog"
MODULES = sorted(EMULATOR.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """:return: the absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_product_never_imports_the_testing_package() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "testing" not in path.relative_to(PACKAGE).parts
        and any(name.startswith("airflow_provider_dash.testing") for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_emulator_uses_nothing_of_the_product_outside_testing() -> None:
    used = {
        name
        for path in MODULES
        for name in imported_modules(path)
        if name.startswith("airflow_provider_dash") and not name.startswith("airflow_provider_dash.testing")
    }
    assert used == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_the_server_and_package_import_the_server(path: Path) -> None:
    if path.name in ("server.py", "__init__.py"):
        return
    server = "airflow_provider_dash.testing.posthog.server"
    assert not any(name == server or name.startswith(server + ".") for name in imported_modules(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_are_small_and_open_with_their_purpose(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} has no module docstring"
    assert len(path.read_text().splitlines()) < 400


def test_importing_the_plugin_does_not_import_the_posthog_emulator() -> None:
    code = (
        "import sys, airflow_provider_dash.testing.pytest_plugin as p; "
        "print(any(m.startswith('airflow_provider_dash.testing.posthog') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
