"""Encoding predictions: orjson and the standard library agree; DataFrames become records."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from llmtrace.serving import _codec

CASES: list[Any] = [
    pd.DataFrame(
        {
            "a": [1.5, float("nan")],
            "b": ["x", None],
            "n": [1, 2],
            "t": pd.to_datetime(["2026-01-02", None]),
        }
    ),
    pd.Series([1.0, np.nan, np.inf]),
    np.array([[1, 2], [3, 4]], dtype=np.int32),
    np.array(["a", None], dtype=object),
    {"score": np.float64(0.25), "n": np.int64(3), "ok": np.bool_(False), 7: "int key"},
    [float("nan"), float("-inf"), pd.NA, pd.NaT, {1, 2}, b"\x00\x01"],
]
EXPECTED: list[Any] = [
    [
        {"a": 1.5, "b": "x", "n": 1, "t": "2026-01-02T00:00:00"},
        {"a": None, "b": None, "n": 2, "t": None},
    ],
    [1.0, None, None],
    [[1, 2], [3, 4]],
    ["a", None],
    {"score": 0.25, "n": 3, "ok": False, "7": "int key"},
    [None, None, None, None, [1, 2], "AAE="],
]


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
@pytest.mark.parametrize(("value", "expected"), list(zip(CASES, EXPECTED, strict=True)))
def test_predictions_encoding(
    value: Any, expected: Any, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "stdlib":
        monkeypatch.setattr(_codec, "_orjson", None)
    elif _codec._orjson is None:
        pytest.skip("orjson is not installed")
    assert json.loads(_codec.dumps_predictions(value)) == {"predictions": expected}


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_unencodable_output_raises_type_error(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "stdlib":
        monkeypatch.setattr(_codec, "_orjson", None)
    with pytest.raises(TypeError, match="object"):
        _codec.dumps_predictions({"x": object()})


def test_records_match_pandas_to_dict() -> None:
    frame = pd.DataFrame(
        {"q": ["a", "b", None], "k": [1, 2, 3], "f": [0.5, None, 2.0], "o": [[1], {"x": 1}, None]}
    )
    records = _codec.plain(frame)
    assert isinstance(records, list) and len(records) == 3
    # Compared as encoded JSON: NaN != NaN in Python.
    assert _codec.dumps_predictions(records) == _codec.dumps_predictions(
        frame.to_dict(orient="records")
    )


def test_stdlib_json_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_codec, "_orjson", None)
    data, params, payload = _codec.parse_json_request(b'{"inputs": [1], "params": {"t": 1}}')
    assert (data, params, payload) == ([1], {"t": 1}, {"inputs": [1], "params": {"t": 1}})
    with pytest.raises(_codec.RequestError, match="not valid JSON"):
        _codec.parse_json_request(b"{nope")
