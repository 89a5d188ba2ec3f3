"""The public surface of llmtrace.models: its `__all__`, docstrings, and no optional
dependency (pyspark, scikit-learn) imported until used."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import llmtrace.models as models


def test_public_objects_and_methods_have_docstrings() -> None:
    undocumented = []
    for name in models.__all__:
        obj = getattr(models, name)
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        if not (inspect.getdoc(obj) or "").strip() or (obj.__doc__ or "").startswith(f"{name}("):
            undocumented.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, value in vars(obj).items():
                fn = value.fget if isinstance(value, property) else value
                fn = fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn
                if not attr.startswith("_") and inspect.isfunction(fn) and not fn.__doc__:
                    undocumented.append(f"{name}.{attr}")
    assert not undocumented


def test_importing_has_no_side_effects_nor_optional_imports(tmp_path: Path) -> None:
    probe = (
        "import json, sys, threading, llmtrace.models\n"
        "from llmtrace.tracing import _runtime\n"
        "print(json.dumps({\n"
        "    'optional': sorted(m for m in ('pyspark', 'sklearn') if m in sys.modules),\n"
        "    'threads': [t.name for t in threading.enumerate()],\n"
        "    'runtime_built': _runtime.peek_runtime() is not None,\n"
        "}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
    env["LLMTRACE_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stderr == ""
    assert json.loads(proc.stdout) == {
        "optional": [],
        "threads": ["MainThread"],
        "runtime_built": False,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_model_input_error_maps_to_invalid_parameter() -> None:
    from llmtrace.exceptions import InvalidParameterError, LlmtraceError

    assert issubclass(models.ModelInputError, InvalidParameterError)
    assert issubclass(models.ModelLoadError, LlmtraceError)
