"""Code scorers: deterministic checks that need no judge.

Each is a `Scorer` returning a typed `Score`; a row a check cannot apply to (no expected
answer, no latency recorded) gets `Score.failed(...)` with the reason, never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from evaluators._types import Row, Score, Scorer, as_text

if TYPE_CHECKING:
    from evaluators.judge import Judge

Field = Literal["inputs", "outputs", "expectations", "context", "metadata"]


def _field_text(row: Row, field: Field) -> str:
    if field == "outputs":
        return row.answer
    if field == "inputs":
        return row.question
    if field == "context":
        return "\n".join(row.context or [])
    return as_text(getattr(row, field))


class ExactMatch(Scorer):
    """The answer equals the expected answer (`expectations["expected_response"]`).

    Example:
        >>> ExactMatch(ignore_case=True)  # "Paris " matches "paris"
    """

    def __init__(self, *, ignore_case: bool = False, strip: bool = True, name: str = "exact_match"):
        self.name = name
        self.ignore_case = ignore_case
        self.strip = strip

    def _norm(self, text: str) -> str:
        text = text.strip() if self.strip else text
        return text.casefold() if self.ignore_case else text

    async def score(self, row: Row, judge: Judge | None) -> Score:
        expected = row.expected
        if expected is None:
            return Score.failed("row has no expected answer (expectations.expected_response)")
        same = self._norm(row.answer) == self._norm(expected)
        return Score(same, rationale=None if same else f"expected {expected!r}")


class Regex(Scorer):
    """A field's text matches `pattern` (`re.search`); `must_match=False` inverts the check.

    Example:
        >>> Regex(r"\\bREF-\\d{6}\\b", name="has_reference")
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        *,
        field: Field = "outputs",
        flags: int = 0,
        must_match: bool = True,
        name: str = "regex",
    ):
        self.name = name
        self.pattern = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        self.field = field
        self.must_match = must_match

    async def score(self, row: Row, judge: Judge | None) -> Score:
        match = self.pattern.search(_field_text(row, self.field))
        found = match is not None
        rationale = f"matched {match.group(0)!r}" if match else "no match"
        return Score(found == self.must_match, rationale=rationale)


def _parse_json(outputs: Any) -> tuple[Any, str | None]:
    """(parsed value, None) or (None, the parse error). Dicts and lists are JSON already."""
    if isinstance(outputs, (Mapping, list)):
        return outputs, None
    if not isinstance(outputs, str):
        return None, f"outputs is {type(outputs).__name__}, not JSON text"
    text = outputs.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fence:
        text = fence.group(1)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc}"


class JsonValid(Scorer):
    """The output is valid JSON (a ```json fence around it is allowed).

    Example:
        >>> JsonValid()
    """

    def __init__(self, *, name: str = "json_valid"):
        self.name = name

    async def score(self, row: Row, judge: Judge | None) -> Score:
        _, error = _parse_json(row.outputs)
        return Score(error is None, rationale=error)


class JsonSchema(Scorer):
    """The output is JSON valid against a JSON Schema (needs the `jsonschema` package).

    Example:
        >>> JsonSchema({"type": "object", "required": ["answer"]})
    """

    def __init__(self, schema: Mapping[str, Any], *, name: str = "json_schema"):
        self.name = name
        self.schema = dict(schema)

    async def score(self, row: Row, judge: Judge | None) -> Score:
        try:
            import jsonschema  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - jsonschema ships with the dev extras
            raise RuntimeError("JsonSchema needs jsonschema: pip install jsonschema") from exc
        data, error = _parse_json(row.outputs)
        if error is not None:
            return Score(False, rationale=error)
        validator_cls = jsonschema.validators.validator_for(self.schema)
        errors = sorted(validator_cls(self.schema).iter_errors(data), key=lambda e: list(e.path))
        if not errors:
            return Score(True)
        messages = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]
        return Score(False, rationale="; ".join(messages[:5]), metadata={"errors": len(errors)})


class Length(Scorer):
    """The output's length in characters or words; passes within `[min, max]`.

    Example:
        >>> Length(max=100, unit="words")
    """

    def __init__(
        self,
        *,
        min: int | None = None,
        max: int | None = None,
        unit: Literal["chars", "words"] = "chars",
        field: Field = "outputs",
        name: str = "length",
    ):
        if unit not in ("chars", "words"):
            raise ValueError(f"unit must be 'chars' or 'words', got {unit!r}")
        self.name = name
        self.min, self.max, self.unit, self.field = min, max, unit, field

    async def score(self, row: Row, judge: Judge | None) -> Score:
        text = _field_text(row, self.field)
        size = len(text.split()) if self.unit == "words" else len(text)
        ok = (self.min is None or size >= self.min) and (self.max is None or size <= self.max)
        bounds = f"[{self.min if self.min is not None else 0}, {self.max or '∞'}]"
        return Score(size, rationale=f"{size} {self.unit}, bounds {bounds}", passed=ok)


