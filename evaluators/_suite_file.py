"""Reading suite files: YAML with line numbers, strict validation, scorer and target lookup."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators._types import Scorer

SUITE_KEYS = (
    "name",
    "experiment",
    "dataset",
    "target",
    "judge",
    "scorers",
    "thresholds",
    "baseline",
    "max_workers",
    "description",
)
DATASET_KEYS = ("path", "limit")
LATEST = "latest"
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class SuiteError(ValueError):
    """A suite file is invalid; the message names the file, the line (when known) and the key.

    Example:
        >>> load_suite("missing.yaml")
        Traceback (most recent call last):
        SuiteError: missing.yaml: no such suite file
    """


@dataclass
class ScorerSpec:
    """One entry of `scorers:`: a scorer name (or `module:attr` import path) and parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None


@dataclass
class Suite:
    """A parsed, validated suite file (see `load_suite`)."""

    path: Path
    name: str
    dataset: Path | str  # a data file, or a stored dataset's "datasets:/<name>"
    scorers: list[ScorerSpec]
    experiment: str | None = None
    limit: int | None = None
    target: str | None = None
    judge: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    max_workers: int | None = None
    description: str | None = None
    lines: dict[tuple[str, ...], int] = field(default_factory=dict, repr=False)

    def where(self, *key: str) -> str:
        """`file:line` of a key (the file alone when the line is unknown)."""
        return _where(self.path, self.lines, key)


def _where(path: Path, lines: Mapping[tuple[str, ...], int], key: tuple[str, ...]) -> str:
    line = lines.get(key)
    return f"{path}:{line}" if line is not None else str(path)


def _yaml() -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise SuiteError(
            "suite files need PyYAML: pip install pyyaml (or 'llmtrace[eval]')"
        ) from None
    return yaml


