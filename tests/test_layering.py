"""Import layering: the arrows of DESIGN.md ("Layers and who may import whom"), kept true.

Every ``.py`` file under ``llmtrace/`` is parsed with `ast` (nothing is imported), and every
import is checked: module level, inside functions, under ``if TYPE_CHECKING``, relative ones,
and ``importlib.import_module("...")``/``__import__("...")`` calls with a literal name.
A failure lists each offending ``file:line: statement -> module`` with the rule it breaks.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "llmtrace"
PACKAGE_DIR = REPO / PACKAGE

# Top-level packages whose `__init__` exports nothing: `from opentelemetry import trace` always
# imports the submodule `opentelemetry.trace`.
NAMESPACE_PACKAGES = frozenset({"opentelemetry"})

# Packages above the store in DESIGN.md: they import the store (or the whole public API), so
# the store importing any of them would be a cycle.
ABOVE_STORE = (
    "llmtrace.tracing",
    "llmtrace.integrations",
    "llmtrace.tracking",
    "llmtrace.registry",
    "llmtrace.models",
    "llmtrace.serving",
    "llmtrace.server",
    "llmtrace.cli",
    "llmtrace._api",
    "llmtrace._demo_app",
)

# Files of llmtrace.tracing allowed to import llmtrace.store, and why.
TRACING_STORE_EXEMPTIONS = {
    "llmtrace/tracing/exporters/sql.py": (
        "the one bridge from spans to the database (DESIGN.md: tracing.exporters.sql -> store)"
    ),
    "llmtrace/tracing/_runtime.py": (
        "the runtime wires the SQL exporter to the store it opens (open_store) and validates "
        "the store URL at configure() time (normalize_url)"
    ),
}


# --- the checker -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import found in a source file: where, what was written, and the module it loads."""

    path: str
    line: int
    statement: str
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.statement}  -> {self.target}"


def module_name(path: str) -> str:
    """`llmtrace/store/__init__.py` -> `llmtrace.store`, `llmtrace/cli/_db.py` -> its module."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package_module(dotted: str) -> bool:
    """True when `dotted` (llmtrace.x.y) is a module or package file in this repository."""
    base = REPO.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve_from(base: str, name: str) -> str:
    """The module `from base import name` loads: `base.name` when that is a module, else base."""
    candidate = f"{base}.{name}"
    if base in NAMESPACE_PACKAGES:
        return candidate
    if (base == PACKAGE or base.startswith(PACKAGE + ".")) and _is_package_module(candidate):
        return candidate
    return base


def _absolute_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    # The package a relative import is resolved against: the module itself for an __init__.
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        package = package[: -(node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _dynamic_import(node: ast.Call) -> str | None:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def find_imports(source: str, path: str) -> list[Import]:
    """Every import in `source`, the text of the file at `path` (relative to the repository)."""
    module = module_name(path)
    is_package = Path(path).name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(path, node.lineno, f"import {alias.name}", alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute_base(node, module, is_package)
            written = "." * node.level + (node.module or "")
            for alias in node.names:
                target = base if alias.name == "*" else _resolve_from(base, alias.name)
                statement = f"from {written} import {alias.name}"
                found.append(Import(path, node.lineno, statement, target))
        elif isinstance(node, ast.Call):
            target = _dynamic_import(node)
            if target is not None:
                found.append(Import(path, node.lineno, f"import_module({target!r})", target))
    return sorted(found, key=lambda i: (i.line, i.statement))


def _within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _otel_api_modules() -> frozenset[str]:
    """`opentelemetry.<x>` modules shipped by the opentelemetry-api distribution."""
    files = importlib.metadata.files("opentelemetry-api") or []
    names = {
        ".".join(f.with_suffix("").parts[:2])
        for f in files
        if f.suffix == ".py" and f.parts[0] == "opentelemetry" and len(f.parts) > 1
    }
    assert names, "cannot list the modules of opentelemetry-api"
    return frozenset(names)


OTEL_API = _otel_api_modules()


def _stdlib_or_otel_api(target: str) -> str | None:
    top = target.split(".")[0]
    if top == "__future__" or top in sys.stdlib_module_names:
        return None
    if top == "opentelemetry" and _within(target, tuple(OTEL_API)):
        return None
    return "a leaf module imports only the standard library and opentelemetry-api"


@dataclass(frozen=True)
class Rule:
    """Files (by module prefix) and a check returning why an import target is not allowed."""

    id: str
    applies_to: tuple[str, ...]
    check: Callable[[str], str | None]
    exemptions: dict[str, str] = field(default_factory=dict)  # path -> reason


def _forbid(prefixes: tuple[str, ...], why: str) -> Callable[[str], str | None]:
    def check(target: str) -> str | None:
        return why if _within(target, prefixes) else None

    return check


def _forbid_root_package(other: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Also forbid `import llmtrace`/`from llmtrace import <name>`: the root re-exports it all."""

    def check(target: str) -> str | None:
        if target == PACKAGE:
            return "the llmtrace root package re-exports every layer; import the module itself"
        return other(target)

    return check


