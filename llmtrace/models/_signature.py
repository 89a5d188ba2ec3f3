"""Model signatures: the columns a model takes and returns, and the params it accepts."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from llmtrace.exceptions import InvalidParameterError

# Scalar column and param types; "list" holds a list per row (its element type in `items`)
# and "object" a JSON-like mapping per row.
SCALAR_TYPES = (
    "string",
    "integer",
    "long",
    "double",
    "float",
    "boolean",
    "binary",
    "datetime",
)
COLUMN_TYPES = (*SCALAR_TYPES, "object", "list")


def _check_type(type_: str, allowed: Sequence[str], what: str) -> str:
    if type_ not in allowed:
        raise InvalidParameterError(
            f"{what} has unknown type {type_!r}; expected one of {', '.join(allowed)}"
        )
    return type_


@dataclass(frozen=True)
class ColSpec:
    """One input or output column: its name (None for a positional column, e.g. a model
    taking plain strings), type, whether it must be present, and for a "list" column the
    type of its elements.

    Example:
        >>> ColSpec("question", "string")
        >>> ColSpec("contexts", "list", items="string", required=False)
    """

    name: str | None
    type: str
    required: bool = True
    items: str | None = None

    def __post_init__(self) -> None:
        label = f"column {self.name!r}" if self.name is not None else "unnamed column"
        _check_type(self.type, COLUMN_TYPES, label)
        if self.items is not None:
            if self.type != "list":
                raise InvalidParameterError(f"{label}: items is only for 'list' columns")
            _check_type(self.items, SCALAR_TYPES, f"{label} items")

    def describe(self) -> str:
        """The type as written in messages: `string`, `list<string>`."""
        return f"list<{self.items}>" if self.items else self.type

    def to_dict(self) -> dict[str, Any]:
        """The descriptor form."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.items is not None:
            out["items"] = self.items
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColSpec:
        """Inverse of `to_dict`."""
        return cls(
            data.get("name"),
            str(data["type"]),
            required=bool(data.get("required", True)),
            items=data.get("items"),
        )


