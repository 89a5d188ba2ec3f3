"""Token paging for the pages of this package that list runs, models and prompts.

A page's query (its filter, order, size) keys a stack of page tokens in the session state: a
new query starts over at page 1, since a token only continues the query that produced it.
"""

from __future__ import annotations

from collections.abc import Hashable

import streamlit as st


def tokens(prefix: str, query: Hashable) -> list[str | None]:
    """The token stack of `prefix`'s listing, reset when `query` changed; the last token is
    the current page's."""
    if st.session_state.get(f"{prefix}_query") != query:
        st.session_state[f"{prefix}_query"] = query
        st.session_state[f"{prefix}_tokens"] = [None]
    stack: list[str | None] = st.session_state[f"{prefix}_tokens"]
    return stack


def pager(prefix: str, stack: list[str | None], next_token: str | None) -> None:
    """Previous / Next buttons under a listing."""

    def previous() -> None:
        st.session_state[f"{prefix}_tokens"] = stack[:-1] or [None]

    def following() -> None:
        st.session_state[f"{prefix}_tokens"] = [*stack, next_token]

    left, middle, right = st.columns([1, 2, 1])
    left.button("← Previous", on_click=previous, disabled=len(stack) <= 1, key=f"{prefix}_prev")
    middle.caption(f"Page {len(stack)}")
    right.button("Next →", on_click=following, disabled=next_token is None, key=f"{prefix}_next")


def slice_rows(prefix: str, total: int, size: int) -> tuple[int, int]:
    """Rows `[start, stop)` of a listing held in memory (at most `size` at a time), with a
    page number input when there is more than one page."""
    pages = max(1, -(-total // size))
    page = 1
    if pages > 1:
        page = int(
            st.number_input(
                f"Page (of {pages})", min_value=1, max_value=pages, value=1, key=f"{prefix}_page"
            )
        )
    start = (min(page, pages) - 1) * size
    return start, min(start + size, total)


__all__ = ["pager", "slice_rows", "tokens"]
