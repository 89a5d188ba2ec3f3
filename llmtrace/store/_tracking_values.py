"""Checks and conversions for experiment tracking: keys, values, metric encoding, run names.

Everything here is pure: it runs before a transaction opens, so that bad input is rejected
without touching the database, with a message that names the offending key and value.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store.run_entities import RUN_STATUSES, Metric, Param

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 5000
MAX_NAME_LENGTH = 255
DBL_MAX = sys.float_info.max
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1

# Metric tags and params may arrive as pairs, mappings or entity objects.
TagsLike = Mapping[str, Any] | Iterable[tuple[str, Any]]
ParamsLike = Mapping[str, Any] | Iterable[Param | tuple[str, Any]]


def show(value: str, limit: int = 60) -> str:
    """`value` quoted for a message, shortened with "..." past `limit` characters."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def check_key(key: Any, what: str) -> str:
    """`key` if it is a valid metric/param/tag key; InvalidParameterError otherwise.

    Keys also name files (artifacts, exports), so path tricks are refused: no leading '/', no
    '.' or '..' segment, no NUL.
    """
    if not isinstance(key, str):
        raise InvalidParameterError(f"{what} key must be a string, got {type(key).__name__}")
    if not key.strip():
        raise InvalidParameterError(f"{what} key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(
            f"{what} key {show(key)} is {len(key)} characters long (max {MAX_KEY_LENGTH})"
        )
    if key.startswith("/") or "\0" in key or any(p in (".", "..") for p in key.split("/")):
        raise InvalidParameterError(
            f"invalid {what} key {key!r}: no leading '/', no '.' or '..' path segment, no NUL"
        )
    return key


def check_text(value: Any, what: str, key: str, limit: int) -> str:
    """`value` as text, at most `limit` characters; InvalidParameterError otherwise."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidParameterError(
            f"{what} {key!r} has a value of {len(text)} characters (max {limit}): {show(text)}"
        )
    return text


def check_name(name: Any, what: str) -> str:
    """An experiment or run name: non-blank text of at most 255 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"{what} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterError(
            f"{what} name {show(name)} is {len(name)} characters long (max {MAX_NAME_LENGTH})"
        )
    return name


def check_status(status: str) -> str:
    """A run status, upper-cased; InvalidParameterError for an unknown one."""
    upper = status.upper() if isinstance(status, str) else ""
    if upper not in RUN_STATUSES:
        raise InvalidParameterError(
            f"unknown run status {status!r} (known: {', '.join(RUN_STATUSES)})"
        )
    return upper


