"""The human-feedback form of the trace page, and its validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from llmtrace.store import Span, Store

RATINGS = ("—", "👍 Good", "👎 Bad")
MAX_NAME = 100


@dataclass(frozen=True)
class Feedback:
    """A validated piece of feedback, ready for `Store.log_assessment`."""

    name: str
    value: Any
    rationale: str | None
    source_id: str | None


def validate(name: str, rating: str, score: float | None, comment: str, who: str) -> Feedback:
    """The feedback to store, or ValueError saying what to fix.

    Exactly one of a rating (stored as true/false) or a score (a number) is the value; the
    comment is the rationale."""
    name = name.strip()
    if not name:
        raise ValueError("Give the feedback a name (for example `user_feedback`).")
    if len(name) > MAX_NAME:
        raise ValueError(f"The name is longer than {MAX_NAME} characters.")
    rated = rating != RATINGS[0]
    if rated and score is not None:
        raise ValueError("Give either a rating or a score, not both.")
    if not rated and score is None:
        raise ValueError("Give a rating (👍/👎) or a score.")
    value: Any = rating == RATINGS[1] if rated else float(score or 0.0)
    return Feedback(name, value, comment.strip() or None, who.strip() or None)


def form(store: Store, trace_id: str, span: Span | None) -> None:
    """The form; a valid submission is stored as a HUMAN assessment."""
    with st.form("feedback", clear_on_submit=False):
        st.markdown("**Add feedback**")
        name = st.text_input("Name", value="user_feedback", max_chars=MAX_NAME)
        rating = st.radio("Rating", RATINGS, horizontal=True) or RATINGS[0]
        score = st.number_input("Score", value=None, step=0.1, help="Instead of a rating")
        comment = st.text_area("Comment (rationale)", max_chars=4000)
        who = st.text_input("Your name or e-mail (optional)", max_chars=200)
        on_span = st.checkbox(
            f"About the selected span ({span.name})" if span else "About the selected span",
            disabled=span is None,
        )
        submitted = st.form_submit_button("Add feedback")
    if not submitted:
        return
    try:
        feedback = validate(name, rating, score, comment, who)
    except ValueError as exc:
        st.error(str(exc))
        return
    try:
        store.log_assessment(
            trace_id,
            feedback.name,
            feedback.value,
            source_type="HUMAN",
            source_id=feedback.source_id,
            span_id=span.span_id if on_span and span else None,
            rationale=feedback.rationale,
        )
    except Exception as exc:  # shown on the form: the store refused or is unreachable
        st.error(f"The feedback was not stored: {exc}")
        return
    st.success(f"Feedback `{feedback.name}` = {feedback.value!r} stored.")


__all__ = ["RATINGS", "Feedback", "form", "validate"]
