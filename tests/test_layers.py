"""The layers point one way (docs/architecture.md): each part imports only itself and the
parts below it, including imports inside functions."""

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "packyard"
SHARED = {"http", "env", "middleware", "requesthead"}  # below every app
MAY_IMPORT = {
    "accounts": {"accounts"},
    "twofactor": {"twofactor", "accounts"},
    "signin": {"signin", "twofactor", "accounts"},
    "tokens": {"tokens", "accounts"},
    "oidc": {"oidc"},
    "packages": {"packages", "oidc", "tokens", "twofactor", "accounts"},
    "fellows": {"fellows", "packages", "twofactor", "accounts"},
}


def imported_parts(path: Path) -> set[str]:
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        parts |= {name.split(".")[1] for name in names if name.startswith("packyard.")}
    return parts


@pytest.mark.parametrize("app", sorted(MAY_IMPORT))
def test_an_app_imports_only_the_layers_below_it(app):
    upward = {
        f"{path.relative_to(SOURCE)} imports packyard.{part}"
        for path in (SOURCE / app).rglob("*.py")
        for part in imported_parts(path) - MAY_IMPORT[app] - SHARED
    }
    assert not upward


def test_the_shared_modules_import_no_app():
    apps = set(MAY_IMPORT)
    assert not {
        f"{name}.py imports packyard.{part}"
        for name in SHARED
        for part in imported_parts(SOURCE / f"{name}.py") & apps
    }


def test_every_app_has_a_place_in_the_layers():
    packages = {path.parent.name for path in SOURCE.glob("*/__init__.py")}
    assert packages == set(MAY_IMPORT)
