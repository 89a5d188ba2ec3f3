"""Helpers of the REST tracking tests: a remote store, and comparison that sees NaN as equal."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from llmtrace.store import RestStore


def remote_store(url: str, **kwargs: Any) -> RestStore:
    """A `RestStore` on the server at `url` (close it after use)."""
    return RestStore(url, **kwargs)


def plain(value: Any) -> Any:
    """`value` with dataclasses as dicts and NaN as the string "NaN", so that `==` compares
    results that hold NaN (NaN never equals itself)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__, **plain(dataclasses.asdict(value))}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        token = getattr(value, "next_page_token", None)
        return {"items": items, "next_page_token": token} if token is not None else items
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def same(a: Any, b: Any) -> bool:
    """Equal, NaN included, with the same types (aware datetimes with the same tzinfo)."""
    return bool(plain(a) == plain(b) and _types(a) == _types(b))


def _types(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, _types(dataclasses.asdict(value)))
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, *[_types(v) for v in value]]
    tz = getattr(value, "tzinfo", None)
    return (type(value).__name__, repr(tz)) if tz is not None else type(value).__name__


__all__ = ["plain", "remote_store", "same"]