RULES = [
    Rule(
        "leaf-modules",
        ("llmtrace.semconv", "llmtrace.exceptions", "llmtrace.context"),
        _stdlib_or_otel_api,
    ),
    Rule(
        "pricing",
        ("llmtrace.pricing",),
        lambda target: (
            None
            if target in ("llmtrace.exceptions", "llmtrace.semconv")
            or target.startswith("llmtrace.pricing")
            or _stdlib_or_otel_api(target) is None
            else "pricing is a leaf: it imports only the standard library, semconv and exceptions"
        ),
    ),
    Rule(
        "store",
        ("llmtrace.store",),
        _forbid_root_package(
            _forbid(
                (*ABOVE_STORE, "evaluators", "dashboard"),
                "the store imports only semconv and exceptions, never tracing, integrations, "
                "evaluators or the layers built on the store",
            )
        ),
    ),
    Rule(
        "tracing",
        ("llmtrace.tracing",),
        _forbid_root_package(
            _forbid(
                ("llmtrace.store",),
                "tracing never imports the store (only tracing.exporters.sql bridges to it)",
            )
        ),
        exemptions=TRACING_STORE_EXEMPTIONS,
    ),
    Rule(
        "tracing-upward",
        ("llmtrace.tracing",),
        _forbid(
            tuple(p for p in ABOVE_STORE if p != "llmtrace.tracing"),
            "tracing imports context, semconv and OpenTelemetry, not the layers above it "
            "(runs and traces meet through context, not imports)",
        ),
    ),
    Rule(
        "integrations",
        ("llmtrace.integrations",),
        _forbid(
            ("llmtrace.store", "llmtrace.server"),
            "integrations import tracing, never the store",
        ),
    ),
    Rule(
        "tracking",
        ("llmtrace.tracking",),
        _forbid_root_package(
            _forbid(
                (
                    "llmtrace.tracing",
                    "llmtrace.integrations",
                    "llmtrace.server",
                    "llmtrace.cli",
                    "llmtrace._api",
                ),
                "tracking imports the store and context; runs meet traces through context "
                "(trace_defaults), never through tracing",
            )
        ),
    ),
    Rule(
        "registry",
        ("llmtrace.registry",),
        _forbid_root_package(
            _forbid(
                (
                    "llmtrace.tracing",
                    "llmtrace.integrations",
                    "llmtrace.models",
                    "llmtrace.serving",
                    "llmtrace.server",
                    "llmtrace.cli",
                    "llmtrace._api",
                ),
                "the registry is records in the store: it imports the store, tracking and "
                "context, never the model format, serving or tracing",
            )
        ),
    ),
    Rule(
        "models-and-serving",
        ("llmtrace.models", "llmtrace.serving"),
        _forbid_root_package(
            _forbid(
                ("llmtrace.server", "llmtrace.cli", "llmtrace._api"),
                "the model format and the scoring server sit on tracing, tracking and the "
                "registry; they never import the tracking server or the CLI",
            )
        ),
    ),
    Rule(
        "models-below-serving",
        ("llmtrace.models",),
        _forbid(("llmtrace.serving",), "serving loads models; the model format never serves"),
    ),
    Rule(
        "server",
        ("llmtrace.server",),
        _forbid_root_package(
            _forbid(
                ("llmtrace.tracing", "llmtrace.integrations", "llmtrace.cli", "llmtrace._api"),
                "the server sits on the store, tracking and pricing; it never traces itself "
                "through the library's runtime nor imports the CLI",
            )
        ),
    ),
    Rule(
        "server-on-top",
        (
            "llmtrace.semconv",
            "llmtrace.exceptions",
            "llmtrace.context",
            "llmtrace.pricing",
            "llmtrace.store",
            "llmtrace.tracing",
            "llmtrace.tracking",
            "llmtrace.integrations",
            "llmtrace._api",
            "llmtrace._config",
        ),
        _forbid(("llmtrace.server",), "only the CLI starts the server; libraries never import it"),
    ),
    Rule(
        "no-evaluators-or-dashboard",
        (PACKAGE,),
        _forbid(("evaluators", "dashboard"), "llmtrace never imports evaluators or dashboard"),
    ),
]


