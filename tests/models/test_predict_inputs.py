"""`LoadedModel.predict`: every input form is converted to the signature's columns, bad
input and params fail with `ModelInputError` naming the column or param and the type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from llmtrace.exceptions import InvalidParameterError
from llmtrace.models import (
    ColSpec,
    LoadedModel,
    ModelInputError,
    ModelSignature,
    ParamSpec,
    load_model,
    save_model,
)

SIGNATURE = ModelSignature(
    inputs=[
        ColSpec("question", "string"),
        ColSpec("k", "long", required=False),
        ColSpec("threshold", "double", required=False),
    ],
    params=[
        ParamSpec("temperature", "double", 0.0),
        ParamSpec("stop", "string", ["\n"], shape=(-1,)),
    ],
)


def echo(model_input: pd.DataFrame, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Returns what the model saw, so that tests can check the conversion."""
    return {
        "columns": list(model_input.columns),
        "rows": model_input.to_dict(orient="records"),
        "dtypes": {str(c): str(t) for c, t in model_input.dtypes.items()},
        "params": dict(params or {}),
    }


@pytest.fixture
def model(tmp_path: Path) -> LoadedModel:
    save_model(tmp_path / "m", echo, signature=SIGNATURE)
    return load_model(tmp_path / "m")


@pytest.mark.parametrize(
    ("data", "questions"),
    [
        (pd.DataFrame({"question": ["a", "b"]}), ["a", "b"]),
        ({"question": "a"}, ["a"]),
        ({"question": ["a", "b"]}, ["a", "b"]),
        ([{"question": "a"}, {"question": "b", "k": 2}], ["a", "b"]),
        ("a", ["a"]),
        (["a", "b"], ["a", "b"]),
        (np.array(["a", "b"]), ["a", "b"]),
        (pd.Series(["a"]), ["a"]),
    ],
    ids=[
        "dataframe",
        "dict-row",
        "dict-columns",
        "records",
        "str",
        "list-of-str",
        "ndarray",
        "series",
    ],
)
def test_every_input_form_reaches_the_model_as_columns(
    model: LoadedModel, data: Any, questions: list[str]
) -> None:
    seen = model.predict(data)
    assert seen["columns"] == ["question", "k", "threshold"]
    assert [r["question"] for r in seen["rows"]] == questions


def test_compatible_values_are_converted_and_extra_columns_dropped(model: LoadedModel) -> None:
    seen = model.predict(
        pd.DataFrame(
            {"question": ["a", "b"], "k": [3.0, 4.0], "threshold": [1, 2], "extra": [0, 0]}
        )
    )
    assert seen["columns"] == ["question", "k", "threshold"]
    assert seen["dtypes"]["k"] == "int64"  # whole floats (as JSON gives them) become longs
    assert seen["dtypes"]["threshold"] == "float64"  # int -> double
    assert seen["rows"][0] == {"question": "a", "k": 3, "threshold": 1.0}


def test_missing_optional_columns_are_added_empty(model: LoadedModel) -> None:
    seen = model.predict({"question": "a"})
    assert seen["rows"] == [{"question": "a", "k": None, "threshold": None}]


def test_params_get_defaults_and_are_converted(model: LoadedModel) -> None:
    assert model.predict("a")["params"] == {"temperature": 0.0, "stop": ["\n"]}
    seen = model.predict("a", params={"temperature": 1, "stop": ["END"]})
    assert seen["params"] == {"temperature": 1.0, "stop": ["END"]}
    assert isinstance(seen["params"]["temperature"], float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"k": 1},
            r"missing required input column\(s\) 'question' \(string\); got columns \['k'\]",
        ),
        ({"question": 42}, r"column 'question' expects string, got long 42 in row 0"),
        ({"question": "a", "k": "three"}, r"column 'k' expects long, got string 'three' in row 0"),
        (
            {"question": "a", "k": 2.5},
            r"column 'k' expects long, got double 2.5 in row 0 \(not a whole number\)",
        ),
        ({"question": "a", "k": True}, r"column 'k' expects long, got boolean True"),
        (
            {"question": "a", "threshold": "high"},
            r"column 'threshold' expects double, got string 'high'",
        ),
        (
            [{"question": "a"}, {"question": None}],
            r"column 'question' \(string\) is required but row 1 is empty",
        ),
        ({"question": "a", "k": 2**70}, r"column 'k' expects long.*out of range"),
        ({"a", "b"}, r"unsupported input type set"),
    ],
    ids=[
        "missing",
        "int-for-str",
        "str-for-long",
        "fraction-for-long",
        "bool-for-long",
        "str-for-double",
        "null",
        "overflow",
        "set",
    ],
)
def test_bad_input_names_the_column_and_type(model: LoadedModel, data: Any, message: str) -> None:
    with pytest.raises(ModelInputError, match=message):
        model.predict(data)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"top_k": 3},
            r"unknown param\(s\) \['top_k'\] for this model; "
            r"accepted params: \['stop', 'temperature'\]",
        ),
        ({"temperature": "hot"}, r"param 'temperature' expects double, got string 'hot'"),
        ({"stop": "END"}, r"param 'stop' expects a list of string, got str"),
        ({"temperature": [0.1]}, r"param 'temperature' expects a single double, got a list"),
        ({"stop": ["a", 1]}, r"param 'stop' expects string, got long 1"),
    ],
)
def test_bad_params_are_rejected(model: LoadedModel, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelInputError, match=message):
        model.predict("a", params=params)


