"""The span tree of a trace as rows: collapsing, depth limit, search and paging.

A trace may hold 10,000 spans; the page shows one window of `PAGE_ROWS` rows of the tree (and
the waterfall shows the same window), so no rerun ever builds more than a few hundred widgets
or chart marks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from llmtrace.store import Span, Trace

PAGE_ROWS = 200
# Above this many spans the tree opens showing only depths 0..`LARGE_TRACE_DEPTH`.
LARGE_TRACE_SPANS = 500
LARGE_TRACE_DEPTH = 1


@dataclass(frozen=True)
class Row:
    """A visible tree row."""

    depth: int
    span: Span
    collapsed: bool  # has children that are hidden

    @property
    def label(self) -> str:
        """The span name indented by depth, with an open/closed marker."""
        marker = "▸ " if self.collapsed else ("▾ " if self.span.children else "· ")
        return "\u2003" * self.depth + marker + (self.span.name or "(unnamed)")


def default_depth(trace: Trace) -> int | None:
    """How deep the tree opens: fully, unless the trace is large."""
    return LARGE_TRACE_DEPTH if len(trace.spans) > LARGE_TRACE_SPANS else None


def visible_rows(
    trace: Trace,
    *,
    collapsed: Collection[str] = (),
    expanded: Collection[str] = (),
    max_depth: int | None = None,
    find: str = "",
) -> list[Row]:
    """Tree rows in depth-first start order. With `find`, every span whose name contains it
    (case-insensitive) regardless of collapsing; else the children of `collapsed` spans and
    of spans at `max_depth` (unless `expanded`) are hidden."""
    needle = find.strip().lower()
    rows: list[Row] = []
    stack: list[tuple[int, Span]] = [(0, s) for s in reversed(trace.roots)]
    while stack:
        depth, span = stack.pop()
        if needle:
            if needle in (span.name or "").lower():
                rows.append(Row(depth, span, collapsed=False))
            stack.extend((depth + 1, c) for c in reversed(span.children))
            continue
        too_deep = max_depth is not None and depth >= max_depth
        closed = span.span_id in collapsed or (too_deep and span.span_id not in expanded)
        rows.append(Row(depth, span, collapsed=closed and bool(span.children)))
        if not closed:
            stack.extend((depth + 1, c) for c in reversed(span.children))
    return rows


def page_count(rows: list[Row], per_page: int = PAGE_ROWS) -> int:
    """Number of pages of `rows` (at least 1)."""
    return max(1, -(-len(rows) // per_page))


def page_of(rows: list[Row], page: int, per_page: int = PAGE_ROWS) -> list[Row]:
    """The rows of 1-based `page`."""
    start = (page - 1) * per_page
    return rows[start : start + per_page]


__all__ = [
    "LARGE_TRACE_SPANS",
    "PAGE_ROWS",
    "Row",
    "default_depth",
    "page_count",
    "page_of",
    "visible_rows",
]
