"""Small formatters shared by the pages: durations, costs, tokens, times, previews."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

STATUS_ICONS = {"OK": "🟢", "ERROR": "🔴", "UNSET": "⚪"}


def ms(value: float | None) -> str:
    """A duration: `850 ms`, `1.25 s`, `3 min 5 s`."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    minutes, seconds = divmod(value / 1000, 60)
    return f"{minutes:.0f} min {seconds:.0f} s"


def usd(value: float | None) -> str:
    """A cost: "-" when unknown (never $0 for unknown), more digits below a cent."""
    if value is None:
        return "-"
    return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def tokens(value: int | None) -> str:
    """A token count with thousands separators."""
    return "-" if value is None else f"{value:,}"


def when(value: datetime | None) -> str:
    """A UTC timestamp to the millisecond."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def status(value: str) -> str:
    """A status with its colour dot."""
    return f"{STATUS_ICONS.get(value, '⚪')} {value}"


def preview(text: str | None, limit: int = 120) -> str:
    """One line of at most `limit` characters."""
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tags(values: Mapping[str, str]) -> str:
    """Tags as `k=v, k=v`."""
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items()))


__all__ = ["ms", "preview", "status", "tags", "tokens", "usd", "when"]
