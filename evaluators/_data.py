"""Turning evaluation data into `Row`s: dicts, DataFrames, JSONL/CSV files, stored datasets,
stored traces."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import llmtrace
from evaluators._types import Row

# Column names accepted for each row field, first match wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    "inputs": ("inputs", "input", "request", "question", "query", "prompt"),
    "outputs": ("outputs", "output", "response", "answer", "prediction"),
    "expectations": ("expectations",),
    "context": ("context", "contexts", "retrieved_context", "documents"),
    "metadata": ("metadata",),
}
_EXPECTATION_KEYS = ("expected_response", "expected_answer", "expected", "expected_facts")
_JSON_FIELDS = ("inputs", "outputs", "expectations", "context", "metadata")
DATASET_URI = "datasets:/"


class DataError(ValueError):
    """The evaluation data cannot be read; the message says which row and why."""


def _maybe_json(value: Any) -> Any:
    """Decode cells of text formats (CSV) that hold JSON objects or lists."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def row_from_mapping(index: int, record: Mapping[str, Any]) -> Row:
    """A `Row` of a dict with `inputs`/`outputs`/`expectations`/`context`/`metadata` (or an
    alias: `question`, `response`, ...); `expected_*` keys at the top go to expectations."""
    fields: dict[str, Any] = {}
    for name, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in record and not _is_missing(record[alias]):
                fields[name] = _maybe_json(record[alias])
                break
    if "inputs" not in fields:
        raise DataError(f"row {index}: no inputs (keys: {', '.join(map(str, record))})")
    expectations = dict(fields.get("expectations") or {})
    for key in _EXPECTATION_KEYS:
        if key in record and not _is_missing(record[key]):
            expectations.setdefault(key, _maybe_json(record[key]))
    context = fields.get("context")
    if isinstance(context, str):
        context = [context]
    elif context is not None:
        context = [c if isinstance(c, str) else json.dumps(c, default=str) for c in context]
    return Row(
        index=index,
        inputs=fields["inputs"],
        outputs=fields.get("outputs"),
        expectations=expectations,
        context=context,
        metadata=dict(fields.get("metadata") or {}),
        trace_id=record.get("trace_id") if isinstance(record.get("trace_id"), str) else None,
    )


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(f"no such data file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{number}: invalid JSON: {exc}") from exc
        return records
    if suffix == ".json":
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(loaded, list):
            raise DataError(f"{path}: expected a JSON list of rows")
        return loaded
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [dict(r) for r in csv.DictReader(handle)]
    raise DataError(f"{path}: unsupported data file (use .jsonl, .json or .csv)")


def rows_from_trace(index: int, trace: llmtrace.Trace) -> Row:
    """A `Row` of a stored trace: inputs/outputs of its root span, latency, tokens, cost."""
    root = trace.root
    info = trace.info
    return Row(
        index=index,
        inputs=root.inputs if root else None,
        outputs=root.outputs if root else None,
        metadata=dict(info.metadata),
        trace_id=info.trace_id,
        latency_ms=info.duration_ms,
        input_tokens=info.input_tokens,
        output_tokens=info.output_tokens,
        cost=info.cost,
    )


def rows_from_dataset(dataset: llmtrace.EvaluationDataset) -> list[Row]:
    """Rows of a stored dataset, in insertion order; each row's metadata names its record
    (`dataset_record_id`) and its trace is the record's source trace, if any."""
    rows = []
    for index, record in enumerate(dataset.records()):
        rows.append(
            Row(
                index=index,
                inputs=record.inputs,
                outputs=record.outputs,
                expectations=dict(record.expectations),
                context=[c if isinstance(c, str) else json.dumps(c) for c in record.context]
                if record.context is not None
                else None,
                metadata={**record.metadata, "dataset_record_id": record.record_id},
                trace_id=record.source_trace_id,
            )
        )
    return rows


def dataset_of(data: Any) -> llmtrace.EvaluationDataset | None:
    """The stored dataset `data` names (an `EvaluationDataset` or `datasets:/<name>`), else
    None."""
    if isinstance(data, llmtrace.EvaluationDataset):
        return data.refresh()
    if isinstance(data, str) and data.startswith(DATASET_URI):
        return llmtrace.get_dataset(data)
    return None


def load_rows(data: Any) -> list[Row]:
    """Rows of any supported data: a list of dicts, a DataFrame, a .jsonl/.json/.csv path,
    a stored dataset (`llmtrace.get_dataset(...)` or `"datasets:/<name>"`), a `TraceList`
    from `llmtrace.search_traces` (or a list of `Trace`/`TraceInfo`)."""
    dataset = dataset_of(data)
    if dataset is not None:
        return rows_from_dataset(dataset)
    if isinstance(data, (str, os.PathLike)):
        data = _read_file(Path(data))
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        data = data.to_dict(orient="records")
    if not isinstance(data, Iterable):
        raise DataError(f"cannot evaluate {type(data).__name__}: pass rows, a DataFrame or a path")
    rows: list[Row] = []
    for index, item in enumerate(data):
        if isinstance(item, llmtrace.TraceInfo):
            rows.append(rows_from_trace(index, llmtrace.get_trace(item.trace_id)))
        elif isinstance(item, llmtrace.Trace):
            rows.append(rows_from_trace(index, item))
        elif isinstance(item, Mapping):
            rows.append(row_from_mapping(index, item))
        else:
            rows.append(Row(index=index, inputs=item))
    return rows


__all__ = [
    "DataError",
    "dataset_of",
    "load_rows",
    "row_from_mapping",
    "rows_from_dataset",
    "rows_from_trace",
]
