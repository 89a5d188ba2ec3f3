"""Signatures: specs, inference from every example form, descriptor round trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from llmtrace.exceptions import InvalidParameterError
from llmtrace.models import ColSpec, ModelSignature, ParamSpec, infer_signature


def _types(specs: list[ColSpec] | None) -> list[tuple[str | None, str, bool]]:
    assert specs is not None
    return [(s.name, s.type, s.required) for s in specs]


def test_infer_from_a_dataframe_maps_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "q": ["a", "b"],
            "k": np.array([1, 2], dtype=np.int64),
            "small": np.array([1, 2], dtype=np.int32),
            "score": [0.5, None],
            "f32": np.array([1.0, 2.0], dtype=np.float32),
            "ok": [True, False],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "blob": [b"x", b"y"],
            "meta": [{"a": 1}, {"b": 2}],
            "docs": [["d1", "d2"], ["d3"]],
        }
    )
    inputs = infer_signature(frame).inputs
    assert _types(inputs) == [
        ("q", "string", True),
        ("k", "long", True),
        ("small", "integer", True),
        ("score", "double", False),
        ("f32", "float", True),
        ("ok", "boolean", True),
        ("when", "datetime", True),
        ("blob", "binary", True),
        ("meta", "object", True),
        ("docs", "list", True),
    ]
    assert inputs is not None and inputs[-1].items == "string"


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ({"question": "What?", "k": 3}, [("question", "string", True), ("k", "long", True)]),
        (
            {"question": ["a", "b"], "k": [1, 2]},
            [("question", "string", True), ("k", "long", True)],
        ),
        (
            [{"question": "a"}, {"question": "b", "k": 2.5}],
            [("question", "string", True), ("k", "double", False)],
        ),
        ("What is RAG?", [(None, "string", True)]),
        (["a", "b"], [(None, "string", True)]),
        (np.array([1.0, 2.0]), [(None, "double", True)]),
        (np.array([[1, 2], [3, 4]]), [(None, "long", True), (None, "long", True)]),
        (pd.Series(["x"], name="text"), [("text", "string", True)]),
    ],
    ids=[
        "dict-row",
        "dict-columns",
        "records",
        "str",
        "list-of-str",
        "ndarray-1d",
        "ndarray-2d",
        "series",
    ],
)
def test_infer_from_each_example_form(
    example: object, expected: list[tuple[str | None, str, bool]]
) -> None:
    assert _types(infer_signature(example).inputs) == expected


def test_infer_outputs_and_params() -> None:
    sig = infer_signature(
        "q",
        ["answer"],
        params={"temperature": 0.2, "max_tokens": 64, "stream": False, "stop": ["\n", "."]},
    )
    assert _types(sig.outputs) == [(None, "string", True)]
    assert sig.params == [
        ParamSpec("temperature", "double", 0.2),
        ParamSpec("max_tokens", "long", 64),
        ParamSpec("stream", "boolean", False),
        ParamSpec("stop", "string", ["\n", "."], shape=(-1,)),
    ]


def test_infer_rejects_what_it_cannot_type() -> None:
    with pytest.raises(InvalidParameterError, match=r"column 'x'.*mixes"):
        infer_signature(pd.DataFrame({"x": ["a", 1]}))
    with pytest.raises(InvalidParameterError, match="cannot infer a schema from a set"):
        infer_signature({1, 2})
    with pytest.raises(InvalidParameterError, match="param 'cfg'"):
        infer_signature("q", params={"cfg": {"a": 1}})


def test_specs_validate_their_types() -> None:
    with pytest.raises(InvalidParameterError, match="column 'x' has unknown type 'text'"):
        ColSpec("x", "text")
    with pytest.raises(InvalidParameterError, match="items is only for 'list'"):
        ColSpec("x", "string", items="string")
    with pytest.raises(InvalidParameterError, match="default 'hot' is not a double"):
        ParamSpec("t", "double", "hot")
    with pytest.raises(InvalidParameterError, match="default of a list param must be a list"):
        ParamSpec("stop", "string", "x", shape=(-1,))
    with pytest.raises(InvalidParameterError, match="shape must be None"):
        ParamSpec("p", "long", 1, shape=(2, 2))
    with pytest.raises(InvalidParameterError, match="all named or all unnamed"):
        ModelSignature(inputs=[ColSpec("a", "string"), ColSpec(None, "string")])
    with pytest.raises(InvalidParameterError, match="duplicate"):
        ModelSignature(inputs=[ColSpec("a", "string"), ColSpec("a", "long")])


def test_signature_round_trips_through_its_dict_form() -> None:
    sig = ModelSignature(
        inputs=[ColSpec("q", "string"), ColSpec("docs", "list", required=False, items="string")],
        outputs=[ColSpec(None, "double")],
        params=[
            ParamSpec("t", "double", 0.5),
            ParamSpec("since", "datetime", dt.datetime(2024, 5, 1, 12, 0)),
            ParamSpec("stop", "string", ["x"], shape=(-1,)),
        ],
    )
    assert ModelSignature.from_dict(sig.to_dict()) == sig
    assert ModelSignature.from_dict(ModelSignature().to_dict()) == ModelSignature()


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (None, "string"),
        ([ColSpec(None, "double")], "double"),
        ([ColSpec("n", "long")], "bigint"),
        ([ColSpec(None, "list", items="string")], "array<string>"),
        (
            [ColSpec("label", "string"), ColSpec("score", "double")],
            "struct<label:string,score:double>",
        ),
        ([ColSpec(None, "object")], "string"),
        ([ColSpec(None, "string"), ColSpec(None, "double")], "string"),
    ],
)
def test_spark_result_type_from_the_output_signature(
    outputs: list[ColSpec] | None, expected: str
) -> None:
    from llmtrace.models._spark import result_type_of

    assert result_type_of(ModelSignature(outputs=outputs)) == expected
    assert result_type_of(None) == "string"