@dataclass(frozen=True)
class ParamSpec:
    """A param of `predict(data, params=...)`: its name, scalar type, default (used when the
    caller does not pass it) and shape: None for a scalar, `(-1,)` for a list.

    Example:
        >>> ParamSpec("temperature", "double", 0.2)
        >>> ParamSpec("stop", "string", ["\\n"], shape=(-1,))
    """

    name: str
    type: str
    default: Any = None
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_type(self.type, SCALAR_TYPES, f"param {self.name!r}")
        if self.shape is not None and tuple(self.shape) != (-1,):
            raise InvalidParameterError(
                f"param {self.name!r}: shape must be None (a scalar) or (-1,) (a list), "
                f"got {self.shape!r}"
            )
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(self.shape))
        if self.default is None:
            return
        if self.shape is not None and not isinstance(self.default, (list, tuple)):
            raise InvalidParameterError(
                f"param {self.name!r}: the default of a list param must be a list"
            )
        for value in self.default if self.shape is not None else [self.default]:
            if not compatible(value_type(value), self.type) and not (
                self.type == "datetime" and isinstance(value, str)
            ):
                raise InvalidParameterError(
                    f"param {self.name!r}: default {value!r} is not a {self.type}"
                )

    def to_dict(self) -> dict[str, Any]:
        """The descriptor form (datetimes as ISO text)."""
        default = self.default
        if isinstance(default, dt.datetime):
            default = default.isoformat()
        return {
            "name": self.name,
            "type": self.type,
            "default": default,
            "shape": list(self.shape) if self.shape is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParamSpec:
        """Inverse of `to_dict`."""
        shape = data.get("shape")
        default = data.get("default")
        if data["type"] == "datetime" and isinstance(default, str):
            default = dt.datetime.fromisoformat(default)
        return cls(
            str(data["name"]),
            str(data["type"]),
            default,
            tuple(shape) if shape is not None else None,
        )


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes (`inputs`), returns (`outputs`) and accepts as params; each part is
    optional. `predict` checks inputs and params against it.

    Example:
        >>> ModelSignature(
        ...     inputs=[ColSpec("question", "string"), ColSpec("k", "long", required=False)],
        ...     outputs=[ColSpec(None, "string")],
        ...     params=[ParamSpec("temperature", "double", 0.0)],
        ... )
    """

    inputs: list[ColSpec] | None = None
    outputs: list[ColSpec] | None = None
    params: list[ParamSpec] | None = field(default=None)

    def __post_init__(self) -> None:
        for part in ("inputs", "outputs"):
            specs = getattr(self, part)
            if not specs:
                continue
            named = [s.name is not None for s in specs]
            if any(named) and not all(named):
                raise InvalidParameterError(
                    f"signature {part}: columns are either all named or all unnamed (positional)"
                )
            names = [s.name for s in specs if s.name is not None]
            if len(set(names)) != len(names):
                raise InvalidParameterError(f"signature {part}: duplicate column names {names}")
        if self.params:
            names = [p.name for p in self.params]
            if len(set(names)) != len(names):
                raise InvalidParameterError(f"signature params: duplicate names {names}")

    def to_dict(self) -> dict[str, Any]:
        """The descriptor form."""
        return {
            "inputs": [c.to_dict() for c in self.inputs] if self.inputs is not None else None,
            "outputs": [c.to_dict() for c in self.outputs] if self.outputs is not None else None,
            "params": [p.to_dict() for p in self.params] if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        """Inverse of `to_dict`."""

        def cols(key: str) -> list[ColSpec] | None:
            raw = data.get(key)
            return [ColSpec.from_dict(c) for c in raw] if raw is not None else None

        raw_params = data.get("params")
        params = [ParamSpec.from_dict(p) for p in raw_params] if raw_params is not None else None
        return cls(inputs=cols("inputs"), outputs=cols("outputs"), params=params)


def compatible(found: str | None, expected: str) -> bool:
    """True when a value of type `found` (None: missing) converts safely to `expected`."""
    if found is None or found == expected:
        return True
    if expected in ("double", "float"):
        return found in ("long", "double", "float")
    return expected == "integer" and found == "long"


# --- inference ----------------------------------------------------------------------------------


def value_type(value: Any) -> str | None:
    """The column type of one Python/numpy value, or None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return "long"
    if isinstance(value, np.floating):
        return "float" if value.dtype == np.float32 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, (dt.datetime, np.datetime64, dt.date)):
        return "datetime"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "list"
    return None if _is_missing(value) else "unknown"


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _widest(types: set[str], where: str) -> str:
    if len(types) == 1:
        return next(iter(types))
    if types <= {"long", "double", "float"}:
        return "double"
    raise InvalidParameterError(f"cannot infer a type for {where}: it mixes {sorted(types)}")


def _infer_items(values: list[Any], where: str) -> str | None:
    elements = {t for v in values for e in v if (t := value_type(e)) is not None}
    if not elements or elements & {"list", "object", "unknown"}:
        return None
    return _widest(elements, f"the elements of {where}")


def _infer_column(series: pd.Series, name: str | None) -> ColSpec:
    where = f"column {name!r}" if name is not None else "the input"
    dtype = series.dtype
    required = not bool(series.isna().any())
    if pd.api.types.is_bool_dtype(dtype):
        return ColSpec(name, "boolean", required)
    if pd.api.types.is_integer_dtype(dtype):
        # int8/16/32 and uint8/16 fit "integer" (int32); anything wider is "long".
        small = dtype in (np.int8, np.int16, np.int32, np.uint8, np.uint16)
        return ColSpec(name, "integer" if small else "long", required)
    if pd.api.types.is_float_dtype(dtype):
        return ColSpec(name, "float" if dtype == np.float32 else "double", required)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColSpec(name, "datetime", required)
    values = [v for v in series.tolist() if value_type(v) is not None]
    if not values:
        raise InvalidParameterError(f"cannot infer a type for {where}: it has no values")
    types = {value_type(v) for v in values}
    if "unknown" in types:
        odd = next(v for v in values if value_type(v) == "unknown")
        raise InvalidParameterError(
            f"cannot infer a type for {where}: unsupported value of type {type(odd).__name__}"
        )
    found = _widest({t for t in types if t is not None}, where)
    items = _infer_items(values, where) if found == "list" else None
    return ColSpec(name, found, required, items)


