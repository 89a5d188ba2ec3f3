"""Judge verdicts of the demo's stand-in endpoint: word-overlap heuristics, shaped by the schema.

The judge scorers of `evaluators.scorers` send one JSON schema per request
(`response_format.json_schema`, named `relevance`, `correctness`, `claims`, `verdicts`,
`documents`, `statements`, `toxicity`, ...) and fence their inputs in tags (`<question>`,
`<answer>`, `<reference>`, `<context>`, `<claims>`, ...). The stand-in reads both, computes a
verdict a careful reader could at least follow (the rationale says how), and returns an object
that is valid against the schema: unknown keys dropped, missing ones filled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dashboard._demo_words import overlap, sentences, words

_TAG = re.compile(r"<(\w+)>\n?(.*?)\n?</\1>", re.S)
_NUMBERED = re.compile(r"\[(?:\w+) (\d+)\]\n(.*?)(?=\n\n\[\w+ \d+\]\n|\Z)", re.S)
_DONT_KNOW = re.compile(r"\b(i don't know|i do not know|not sure|does not say)\b", re.I)
HEURISTIC = "(stand-in heuristic, not a model)"


def is_judge_request(body: Mapping[str, Any]) -> bool:
    """Whether a chat-completions body comes from a judge (structured output, or the judge
    scorers' preamble when the endpoint fell back to plain text)."""
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object"):
        return True
    messages = body.get("messages") or []
    return any(
        isinstance(m, Mapping) and "impartial evaluator" in str(m.get("content", ""))
        for m in messages
    )


def _schema_of(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    fmt = body.get("response_format") or {}
    spec = fmt.get("json_schema") or {} if isinstance(fmt, Mapping) else {}
    schema = spec.get("schema") or {}
    defs = schema.get("$defs") or {}
    if "$ref" in schema and defs:  # a pydantic-style top-level reference
        schema = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], schema)
    return str(spec.get("name") or ""), schema


def _tags(body: Mapping[str, Any]) -> dict[str, str]:
    text = "\n".join(
        str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, Mapping)
    )
    return {name: value.strip() for name, value in _TAG.findall(text)}


def _numbered(block: str) -> list[str]:
    return [text.strip() for _, text in _NUMBERED.findall(block.strip())]


def _rating(question: str, answer: str) -> tuple[int, str]:
    if _DONT_KNOW.search(answer):
        return 2, "The answer declines to answer."
    share = overlap(question, answer)
    rating = 5 if share >= 0.5 else 4 if share >= 0.3 else 3 if share >= 0.15 else 2
    return rating, f"{share:.0%} of the question's words are addressed by the answer."


def _supported(claim: str, context: str) -> tuple[bool, str]:
    share = overlap(claim, context)
    return share >= 0.7, f"{share:.0%} of the claim's words appear in the context."


def _by_task(name: str, tags: Mapping[str, str]) -> dict[str, Any]:
    question, answer = tags.get("question", ""), tags.get("answer", tags.get("text", ""))
    if name == "relevance":
        rating, why = _rating(question, answer)
        return {"rationale": f"{why} {HEURISTIC}", "rating": rating}
    if name == "correctness":
        reference = tags.get("reference", "")
        share = overlap(reference, answer) if words(reference) else 0.0
        grade = "correct" if share >= 0.6 else "partially_correct" if share > 0 else "incorrect"
        why = f"{share:.0%} of the reference's words are in the answer. {HEURISTIC}"
        return {"rationale": why, "correct": share >= 0.6, "grade": grade}
    if name == "claims":
        claims = [s for s in sentences(answer) if not _DONT_KNOW.search(s)]
        return {"rationale": f"One claim per sentence. {HEURISTIC}", "claims": claims}
    if name == "verdicts":
        context = tags.get("context", "")
        verdicts = []
        for i, claim in enumerate(_numbered(tags.get("claims", "")), start=1):
            ok, why = _supported(claim, context)
            verdicts.append({"index": i, "rationale": why, "supported": ok})
        return {"rationale": f"Word overlap with the context. {HEURISTIC}", "verdicts": verdicts}
    if name == "documents":
        docs = _numbered(tags.get("documents", ""))
        items = [
            {
                "index": i,
                "rationale": f"overlap {overlap(question, d):.0%}",
                "relevant": overlap(question, d) >= 0.25,
            }
            for i, d in enumerate(docs, start=1)
        ]
        return {"rationale": f"Word overlap with the question. {HEURISTIC}", "documents": items}
    if name == "statements":
        given = _numbered(tags.get("statements", "")) or sentences(tags.get("reference", ""))
        context = tags.get("context", "")
        items = []
        for i, statement in enumerate(given, start=1):
            ok, why = _supported(statement, context)
            items.append({"index": i, "statement": statement, "rationale": why, "supported": ok})
        return {"rationale": f"Word overlap with the context. {HEURISTIC}", "statements": items}
    if name == "toxicity":
        return {"rationale": f"No offensive wording found. {HEURISTIC}", "severity": 0.0}
    return {"rationale": f"No specific rule for this request. {HEURISTIC}"}


def conform(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` made valid against `schema` (the subset of JSON Schema the judges use)."""
    if schema.get("enum"):
        options = list(schema["enum"])
        return value if value in options else options[0]
    for combo in ("anyOf", "oneOf"):
        if schema.get(combo):
            return conform(value, schema[combo][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        given = value if isinstance(value, Mapping) else {}
        props = schema.get("properties") or {}
        return {k: conform(given.get(k), sub) for k, sub in props.items()}
    if kind == "array":
        items = schema.get("items") or {}
        return [conform(v, items) for v in value] if isinstance(value, list) else []
    if kind == "boolean":
        return value if isinstance(value, bool) else False
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
        number = max(number, low) if low is not None else number
        number = min(number, high) if high is not None else number
        return int(number) if kind == "integer" else float(number)
    return value if isinstance(value, str) else ""


def verdict(body: Mapping[str, Any]) -> dict[str, Any]:
    """A verdict for a judge request, valid against its schema (a free-form object when the
    request has none)."""
    name, schema = _schema_of(body)
    tags = _tags(body)
    if not name and "claims" in tags:
        name = "verdicts"
    found = _by_task(name, tags)
    if name == "toxicity" and isinstance(schema.get("properties"), Mapping):
        found["categories"] = {}
    if not schema:
        return found
    result = conform(found, schema)
    return result if isinstance(result, dict) else {"rationale": HEURISTIC}


__all__ = ["HEURISTIC", "conform", "is_judge_request", "verdict"]
