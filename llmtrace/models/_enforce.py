"""Turning `predict` input into a DataFrame and checking it, and params, against a signature."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llmtrace.models._errors import ModelInputError
from llmtrace.models._signature import ColSpec, ParamSpec, compatible, value_type

_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_NUMBER_TYPES = {"long", "double", "float"}
# Column label used for positional (unnamed) input columns.
_SINGLE = 0


def _list_like(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray, pd.Series))


def _label(spec: ColSpec, position: int) -> str:
    return f"column {spec.name!r}" if spec.name is not None else f"input column {position}"


def to_frame(data: Any, specs: Sequence[ColSpec]) -> pd.DataFrame:
    """`data` as a DataFrame whose columns follow `specs` (named, or positional 0..n-1)."""
    list_columns = {s.name for s in specs if s.type == "list"}
    single = False
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else _SINGLE)
        single = data.name is None
    elif isinstance(data, Mapping):
        frame = _frame_of_mapping(data, list_columns)
    elif isinstance(data, np.ndarray):
        if data.ndim not in (1, 2):
            raise ModelInputError(f"arrays of {data.ndim} dimensions are not supported")
        frame = pd.DataFrame(data)
        single = data.ndim == 1
    elif isinstance(data, (list, tuple)):
        if not data:
            raise ModelInputError("the input is empty")
        if all(isinstance(row, Mapping) for row in data):
            frame = pd.DataFrame([{str(k): v for k, v in row.items()} for row in data])
        elif all(_list_like(row) for row in data) and not list_columns:
            frame = pd.DataFrame([list(row) for row in data])
        else:
            frame = pd.DataFrame({_SINGLE: list(data)})
            single = True
    elif isinstance(data, (str, bytes, int, float, bool, dt.datetime)):
        frame = pd.DataFrame({_SINGLE: [data]})
        single = True
    else:
        raise ModelInputError(
            f"unsupported input type {type(data).__name__}: pass a pandas DataFrame, a dict, a "
            "list of dicts, a string, a list of strings or a numpy array"
        )
    if single and specs and specs[0].name is not None:
        if len(specs) != 1 and sum(s.required for s in specs) > 1:
            names = [s.name for s in specs]
            raise ModelInputError(
                f"a single value or a list of values fits a model with one input column; this "
                f"model takes columns {names}: pass a dict or a DataFrame"
            )
        target = next((s for s in specs if s.required), specs[0])
        frame = frame.rename(columns={_SINGLE: target.name})
    return frame


def _frame_of_mapping(data: Mapping[Any, Any], list_columns: set[str | None]) -> pd.DataFrame:
    """Columns when every value is a list of one length (for a list-typed column: a list of
    lists), else one row."""
    values = list(data.values())
    as_columns = (
        bool(values)
        and all(_list_like(v) for v in values)
        and len({len(v) for v in values}) == 1
        and all(
            str(k) not in list_columns or all(_list_like(x) for x in v) for k, v in data.items()
        )
    )
    frame: pd.DataFrame
    if as_columns:
        frame = pd.DataFrame({str(k): list(v) for k, v in data.items()})
    else:
        frame = pd.DataFrame([{str(k): v for k, v in data.items()}])
    return frame


def enforce_inputs(frame: pd.DataFrame, specs: Sequence[ColSpec]) -> pd.DataFrame:
    """Check and convert the columns of `frame` to `specs`; raises `ModelInputError`.

    Named specs: columns are matched by name, extra columns dropped, a missing optional one
    added empty. Unnamed specs: columns are taken by position.
    """
    if specs[0].name is None:
        return _enforce_positional(frame, specs)
    missing = [s for s in specs if s.required and s.name not in frame.columns]
    if missing:
        wanted = ", ".join(f"{s.name!r} ({s.describe()})" for s in missing)
        raise ModelInputError(
            f"missing required input column(s) {wanted}; got columns "
            f"{[str(c) for c in frame.columns]}"
        )
    columns: dict[str, pd.Series] = {}
    for position, spec in enumerate(specs):
        assert spec.name is not None
        if spec.name not in frame.columns:
            columns[spec.name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            continue
        columns[spec.name] = enforce_column(frame[spec.name], spec, _label(spec, position))
    checked: pd.DataFrame = pd.DataFrame(columns, index=frame.index)
    return checked


def _enforce_positional(frame: pd.DataFrame, specs: Sequence[ColSpec]) -> pd.DataFrame:
    required = sum(s.required for s in specs)
    if not required <= frame.shape[1] <= len(specs):
        expected = f"{len(specs)}" if required == len(specs) else f"{required} to {len(specs)}"
        raise ModelInputError(
            f"the model takes {expected} input column(s) ({', '.join(s.describe() for s in specs)})"
            f"; got {frame.shape[1]}"
        )
    columns = {
        position: enforce_column(frame.iloc[:, position], spec, _label(spec, position))
        for position, spec in enumerate(specs[: frame.shape[1]])
    }
    checked: pd.DataFrame = pd.DataFrame(columns, index=frame.index)
    return checked


def _first_bad(series: pd.Series, ok: Any) -> tuple[Any, Any] | None:
    for index, value in series.items():
        if value_type(value) is not None and not ok(value):
            return index, value
    return None


def _type_error(
    label: str, spec: ColSpec, index: Any, value: Any, why: str = ""
) -> ModelInputError:
    found = value_type(value) or type(value).__name__
    if found == "unknown":
        found = type(value).__name__
    if isinstance(value, np.generic):  # show 1, not np.int64(1)
        value = value.item()
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ModelInputError(
        f"{label} expects {spec.describe()}, got {found} {shown} in row {index}"
        + (f" ({why})" if why else "")
    )


def enforce_column(series: pd.Series, spec: ColSpec, label: str) -> pd.Series:
    """One column checked and converted to its spec's type."""
    missing = series.isna() if spec.type not in ("list", "object") else series.map(_missing)
    if spec.required and spec.type not in ("double", "float") and bool(missing.any()):
        row = missing[missing].index[0]
        raise ModelInputError(f"{label} ({spec.describe()}) is required but row {row} is empty")
    if spec.type in ("integer", "long"):
        return _to_int(series, spec, label, bool(missing.any()))
    if spec.type in ("double", "float"):
        return _to_float(series, spec, label)
    if spec.type == "boolean":
        if pd.api.types.is_bool_dtype(series.dtype):
            return series
        _check_values(series, spec, label, lambda v: isinstance(v, (bool, np.bool_)), "boolean")
        return series.astype("boolean") if bool(missing.any()) else series.astype(bool)
    if spec.type == "datetime":
        return _to_datetime(series, spec, label)
    if spec.type == "string":
        _check_values(series, spec, label, lambda v: isinstance(v, str), "string")
    elif spec.type == "binary":
        _check_values(series, spec, label, lambda v: isinstance(v, (bytes, bytearray)), "bytes")
    elif spec.type == "object":
        _check_values(series, spec, label, lambda v: isinstance(v, Mapping))
    elif spec.type == "list":
        _check_values(series, spec, label, _list_like)
        if spec.items is not None:
            _check_items(series, spec, label)
    return series


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _inferred(series: pd.Series) -> str:
    """pandas' name for the kind of values in `series` ("string", "integer", ...), found in C:
    when it already says the type is right, no value needs checking in Python."""
    return str(pd.api.types.infer_dtype(series, skipna=True))