def check_time(value: datetime, what: str) -> datetime:
    """An aware datetime (naive ones are refused: local or UTC cannot be guessed)."""
    if not isinstance(value, datetime):
        raise InvalidParameterError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidParameterError(
            f"{what} must be timezone-aware, e.g. datetime.now(timezone.utc)"
        )
    return value.astimezone(timezone.utc)


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def ms_to_datetime(ms: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _check_int(value: Any, what: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(f"metric {key!r}: {what} must be an integer, got {value!r}")
    number = int(value)
    if not _BIGINT_MIN <= number <= _BIGINT_MAX:
        raise InvalidParameterError(f"metric {key!r}: {what} {number} is out of range")
    return number


def check_metric(metric: Any, default_ms: int) -> Metric:
    """A `Metric` with a float value and a timestamp (`default_ms` when it has none)."""
    if not isinstance(metric, Metric):
        try:
            metric = Metric(*metric) if isinstance(metric, tuple) else Metric(**metric)
        except TypeError as exc:
            raise InvalidParameterError(
                f"a metric must be a Metric, a (key, value[, step[, timestamp_ms]]) tuple or a "
                f"dict of those fields, got {metric!r}"
            ) from exc
    key = check_key(metric.key, "metric")
    value = metric.value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"metric {key!r} must be a number, got {value!r}")
    step = _check_int(metric.step, "step", key)
    stamp = default_ms if metric.timestamp_ms is None else metric.timestamp_ms
    return Metric(key, float(value), step, _check_int(stamp, "timestamp_ms", key))


class MetricRows:
    """Checked, encoded metric points as columns, and the latest point of each key.

    `keys`/`values`/`specials`/`steps`/`stamps` are the history rows (value and special as
    `encode_value` stores them); `latest` maps each key to the index of its latest point in
    the batch (by `latest_key` order; the first of equal points wins).
    """

    __slots__ = ("keys", "latest", "specials", "stamps", "steps", "values")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[float | None] = []
        self.specials: list[str | None] = []
        self.steps: list[int] = []
        self.stamps: list[int] = []
        self.latest: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def latest_rows(self) -> list[tuple[str, float | None, str | None, int, int]]:
        """(key, value, special, step, timestamp_ms) of the latest point of each key."""
        return [
            (key, self.values[i], self.specials[i], self.steps[i], self.stamps[i])
            for key, i in self.latest.items()
        ]


# Rank of a value in the "latest" order after step and timestamp: -inf, numbers, inf, NaN.
# The same ranks are computed in SQL by `_tracking_write` from the `special` column.
VALUE_RANK = {None: 1, "-inf": 0, "inf": 2, "nan": 3}


def prepare_metrics(metrics: Iterable[Any], default_ms: int) -> MetricRows:
    """Check and encode metric points in one pass (`check_metric`'s rules), without creating
    an object per point: a key is checked once per batch, plain floats and ints take a short
    path, and the latest point per key is picked on the way."""
    out = MetricRows()
    keys, values, specials, steps, stamps = (
        out.keys,
        out.values,
        out.specials,
        out.steps,
        out.stamps,
    )
    latest = out.latest
    # Per key: (step, timestamp, rank, value) of its latest point so far.
    best: dict[str, tuple[int, int, int, float]] = {}
    checked: set[str] = set()
    lo, hi = _BIGINT_MIN, _BIGINT_MAX
    for m in metrics:
        if type(m) is not Metric:
            m = check_metric(m, default_ms)
        key, value, step, stamp = m.key, m.value, m.step, m.timestamp_ms
        if key not in checked:
            check_key(key, "metric")
            checked.add(key)
        kind = type(value)
        if kind is not float and (kind is not int or not -DBL_MAX <= value <= DBL_MAX):
            value = check_metric(Metric(key, value, 0, 0), 0).value
        special: str | None = None
        if -DBL_MAX <= value <= DBL_MAX:
            stored: float | None = float(value)
            rank = 1
        elif value != value:
            stored, special, rank = None, "nan", 3
        elif value > 0:
            stored, special, rank = DBL_MAX, "inf", 2
        else:
            stored, special, rank = -DBL_MAX, "-inf", 0
        if type(step) is not int or not lo <= step <= hi:
            step = _check_int(step, "step", key)
        if stamp is None:
            stamp = default_ms
        elif type(stamp) is not int or not lo <= stamp <= hi:
            stamp = _check_int(stamp, "timestamp_ms", key)
        order = (step, stamp, rank, stored or 0.0)
        old = best.get(key)
        if old is None or order > old:
            best[key] = order
            latest[key] = len(keys)
        keys.append(key)
        values.append(stored)
        specials.append(special)
        steps.append(step)
        stamps.append(stamp)
    return out


def check_params(params: ParamsLike) -> dict[str, str]:
    """Params as {key: text}; the same key twice with different values is an error."""
    pairs: Iterable[Any] = params.items() if isinstance(params, Mapping) else params
    out: dict[str, str] = {}
    for item in pairs:
        key, value = (item.key, item.value) if isinstance(item, Param) else item
        key = check_key(key, "param")
        text = check_text(value, "param", key, MAX_PARAM_VALUE_LENGTH)
        if key in out and out[key] != text:
            raise InvalidParameterError(
                f"param {key!r} given twice in one batch with different values: "
                f"{show(out[key])} and {show(text)}"
            )
        out[key] = text
    return out


def check_tags(tags: TagsLike | None, what: str = "tag") -> dict[str, str]:
    """Tags as {key: text}; a later value of the same key wins."""
    if tags is None:
        return {}
    pairs: Iterable[Any] = tags.items() if isinstance(tags, Mapping) else tags
    out: dict[str, str] = {}
    for key, value in pairs:
        key = check_key(key, what)
        out[key] = check_text(value, what, key, MAX_TAG_VALUE_LENGTH)
    return out


# --- metric values in the database ------------------------------------------------------------


def encode_value(value: float) -> tuple[float | None, str | None]:
    """(value, special) columns: NaN is NULL + 'nan', +/-inf are +/-DBL_MAX + 'inf'/'-inf'.

    MySQL/MariaDB DOUBLE cannot hold NaN or infinities; storing them the same way everywhere
    keeps comparisons alike on every backend (inf > any finite number, NaN matches nothing).
    """
    if math.isnan(value):
        return None, "nan"
    if math.isinf(value):
        return (DBL_MAX, "inf") if value > 0 else (-DBL_MAX, "-inf")
    return value, None


def decode_value(value: float | None, special: str | None) -> float:
    """The float that `encode_value` stored."""
    if special == "nan":
        return math.nan
    if special == "inf":
        return math.inf
    if special == "-inf":
        return -math.inf
    return float(value) if value is not None else math.nan


def latest_key(step: int, timestamp_ms: int, value: float) -> tuple[int, int, int, float]:
    """Order of "latest": highest step, then latest timestamp, then larger value, NaN counting
    as larger than every number (so that a full tie always has one winner)."""
    if math.isnan(value):
        return (step, timestamp_ms, 1, 0.0)
    return (step, timestamp_ms, 0, value)


# --- run names --------------------------------------------------------------------------------

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fancy", "gentle",
    "glad", "golden", "honest", "jolly", "keen", "lively", "lucky", "merry", "mighty", "nimble",
    "noble", "proud", "quick", "quiet", "rapid", "shiny", "silent", "smart", "steady", "sunny",
    "swift", "tidy", "vivid", "wise", "witty", "zesty",
)  # fmt: skip
_NOUNS = (
    "ant", "badger", "bat", "bear", "bee", "bison", "cat", "crane", "crow", "deer", "dolphin",
    "eagle", "falcon", "finch", "fox", "frog", "gull", "hare", "hawk", "heron", "koala", "lark",
    "lion", "lynx", "mole", "moth", "newt", "otter", "owl", "panda", "robin", "seal", "shark",
    "snail", "swan", "tiger", "trout", "whale", "wolf", "wren",
)  # fmt: skip


def generate_run_name(rng: random.Random | None = None) -> str:
    """A readable run name such as "bright-owl-417" (not unique: runs are told apart by id)."""
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}-{r.randrange(1000)}"


__all__ = [
    "DBL_MAX",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "VALUE_RANK",
    "MetricRows",
    "ParamsLike",
    "TagsLike",
    "check_key",
    "check_metric",
    "check_name",
    "check_params",
    "check_status",
    "check_tags",
    "check_text",
    "check_time",
    "decode_value",
    "encode_value",
    "generate_run_name",
    "latest_key",
    "ms_to_datetime",
    "now_ms",
    "prepare_metrics",
    "show",
]
