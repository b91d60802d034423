"""The layering rules, checked by rule over every module (docs/layout.md):

- `inference/` imports no Django and nothing of the apps;
- the domain (every module of `jobs/` and `billing/` outside the faces) imports no DRF,
  drf-spectacular, `django.http` nor a face package, at the top or inside a function;
- `billing/` imports no face package, DRF nor drf-spectacular (its command line included);
- the project package imports nothing of the apps.

The faces are `jobs/api/` (the vendor surfaces), `jobs/web/` (the customers' web app) and
`jobs/operators/` (admin, dashboard, health, metrics, file serving); `jobs/management/`
(commands), `jobs/templatetags/` (template filters), `jobs/migrations/` and `jobs/apps.py`
(the composition root, which calls each face's wire()) are not domain either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FACE_PACKAGES = ("jobs.api", "jobs.web", "jobs.operators")
NOT_DOMAIN = (*FACE_PACKAGES, "jobs.management", "jobs.templatetags", "jobs.migrations", "jobs.apps")
HTTP = ("rest_framework", "drf_spectacular", "django.http")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_of(*packages: str) -> list[str]:
    return sorted(module_name(p) for package in packages for p in (REPO / package).rglob("*.py"))


def path_of(module: str) -> Path:
    base = REPO / module.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported_modules(path: Path, package: str | None = None) -> set[str]:
    """Every module `path` imports, at the top or inside a function (relative imports
    resolved against its `package`), with `from a import b` also giving `a.b`."""
    names: set[str] = set()
    if package is None:
        package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def is_under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


DOMAIN = [m for m in modules_of("jobs", "billing") if not is_under(m, NOT_DOMAIN)]


def test_the_rules_see_the_modules_they_are_about():
    """A rule over nothing cannot fail: the lists are found, not written by hand."""
    assert {"jobs.models", "jobs.submission", "jobs.lifecycle", "jobs.batches", "billing.ledger"} <= set(DOMAIN)
    assert not [m for m in DOMAIN if is_under(m, FACE_PACKAGES)]
    assert "inference.api" in modules_of("inference")
    maskr_views = imported_modules(REPO / "jobs/api/maskr/views.py")
    assert {"jobs.batches.submit_batch", "rest_framework.response"} <= maskr_views


@pytest.mark.parametrize("module", modules_of("inference"))
def test_inference_imports_no_django_nor_the_apps(module):
    offending = sorted(n for n in imported_modules(path_of(module)) if is_under(n, ("django", "jobs", "billing")))
    assert not offending, f"{module} imports {offending}"


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_modules_speak_no_http_and_import_no_face(module):
    offending = sorted(n for n in imported_modules(path_of(module)) if is_under(n, (*HTTP, *FACE_PACKAGES)))
    assert not offending, f"{module} imports {offending}"


@pytest.mark.parametrize("module", modules_of("billing"))
def test_billing_imports_no_face_package(module):
    offending = sorted(
        n
        for n in imported_modules(path_of(module))
        if is_under(n, ("rest_framework", "drf_spectacular", *FACE_PACKAGES))
    )
    assert not offending, f"{module} imports {offending}"


@pytest.mark.parametrize("module", modules_of("upscaler_platform"))
def test_the_project_package_does_not_import_app_internals(module):
    offending = sorted(n for n in imported_modules(path_of(module)) if is_under(n, ("jobs", "billing")))
    assert not offending, f"{module} imports {offending}"


def test_the_rule_catches_a_forbidden_import(tmp_path):
    """The checker itself: an import inside a function, and a relative one, are seen."""
    sample = tmp_path / "probe.py"
    sample.write_text("def f():\n    from .api import views\n    from django.http import HttpResponse\n")
    names = imported_modules(sample, package="jobs")
    assert is_under("jobs.api.views", FACE_PACKAGES) and "jobs.api.views" in names
    assert "django.http.HttpResponse" in names


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_module_imports_itself_round_a_circle():
    """No import circle among jobs/, billing/ and inference/, lazy imports inside functions
    counted (they only hide one): lifecycle <-> tasks <-> processing and inference's
    api <-> engines.base were the last."""
    modules = set(modules_of("jobs", "billing", "inference"))
    graph: dict[str, set[str]] = {}
    for module in modules:
        deps = set()
        for name in imported_modules(path_of(module)):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                deps.add(name)
        graph[module] = deps
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_circle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
