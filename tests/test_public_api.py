"""The public surface of llmtrace: what `__all__` exports, docstrings, py.typed, quiet imports.

The expected `__all__` lists are written out here so that adding or removing a public name is
a deliberate change to this file too.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import importlib.metadata
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import llmtrace

EXPECTED_ALL = {
    "llmtrace": [
        "AlreadyExistsError",
        "Assessment",
        "ConfigError",
        "ContextThreadPoolExecutor",
        "EvaluationDataset",
        "FilterSyntaxError",
        "InvalidParameterError",
        "InvalidQueryError",
        "LiveSpan",
        "LlmtraceError",
        "MigrationError",
        "NotFoundError",
        "RestStore",
        "Span",
        "SpanStatus",
        "SpanType",
        "SqlStore",
        "Store",
        "StoreError",
        "Trace",
        "TraceInfo",
        "TraceList",
        "TrackingClient",
        "__version__",
        "active_run",
        "approve_transition",
        "configure",
        "create_dataset",
        "create_experiment",
        "current_span",
        "current_trace_id",
        "delete_dataset",
        "delete_experiment",
        "delete_run",
        "delete_traces",
        "download_artifacts",
        "end_run",
        "flush",
        "get_dataset",
        "get_experiment_by_name",
        "get_run",
        "get_store",
        "get_trace",
        "instrument",
        "list_artifacts",
        "load_prompt",
        "log_artifact",
        "log_artifacts",
        "log_dict",
        "log_figure",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "log_table",
        "log_text",
        "register_model",
        "register_prompt",
        "rename_experiment",
        "request_transition",
        "restore_experiment",
        "restore_run",
        "search_datasets",
        "search_runs",
        "search_traces",
        "set_experiment",
        "set_experiment_tags",
        "set_model_alias",
        "set_price",
        "set_prompt_alias",
        "set_tag",
        "set_tags",
        "shutdown",
        "span",
        "start_run",
        "stats",
        "trace",
        "trace_defaults",
        "transition_model_version_stage",
        "uninstrument",
        "update_current_trace",
        "with_context",
    ],
    "llmtrace.integrations": ["INTEGRATIONS", "instrument", "instrumented", "uninstrument"],
    "llmtrace.integrations.langchain": [
        "LlmtraceCallbackHandler",
        "instrument",
        "is_instrumented",
        "uninstrument",
    ],
    "llmtrace.integrations.llama_index": [
        "LlmtraceEventHandler",
        "LlmtraceSpanHandler",
        "instrument",
        "uninstrument",
    ],
    "llmtrace.integrations.openai": ["instrument", "is_instrumented", "uninstrument"],
    "llmtrace.models": [
        "ColSpec",
        "DESCRIPTOR_FILE",
        "LoadedModel",
        "MODEL_FLAVOR_ATTRIBUTE",
        "MODEL_NAME_ATTRIBUTE",
        "MODEL_PROMPTS_ATTRIBUTE",
        "MODEL_URI_ATTRIBUTE",
        "MODEL_UUID_ATTRIBUTE",
        "MODEL_VERSION_ATTRIBUTE",
        "ModelContext",
        "ModelDescriptor",
        "ModelInfo",
        "ModelInputError",
        "ModelLoadError",
        "ModelSignature",
        "ParamSpec",
        "PythonModel",
        "ResolvedModelUri",
        "infer_signature",
        "load_model",
        "log_model",
        "resolve_model_uri",
        "save_model",
        "spark_udf",
    ],
    "llmtrace.pricing": [
        "Cost",
        "Price",
        "PriceTable",
        "Usage",
        "compute_cost",
        "cost_of",
        "get_price",
        "list_prices",
        "load_prices",
        "price_table",
        "reset_prices",
        "set_price",
        "unpriced_models",
    ],
    "llmtrace.registry": [
        "Prompt",
        "PromptList",
        "PromptRef",
        "PromptVersion",
        "PromptVersionList",
        "approve_transition",
        "create_registered_model",
        "current_user",
        "delete_model_alias",
        "delete_prompt_alias",
        "get_latest_versions",
        "get_model_version",
        "get_model_version_by_alias",
        "get_prompt",
        "get_registered_model",
        "load_prompt",
        "parse_prompt_ref",
        "pending_transitions",
        "register_model",
        "register_prompt",
        "reject_transition",
        "request_transition",
        "search_model_versions",
        "search_prompts",
        "search_registered_models",
        "set_model_alias",
        "set_prompt_alias",
        "transition_model_version_stage",
    ],
    "llmtrace.serving": [
        "DEFAULT_MAX_BODY_BYTES",
        "ModelInfo",
        "ServableModel",
        "ServingError",
        "TRACE_ID_HEADER",
        "build_docker",
        "create_app",
        "generate_dockerfile",
        "serve",
    ],
    "llmtrace.store": [
        "Assessment",
        "Dataset",
        "DatasetList",
        "DatasetRecord",
        "DatasetRecordList",
        "Experiment",
        "MergeResult",
        "Metric",
        "ModelUsage",
        "ModelVersion",
        "ModelVersionList",
        "Param",
        "Prompt",
        "PromptList",
        "PromptVersion",
        "PromptVersionList",
        "RegisteredModel",
        "RegisteredModelList",
        "RestStore",
        "Run",
        "RunInfo",
        "RunList",
        "Span",
        "SpanGroup",
        "SpanRecord",
        "SqlStore",
        "Store",
        "TimeBucket",
        "Trace",
        "TraceInfo",
        "TraceList",
        "TransitionRequest",
        "filter_literal",
        "open_store",
    ],
    "llmtrace.tracing": [
        "ContextThreadPoolExecutor",
        "LiveSpan",
        "current_span",
        "current_trace_id",
        "span",
        "trace",
        "update_current_trace",
        "with_context",
    ],
    "llmtrace.tracking": [
        "ActiveRun",
        "EvaluationDataset",
        "InvalidArtifactPathError",
        "RunStateError",
        "TrackingClient",
        "active_run",
        "create_dataset",
        "create_experiment",
        "default_store",
        "delete_dataset",
        "delete_experiment",
        "delete_run",
        "download_artifacts",
        "end_run",
        "get_dataset",
        "get_experiment_by_name",
        "get_run",
        "list_artifacts",
        "log_artifact",
        "log_artifacts",
        "log_dict",
        "log_figure",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "log_table",
        "log_text",
        "rename_experiment",
        "restore_experiment",
        "restore_run",
        "search_datasets",
        "search_runs",
        "set_experiment",
        "set_experiment_tags",
        "set_tag",
        "set_tags",
        "start_run",
    ],
    "llmtrace.tracking.artifacts": [
        "ArtifactRepository",
        "FileInfo",
        "InvalidArtifactPathError",
        "LocalArtifactRepository",
        "S3ArtifactRepository",
        "get_artifact_repository",
        "validate_artifact_path",
    ],
}

# Modules importable by users; importing any of them must have no side effects.
PUBLIC_MODULES = [
    "llmtrace",
    "llmtrace.store",
    "llmtrace.tracing",
    "llmtrace.semconv",
    "llmtrace.exceptions",
    "llmtrace.context",
    "llmtrace.cli",
    "llmtrace.integrations",
    "llmtrace.integrations.langchain",
    "llmtrace.integrations.llama_index",
    "llmtrace.integrations.openai",
    "llmtrace.pricing",
    "llmtrace.tracking",
    "llmtrace.tracking.artifacts",
    "llmtrace.models",
    "llmtrace.serving",
    "llmtrace.registry",
]


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _public_objects(module_name: str) -> list[tuple[str, object]]:
    module = _module(module_name)
    return [(name, getattr(module, name)) for name in module.__all__ if name != "__version__"]


def _missing_doc(obj: object) -> bool:
    """True when `obj` has no docstring of its own (or only the one dataclass generates)."""
    doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    if not doc or not doc.strip():
        return True
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        return doc.startswith(f"{obj.__name__}(")
    return False


def _own_public_methods(cls: type) -> list[tuple[str, object]]:
    """Public functions, properties and class/static methods defined in `cls` itself."""
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            found.append((name, value))
    return found


@pytest.mark.parametrize("module_name", sorted(EXPECTED_ALL))
def test_all_is_the_expected_sorted_list(module_name: str) -> None:
    module = _module(module_name)
    expected = EXPECTED_ALL[module_name]
    assert expected == sorted(expected), "keep the expected list sorted"
    assert list(module.__all__) == expected, (
        f"{module_name}.__all__ changed: added {sorted(set(module.__all__) - set(expected))}, "
        f"removed {sorted(set(expected) - set(module.__all__))} (or the order differs); "
        "update this test if the change is deliberate"
    )


@pytest.mark.parametrize("module_name", sorted(EXPECTED_ALL))
def test_every_exported_name_exists(module_name: str) -> None:
    module = _module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ names missing attributes: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), "duplicates in __all__"


@pytest.mark.parametrize("module_name", sorted(EXPECTED_ALL))
def test_exported_callables_and_classes_have_docstrings(module_name: str) -> None:
    assert (_module(module_name).__doc__ or "").strip(), f"{module_name} has no module docstring"
    undocumented = []
    for name, obj in _public_objects(module_name):
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        if _missing_doc(obj):
            undocumented.append(name)
        if inspect.isclass(obj) and not issubclass(obj, (enum.Enum, BaseException)):
            undocumented += [
                f"{name}.{meth}" for meth, fn in _own_public_methods(obj) if _missing_doc(fn)
            ]
    assert not undocumented, f"{module_name}: public objects without a docstring: {undocumented}"


def test_same_objects_are_reexported_at_the_top() -> None:
    """`llmtrace.X` is the very object of the subpackage that defines it, not a copy."""
    for sub in ("llmtrace.store", "llmtrace.tracing", "llmtrace.tracking"):
        module = _module(sub)
        for name in set(module.__all__) & set(llmtrace.__all__):
            assert getattr(llmtrace, name) is getattr(module, name), f"{sub}.{name}"


def test_version_matches_the_installed_distribution() -> None:
    assert isinstance(llmtrace.__version__, str)
    assert llmtrace.__version__ == importlib.metadata.version("llmtrace")


def test_package_is_marked_typed() -> None:
    marker = Path(llmtrace.__file__).parent / "py.typed"
    assert marker.is_file(), f"{marker} is missing (PEP 561 marker)"


_IMPORT_PROBE = textwrap.dedent(
    """
    import importlib, json, logging, sys, threading
    for name in sys.argv[1:]:
        importlib.import_module(name)
    from opentelemetry import trace as otel_trace
    from llmtrace.tracing import _runtime
    print(json.dumps({
        "threads": sorted(t.name for t in threading.enumerate()),
        "runtime_built": _runtime.peek_runtime() is not None,
        "otel_provider": type(otel_trace.get_tracer_provider()).__name__,
        "root_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
    }))
    """
)


def _tree(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


def test_importing_public_modules_has_no_side_effects(tmp_path: Path) -> None:
    home, llmtrace_home, cwd = tmp_path / "home", tmp_path / "llmtrace-home", tmp_path / "cwd"
    for folder in (home, llmtrace_home, cwd):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMTRACE_", "OTEL_", "XDG_"))}
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        LLMTRACE_HOME=str(llmtrace_home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, *PUBLIC_MODULES],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", f"importing printed to stderr:\n{proc.stderr}"
    state = json.loads(proc.stdout)
    assert state == {
        "threads": ["MainThread"],
        "runtime_built": False,
        "otel_provider": "ProxyTracerProvider",
        "root_handlers": [],
    }
    for folder in (home, llmtrace_home, cwd):
        assert _tree(folder) == [], f"importing llmtrace created files in {folder}"