def test_model_input_error_is_an_invalid_parameter_error(model: LoadedModel) -> None:
    with pytest.raises(InvalidParameterError):
        model.predict({"k": 1})


def test_a_model_without_params_rejects_any(tmp_path: Path) -> None:
    save_model(tmp_path / "m", echo, signature=ModelSignature(inputs=[ColSpec("q", "string")]))
    with pytest.raises(ModelInputError, match=r"unknown param\(s\) \['t'\].*it accepts no params"):
        load_model(tmp_path / "m").predict("x", params={"t": 1})


def test_a_string_cannot_fill_several_required_columns(tmp_path: Path) -> None:
    sig = ModelSignature(inputs=[ColSpec("q", "string"), ColSpec("ctx", "string")])
    save_model(tmp_path / "m", echo, signature=sig)
    with pytest.raises(ModelInputError, match=r"takes columns \['q', 'ctx'\]: pass a dict"):
        load_model(tmp_path / "m").predict("x")


def test_typed_columns_of_every_kind(tmp_path: Path) -> None:
    sig = ModelSignature(
        inputs=[
            ColSpec("flag", "boolean"),
            ColSpec("when", "datetime"),
            ColSpec("blob", "binary"),
            ColSpec("meta", "object"),
            ColSpec("docs", "list", items="string"),
            ColSpec("n", "integer"),
            ColSpec("x", "float"),
        ]
    )
    save_model(tmp_path / "m", echo, signature=sig)
    model = load_model(tmp_path / "m")
    row = {
        "flag": True,
        "when": "2024-05-01T12:00:00",
        "blob": b"\x00",
        "meta": {"a": 1},
        "docs": ["d1", "d2"],
        "n": 7,
        "x": 0.5,
    }
    seen = model.predict([row])
    assert seen["dtypes"]["when"].startswith("datetime64")
    assert seen["dtypes"]["n"] == "int32"
    assert seen["dtypes"]["x"] == "float32"
    assert seen["rows"][0]["when"] == pd.Timestamp(dt.datetime(2024, 5, 1, 12))
    assert seen["rows"][0]["docs"] == ["d1", "d2"]
    with pytest.raises(
        ModelInputError, match=r"column 'docs' expects list<string>, got an element 3"
    ):
        model.predict([{**row, "docs": ["d1", 3]}])
    with pytest.raises(ModelInputError, match=r"column 'meta' expects object, got string"):
        model.predict([{**row, "meta": "a"}])
    with pytest.raises(ModelInputError, match=r"column 'flag' expects boolean, got long 1"):
        model.predict([{**row, "flag": 1}])
    with pytest.raises(ModelInputError, match=r"column 'when' expects datetime"):
        model.predict([{**row, "when": "not a date"}])
    with pytest.raises(ModelInputError, match=r"column 'n' expects integer.*out of range"):
        model.predict([{**row, "n": 2**40}])


def test_positional_signature_takes_columns_by_position(tmp_path: Path) -> None:
    def total(frame: pd.DataFrame) -> list[float]:
        return frame.sum(axis=1).tolist()

    save_model(tmp_path / "m", total, input_example=np.array([[1.0, 2.0], [3.0, 4.0]]))
    model = load_model(tmp_path / "m")
    assert model.predict(np.array([[1, 2], [3, 4]])) == [3.0, 7.0]
    assert model.predict([[1.5, 1.5]]) == [3.0]
    with pytest.raises(
        ModelInputError, match=r"takes 2 input column\(s\) \(double, double\); got 3"
    ):
        model.predict(np.array([[1, 2, 3]]))
    with pytest.raises(ModelInputError, match=r"input column 1 expects double, got string"):
        model.predict([[1.0, "x"]])


def test_without_a_signature_data_and_params_pass_through(tmp_path: Path) -> None:
    def raw(data: Any, params: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        return data, params

    save_model(tmp_path / "m", raw)
    model = load_model(tmp_path / "m")
    assert model.signature is None
    assert model.predict({"anything": [1]}, params={"p": 1}) == ({"anything": [1]}, {"p": 1})


def test_params_to_a_function_without_params_fail_clearly(tmp_path: Path) -> None:
    sig = ModelSignature(inputs=[ColSpec("q", "string")], params=[ParamSpec("t", "double", 0.0)])
    save_model(tmp_path / "m", lambda df: list(df["q"]), signature=sig)
    with pytest.raises(ModelInputError, match="predict function takes no params"):
        load_model(tmp_path / "m").predict("x")
