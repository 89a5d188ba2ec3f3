"""Opaque page tokens for keyset pagination.

A token holds the sort-key values of the last row of a page and a fingerprint of the query, so
that a token is only accepted by the query that produced it. Keyset (not offset) pagination keeps
pages stable while new traces arrive at the top of a newest-first list.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from llmtrace.exceptions import InvalidParameterError, InvalidQueryError

# Largest page of the store's searches of datasets, registry entries and prompts.
MAX_PAGE = 10_000


def check_limit(limit: Any) -> int:
    """A page size from 1 to `MAX_PAGE`; InvalidParameterError otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidParameterError(f"limit must be an integer from 1 to {MAX_PAGE}, got {limit!r}")
    return limit


def query_fingerprint(*parts: Any) -> str:
    """A short stable hash of the query's defining parts."""
    text = json.dumps(parts, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "dt" in value:
        return datetime.fromisoformat(value["dt"])
    return value


def encode_token(values: list[Any], fingerprint: str) -> str:
    """Page token for the row whose sort keys are `values`."""
    payload = json.dumps({"v": [_encode_value(v) for v in values], "q": fingerprint})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_token(
    token: str, fingerprint: str, n_keys: int, parts: str = "filter, order_by or project"
) -> list[Any]:
    """The sort-key values in `token`; InvalidQueryError if it is malformed or foreign.

    `parts` names what defines the query, for the message when the token is foreign.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = [_decode_value(v) for v in payload["v"]]
        ok = payload["q"] == fingerprint and len(values) == n_keys
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidQueryError(f"invalid page token {token!r}") from exc
    if not ok:
        raise InvalidQueryError(
            f"page token does not belong to this query ({parts} changed): pass the token "
            "only with the query that returned it"
        )
    return values


__all__ = ["decode_token", "encode_token", "query_fingerprint"]
