"""to_json: every kind of value becomes valid, bounded JSON, on both backends."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import importlib.util
import json
import math
import pathlib
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from llmtrace.tracing import _payload
from llmtrace.tracing._payload import MAX_DEPTH, MAX_ITEMS, MIN_BYTES, to_json

HAS_ORJSON = importlib.util.find_spec("orjson") is not None


@pytest.fixture(params=["orjson", "stdlib"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with orjson and once with the standard library encoder."""
    if request.param == "orjson":
        if not HAS_ORJSON:
            pytest.skip("orjson not installed")
    else:
        monkeypatch.setattr(_payload, "_orjson", None)
    return str(request.param)


def dump(value: object, max_bytes: int = 65536) -> Any:
    """to_json, checked against the size rule and parsed."""
    text = to_json(value, max_bytes)
    assert isinstance(text, str)
    assert len(text.encode("utf-8")) <= max(max_bytes, MIN_BYTES), text[:200]
    return json.loads(text)


# --- sample types ------------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    created: dt.datetime
    parent: Shape | None = None


@dataclasses.dataclass
class Lazy:
    ready: int
    missing: int = dataclasses.field(init=False)  # never assigned


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class BadGetattr:
    """Every attribute lookup that reaches __getattr__ explodes (proxies, lazy objects)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"boom: {name}")


class BadGetattribute:
    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(f"boom: {name}")


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class ExplodingMapping(collections.abc.Mapping[str, int]):
    def __getitem__(self, key: str) -> int:
        raise RuntimeError("no item")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iter")

    def __len__(self) -> int:
        raise RuntimeError("no len")


class ExplodingList(list[int]):
    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("no iter")


class ExplodingClass:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("no class")


def gen() -> Iterator[int]:
    yield 1
    yield 2


def sample_values() -> dict[str, object]:
    """Values of every supported kind; each must serialise within any limit."""
    cyc_list: list[object] = [1]
    cyc_list.append(cyc_list)
    cyc_dict: dict[str, object] = {"a": 1}
    cyc_dict["self"] = cyc_dict
    deep: list[object] = []
    cur = deep
    for _ in range(600):
        nxt: list[object] = []
        cur.append(nxt)
        cur = nxt
    values: dict[str, object] = {
        "none": None,
        "bool": True,
        "int": 42,
        "float": 1.5,
        "str": "hello",
        "unicode": "héllo wörld 日本語 🎉",
        "empty": {},
        "plain": {"a": [1, 2.5, "x", None, True], "b": {"c": "d"}},
        "nan": [math.nan, math.inf, -math.inf],
        "big_int": 2**100,
        "huge_int": 10**5000,
        "non_str_keys": {1: "a", None: "b", 2.5: "c", (1, 2): "d", Color.RED: "e"},
        "tuple": (1, 2),
        "set": {"b", "a", "c"},
        "frozenset": frozenset({3, 1, 2}),
        "deque": collections.deque([1, 2, 3]),
        "range": range(5),
        "keys": {"k": 1}.keys(),
        "generator": gen(),
        "iterator": iter([1, 2]),
        "bytes": b"\x00\x01binary",
        "bytearray": bytearray(b"abc" * 100),
        "memoryview": memoryview(b"xyz"),
        "dataclass": Shape("tri", [Point(0, 0.0), Point(1, 1.5)], dt.datetime(2024, 5, 1, 12)),
        "lazy_dataclass": Lazy(1),
        "datetime": dt.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone.utc),
        "date": dt.date(2024, 1, 2),
        "time": dt.time(3, 4, 5),
        "uuid": uuid.UUID(int=7),
        "decimal": decimal.Decimal("1.10"),
        "enum": Color.RED,
        "int_enum": Level.LOW,
        "path": pathlib.PurePosixPath("/tmp/file.txt"),
        "exception": ValueError("bad input"),
        "namedtuple": collections.namedtuple("Pair", "left right")(1, 2),
        "mapping_proxy": types.MappingProxyType({"a": 1}),
        "circular_list": cyc_list,
        "circular_dict": cyc_dict,
        "deep": deep,
        "bad_repr": BadRepr(),
        "bad_getattr": BadGetattr(),
        "bad_getattribute": BadGetattribute(),
        "bad_str_key": {BadStr(): 1},
        "exploding_mapping": ExplodingMapping(),
        "exploding_list": ExplodingList([1, 2]),
        "exploding_class": ExplodingClass(),
        "object": object(),
        "class": int,
        "function": len,
        "complex": 1 + 2j,
        "surrogate": "a\ud800b",
        "huge_str": "x" * 1_000_000,
        "huge_list": list(range(100_000)),
        "huge_dict": {f"k{i}": i for i in range(20_000)},
        "wide_nested": [[["y" * 100] * 50] * 50] * 50,
        "quotes": '"\\' * 10_000,
        "control_chars": "\x00\x01\x1f" * 1000,
    }
    return values


SAMPLES = sample_values()


@pytest.mark.parametrize("max_bytes", [0, 1, 50, 64, 100, 257, 1000, 4096, 65536])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_value_is_valid_bounded_json(backend: str, name: str, max_bytes: int) -> None:
    dump(SAMPLES[name], max_bytes)


# --- plain data and the two backends -----------------------------------------------------------


def test_small_dict_is_compact_json(backend: str) -> None:
    value = {"prompt": "hi", "n": 2, "t": 0.5, "stop": None, "stream": False, "tags": ["a"]}
    assert (
        to_json(value, 1000)
        == '{"prompt":"hi","n":2,"t":0.5,"stop":null,"stream":false,"tags":["a"]}'
    )


def test_non_ascii_kept_readable(backend: str) -> None:
    assert to_json({"q": "日本語"}, 1000) == '{"q":"日本語"}'


PLAIN = [
    None,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    1.25,
    -0.0,
    1e300,
    "",
    'text with "quotes" and \\ and \n newline',
    [],
    {},
    {"nested": {"list": [1, [2, [3, {"x": None}]]]}},
    [True, False, None, "é", 3.5],
    {"messages": [{"role": "user", "content": "Hello"}], "temperature": 0.2, "max_tokens": 64},
]


@pytest.mark.skipif(not HAS_ORJSON, reason="orjson not installed")
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_orjson_and_stdlib_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "deep":
        pytest.skip("600 levels: beyond orjson's nesting limit, within the stdlib's (documented)")
    if name == "exploding_list":
        pytest.skip("orjson reads a list subclass directly, the stdlib calls its failing __iter__")
    value = SAMPLES[name]
    with_orjson = json.loads(to_json(value, 65536))
    monkeypatch.setattr(_payload, "_orjson", None)
    without = json.loads(to_json(value, 65536))
    assert with_orjson == without


@pytest.mark.skipif(not HAS_ORJSON, reason="orjson not installed")
@pytest.mark.parametrize("index", range(len(PLAIN)))
def test_orjson_and_stdlib_agree_on_plain_data(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with_orjson = to_json(PLAIN[index], 65536)
    monkeypatch.setattr(_payload, "_orjson", None)
    without = to_json(PLAIN[index], 65536)
    assert json.loads(with_orjson) == json.loads(without) == PLAIN[index]


@pytest.mark.skipif(not HAS_ORJSON, reason="orjson not installed")
def test_orjson_and_stdlib_agree_on_special_values(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {
        "nan": math.nan,
        "big": 2**70,
        "neg_big": -(2**70),
        "dc": Point(1, math.inf),
        "when": dt.datetime(2024, 1, 1, 12, 30),
        "id": uuid.UUID(int=1),
        "color": Color.BLUE,
        "set": {"z", "y"},
        "dec": decimal.Decimal("3.14"),
        "path": pathlib.PurePosixPath("a/b"),
        "bytes": b"ab",
        "keys": {1: "one", None: "none", False: "false"},
    }
    with_orjson = to_json(value, 65536)
    monkeypatch.setattr(_payload, "_orjson", None)
    assert json.loads(with_orjson) == json.loads(to_json(value, 65536))


def test_plain_data_round_trips(backend: str) -> None:
    for value in PLAIN:
        assert dump(value) == value


# --- type by type ------------------------------------------------------------------------------


def test_dataclasses(backend: str) -> None:
    shape = Shape("tri", [Point(0, 0.5)], dt.datetime(2024, 5, 1, 12, 0, 1))
    assert dump(shape) == {
        "name": "tri",
        "points": [{"x": 0, "y": 0.5}],
        "created": "2024-05-01T12:00:01",
        "parent": None,
    }


def test_dataclass_cycle_and_missing_field(backend: str) -> None:
    shape = Shape("loop", [], dt.datetime(2024, 1, 1))
    shape.parent = shape
    assert dump(shape)["parent"] == "<circular ref: Shape>"
    assert dump(Lazy(1)) == {"ready": 1}  # an unassigned field is left out, as orjson does


def test_pydantic_v2_model(backend: str) -> None:
    pydantic = pytest.importorskip("pydantic", minversion="2")

    class Message(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        role: str
        content: str

    class Request(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        model: str
        messages: list[Message]
        when: dt.date
        score: float = math.nan

    req = Request(
        model="m", messages=[Message(role="user", content="hi")], when=dt.date(2024, 2, 3)
    )
    out = dump(req)
    assert out["model"] == "m"
    assert out["messages"] == [{"role": "user", "content": "hi"}]
    assert out["when"] == "2024-02-03"
    # NaN must not silently become null on one backend and a string on the other.
    assert out["score"] in ("NaN", None)
    assert json.loads(to_json(req, 65536)) == out


def test_pydantic_model_that_cannot_dump(backend: str) -> None:
    pydantic = pytest.importorskip("pydantic", minversion="2")

    class Node(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        child: Any = None

    node = Node(name="n")
    node.child = node  # pydantic refuses to dump a cycle
    out = dump(node)
    assert isinstance(out, str | dict)


def test_numpy_arrays_and_scalars(backend: str) -> None:
    np = pytest.importorskip("numpy")
    assert dump(np.arange(6).reshape(2, 3)) == [[0, 1, 2], [3, 4, 5]]
    assert dump(np.array([1.5, np.nan, np.inf])) == [1.5, "NaN", "Infinity"]
    assert dump(np.float32(1.5)) == 1.5
    assert dump(np.int64(7)) == 7
    assert dump(np.bool_(True)) is True
    assert dump({"v": np.float64(np.nan)}) == {"v": "NaN"}
    big = dump(np.zeros((500, 400), dtype=np.float32))
    assert big["__ndarray__"] == {"dtype": "float32", "shape": [500, 400]}
    assert big["head"] == [0.0] * 100


def test_numpy_is_not_imported_by_the_module() -> None:
    # Load the module file on its own (no llmtrace package, which pulls in pandas) and check
    # that serialising plain data leaves numpy unimported.
    path = pathlib.Path(_payload.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('p', {str(path)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(m.to_json({'a': [1, 2.5, None, {'b': 'c'}]}, 1000))\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
        "assert 'pandas' not in sys.modules and 'pydantic' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '{"a":[1,2.5,null,{"b":"c"}]}'


def test_pandas_frames(backend: str) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": range(100), "b": ["x"] * 100})
    out = dump(frame)
    assert out["__dataframe__"] == {"shape": [100, 2], "columns": ["a", "b"]}
    assert out["head"][:2] == [{"a": 0, "b": "x"}, {"a": 1, "b": "x"}]
    assert len(out["head"]) == 20
    series = dump(pd.Series([1.0, math.nan], name="s"))
    assert series == {
        "__series__": {"name": "s", "dtype": "float64", "length": 2},
        "head": [1.0, "NaN"],
    }


def test_bytes(backend: str) -> None:
    assert dump(b"hello") == {"__bytes__": 5, "base64": "aGVsbG8="}
    out = dump(bytes(range(256)) * 4)
    assert out["__bytes__"] == 1024
    assert len(out["base64"]) == 64  # base64 of the first 48 bytes
    assert dump(memoryview(b"abc")) == {"__bytes__": 3, "base64": "YWJj"}


def test_circular_references(backend: str) -> None:
    lst: list[object] = [1]
    lst.append(lst)
    assert dump(lst) == [1, "<circular ref: list>"]
    d: dict[str, object] = {"a": 1}
    d["me"] = {"again": d}
    assert dump(d) == {"a": 1, "me": {"again": "<circular ref: dict>"}}


def test_shared_references_are_not_cycles(backend: str) -> None:
    shared = {"x": 1}
    assert dump([shared, shared, Point(1, 2.0)]) == [{"x": 1}, {"x": 1}, {"x": 1, "y": 2.0}]
    assert dump([shared, shared, BadRepr()]) == [{"x": 1}, {"x": 1}, "<unrepresentable BadRepr>"]


def test_unrepresentable_objects(backend: str) -> None:
    assert dump(BadRepr()) == "<unrepresentable BadRepr>"
    assert dump({"k": BadRepr()}) == {"k": "<unrepresentable BadRepr>"}
    assert dump(BadGetattr()).startswith("<")  # the default repr, no exception
    assert isinstance(dump(BadGetattribute()), str)
    assert dump({BadStr(): 1}) == {"<unrepresentable BadStr>": 1}
    assert isinstance(dump(ExplodingMapping()), str)
    assert isinstance(dump(ExplodingClass()), str)


def test_nan_and_infinity(backend: str) -> None:
    assert dump([math.nan, math.inf, -math.inf, 1.0]) == ["NaN", "Infinity", "-Infinity", 1.0]
    assert dump({"loss": math.nan, "ok": None}) == {"loss": "NaN", "ok": None}
    assert dump({math.nan: 1}) == {"NaN": 1}


def test_huge_ints(backend: str) -> None:
    assert dump([2**64 - 1, -(2**63)]) == [2**64 - 1, -(2**63)]
    assert dump(2**64) == str(2**64)
    assert dump({"n": -(2**63) - 1}) == {"n": str(-(2**63) - 1)}
    assert dump(10**5000).startswith("<int with ~5001 digits")


def test_non_str_keys(backend: str) -> None:
    out = dump({1: "a", None: "b", 2.5: "c", (1, 2): "d", Color.RED: "e", dt.date(2020, 1, 2): "f"})
    assert out == {"1": "a", "null": "b", "2.5": "c", "(1, 2)": "d", "red": "e", "2020-01-02": "f"}
    assert dump({True: 1, False: 0}) == {"true": 1, "false": 0}


def test_generators_and_iterators_are_not_consumed(backend: str) -> None:
    g = gen()
    it = iter([1, 2, 3])
    assert dump({"g": g, "it": it}) == {"g": "<generator>", "it": "<iterator: list_iterator>"}
    assert next(g) == 1
    assert next(it) == 1


def test_sets_and_other_collections(backend: str) -> None:
    out = dump({"s": {"b", "a", "c"}, "f": frozenset({3, 1, 2}), "m": {1, "x"}})
    assert set(out["s"]) == {"a", "b", "c"}
    assert out["f"] == [1, 2, 3]  # all numbers: sorted, so stable across runs
    assert sorted(map(str, out["m"])) == ["1", "x"]
    assert dump(collections.deque([1, 2])) == [1, 2]
    assert dump(range(3)) == [0, 1, 2]
    assert dump({"a": 1}.items()) == [["a", 1]]
    assert dump(types.MappingProxyType({"a": 1})) == {"a": 1}


def test_well_known_scalars(backend: str) -> None:
    assert dump(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == (
        "2024-01-02T03:04:05+00:00"
    )
    assert dump(dt.date(2024, 1, 2)) == "2024-01-02"
    assert dump(dt.time(3, 4, 5, 6)) == "03:04:05.000006"
    assert dump(dt.time(3, 4, tzinfo=dt.timezone.utc)) == "03:04:00+00:00"
    assert dump(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert dump(decimal.Decimal("1.10")) == "1.10"
    assert dump([Color.RED, Color.BLUE, Level.LOW]) == ["red", 2, 1]
    assert dump(pathlib.PurePosixPath("/a/b")) == "/a/b"
    assert dump(ValueError("bad")) == {"__exception__": "ValueError", "message": "bad"}
    assert dump(collections.namedtuple("P", "a b")(1, 2)) == [1, 2]
    assert dump(1 + 2j) == "(1+2j)"


def test_lone_surrogates_are_replaced(backend: str) -> None:
    assert dump({"s": "a\ud800b"}) == {"s": "a\ufffdb"}


# --- limits and truncation ---------------------------------------------------------------------


def test_huge_string_is_cut_with_suffix(backend: str) -> None:
    out = dump({"text": "x" * 100_000, "n": 1}, 1000)
    assert out["n"] == 1
    kept, _, rest = out["text"].partition("...[truncated ")
    assert set(kept) == {"x"}
    assert rest == f"{100_000 - len(kept)} chars]"
    alone = dump("y" * 100_000, 1000)
    assert alone.startswith("y" * 900) and alone.endswith(" chars]")


def test_siblings_survive_a_huge_field(backend: str) -> None:
    out = dump({"prompt": "p" * 1_000_000, "model": "gpt", "temperature": 0.1}, 2000)
    assert out["model"] == "gpt"
    assert out["temperature"] == 0.1


def test_huge_list_gets_item_marker(backend: str) -> None:
    out = dump(list(range(50_000)), 65536)
    assert out[:MAX_ITEMS] == list(range(MAX_ITEMS))
    assert out[-1] == f"... {50_000 - MAX_ITEMS} more items"
    small_budget = dump(list(range(5000)), 200)
    assert small_budget[-1].startswith("... ") and small_budget[-1].endswith(" more items")


def test_plain_list_that_fits_is_not_cut(backend: str) -> None:
    # The verbatim tier returns everything that fits; item limits only bound big payloads.
    assert dump(list(range(3000)), 65536) == list(range(3000))


def test_huge_dict_gets_marker_entry(backend: str) -> None:
    out = dump({f"k{i}": i for i in range(20_000)}, 65536)
    assert len(out) == MAX_ITEMS + 1
    assert out["..."] == f"{20_000 - MAX_ITEMS} more items"


def test_deep_nesting(backend: str) -> None:
    deep: list[object] = []
    cur = deep
    for _ in range(1000):
        nxt: list[object] = []
        cur.append(nxt)
        cur = nxt
    out = dump(deep)
    depth = 0
    while isinstance(out, list) and out:
        out = out[0]
        depth += 1
    assert out == "<max depth: list>"
    assert depth == MAX_DEPTH


def test_depth_limit_applies_to_objects_that_need_conversion(backend: str) -> None:
    value: object = BadRepr()
    for _ in range(20):
        value = {"n": value}
    text = json.dumps(dump(value))
    assert "<max depth: dict>" in text


def test_whole_document_marker(backend: str) -> None:
    # Keys are never shortened below 256 characters, so no bounded conversion fits.
    value = {"k" * 300: "v"}
    text = to_json(value, 100)
    assert len(text.encode()) <= 100
    marker = json.loads(text)
    assert marker["__truncated__"] is True
    assert marker["original_bytes"] > 300
    assert marker["preview"].startswith('{"kkkk')


def test_bare_marker_below_min_bytes(backend: str) -> None:
    text = to_json({"a": "b" * 1000}, 10)
    marker = json.loads(text)
    assert marker["__truncated__"] is True and "preview" not in marker
    assert len(text.encode()) <= MIN_BYTES


def test_marker_preview_fits_despite_escaping(backend: str) -> None:
    for max_bytes in (70, 100, 150, 300):
        for payload in ('"' * 5000, "\\" * 5000, "é" * 5000, "\x01" * 5000, "日" * 5000):
            text = to_json([[[payload] * 3] * 3] * 3, max_bytes)
            assert len(text.encode()) <= max_bytes
            json.loads(text)


def test_multibyte_text_respects_byte_limit(backend: str) -> None:
    for max_bytes in (64, 100, 1000, 10_000):
        out = dump({"t": "日本語🎉" * 10_000}, max_bytes)
        assert isinstance(out, dict)


def test_huge_input_is_bounded_in_time(backend: str) -> None:
    # A gigabyte of nested lists must not be serialised in full before being cut.
    value = {"docs": [[["w" * 1000] * 100] * 100] * 100}
    start = time.perf_counter()
    dump(value, 65536)
    assert time.perf_counter() - start < 2.0


# --- robustness --------------------------------------------------------------------------------


def test_internal_error_gives_error_document(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(_payload, "_to_json", broken)
    assert json.loads(to_json(Point(1, 2.0), 1000)) == {"__error__": "could not serialize: Point"}


def test_bad_max_bytes_does_not_raise() -> None:
    assert json.loads(to_json({"a": 1}, -5))["__truncated__"] is True
    assert json.loads(to_json({"a": 1}, "junk"))  # type: ignore[arg-type]


def test_redact_runs_before_the_cut(backend: str) -> None:
    secret = "SECRET" + "9" * 40

    def redact(text: str) -> str:
        return text.replace(secret, "[MASKED]")

    assert to_json({"k": secret}, 1000, redact=redact) == '{"k":"[MASKED]"}'
    # The secret straddles the point where the string is cut: no part of it may survive.
    cut_value = {"text": "a" * 240 + secret + "b" * 10_000}
    out = to_json(cut_value, 1000, redact=redact)
    assert "SECRET" not in out and "9999" not in out
    assert len(out.encode()) <= 1000
