"""Every shipped dataset parses into evaluation rows and is documented with source and licence."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evaluators._data import load_rows

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
FILES = sorted(p.name for p in DATASETS.glob("*.jsonl"))

# What each task's rows must carry, beyond `inputs`.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "rag_qa_": (("outputs",), ("context",), ("expectations", "faithful")),
    "toxicity_": (("outputs",), ("expectations", "toxic")),
    "relevance_": (("outputs",), ("expectations", "relevant")),
    "pairwise_": (("outputs", "output_1"), ("outputs", "output_2"), ("expectations", "better")),
}


def _index() -> dict[str, list[str]]:
    """The README table: file name -> its cells (rows, task, source, licence)."""
    table: dict[str, list[str]] = {}
    for line in (DATASETS / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*`([^`]+\.jsonl)`\s*\|(.*)\|\s*$", line)
        if match:
            table[match.group(1)] = [c.strip() for c in match.group(2).split("|")]
    return table


def _records(name: str) -> list[dict[str, Any]]:
    lines = (DATASETS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_there_are_datasets_and_the_index_lists_exactly_them() -> None:
    assert len(FILES) >= 5
    assert sorted(_index()) == FILES


@pytest.mark.parametrize("name", FILES)
def test_dataset_parses_into_rows_with_required_fields(name: str) -> None:
    records = _records(name)
    rows = load_rows(DATASETS / name)
    assert len(rows) == len(records) > 0
    required = next(fields for prefix, fields in REQUIRED.items() if name.startswith(prefix))
    for number, record in enumerate(records, 1):
        assert record.get("inputs") not in (None, "", {}), f"{name}:{number}: no inputs"
        for path in required:
            value: Any = record
            for key in path:
                assert isinstance(value, dict) and key in value, f"{name}:{number}: no {path}"
                value = value[key]
            assert value is not None, f"{name}:{number}: {path} is null"
    assert all(row.expectations for row in rows)


@pytest.mark.parametrize("name", FILES)
def test_dataset_is_documented_with_matching_row_count(name: str) -> None:
    rows, _task, source, licence = _index()[name]
    assert int(rows) == len(_records(name))
    assert source and licence
    readme = DATASETS / f"{name.removesuffix('.jsonl')}.README.md"
    text = readme.read_text(encoding="utf-8")
    assert name in text
    assert "**Source**" in text and "**Licence**" in text
    assert re.search(rf"\*\*Rows\*\*: {len(_records(name))}\b", text)
    # Every top-level and nested field the rows use is described.
    first = _records(name)[0]
    for key, value in first.items():
        fields = [f"{key}.{k}" for k in value] if isinstance(value, dict) else [key]
        for field in fields:
            leaf = field.split(".")[-1]
            assert f"`{field}`" in text or leaf in text, f"{readme.name} lacks {field}"


def test_rag_set_pairs_a_faithful_and_a_hallucinated_answer() -> None:
    records = _records("rag_qa_halueval_200.jsonl")
    by_pair: dict[int, list[bool]] = {}
    for r in records:
        by_pair.setdefault(r["metadata"]["pair"], []).append(r["expectations"]["faithful"])
    assert all(sorted(v) == [False, True] for v in by_pair.values())
