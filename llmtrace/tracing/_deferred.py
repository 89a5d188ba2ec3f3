"""Payloads whose JSON may be built on the export thread instead of the caller's.

Values that cannot change after the call (primitives, tuples of them) serialize to the same JSON
later as now, so the decorator hands them to the exporter as they are and keeps the caller's
thread to starting and ending the span. Anything mutable is serialized immediately.
"""

from __future__ import annotations

from typing import Any

# Exact types whose values cannot change after the call: their JSON may be built later, on the
# export thread, with the same result (see `immutable`).
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
INPUTS = 0
OUTPUTS = 1
STATIC = 2  # the span's static attributes (type, user attributes), merged in at export
# Integrations only: (attribute key, payload kind, value) triples serialized at export, for
# values llmtrace owns (snapshots of the caller's objects; see `snapshot`).
LATE = 3
# Integrations only: zero-argument callables returning attributes, run at export (after the
# span ended) to do the reading and serializing of a call's result off the caller's thread.
CALLS = 4
MISSING: Any = object()

# span_id -> [inputs, outputs, static attributes] (MISSING when not deferred). The SDK hands
# processors a snapshot of the span, not the span itself, so the payloads travel beside it, keyed
# by span id. Entries leave when the exporter has stored the span, or when the span is dropped or
# sampled out.
PENDING: dict[int, list[Any]] = {}


def discard(span_id: int) -> None:
    """Forget a span's deferred payloads (it was dropped or sampled out)."""
    PENDING.pop(span_id, None)


def immutable(value: Any, limit: int) -> bool:
    """True for primitives (strings up to `limit` chars) and tuples of them."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return kind is not str or len(value) <= limit
    if kind is tuple:
        return len(value) <= 64 and all(immutable(v, limit) for v in value)
    return False


def snapshot(value: Any, depth: int = 6) -> Any:
    """A copy of `value`'s lists, tuples and dicts (down to `depth` levels) so that later
    changes by the caller (appending the reply to a message list) do not reach a payload that
    is serialized after the call. Other objects are kept as they are."""
    if depth <= 0:
        return value
    kind = type(value)
    if kind is dict:
        return {k: snapshot(v, depth - 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [snapshot(v, depth - 1) for v in value]
    return value


def immutable_arguments(bound: dict[str, Any], limit: int) -> bool:
    # `bound` is a dict this module built, so only its values need to be immutable.
    return len(bound) <= 64 and all(immutable(v, limit) for v in bound.values())


__all__ = [
    "CALLS",
    "INPUTS",
    "LATE",
    "MISSING",
    "OUTPUTS",
    "PENDING",
    "STATIC",
    "discard",
    "immutable",
    "immutable_arguments",
    "snapshot",
]
