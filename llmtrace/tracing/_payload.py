"""Turn arbitrary Python values (span inputs and outputs) into bounded JSON text.

`to_json` runs on the caller's thread for every traced call, so it is built around a cheap
common case and it never raises.

How a value is serialised
-------------------------
1. **Verbatim tier.** The value is encoded in one C-level pass (orjson when it is installed,
   otherwise the standard library encoder) with a `default` hook that knows a few well-known
   types (dataclasses, datetimes, UUID, Decimal, Enum, Path, sets, bytes, exceptions, small
   numpy arrays and scalars, pydantic models). If that works and the text fits in `max_bytes`,
   it is returned as is: no item, string or depth limit applies to a payload that fits.
   NaN/Infinity and integers outside the 64-bit range are never accepted in this tier (orjson
   would turn NaN into ``null`` and cannot encode big integers), so both backends agree. The
   tier is skipped when a quick look at a few dozen nodes estimates the text to be larger
   than `max_bytes`, so a huge nested input is never encoded in full. (One difference
   remains: orjson refuses nesting deeper than 254 levels, the stdlib encoder only at the
   interpreter's recursion limit; the refused value goes to the bounded tier.)
2. **Bounded tier.** Anything else (unknown objects, cycles, oversized payloads) goes through a
   recursive conversion with limits: nesting depth `MAX_DEPTH` (deeper containers become
   ``"<max depth: TypeName>"``), `MAX_ITEMS` items per container, a byte budget of `max_bytes`
   for the whole document, and for strings inside containers a limit of a quarter of the budget
   (at least 16 characters) so that one huge field does not crowd out its siblings. Conversion
   stops early once the budget is spent, so the cost is proportional to `max_bytes`, not to
   the size of the input. If the result is still too large (the budget is an estimate) it is
   shrunk and the conversion retried, three times at most and not below a quarter of
   `max_bytes`.
3. **Preview marker.** If even that does not fit, the result is the marker document described
   below.

Representations (both tiers)
----------------------------
=============================  ====================================================================
str, int, float, bool, None    themselves; NaN/Infinity/-Infinity as the strings ``"NaN"``,
                               ``"Infinity"``, ``"-Infinity"``; integers outside
                               [-2**63, 2**64) as their decimal string; lone surrogates in
                               strings become U+FFFD
dict, Mapping                  object; keys: str as is, bool/None as ``"true"``/``"false"``/
                               ``"null"``, numbers as JSON numbers, Enum by value, dates in
                               ISO 8601, anything else via `str()`
list, tuple, deque, range,     array; sets are sorted when their items are all str or all
set, frozenset, dict views     numbers, so the output is deterministic
generators, iterators          ``"<generator>"``, ``"<iterator: TypeName>"``; never consumed
dataclass instance             object of its fields
pydantic model                 ``model_dump(mode="json")`` (v2) or ``dict()`` (v1)
datetime, date, time           ISO 8601 text
UUID, Decimal, Path            their `str()`
Enum                           its value
bytes, bytearray, memoryview   ``{"__bytes__": <length>, "base64": <first 48 bytes, base64>}``
exception                      ``{"__exception__": "ValueError", "message": "..."}``
numpy array (<= MAX_ITEMS)     nested lists (`tolist()`)
numpy array (larger)           ``{"__ndarray__": {"dtype": "float64", "shape": [..]},
                               "head": [first 100 values in C order]}``
numpy scalar                   the Python scalar (`item()`)
pandas DataFrame               ``{"__dataframe__": {"shape": [rows, cols], "columns": [..]},
                               "head": [first 20 rows as records, first 50 columns]}``
pandas Series                  ``{"__series__": {"name": .., "dtype": .., "length": n},
                               "head": [first 20 values]}``
anything else                  ``repr(obj)`` (cut like any string); if `repr` raises,
                               ``"<unrepresentable TypeName>"``
=============================  ====================================================================

Truncation markers (bounded tier and beyond)
--------------------------------------------
* a cut string ends with ``"...[truncated N chars]"``;
* a cut list ends with the item ``"... N more items"``;
* a cut object gets the extra entry ``"...": "N more items"``;
* a whole document that does not fit is replaced by
  ``{"__truncated__": true, "original_bytes": N, "preview": "<first chars of the JSON text>"}``.
  `N` is the size of the full serialisation when it was attempted, otherwise an estimate.
  The preview is a prefix of the JSON text, so it is usually not parseable itself.

Size rule: ``len(to_json(v, m).encode()) <= max(m, MIN_BYTES)``. Only when `max_bytes` is
smaller than `MIN_BYTES` (64) can the bare marker ``{"__truncated__":true,"original_bytes":N}``
exceed it. On an internal error the result is ``{"__error__": "could not serialize: TypeName"}``
(also at most `MIN_BYTES` bytes).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import importlib
import json
import math
import re
import sys
import types
import uuid
from collections import deque
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from decimal import Decimal
from enum import Enum
from pathlib import PurePath

# orjson is an optional speed-up. This module-level switch also lets tests force the standard
# library path (monkeypatch it to None).
_orjson: types.ModuleType | None
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MIN_BYTES", "to_json"]

MAX_DEPTH = 10
MAX_ITEMS = 1000
MIN_BYTES = 64

_MIN_STR_CHARS = 16
_MAX_KEY_CHARS = 256
_BYTES_HEAD = 48
_ARRAY_HEAD = 100
_FRAME_ROWS = 20
_FRAME_COLS = 50
# Characters beyond a cut that are redacted before cutting, so a secret straddling the cut
# point is masked as a whole instead of leaking its first half.
_REDACT_WINDOW = 4096
_I64_MIN = -(1 << 63)
_U64_MAX = (1 << 64) - 1

_SURROGATES = re.compile("[\\ud800-\\udfff]")
# Any integer outside the 64-bit range has at least 19 digits.
_LONG_DIGITS = re.compile(r"\d{19}")

_ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS if _orjson is not None else 0
_STD_PLAIN = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))

Redact = Callable[[str], str]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def to_json(value: object, max_bytes: int, *, redact: Redact | None = None) -> str:
    """Serialise `value` to JSON text of at most `max_bytes` UTF-8 bytes. Never raises.

    `redact`, when given, is applied to the JSON text before its size is checked (and to any
    string before it is cut), so masking happens before truncation and the bound still holds.
    See the module docstring for representations and truncation markers.

    >>> to_json({"prompt": "hi", "n": 2}, 1000)
    '{"prompt":"hi","n":2}'
    >>> to_json(float("nan"), 1000)
    '"NaN"'
    >>> to_json({"text": "x" * 500, "n": 1}, 80)
    '{"text":"xxxxxxxxxxxxxxxxxxxx...[truncated 480 chars]","n":1}'
    """
    try:
        return _to_json(value, max_bytes, redact)
    except Exception:
        return _error_doc(value)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def _to_json(value: object, max_bytes: int, redact: Redact | None) -> str:
    limit = max(max_bytes if type(max_bytes) is int else int(max_bytes), 0)
    full_size = _estimated_size(value)

    if full_size <= limit:
        verbatim = _verbatim(value)
        if verbatim is not None:
            text, size = verbatim
            if redact is not None:
                text = redact(text)
                size = _utf8_len(text)
            if size <= limit:
                return text
            full_size = size

    budget = limit
    text = ""
    for attempt in range(4):
        jsonable = _Walker(budget, redact).convert(value, 0)
        text = _dump_plain(jsonable)
        if redact is not None:
            text = redact(text)
        size = _utf8_len(text)
        if size <= limit:
            return text
        full_size = max(full_size, size)
        # The budget is an estimate (non-ASCII, escapes, markers); scale it by the overshoot,
        # more boldly after the first miss.
        budget = int(budget * limit / size * (0.9 if attempt == 0 else 0.6))
        if budget < limit // 4 or budget <= 0:
            break  # the result would be mostly markers; the preview shows more
    return _truncated_doc(text, full_size, limit)


def _estimated_size(value: object, depth: int = 0) -> int:
    """A rough estimate of the verbatim JSON size of `value`, looking at a few dozen nodes.

    When it exceeds the limit the verbatim tier is skipped: serialising a gigabyte of nested
    lists only to throw the text away would dominate the cost of tracing. Containers with more
    than 8 items are extrapolated from their first item; an over-estimate only costs speed
    (the bounded tier gives the same text for anything that fits).
    """
    t = type(value)
    if t is str:
        return len(value) + 2  # type: ignore[arg-type]
    if t is dict:
        values: Iterable[object] = value.values()  # type: ignore[attr-defined]
        per_item = 6  # "k":v,
    elif t is list or t is tuple:
        values = value  # type: ignore[assignment]
        per_item = 1
    else:
        return 4
    n = len(value)  # type: ignore[arg-type]
    if n == 0 or depth >= 4:
        return 2 + n * (per_item + 1)
    if n > 8:
        return 2 + n * (per_item + _estimated_size(next(iter(values)), depth + 1))
    size = 2 + n * per_item
    for item in values:
        # Scalars inline: this runs on every call, and function calls dominate its cost.
        ti = type(item)
        if ti is str:
            size += len(item) + 2  # type: ignore[arg-type]
        elif ti is dict or ti is list or ti is tuple:
            size += _estimated_size(item, depth + 1)
        else:
            size += 4
    return size


def _verbatim(value: object) -> tuple[str, int] | None:
    """Tier 1: one C-level encoding pass. Returns (text, UTF-8 size), or None if the value
    needs the bounded tier."""
    orj = _orjson
    if orj is not None:
        try:
            raw = orj.dumps(value, default=_fast_default, option=_ORJSON_OPTIONS)
        except Exception:
            return None
        # orjson writes NaN/Infinity as null; only then is the slower scan needed.
        if b"null" in raw and _has_special(value):
            return None
        return raw.decode(), len(raw)
    try:
        text = _STD_FAST.encode(value)
    except Exception:
        return None
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode())
        except UnicodeEncodeError:  # lone surrogates: let the bounded tier scrub them
            return None
    # The stdlib writes big integers verbatim; orjson cannot, so both defer to the bounded tier.
    if _LONG_DIGITS.search(text) and _has_special(value):
        return None
    return text, size


def _dump_plain(jsonable: object) -> str:
    """Encode the output of `_Walker` (only str keys, no NaN, no big ints)."""
    orj = _orjson
    if orj is not None:
        try:
            text: str = orj.dumps(jsonable).decode()
            return text
        except Exception:
            pass  # lone surrogates; the stdlib path below scrubs them
    text = _STD_PLAIN.encode(jsonable)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = _SURROGATES.sub("\ufffd", text)
    return text


def _utf8_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _truncated_doc(text: str, original: int, limit: int) -> str:
    head = f'{{"__truncated__":true,"original_bytes":{original}'
    room = limit - len(head) - len(',"preview":""}')
    k = min(len(text), room)
    # Escaping (quotes, backslashes, non-ASCII) makes the preview longer than its character
    # count; shrink proportionally until it fits (a handful of rounds at most).
    for _ in range(12):
        if k <= 0:
            break
        literal = json.dumps(text[:k], ensure_ascii=False)
        size = _utf8_len(literal) - 2
        if size <= room:
            return head + ',"preview":' + literal + "}"
        k = min(k - 1, int(k * room / size))
    return head + "}"


def _error_doc(value: object) -> str:
    try:
        name = type(value).__name__[:24]
        return json.dumps({"__error__": f"could not serialize: {name}"}, ensure_ascii=True)
    except Exception:
        return '{"__error__":"could not serialize"}'


def _clip(text: str, limit: int, *, force_ellipsis: bool = False) -> str:
    if len(text) <= limit and not force_ellipsis:
        return text
    return text[: max(limit - 1, 0)] + "…"


# --------------------------------------------------------------------------------------------
# Shared helpers for well-known types
# --------------------------------------------------------------------------------------------


def _type_name(obj: object) -> str:
    try:
        name = type(obj).__name__
        return name if isinstance(name, str) else "object"
    except Exception:
        return "object"


def _bytes_doc(obj: bytes | bytearray | memoryview) -> dict[str, object]:
    if isinstance(obj, memoryview):
        size = obj.nbytes
        try:
            head = obj.cast("B")[:_BYTES_HEAD].tobytes()
        except (TypeError, ValueError):  # non-contiguous or odd formats
            head = obj.tobytes()[:_BYTES_HEAD]
    else:
        size = len(obj)
        head = bytes(obj[:_BYTES_HEAD])
    return {"__bytes__": size, "base64": base64.b64encode(head).decode("ascii")}


def _exception_doc(exc: BaseException) -> dict[str, object]:
    return {"__exception__": _type_name(exc), "message": str(exc)}


def _iterator_marker(obj: object) -> str | None:
    # Consuming an iterator would change what the traced code sees, so only describe it.
    if isinstance(obj, types.GeneratorType):
        return "<generator>"
    if isinstance(obj, types.AsyncGeneratorType):
        return "<async_generator>"
    if isinstance(obj, types.CoroutineType):
        return "<coroutine>"
    if isinstance(obj, Iterator):
        return f"<iterator: {_type_name(obj)}>"
    return None


def _pydantic_kind(obj: object) -> int:
    """2 for a pydantic v2 model, 1 for a v1 model, 0 otherwise (checked on the type only)."""
    cls = type(obj)
    for base in cls.__mro__:
        if base.__name__ == "BaseModel" and str(base.__module__).startswith("pydantic"):
            if base.__module__.startswith("pydantic.v1") or not hasattr(cls, "model_dump"):
                return 1
            return 2
    return 0


def _pydantic_dump(obj: object, kind: int) -> object:
    if kind == 2:
        try:
            return obj.model_dump(mode="json", warnings=False)  # type: ignore[attr-defined]
        except TypeError:  # very early v2 releases lack `warnings`
            return obj.model_dump(mode="json")  # type: ignore[attr-defined]
    return obj.dict()  # type: ignore[attr-defined]


def _sortable_set(items: set[object] | frozenset[object]) -> list[object]:
    # Sorting gives deterministic output (str hashing is randomised per process); only done
    # when the items are plain str or plain numbers, so no user __lt__ runs.
    first = type(next(iter(items))) if items else str
    if first is str and all(type(x) is str for x in items):
        return sorted(items)  # type: ignore[type-var]
    if first in (int, float) and all(type(x) in (int, float) for x in items):
        try:
            return sorted(items)  # type: ignore[type-var]
        except TypeError:
            pass
    return list(items)


def _numpy_module(obj: object) -> types.ModuleType | None:
    module = type(obj).__module__
    if isinstance(module, str) and module.startswith("numpy"):
        return sys.modules.get("numpy")
    return None


def _fast_default(obj: object) -> object:
    """`default` hook of the verbatim tier: one conversion step for well-known types.

    Must give the same representation as `_Walker`; raises TypeError to send the whole value
    to the bounded tier.
    """
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, float):
        f = float.__float__(obj)
        if not math.isfinite(f):
            raise TypeError("non-finite float")
        return f
    if isinstance(obj, int):
        i = int.__int__(obj)
        if not _I64_MIN <= i <= _U64_MAX:
            raise TypeError("integer out of range")
        return i
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, (uuid.UUID, Decimal, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _bytes_doc(obj)
    if isinstance(obj, (set, frozenset)):
        if len(obj) > MAX_ITEMS or not all(
            type(x) is str or (type(x) is int and _I64_MIN <= x <= _U64_MAX) for x in obj
        ):
            raise TypeError("set needs the bounded tier")
        return _sortable_set(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields: dict[str, object] = {}
        for field in dataclasses.fields(obj):
            try:
                value = getattr(obj, field.name)
            except AttributeError:  # never assigned: left out, as orjson does
                continue
            fields[field.name] = value
        return fields
    if isinstance(obj, BaseException):
        return _exception_doc(obj)
    np = _numpy_module(obj)
    if np is not None:
        if isinstance(obj, np.ndarray):
            kind = obj.dtype.kind
            if obj.size > MAX_ITEMS or kind not in "biufUS":
                raise TypeError("array needs the bounded tier")
            if kind == "f" and not bool(np.isfinite(obj).all()):
                raise TypeError("non-finite values")
            return obj.tolist()
        if isinstance(obj, np.generic):
            item = obj.item()
            if isinstance(item, float) and not math.isfinite(item):
                raise TypeError("non-finite float")
            return item
    marker = _iterator_marker(obj)
    if marker is not None:
        return marker
    kind = _pydantic_kind(obj)
    if kind:
        dumped = _pydantic_dump(obj, kind)
        # The dump is encoded after the null check of the verbatim tier has looked at `obj`.
        if _has_special(dumped):
            raise TypeError("non-finite float or big int in model")
        return dumped
    raise TypeError(f"{_type_name(obj)} needs the bounded tier")


def _has_special(value: object) -> bool:
    """True if the verbatim tier mis-encoded `value`: NaN/Infinity or an out-of-range int.

    Only called after a successful verbatim encoding, so `value` has no cycles.
    """
    # Iterative with exact-type checks first: this runs whenever orjson output has a null.
    stack = [value]
    pop = stack.pop
    extend = stack.extend
    while stack:
        obj = pop()
        t = type(obj)
        if t is str or t is bool or obj is None:
            continue
        if t is float:
            if not math.isfinite(obj):  # type: ignore[arg-type]
                return True
        elif t is int:
            if not _I64_MIN <= obj <= _U64_MAX:  # type: ignore[operator]
                return True
        elif t is dict:
            extend(obj.values())  # type: ignore[attr-defined]
            extend(obj.keys())  # type: ignore[attr-defined]
        elif t is list or t is tuple:
            extend(obj)  # type: ignore[arg-type]
        else:
            try:
                if isinstance(obj, float):
                    if not math.isfinite(obj):
                        return True
                elif isinstance(obj, int):
                    if not _I64_MIN <= obj <= _U64_MAX:
                        return True
                elif isinstance(obj, dict):
                    extend(obj.values())
                    extend(obj.keys())
                elif isinstance(obj, (list, tuple)):
                    extend(obj)
                elif isinstance(obj, Enum):
                    stack.append(obj.value)
                elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                    extend(getattr(obj, f.name) for f in dataclasses.fields(obj))
            except Exception:
                return True
    return False


def _key_str(key: object) -> str:
    if type(key) is str:
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, Enum):
        return _key_str(key.value)
    if isinstance(key, float):
        return _float_value(float.__float__(key)).__str__()
    if isinstance(key, (_dt.datetime, _dt.date, _dt.time)):
        return key.isoformat()
    if isinstance(key, int):
        try:
            return int.__repr__(key)
        except ValueError:
            return _huge_int_text(key)
    try:
        return str(key)
    except Exception:
        return f"<unrepresentable {_type_name(key)}>"


def _float_value(f: float) -> float | str:
    if math.isfinite(f):
        return f
    if f != f:
        return "NaN"
    return "Infinity" if f > 0 else "-Infinity"


def _huge_int_text(i: int) -> str:
    try:
        return int.__repr__(i)
    except ValueError:  # beyond sys.get_int_max_str_digits()
        digits = int(i.bit_length() * 0.30103) + 1
        return f"<int with ~{digits} digits>"


# --------------------------------------------------------------------------------------------
# Bounded tier
# --------------------------------------------------------------------------------------------


class _Walker:
    """One bounded conversion. `budget` is an estimate of the output bytes still allowed."""

    __slots__ = ("active", "budget", "redact", "str_limit")

    def __init__(self, budget: int, redact: Redact | None) -> None:
        self.budget = budget
        self.str_limit = max(_MIN_STR_CHARS, budget // 4)
        self.redact = redact
        # ids of the containers on the current path: a repeat is a cycle, while the same
        # object shared by two siblings is fine.
        self.active: set[int] = set()

    def convert(self, obj: object, depth: int) -> object:
        t = type(obj)
        if t is str:
            return self.string(obj, alone=depth == 0)  # type: ignore[arg-type]
        if t is bool or obj is None:
            self.budget -= 6
            return obj
        if t is int:
            self.budget -= 8
            if _I64_MIN <= obj <= _U64_MAX:  # type: ignore[operator]
                return obj
            return self.string(_huge_int_text(obj))  # type: ignore[arg-type]
        if t is float:
            self.budget -= 12
            return _float_value(obj)  # type: ignore[arg-type]
        try:
            return self.convert_other(obj, depth)
        except Exception:
            return self.string(_safe_repr(obj))

    def string(self, s: str, *, alone: bool = False) -> str:
        n = len(s)
        # A string inside a container gets at most a quarter of the budget so that its
        # siblings still show; a string on its own may use all of it.
        keep = max(self.budget - 32, _MIN_STR_CHARS) if alone else self.str_limit
        keep = min(keep, max(self.budget, _MIN_STR_CHARS))
        if n <= keep:
            self.budget -= n + 3
            return s
        head = s[: keep + _REDACT_WINDOW]
        if self.redact is not None:
            head = self.redact(head)
        self.budget -= keep + 32
        return f"{head[:keep]}...[truncated {n - keep} chars]"

    def convert_other(self, obj: object, depth: int) -> object:
        # Order matters: str/int/float subclasses (IntEnum, numpy float64) before containers.
        if isinstance(obj, Enum):
            return self.convert(obj.value, depth + 1)
        if isinstance(obj, str):
            return self.string(str.__str__(obj))
        if isinstance(obj, float):
            return self.convert(float.__float__(obj), depth)
        if isinstance(obj, int):
            return self.convert(int.__int__(obj), depth)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            self.budget -= 100
            return _bytes_doc(obj)
        if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
            return self.string(obj.isoformat())
        if isinstance(obj, (uuid.UUID, Decimal, PurePath)):
            return self.string(str(obj))
        marker = _iterator_marker(obj)
        if marker is not None:
            return self.string(marker)

        if depth >= MAX_DEPTH:
            return f"<max depth: {_type_name(obj)}>"
        oid = id(obj)
        if oid in self.active:
            return f"<circular ref: {_type_name(obj)}>"
        self.active.add(oid)
        try:
            return self.container(obj, depth)
        finally:
            self.active.discard(oid)

    def container(self, obj: object, depth: int) -> object:
        if isinstance(obj, dict):
            return self.mapping(obj.items(), len(obj), depth)
        if isinstance(obj, (list, tuple)):
            return self.sequence(obj, len(obj), depth)
        if isinstance(obj, (set, frozenset)):
            n = len(obj)
            items = _sortable_set(obj) if n <= MAX_ITEMS else obj
            return self.sequence(items, n, depth)
        if isinstance(obj, Mapping):
            return self.mapping(obj.items(), len(obj), depth)
        if isinstance(obj, (range, deque, KeysView, ValuesView, ItemsView)):
            return self.sequence(obj, len(obj), depth)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self.mapping(_dataclass_items(obj), len(dataclasses.fields(obj)), depth)
        if isinstance(obj, BaseException):
            return self.convert(_exception_doc(obj), depth)
        np = _numpy_module(obj)
        if np is not None:
            return self.numpy(np, obj, depth)
        module = type(obj).__module__
        if isinstance(module, str) and module.startswith("pandas"):
            converted = self.pandas(obj, depth)
            if converted is not _UNHANDLED:
                return converted
        kind = _pydantic_kind(obj)
        if kind:
            try:
                dumped = _pydantic_dump(obj, kind)
            except Exception:
                dumped = _UNHANDLED
            if dumped is not _UNHANDLED:
                # The dump is a fresh structure; it stands at the model's own depth.
                return self.convert(dumped, depth)
        return self.string(_safe_repr(obj))

    def sequence(self, items: Iterable[object], n: int, depth: int) -> list[object]:
        out: list[object] = []
        self.budget -= 2
        for i, item in enumerate(items):
            if i >= MAX_ITEMS or self.budget <= 0:
                out.append(f"... {n - i} more items")
                self.budget -= 24
                break
            self.budget -= 1
            out.append(self.convert(item, depth + 1))
        return out

    def mapping(
        self, items: Iterable[tuple[object, object]], n: int, depth: int
    ) -> dict[str, object]:
        out: dict[str, object] = {}
        self.budget -= 2
        for i, (key, value) in enumerate(items):
            if i >= MAX_ITEMS or self.budget <= 0:
                out["..."] = f"{n - i} more items"
                self.budget -= 24
                break
            k = _key_str(key)
            if len(k) > _MAX_KEY_CHARS:
                k = f"{k[:_MAX_KEY_CHARS]}...[truncated {len(k) - _MAX_KEY_CHARS} chars]"
            self.budget -= len(k) + 4
            out[k] = self.convert(value, depth + 1)
        return out

    def numpy(self, np: types.ModuleType, obj: object, depth: int) -> object:
        if isinstance(obj, np.ndarray):
            if obj.size <= MAX_ITEMS:
                return self.convert(obj.tolist(), depth)
            self.budget -= 64
            head = obj.flat[:_ARRAY_HEAD].tolist()
            summary = {"dtype": str(obj.dtype), "shape": list(obj.shape)}
            return {"__ndarray__": summary, "head": self.convert(head, depth + 1)}
        if isinstance(obj, np.generic):
            return self.convert(obj.item(), depth)
        return self.string(_safe_repr(obj))

    def pandas(self, obj: object, depth: int) -> object:
        pd = sys.modules.get("pandas")
        if pd is None:
            return _UNHANDLED
        if isinstance(obj, pd.DataFrame):
            rows, cols = obj.shape
            sub = obj.iloc[:_FRAME_ROWS, :_FRAME_COLS]
            summary = {
                "shape": [int(rows), int(cols)],
                "columns": [_key_str(c) for c in obj.columns[:_FRAME_COLS]],
            }
            records = sub.to_dict(orient="records")
            return {
                "__dataframe__": self.convert(summary, depth + 1),
                "head": self.convert(records, depth + 1),
            }
        if isinstance(obj, pd.Series):
            summary = {"name": obj.name, "dtype": str(obj.dtype), "length": len(obj)}
            return {
                "__series__": self.convert(summary, depth + 1),
                "head": self.convert(obj.iloc[:_FRAME_ROWS].tolist(), depth + 1),
            }
        return _UNHANDLED


_UNHANDLED = object()


def _dataclass_items(obj: object) -> Iterator[tuple[str, object]]:
    # Not dataclasses.asdict: it deep-copies and recurses without cycle or depth limits.
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        try:
            value = getattr(obj, f.name)
        except AttributeError:  # never assigned (init=False): left out, as orjson does
            continue
        except Exception:
            value = f"<unavailable: {f.name}>"
        yield f.name, value


def _safe_repr(obj: object) -> str:
    try:
        text = repr(obj)
        if isinstance(text, str):
            return text
    except Exception:
        pass
    return f"<unrepresentable {_type_name(obj)}>"


# Built once: json.dumps would construct an encoder on every call.
_STD_FAST = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_fast_default
)