@dataclass(frozen=True)
class Violation:
    """An import that breaks a rule."""

    rule: str
    imp: Import
    reason: str

    def __str__(self) -> str:
        return f"{self.imp}\n      [{self.rule}] {self.reason}"


def check_imports(imports: list[Import], rules: list[Rule] = RULES) -> list[Violation]:
    """The violations among `imports` (each knows its file) of every applicable rule."""
    violations = []
    for imp in imports:
        source = module_name(imp.path)
        for rule in rules:
            if not _within(source, rule.applies_to) or imp.path in rule.exemptions:
                continue
            if _within(imp.target, source) and imp.target != PACKAGE:
                continue  # a package importing its own submodules
            reason = rule.check(imp.target)
            if reason is not None:
                violations.append(Violation(rule.id, imp, reason))
    return violations


def check_source(source: str, path: str, rules: list[Rule] = RULES) -> list[Violation]:
    """Check the text of one (real or synthetic) file at `path`."""
    return check_imports(find_imports(source, path), rules)


def package_files() -> Iterator[Path]:
    """Every .py file of the package, sorted."""
    yield from sorted(PACKAGE_DIR.rglob("*.py"))


def all_imports() -> list[Import]:
    """The imports of every package file."""
    found: list[Import] = []
    for file in package_files():
        rel = file.relative_to(REPO).as_posix()
        found.extend(find_imports(file.read_text(encoding="utf-8"), rel))
    return found


def _report(violations: list[Violation]) -> str:
    lines = [f"{len(violations)} import(s) break the layering of DESIGN.md:"]
    lines += [f"  {v}" for v in violations]
    return "\n".join(lines)


# --- the package obeys the rules -------------------------------------------------------------


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return all_imports()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_package_follows_rule(rule: Rule, imports: list[Import]) -> None:
    violations = check_imports(imports, [rule])
    assert not violations, _report(violations)


def test_scan_is_not_vacuous(imports: list[Import]) -> None:
    files = {p.relative_to(REPO).as_posix() for p in package_files()}
    assert {
        "llmtrace/__init__.py",
        "llmtrace/semconv.py",
        "llmtrace/store/_sql.py",
        "llmtrace/tracing/_runtime.py",
        "llmtrace/tracing/exporters/sql.py",
    } <= files
    by_file = {i.path for i in imports}
    assert "llmtrace/store/_sql.py" in by_file
    # Function-level imports are seen too (the CLI imports the demo app lazily).
    assert any(
        i.path == "llmtrace/cli/_demo.py" and i.target == "llmtrace._demo_app" for i in imports
    )


@pytest.mark.parametrize("path", sorted(TRACING_STORE_EXEMPTIONS))
def test_store_exemptions_are_still_needed(path: str, imports: list[Import]) -> None:
    assert (REPO / path).is_file(), f"exempted file {path} is gone: drop its exemption"
    assert any(i.path == path and _within(i.target, "llmtrace.store") for i in imports), (
        f"{path} no longer imports llmtrace.store: drop its exemption from the layering test"
    )


# --- evaluators and dashboard use the public API of llmtrace only ----------------------------

CONSUMERS = ("evaluators", "dashboard")


def private_llmtrace_import(target: str) -> str | None:
    """Why an import of `target` from evaluators/dashboard is not allowed, or None."""
    parts = target.split(".")
    if parts[0] != PACKAGE:
        return None
    if any(part.startswith("_") for part in parts[1:]):
        return "evaluators and dashboard use llmtrace's public API only (no private modules)"
    if len(parts) > 1 and parts[1] in ("server", "cli"):
        return "evaluators and dashboard talk to a Store, never to the server or CLI modules"
    return None


def consumer_imports() -> list[Import]:
    found: list[Import] = []
    for top in CONSUMERS:
        for file in sorted((REPO / top).rglob("*.py")):
            rel = file.relative_to(REPO).as_posix()
            found.extend(find_imports(file.read_text(encoding="utf-8"), rel))
    return found


def test_evaluators_and_dashboard_use_the_public_api_only() -> None:
    bad = [
        f"  {imp}  [{why}]"
        for imp in consumer_imports()
        if (why := private_llmtrace_import(imp.target)) is not None
    ]
    assert not bad, "private llmtrace imports:\n" + "\n".join(bad)


