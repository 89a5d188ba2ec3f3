"""`payload_preview`: the short text the trace list shows for a trace's inputs and outputs."""

from __future__ import annotations

import json

from llmtrace.store._ingest import payload_preview as preview


def test_preview() -> None:
    assert preview('{"question": "What is 2+2?"}') == "What is 2+2?"
    assert preview('"plain string"') == "plain string"
    assert preview('{"a": 1, "b": [1, 2]}') == '{"a":1,"b":[1,2]}'
    assert preview('{"only": {"x": "日本"}}') == '{"x":"日本"}'
    assert preview("[1, 2, 3]", limit=5) == "[1,2…"
    assert preview("x" * 50, limit=10) == "x" * 9 + "…"  # not JSON: shown as is
    assert preview('{"a": 1}', limit=0) == ""
    assert len(preview(json.dumps({"t": "y" * 5000})) or "") == 1000
    assert preview(None) is None


def test_preview_of_truncation_marker() -> None:
    marker = json.dumps({"__truncated__": True, "original_bytes": 900, "preview": '{"kkkk' * 40})
    shown = preview(marker, limit=50)
    assert shown is not None
    assert shown.startswith('{"kkk') and shown.endswith("…")
    assert len(shown) <= 50


def test_preview_never_raises() -> None:
    assert preview("{not json", limit=4) == "{no…"
    assert preview(12345, limit=4) == ""  # type: ignore[arg-type]