def _lines(node: Any, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    """Line numbers (1-based) of every mapping key and list item of a composed YAML node."""
    yaml = _yaml()
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            _lines(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            out[path] = item.start_mark.line + 1
            _lines(item, path, out)


def _read_yaml(path: Path) -> tuple[Any, dict[tuple[str, ...], int]]:
    yaml = _yaml()

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(f"{where}: invalid YAML: {problem}") from None
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file.

    A suite names a dataset (path relative to the suite file), an optional target to run on
    each row (`module:function`, importable from the suite's folder), scorers with their
    parameters, thresholds and an optional baseline run (`latest`: the newest finished run of
    the same suite and experiment).

    Example:
        >>> suite = load_suite("evals/qa.yaml")   # name: qa / dataset: qa.jsonl / scorers: [...]
        >>> suite.name, [s.name for s in suite.scorers]
        ('qa', ['ExactMatch'])
    """
    path = Path(path)
    data, lines = _read_yaml(path)

    def fail(key: tuple[str, ...], message: str) -> SuiteError:
        label = ".".join(key)
        return SuiteError(f"{_where(path, lines, key)}: {label}: {message}")

    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite file must be a YAML mapping (name:, dataset:, ...)")
    unknown = [k for k in data if k not in SUITE_KEYS]
    if unknown:
        raise fail((str(unknown[0]),), f"unknown key (allowed: {', '.join(SUITE_KEYS)})")

    def text(key: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise SuiteError(f"{path}: missing required key {key!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise fail((key,), f"must be a non-empty string, not {value!r}")
        return value.strip()

    def positive_int(value: Any, key: tuple[str, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(key, f"must be a positive integer, not {value!r}")
        return value

    name = text("name") or path.name.removesuffix(".yaml").removesuffix(".yml")
    name = name.removesuffix(".eval")
    dataset_value = data.get("dataset")
    limit: int | None = None
    if isinstance(dataset_value, dict):
        extra = [k for k in dataset_value if k not in DATASET_KEYS]
        if extra:
            raise fail(("dataset", str(extra[0])), "unknown key (allowed: path, limit)")
        if dataset_value.get("limit") is not None:
            limit = positive_int(dataset_value["limit"], ("dataset", "limit"))
        dataset_value = dataset_value.get("path")
        if dataset_value is None:
            raise fail(("dataset",), "missing 'path'")
    if dataset_value is None:
        raise SuiteError(f"{path}: missing required key 'dataset'")
    if not isinstance(dataset_value, str) or not dataset_value.strip():
        raise fail(("dataset",), f"must be a file path or {{path:, limit:}}, not {dataset_value!r}")
    dataset: Path | str
    if dataset_value.startswith("datasets:/"):
        dataset = dataset_value
    else:
        dataset = (path.parent / dataset_value).resolve()
        if not dataset.is_file():
            raise fail(("dataset",), f"no such data file: {dataset}")

    target = text("target")
    if target is not None and not _IMPORT_PATH.match(target):
        raise fail(("target",), f"must be an import path 'module:function', not {target!r}")

    scorers = _scorer_specs(data.get("scorers"), fail, lines)
    thresholds: dict[str, float] = {}
    raw_thresholds = data.get("thresholds")
    if raw_thresholds is not None:
        if not isinstance(raw_thresholds, dict):
            raise fail(("thresholds",), "must be a mapping of metric: minimum")
        for metric, minimum in raw_thresholds.items():
            key = ("thresholds", str(metric))
            if isinstance(minimum, bool) or not isinstance(minimum, (int, float)):
                raise fail(key, f"minimum must be a number, not {minimum!r}")
            thresholds[str(metric)] = float(minimum)

    max_workers = data.get("max_workers")
    if max_workers is not None:
        max_workers = positive_int(max_workers, ("max_workers",))
    return Suite(
        path=path,
        name=name,
        dataset=dataset,
        scorers=scorers,
        experiment=text("experiment"),
        limit=limit,
        target=target,
        judge=text("judge"),
        thresholds=thresholds,
        baseline=text("baseline"),
        max_workers=max_workers,
        description=text("description"),
        lines=lines,
    )


def _scorer_specs(
    value: Any, fail: Callable[[tuple[str, ...], str], SuiteError], lines: Mapping[Any, int]
) -> list[ScorerSpec]:
    if value is None:
        raise fail(("scorers",), "missing: list at least one scorer")
    if not isinstance(value, list) or not value:
        raise fail(("scorers",), "must be a non-empty list of scorer names or mappings")
    specs: list[ScorerSpec] = []
    for i, item in enumerate(value):
        key = ("scorers", str(i))
        line = lines.get(key)
        if isinstance(item, str) and item.strip():
            specs.append(ScorerSpec(item.strip(), {}, line))
        elif isinstance(item, dict) and "name" in item:
            if not isinstance(item["name"], str):
                raise fail((*key, "name"), f"must be a scorer name, not {item['name']!r}")
            params = {str(k): v for k, v in item.items() if k != "name"}
            specs.append(ScorerSpec(item["name"], params, line))
        elif isinstance(item, dict) and len(item) == 1:
            ((scorer_name, params),) = item.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise fail(key, f"parameters of {scorer_name} must be a mapping, not {params!r}")
            specs.append(ScorerSpec(str(scorer_name), {str(k): v for k, v in params.items()}, line))
        else:
            raise fail(
                key,
                f"expected a scorer name, {{name: Scorer, param: value}} or "
                f"{{Scorer: {{param: value}}}}, not {item!r}",
            )
    return specs


# --- names -> objects -------------------------------------------------------------------------


def _normalise(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def known_scorers() -> dict[str, Any]:
    """Scorer classes of `evaluators.scorers` by name, looked up now (so that scorers added to
    the package later are found without a registry to update).

    Example:
        >>> "ExactMatch" in known_scorers()
        True
    """
    module = importlib.import_module("evaluators.scorers")
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    found: dict[str, Any] = {}
    for name in names:
        obj = getattr(module, name, None)
        if (
            inspect.isclass(obj)
            and issubclass(obj, Scorer)
            and not inspect.isabstract(obj)
            and obj.__name__ != "FunctionScorer"
        ):
            found[name] = obj
    return found


@contextmanager
def importable_from(folder: Path) -> Iterator[None]:
    """`folder` first on `sys.path` for the duration (for targets and scorers of a suite)."""
    entry = str(folder)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _forget_stale(module_name: str, folder: Path) -> None:
    """Drop `module_name`'s top package from `sys.modules` when it was imported from
    elsewhere but `folder` has its own (two suites in two folders, each with `pipeline.py`)."""
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is None or not ((folder / f"{top}.py").is_file() or (folder / top).is_dir()):
        return
    origin = getattr(loaded, "__file__", None)
    if origin is not None and Path(origin).resolve().is_relative_to(folder.resolve()):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        del sys.modules[name]


def import_object(spec: str, folder: Path | None = None) -> Any:
    """The object named by `package.module:attribute` (dots after the colon walk attributes);
    a module of `folder` (the suite's) wins over one of the same name imported before."""
    module_name, _, attribute = spec.partition(":")
    if folder is not None:
        _forget_stale(module_name, folder)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LookupError(f"{module_name!r} has no attribute {attribute!r}") from None
    return obj


def build_scorer(spec: ScorerSpec, folder: Path | None = None) -> Scorer:
    """A `Scorer` from a suite entry: a class of `evaluators.scorers` (by name, case and
    underscores ignored: `ExactMatch`, `exact_match`) or an import path to a `Scorer`
    instance, a `Scorer` class or a plain function (wrapped with `@scorer`)."""
    from evaluators.scorers import scorer as as_scorer

    if ":" in spec.name:
        obj = import_object(spec.name, folder)
    else:
        known = known_scorers()
        by_key = {_normalise(n): cls for n, cls in known.items()}
        obj = known.get(spec.name) or by_key.get(_normalise(spec.name))
        if obj is None:
            raise LookupError(
                f"unknown scorer {spec.name!r}; known: {', '.join(sorted(known))} "
                "(or an import path 'module:name')"
            )
    if isinstance(obj, Scorer):
        if spec.params:
            for key, value in spec.params.items():
                if not hasattr(obj, key):
                    raise LookupError(f"{spec.name}: the scorer instance has no {key!r}")
                setattr(obj, key, value)
        return obj
    if inspect.isclass(obj) and issubclass(obj, Scorer):
        try:
            made = obj(**spec.params)
        except TypeError as exc:
            raise LookupError(f"{spec.name}: bad parameters: {exc}") from None
        return made
    if callable(obj):
        try:
            return as_scorer(**spec.params)(obj)
        except TypeError as exc:
            raise LookupError(f"{spec.name}: {exc}") from None
    raise LookupError(f"{spec.name} is not a scorer, a Scorer class or a function")


__all__ = [
    "LATEST",
    "ScorerSpec",
    "Suite",
    "SuiteError",
    "build_scorer",
    "import_object",
    "importable_from",
    "known_scorers",
    "load_suite",
]