def _frame_of_example(example: Any) -> tuple[pd.DataFrame, bool]:
    """A DataFrame of an example, and whether its columns are positional (unnamed)."""
    if isinstance(example, pd.DataFrame):
        return example, False
    if isinstance(example, pd.Series):
        if example.name is None:
            return example.to_frame(name=0), True
        return example.to_frame(), False
    if isinstance(example, str):
        return pd.DataFrame({0: [example]}), True
    if isinstance(example, np.ndarray):
        if example.ndim == 1:
            return pd.DataFrame({0: example}), True
        if example.ndim == 2:
            return pd.DataFrame(example), True
        raise InvalidParameterError(f"arrays of {example.ndim} dimensions are not supported")
    if isinstance(example, Mapping):
        if example and all(isinstance(v, (list, tuple, np.ndarray)) for v in example.values()):
            lengths = {len(v) for v in example.values()}
            if len(lengths) == 1:
                return pd.DataFrame({str(k): list(v) for k, v in example.items()}), False
        return pd.DataFrame([{str(k): v for k, v in example.items()}]), False
    if isinstance(example, (list, tuple)):
        if example and all(isinstance(v, Mapping) for v in example):
            return pd.DataFrame(list(example)), False
        if all(not isinstance(v, (Mapping, list, tuple)) for v in example):
            return pd.DataFrame({0: list(example)}), True
    if isinstance(example, (int, float, bool)):
        return pd.DataFrame({0: [example]}), True
    raise InvalidParameterError(
        f"cannot infer a schema from a {type(example).__name__}: use a pandas DataFrame, a "
        "dict, a list of dicts, a string, a list of strings or a numpy array"
    )


def infer_schema(example: Any) -> list[ColSpec]:
    """The column specs of an example (see `infer_signature`)."""
    frame, positional = _frame_of_example(example)
    return [
        _infer_column(frame[column], None if positional else str(column))
        for column in frame.columns
    ]


def _infer_param(name: str, value: Any) -> ParamSpec:
    if isinstance(value, (list, tuple)):
        types = {t for v in value if (t := value_type(v)) is not None}
        if not types or types & {"list", "object", "unknown"}:
            raise InvalidParameterError(
                f"cannot infer a type for param {name!r}: use a non-empty list of scalars"
            )
        return ParamSpec(name, _widest(types, f"param {name!r}"), list(value), shape=(-1,))
    found = value_type(value)
    if found is None or found in ("list", "object", "unknown"):
        raise InvalidParameterError(
            f"cannot infer a type for param {name!r} from {value!r}: use a scalar (str, int, "
            "float, bool, bytes, datetime) or a list of them"
        )
    return ParamSpec(name, found, value)


def infer_signature(
    input_example: Any = None,
    output_example: Any = None,
    params: Mapping[str, Any] | None = None,
) -> ModelSignature:
    """A signature from example data: a pandas DataFrame or Series, a dict (one row, or
    columns when every value is a list of the same length), a list of dicts, a string, a
    list of strings or numbers, or a numpy array (1-D or 2-D: unnamed, positional columns).
    `params` maps param names to their defaults. A column with missing values is optional.

    Example:
        >>> infer_signature({"question": "What is RAG?"}, "Retrieval-augmented generation",
        ...                 params={"temperature": 0.0})
    """
    return ModelSignature(
        inputs=infer_schema(input_example) if input_example is not None else None,
        outputs=infer_schema(output_example) if output_example is not None else None,
        params=[_infer_param(k, v) for k, v in params.items()] if params else None,
    )


__all__ = [
    "COLUMN_TYPES",
    "SCALAR_TYPES",
    "ColSpec",
    "ModelSignature",
    "ParamSpec",
    "infer_schema",
    "infer_signature",
    "value_type",
]
