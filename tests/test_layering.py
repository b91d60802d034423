"""Domain modules raise domain errors and never speak HTTP: none of them imports DRF or the
API layer, at the top or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOMAIN_MODULES = [
    "jobs/models.py",
    "jobs/lifecycle.py",
    "jobs/processing.py",
    "jobs/submission.py",
    "jobs/idempotency.py",
    "jobs/tasks.py",
    "jobs/webhooks.py",
    "jobs/safe_http.py",
    "jobs/errors.py",
    "jobs/surfaces.py",
    "billing/ledger.py",
    "billing/pricing.py",
    "billing/models.py",
]
FORBIDDEN = ("rest_framework", "jobs.api", "drf_spectacular")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_modules_do_not_import_the_api_layer(module):
    offending = sorted(n for n in imported_modules(REPO / module) if n.startswith(FORBIDDEN))
    assert not offending, f"{module} imports {offending}"


@pytest.mark.parametrize("module", sorted(p.name for p in (REPO / "upscaler_platform").glob("*.py")))
def test_the_project_package_does_not_import_app_internals(module):
    offending = sorted(
        n for n in imported_modules(REPO / "upscaler_platform" / module) if n.startswith(("jobs", "billing"))
    )
    assert not offending, f"upscaler_platform/{module} imports {offending}"
