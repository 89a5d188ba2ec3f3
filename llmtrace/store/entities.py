"""Typed results of store queries: `TraceInfo`, `Span`, `Trace`, `TraceList`, `Assessment`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import pandas as pd


def json_ready(entity: Any) -> dict[str, Any]:
    """A dataclass entity as a JSON-ready dict: `asdict`, with its datetime fields as
    ISO-8601 strings."""
    data = asdict(entity)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class TraceInfo:
    """A trace's rollups: what lists and filters work on."""

    trace_id: str
    project: str
    name: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: str
    session_id: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    input_preview: str | None = None
    output_preview: str | None = None
    span_count: int = 0
    error_count: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        """Alias of `duration_ms`, the name the filter language uses."""
        return self.duration_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (timestamps as ISO-8601 strings)."""
        data = asdict(self)
        data["start_time"] = _iso(self.start_time)
        data["end_time"] = _iso(self.end_time)
        return data


@dataclass
class Span:
    """One span; `inputs`/`outputs` are decoded JSON, `children` filled by `Trace`."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    status: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status_message: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    children: list[Span] = field(default_factory=list, repr=False)

    def to_dict(self, *, children: bool = False) -> dict[str, Any]:
        """JSON-ready dict; with `children=True` the subtree is nested under "children"."""
        data = {k: v for k, v in asdict(self).items() if k != "children"}
        data["start_time"] = _iso(self.start_time)
        data["end_time"] = _iso(self.end_time)
        if children:
            data["children"] = [c.to_dict(children=True) for c in self.children]
        return data


@dataclass
class Assessment:
    """A score or piece of feedback on a trace (or one of its spans)."""

    assessment_id: str
    trace_id: str
    name: str
    source_type: str
    value: Any
    span_id: str | None = None
    source_id: str | None = None
    rationale: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json_ready(self)


@dataclass
class Trace:
    """A trace with its spans arranged as a tree.

    Example:
        >>> trace = llmtrace.get_trace(trace_id)
        >>> for depth, span in trace.walk():
        ...     print("  " * depth, span.name, span.duration_ms)
    """

    info: TraceInfo
    spans: list[Span]
    assessments: list[Assessment] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_id = {s.span_id: s for s in self.spans}
        self._roots: list[Span] = []
        for s in self.spans:
            s.children = []
        for s in sorted(self.spans, key=lambda s: (s.start_time, s.span_id)):
            parent = by_id.get(s.parent_span_id) if s.parent_span_id else None
            if parent is None or parent is s:
                self._roots.append(s)
            else:
                parent.children.append(s)

    @property
    def trace_id(self) -> str:
        """The trace's 32-hex-digit id (same as `info.trace_id`)."""
        return self.info.trace_id

    @property
    def roots(self) -> list[Span]:
        """Spans without a stored parent (normally one: the root span)."""
        return self._roots

    @property
    def root(self) -> Span | None:
        """The first root span, or None for an empty trace."""
        return self._roots[0] if self._roots else None

    def walk(self) -> Iterator[tuple[int, Span]]:
        """Depth-first (depth, span) pairs in start order."""
        stack: list[tuple[int, Span]] = [(0, s) for s in reversed(self._roots)]
        while stack:
            depth, span = stack.pop()
            yield depth, span
            stack.extend((depth + 1, c) for c in reversed(span.children))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: `info`, the span tree under `spans`, and `assessments`."""
        return {
            "info": self.info.to_dict(),
            "spans": [s.to_dict(children=True) for s in self._roots],
            "assessments": [a.to_dict() for a in self.assessments],
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per span, in tree order, with a `depth` column."""
        import pandas as pd

        rows = []
        for depth, span in self.walk():
            row = span.to_dict()
            row["depth"] = depth
            rows.append(row)
        frame: pd.DataFrame = pd.DataFrame(rows)
        return frame


class _Dictable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


_Item = TypeVar("_Item", bound=_Dictable)


class Page(list[_Item]):
    """A page of search results; `next_page_token` fetches the next page (None at the end)."""

    def __init__(self, items: Iterable[_Item] = (), next_page_token: str | None = None):
        super().__init__(items)
        self.next_page_token = next_page_token

    def to_dict(self) -> list[dict[str, Any]]:
        """A list of JSON-ready dicts."""
        return [item.to_dict() for item in self]


class TraceList(Page[TraceInfo]):
    """A page of traces; `next_page_token` fetches the next page (None at the end)."""

    def to_pandas(self) -> pd.DataFrame:
        """One row per trace."""
        import pandas as pd

        columns = list(TraceInfo.__dataclass_fields__)
        frame: pd.DataFrame = pd.DataFrame([asdict(t) for t in self], columns=columns)
        return frame


@dataclass
class ModelUsage:
    """Calls, tokens and cost of one model over the stored spans.

    `cost` sums the priced calls (None when none is priced); `unpriced_calls` counts calls
    with tokens but no cost: their model has no price (see `llmtrace.set_price`). Spans whose
    usage a nested span already reports (`llmtrace.usage.aggregate = false`) are left out.
    """

    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    unpriced_calls: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


__all__ = ["Assessment", "ModelUsage", "Span", "Trace", "TraceInfo", "TraceList"]