def _check_values(
    series: pd.Series, spec: ColSpec, label: str, ok: Any, fast: str | None = None
) -> None:
    if fast is not None and _inferred(series) in (fast, "empty"):
        return
    bad = _first_bad(series, ok)
    if bad is not None:
        raise _type_error(label, spec, *bad)


def _check_items(series: pd.Series, spec: ColSpec, label: str) -> None:
    assert spec.items is not None
    for index, value in series.items():
        if not _list_like(value):
            continue
        for element in value:
            if not compatible(value_type(element), spec.items):
                raise ModelInputError(
                    f"{label} expects {spec.describe()}, got an element {element!r} of type "
                    f"{value_type(element)} in row {index}"
                )


def _to_int(series: pd.Series, spec: ColSpec, label: str, has_missing: bool) -> pd.Series:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise _type_error(label, spec, series.index[0], series.iloc[0])

    def integral(v: Any) -> bool:
        if isinstance(v, (bool, np.bool_)):
            return False
        if isinstance(v, (int, np.integer)):
            return True
        return isinstance(v, (float, np.floating)) and float(v).is_integer()

    if _inferred(series) not in ("integer", "empty"):
        bad = _first_bad(series, integral)
        if bad is not None:
            why = "not a whole number" if isinstance(bad[1], (float, np.floating)) else ""
            raise _type_error(label, spec, *bad, why=why)
    low, high = _INT_RANGE[spec.type]
    present = series.dropna()
    outside = present[(present < low) | (present > high)]
    if len(outside):
        raise _type_error(label, spec, outside.index[0], outside.iloc[0], why="out of range")
    if has_missing:
        return series.astype("Int32" if spec.type == "integer" else "Int64")
    return series.astype(np.int32 if spec.type == "integer" else np.int64)


