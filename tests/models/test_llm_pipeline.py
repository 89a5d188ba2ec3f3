"""The llm_pipeline flavor: one trace per predicted row, carrying the model's uuid, URI,
prompts and registered name/version, read back from the store."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import llmtrace
from llmtrace.exceptions import InvalidParameterError
from llmtrace.models import (
    MODEL_FLAVOR_ATTRIBUTE,
    MODEL_NAME_ATTRIBUTE,
    MODEL_PROMPTS_ATTRIBUTE,
    MODEL_URI_ATTRIBUTE,
    MODEL_UUID_ATTRIBUTE,
    MODEL_VERSION_ATTRIBUTE,
    ColSpec,
    ModelInputError,
    ModelSignature,
    ParamSpec,
    load_model,
    save_model,
)
from tests.models.conftest import FakeRegistry
from tests.tracing.conftest import stored_traces

PROMPTS = ["prompts:/qa/3", "prompts:/rewrite@production"]


@llmtrace.trace(span_type="RETRIEVER")
def retrieve(question: str) -> list[str]:
    return [f"doc about {question}"]


def rag(question: str, params: Mapping[str, Any] | None = None) -> str:
    docs = retrieve(question)
    with llmtrace.span("generate", span_type="CHAT_MODEL"):
        if question == "boom":
            raise RuntimeError("the model failed")
        return f"{question} -> {docs[0]} (t={(params or {}).get('temperature')})"


def test_each_row_is_a_trace_with_the_model_attributes(tracking: str, tmp_path: Path) -> None:
    sig = ModelSignature(
        inputs=[ColSpec("question", "string")], params=[ParamSpec("temperature", "double", 0.0)]
    )
    descriptor = save_model(tmp_path / "rag", rag, prompts=PROMPTS, signature=sig)
    assert descriptor.flavor == "llm_pipeline"  # detected from the prompts
    assert descriptor.prompts == PROMPTS
    model = load_model(tmp_path / "rag")

    out = model.predict(["what", "why"], params={"temperature": 1})
    assert out == ["what -> doc about what (t=1.0)", "why -> doc about why (t=1.0)"]

    traces = stored_traces()
    assert [t.info.name for t in traces] == ["rag", "rag"]
    for trace, question in zip(traces, ["what", "why"], strict=True):
        root = next(s for s in trace.spans if s.parent_span_id is None)
        assert root.span_type == "CHAIN"
        assert root.attributes[MODEL_UUID_ATTRIBUTE] == descriptor.model_uuid
        assert root.attributes[MODEL_FLAVOR_ATTRIBUTE] == "llm_pipeline"
        assert root.attributes[MODEL_URI_ATTRIBUTE] == str(tmp_path / "rag")
        assert list(root.attributes[MODEL_PROMPTS_ATTRIBUTE]) == PROMPTS
        assert MODEL_NAME_ATTRIBUTE not in root.attributes
        assert root.inputs == {"question": question}
        assert root.outputs.startswith(f"{question} -> ")
        assert {s.name for s in trace.spans} == {"rag", "retrieve", "generate"}
        assert trace.info.metadata[MODEL_UUID_ATTRIBUTE] == descriptor.model_uuid
    found = stored_traces(f"metadata.`llmtrace.model.uuid` = '{descriptor.model_uuid}'")
    assert len(found) == 2


def test_registered_name_and_version_are_on_the_trace(
    tracking: str, tmp_path: Path, registry: FakeRegistry
) -> None:
    save_model(tmp_path / "rag", rag, prompts=PROMPTS[:1])
    registry.add("rag", str(tmp_path / "rag"))
    model = load_model("models:/rag/1", store=registry)
    model.predict({"question": "q"})
    (trace,) = stored_traces()
    root = next(s for s in trace.spans if s.parent_span_id is None)
    assert root.attributes[MODEL_NAME_ATTRIBUTE] == "rag"
    assert root.attributes[MODEL_VERSION_ATTRIBUTE] == "1"
    assert root.attributes[MODEL_URI_ATTRIBUTE] == "models:/rag/1"
    # The keys the scoring server uses for the served model.
    assert trace.info.metadata["llmtrace.model.name"] == "rag"
    assert trace.info.metadata["llmtrace.model.version"] == "1"


def test_a_failing_row_marks_its_trace_and_raises(tracking: str, tmp_path: Path) -> None:
    save_model(tmp_path / "rag", rag, prompts=PROMPTS)
    model = load_model(tmp_path / "rag")
    with pytest.raises(RuntimeError, match="the model failed"):
        model.predict(["fine", "boom", "never"])
    traces = stored_traces()
    assert [t.info.status for t in traces] == ["OK", "ERROR"]


def test_rows_bind_to_the_pipeline_arguments(tracking: str, tmp_path: Path) -> None:
    def two_args(question: str, context: str) -> str:
        return f"{question}|{context}"

    def whole_row(row: dict[str, Any]) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(row.items()))

    def positional(text: str) -> int:
        return len(text)

    def with_default(question: str, style: str = "plain") -> str:
        return f"{question}/{style}"

    save_model(tmp_path / "a", two_args, flavor="llm_pipeline")
    save_model(tmp_path / "b", whole_row, flavor="llm_pipeline")
    save_model(tmp_path / "c", positional, flavor="llm_pipeline", input_example="abc")
    rows = [{"question": "q", "context": "c"}]
    assert load_model(tmp_path / "a").predict(rows) == ["q|c"]
    assert load_model(tmp_path / "b").predict(rows) == ["context=c,question=q"]
    assert load_model(tmp_path / "c").predict(["abcd", "ab"]) == [4, 2]
    # An optional column left out (or empty) keeps the function's default.
    sig = ModelSignature(inputs=[ColSpec("question", "string"), ColSpec("style", "string", False)])
    save_model(tmp_path / "d", with_default, flavor="llm_pipeline", signature=sig)
    model = load_model(tmp_path / "d")
    assert model.predict([{"question": "q"}, {"question": "r", "style": "bold"}]) == [
        "q/plain",
        "r/bold",
    ]
    with pytest.raises(ModelInputError, match=r"cannot take a row with columns \['other'\]"):
        load_model(tmp_path / "a").predict([{"other": 1}])
    with pytest.raises(ModelInputError, match=r"this pipeline takes no params; got \['t'\]"):
        load_model(tmp_path / "a").predict(rows, params={"t": 1})


def test_prompt_references_are_validated(tmp_path: Path) -> None:
    class PromptVersionLike:
        uri = "prompts:/qa/7"

    descriptor = save_model(tmp_path / "ok", rag, prompts=[PromptVersionLike(), "prompts:/summary"])
    assert descriptor.prompts == ["prompts:/qa/7", "prompts:/summary"]
    with pytest.raises(InvalidParameterError, match="'qa/3' is not a prompt URI"):
        save_model(tmp_path / "bad", rag, prompts=["qa/3"])
    with pytest.raises(InvalidParameterError, match="llm_pipeline flavor takes a callable"):
        save_model(tmp_path / "bad", "not callable", flavor="llm_pipeline")