def test_private_import_check_is_not_vacuous() -> None:
    assert private_llmtrace_import("llmtrace.store._sql")
    assert private_llmtrace_import("llmtrace._api")
    assert private_llmtrace_import("llmtrace.server")
    assert private_llmtrace_import("llmtrace.store") is None
    assert private_llmtrace_import("numpy._core") is None


# --- the checker catches violations (self-check on synthetic sources) --------------------------


def _targets(source: str, path: str) -> list[tuple[str, str]]:
    return [(v.rule, v.imp.target) for v in check_source(source, path)]


def test_checker_catches_module_and_function_level_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "import logging\n"
        "from llmtrace import semconv as sc\n"
        "def flush():\n"
        "    from llmtrace.store import SqlStore\n"
        "    return SqlStore\n"
    )
    violations = check_source(source, "llmtrace/tracing/_fake.py")
    assert [(v.rule, v.imp.line, v.imp.target) for v in violations] == [
        ("tracing", 5, "llmtrace.store")
    ]
    assert "llmtrace/tracing/_fake.py:5: from llmtrace.store import SqlStore" in str(violations[0])
    assert "llmtrace/tracing/_fake.py:5" in _report(violations)


def test_checker_resolves_relative_imports() -> None:
    assert _targets("from ..store import Store\n", "llmtrace/tracing/_fake.py") == [
        ("tracing", "llmtrace.store")
    ]
    assert _targets("from ... import store\n", "llmtrace/tracing/exporters/_fake.py") == [
        ("tracing", "llmtrace.store")
    ]
    assert _targets("from .. import tracing\n", "llmtrace/store/_fake.py") == [
        ("store", "llmtrace.tracing")
    ]
    # Inside a package's __init__, "." is the package itself.
    assert _targets("from . import _runtime\n", "llmtrace/tracing/__init__.py") == []
    assert _targets("from .. import store\n", "llmtrace/tracing/__init__.py") == [
        ("tracing", "llmtrace.store")
    ]


def test_checker_applies_exemptions_only_to_their_files() -> None:
    source = "from llmtrace.store import SpanRecord, Store\n"
    assert _targets(source, "llmtrace/tracing/exporters/sql.py") == []
    assert _targets(source, "llmtrace/tracing/_runtime.py") == []
    assert _targets(source, "llmtrace/tracing/exporters/otlp.py") == [
        ("tracing", "llmtrace.store"),
        ("tracing", "llmtrace.store"),
    ]


def test_checker_on_leaf_modules() -> None:
    ok = (
        "import re\nfrom enum import Enum\nfrom contextvars import ContextVar\n"
        "from opentelemetry import trace\nfrom opentelemetry.context import Context\n"
    )
    assert _targets(ok, "llmtrace/context.py") == []
    bad = (
        "import sqlalchemy\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry import sdk\n"
        "from llmtrace.exceptions import ConfigError\n"
    )
    assert _targets(bad, "llmtrace/semconv.py") == [
        ("leaf-modules", "sqlalchemy"),
        ("leaf-modules", "opentelemetry.sdk.trace"),
        ("leaf-modules", "opentelemetry.sdk"),
        ("leaf-modules", "llmtrace.exceptions"),
    ]


def test_checker_catches_root_package_and_dynamic_imports() -> None:
    source = (
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from llmtrace import Trace\n"
        "def load():\n"
        "    return importlib.import_module('llmtrace.tracing._runtime')\n"
    )
    assert _targets(source, "llmtrace/store/_fake.py") == [
        ("store", "llmtrace"),
        ("store", "llmtrace.tracing._runtime"),
    ]
    assert _targets("from llmtrace import semconv, exceptions\n", "llmtrace/store/_x.py") == []


def test_checker_on_other_layers() -> None:
    assert _targets("import evaluators.metrics\n", "llmtrace/_api.py") == [
        ("no-evaluators-or-dashboard", "evaluators.metrics")
    ]
    assert _targets("from dashboard import app\n", "llmtrace/cli/_x.py") == [
        ("no-evaluators-or-dashboard", "dashboard")
    ]
    assert _targets(
        "from llmtrace.store import SqlStore\nfrom llmtrace.tracing import trace\n",
        "llmtrace/integrations/openai.py",
    ) == [("integrations", "llmtrace.store")]
    assert _targets("from llmtrace.cli import main\n", "llmtrace/tracing/_fake.py") == [
        ("tracing-upward", "llmtrace.cli")
    ]
    assert _targets("import llmtrace._api\n", "llmtrace/store/_fake.py") == [
        ("store", "llmtrace._api")
    ]