def _to_float(series: pd.Series, spec: ColSpec, label: str) -> pd.Series:
    target = np.float32 if spec.type == "float" else np.float64
    if pd.api.types.is_bool_dtype(series.dtype):
        raise _type_error(label, spec, series.index[0], series.iloc[0])
    numbers = ("floating", "integer", "mixed-integer-float", "empty")
    if not pd.api.types.is_numeric_dtype(series.dtype) and _inferred(series) not in numbers:
        _check_values(series, spec, label, lambda v: value_type(v) in _NUMBER_TYPES)
    if spec.required and bool(series.isna().any()):
        # NaN is a float value, but None in a required column is a missing value.
        for index, value in series.items():
            if value is None:
                raise ModelInputError(f"{label} ({spec.type}) is required but row {index} is empty")
    return series.astype(target)


def _to_datetime(series: pd.Series, spec: ColSpec, label: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    _check_values(
        series,
        spec,
        label,
        lambda v: isinstance(v, (dt.date, np.datetime64, str)),
    )
    try:
        return pd.to_datetime(series, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ModelInputError(
            f"{label} expects datetime (a datetime or ISO 8601 text): {exc}"
        ) from exc


# --- params ---------------------------------------------------------------------------------------


def enforce_params(
    params: Mapping[str, Any] | None, specs: Sequence[ParamSpec] | None
) -> dict[str, Any]:
    """Params checked against `specs`, with defaults for those not given. Raises
    `ModelInputError` for an unknown param or a value of the wrong type."""
    if not isinstance(params, (Mapping, type(None))):
        raise ModelInputError(f"params must be a mapping, got {type(params).__name__}")
    given = dict(params or {})
    specs = list(specs or ())
    known = {s.name for s in specs}
    unknown = sorted(set(given) - known)
    if unknown:
        accepted = f"accepted params: {sorted(known)}" if known else "it accepts no params"
        raise ModelInputError(f"unknown param(s) {unknown} for this model; {accepted}")
    return {s.name: _param_value(s, given[s.name]) if s.name in given else s.default for s in specs}


def _param_value(spec: ParamSpec, value: Any) -> Any:
    if value is None:
        return None
    if spec.shape is None:
        if _list_like(value):
            raise ModelInputError(f"param {spec.name!r} expects a single {spec.type}, got a list")
        return _scalar_param(spec, value)
    if not _list_like(value):
        raise ModelInputError(
            f"param {spec.name!r} expects a list of {spec.type}, got {type(value).__name__}"
        )
    return [_scalar_param(spec, v) for v in value]


def _scalar_param(spec: ParamSpec, value: Any) -> Any:
    found = value_type(value)
    if spec.type == "datetime" and isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    integral = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if spec.type in ("integer", "long") and integral:
        return int(value)
    if not compatible(found, spec.type):
        raise ModelInputError(
            f"param {spec.name!r} expects {spec.type}, got {found or type(value).__name__} "
            f"{value!r}"
        )
    if spec.type in ("double", "float"):
        return float(value)
    if spec.type in ("integer", "long"):
        return int(value)
    if spec.type == "boolean":
        return bool(value)
    return value


__all__ = ["enforce_column", "enforce_inputs", "enforce_params", "to_frame"]
