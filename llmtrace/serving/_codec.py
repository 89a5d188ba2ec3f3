"""Request bodies in, predictions out: the four JSON input forms, CSV, and JSON encoding of
pandas/numpy results.

Everything here is pure and runs on a worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import datetime as _dt
import importlib
import io
import json
import math
import types
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from llmtrace.serving._errors import RequestError

# orjson is an optional speed-up (the `fast` extra); the standard library gives the same JSON.
_orjson: types.ModuleType | None
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_SPLIT_KEYS = frozenset({"columns", "data", "index"})
_EXPECTED = ", ".join(f"'{k}'" for k in INPUT_KEYS)
_MALFORMED = "MALFORMED_REQUEST"
_INVALID_INPUT = "INVALID_INPUT"


# --- requests ----------------------------------------------------------------------------------


def loads(body: bytes) -> Any:
    """Parse a JSON body; RequestError(400) when it is not JSON."""
    try:
        if _orjson is not None:
            return _orjson.loads(body)
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the request body is not valid JSON: {exc}", _MALFORMED) from exc


def parse_json_request(body: bytes) -> tuple[Any, dict[str, Any] | None, Any]:
    """(model input, params or None, the decoded payload) of a JSON `/invocations` body.

    The body is an object with exactly one of `dataframe_split`, `dataframe_records`,
    `instances`, `inputs`, and optionally `params` (an object).
    """
    payload = loads(body)
    if not isinstance(payload, dict):
        raise RequestError(
            400,
            f"the JSON body must be an object with one of the keys {_EXPECTED} "
            f"(and optionally 'params'), not {type(payload).__name__}",
            _INVALID_INPUT,
        )
    unknown = sorted(k for k in payload if k not in INPUT_KEYS and k != "params")
    if unknown:
        raise RequestError(
            400,
            f"unknown key(s) in the request: {', '.join(repr(k) for k in unknown)}; "
            f"send exactly one of {_EXPECTED} and optionally 'params'",
            _INVALID_INPUT,
        )
    given = [k for k in INPUT_KEYS if k in payload]
    if len(given) != 1:
        which = "no input key" if not given else "several input keys: " + ", ".join(given)
        raise RequestError(
            400, f"the request has {which}; send exactly one of {_EXPECTED}", _INVALID_INPUT
        )
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise RequestError(
            400, f"'params' must be a JSON object, not {type(params).__name__}", _INVALID_INPUT
        )
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        data: Any = _dataframe_split(value)
    elif key == "dataframe_records":
        data = _dataframe_records(value)
    else:
        # Tensor-style inputs reach the model as the JSON value itself: LLM inputs (strings,
        # chat messages, ragged lists) lose their shape as numpy arrays; a model with a
        # signature converts them itself.
        data = value
    return data, params, payload


def _dataframe_split(value: Any) -> pd.DataFrame:
    if not isinstance(value, dict) or "data" not in value:
        raise RequestError(
            400,
            "'dataframe_split' must be an object with 'data' (a list of rows) and optionally "
            "'columns' and 'index'",
            _INVALID_INPUT,
        )
    extra = sorted(set(value) - _SPLIT_KEYS)
    if extra:
        raise RequestError(
            400,
            f"unknown key(s) in 'dataframe_split': {', '.join(extra)}; "
            "allowed: columns, data, index",
            _INVALID_INPUT,
        )
    rows, columns, index = value["data"], value.get("columns"), value.get("index")
    if not isinstance(rows, list):
        raise RequestError(400, "'dataframe_split.data' must be a list of rows", _INVALID_INPUT)
    for name, part in (("columns", columns), ("index", index)):
        if part is not None and not isinstance(part, list):
            raise RequestError(400, f"'dataframe_split.{name}' must be a list", _INVALID_INPUT)
    try:
        frame: pd.DataFrame = pd.DataFrame(data=rows, columns=columns, index=index)
    except (ValueError, TypeError) as exc:
        raise RequestError(400, f"invalid 'dataframe_split': {exc}", _INVALID_INPUT) from exc
    return frame


def _dataframe_records(value: Any) -> pd.DataFrame:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise RequestError(
            400,
            "'dataframe_records' must be a list of objects (one per row, column -> value)",
            _INVALID_INPUT,
        )
    try:
        frame: pd.DataFrame = pd.DataFrame.from_records(value) if value else pd.DataFrame()
    except (ValueError, TypeError) as exc:
        raise RequestError(400, f"invalid 'dataframe_records': {exc}", _INVALID_INPUT) from exc
    return frame


def parse_csv(body: bytes) -> pd.DataFrame:
    """A `text/csv` body (a header line, then rows) as a DataFrame; RequestError(400) if not."""
    try:
        return pd.read_csv(io.BytesIO(body))
    except ValueError as exc:  # ParserError, EmptyDataError and UnicodeDecodeError among them
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RequestError(400, f"the request body is not valid CSV: {reason}", _MALFORMED) from exc


# --- predictions -------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Top-level pandas results as JSON-shaped values: a DataFrame becomes a list of records,
    a Series a list. Numpy values are left to the encoder."""
    if isinstance(value, pd.DataFrame):
        # Column by column: the same records as `to_dict(orient="records")` (Python scalars,
        # NaN/NaT left for the encoder), about 3x faster on the small frames a server sees.
        names = list(value.columns)
        columns = (series.tolist() for _, series in value.items())
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if isinstance(value, pd.Series):
        return value.tolist()
    return value


def _default(obj: Any) -> Any:
    """What the JSON encoder calls for types it does not know."""
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return plain(obj)
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if hasattr(obj, "model_dump"):  # pydantic v2 models
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps_predictions(predictions: Any) -> bytes:
    """`{"predictions": ...}` as UTF-8 JSON; NaN and infinities become null.

    Raises TypeError when the result contains a value JSON cannot represent.
    """
    body = {"predictions": plain(predictions)}
    if _orjson is not None:
        try:
            out: bytes = _orjson.dumps(
                body,
                default=_default,
                option=_orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS,
            )
            return out
        except _orjson.JSONEncodeError as exc:
            raise TypeError(str(exc)) from exc
    return dumps(_sanitize(body))


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of plain values (used for /health, /version and errors)."""
    if _orjson is not None:
        out: bytes = _orjson.dumps(value)
        return out
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _sanitize(value: Any) -> Any:
    """The stdlib path: plain values with NaN/inf as None (orjson does this by itself)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {_key(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize(v) for v in value]
    return _sanitize(_default(value))


def _key(key: Any) -> str | int | float | bool | None:
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key
    return str(key)


__all__ = [
    "INPUT_KEYS",
    "dumps",
    "dumps_predictions",
    "loads",
    "parse_csv",
    "parse_json_request",
    "plain",
]