class _Ceiling(Scorer):
    """A row measurement that passes at or below `max` (None: no pass/fail call)."""

    lower_is_better = True

    unit: str = ""
    what: str = ""

    def __init__(self, max: float | None, name: str):
        self.name = name
        self.max = max

    def measure(self, row: Row) -> float | None:
        raise NotImplementedError

    async def score(self, row: Row, judge: Judge | None) -> Score:
        value = self.measure(row)
        if value is None:
            return Score.failed(
                f"row has no {self.what} (run predict under a trace, or pass traces)"
            )
        ok = None if self.max is None else value <= self.max
        limit = "" if self.max is None else f" (max {self.max}{self.unit})"
        return Score(value, rationale=f"{value:g}{self.unit}{limit}", passed=ok)


class Latency(_Ceiling):
    """The row's latency in milliseconds; passes at or below `max_ms`.

    Example:
        >>> Latency(max_ms=2000)
    """

    what = "latency"
    unit = " ms"

    def __init__(self, max_ms: float | None = None, *, name: str = "latency"):
        super().__init__(max_ms, name)

    def measure(self, row: Row) -> float | None:
        return row.latency_ms


class Tokens(_Ceiling):
    """Tokens the row used (`which`: "total", "input" or "output"); passes at or below `max`.

    Example:
        >>> Tokens(max=4000)
    """

    what = "token counts"

    def __init__(
        self,
        max: int | None = None,
        *,
        which: Literal["total", "input", "output"] = "total",
        name: str = "tokens",
    ):
        super().__init__(max, name)
        self.which = which

    def measure(self, row: Row) -> float | None:
        if row.input_tokens is None and row.output_tokens is None:
            return None
        if self.which == "input":
            return row.input_tokens or 0
        if self.which == "output":
            return row.output_tokens or 0
        return (row.input_tokens or 0) + (row.output_tokens or 0)


class Cost(_Ceiling):
    """The row's cost in USD; passes at or below `max_usd`.

    Example:
        >>> Cost(max_usd=0.01)
    """

    what = "cost"
    unit = " USD"

    def __init__(self, max_usd: float | None = None, *, name: str = "cost"):
        super().__init__(max_usd, name)

    def measure(self, row: Row) -> float | None:
        return row.cost


_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}\b"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _phone_ok(text: str) -> bool:
    # 9-15 digits, and not the 3-2-4 shape of an SSN (an invalid one is not a phone either)
    return 9 <= len(re.sub(r"\D", "", text)) <= 15 and not _SSN_SHAPE.fullmatch(text)


def find_pii(text: str) -> list[tuple[str, str]]:
    """(kind, text) of each email, card number (Luhn-checked), IBAN (mod-97-checked), US SSN
    and phone number found; a stretch claimed by one kind is not reported again as another."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []

    def free(m: re.Match[str]) -> bool:
        return all(m.end() <= a or m.start() >= b for a, b in taken)

    checks: list[tuple[str, re.Pattern[str], Any]] = [
        ("email", _EMAIL, None),
        ("iban", _IBAN, _iban_ok),
        ("card", _CARD, lambda s: _luhn(re.sub(r"\D", "", s))),
        ("ssn", _SSN, None),
        ("phone", _PHONE, _phone_ok),
    ]
    for kind, pattern, valid in checks:
        for m in pattern.finditer(text):
            if free(m) and (valid is None or valid(m.group(0))):
                found.append((kind, m.group(0)))
                taken.append((m.start(), m.end()))
    return found


class PII(Scorer):
    """Counts personal data in a field (emails, phone and card numbers, IBANs, US SSNs); the
    row passes when there is none. The matches themselves are not stored, only their kinds.

    Example:
        >>> PII()  # value 1, passed False for "mail me at ann@example.com"
    """

    lower_is_better = True

    def __init__(self, *, field: Field = "outputs", name: str = "pii"):
        self.name = name
        self.field = field

    async def score(self, row: Row, judge: Judge | None) -> Score:
        found = find_pii(_field_text(row, self.field))
        kinds = sorted({kind for kind, _ in found})
        rationale = f"found {', '.join(kinds)}" if kinds else "no personal data found"
        return Score(len(found), rationale=rationale, passed=not found, metadata={"kinds": kinds})


__all__ = [
    "PII",
    "Cost",
    "ExactMatch",
    "JsonSchema",
    "JsonValid",
    "Latency",
    "Length",
    "Regex",
    "Tokens",
    "find_pii",
]
