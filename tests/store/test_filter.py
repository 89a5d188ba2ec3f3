"""Tests of the trace filter language (`llmtrace.store._filter`) on SQLite, PostgreSQL, MariaDB.

Each backend gets one module-scoped database filled once with six traces; every filter is then
checked by the set of trace ids it selects. Parse errors need no database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from llmtrace.exceptions import FilterSyntaxError, InvalidQueryError
from llmtrace.store._filter import (
    MAX_FILTER_LENGTH,
    MAX_NESTING_DEPTH,
    ORDER_BY_KEYS,
    compile_filter,
    parse_order_by,
)
from llmtrace.store.models import Base, SpanRow, TraceMetadataRow, TraceRow, TraceTagRow

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T0_MS = 1_767_225_600_000  # T0 in epoch milliseconds
DAY = timedelta(days=1)
ALL = {"t1", "t2", "t3", "t4", "t5", "t6"}

# --- fixture data ---------------------------------------------------------------------------


def _trace(trace_id: str, start: datetime, duration_ms: float, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "trace_id": trace_id,
        "start_time": start,
        "end_time": start + timedelta(milliseconds=duration_ms),
        "duration_ms": duration_ms,
        "session_id": None,
        "user_id": None,
        "run_id": None,
        "cost": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "span_count": 0,
        "error_count": 0,
    }
    row.update(fields)
    row["total_tokens"] = row["input_tokens"] + row["output_tokens"]
    return row


# Float values are exact in single precision: sa.Float is a 4-byte FLOAT on MySQL/MariaDB.
TRACES = [
    _trace("t1", T0, 1500.0, name="chat", status="OK", project="alpha", session_id="s1",
           user_id="u1", run_id="r1", input_tokens=100, output_tokens=50, cost=0.25,
           span_count=2),
    _trace("t2", T0 + DAY, 250.5, name="chat", status="ERROR", project="alpha",
           session_id="s1", user_id="u2", input_tokens=10, output_tokens=5, span_count=1,
           error_count=1),
    _trace("t3", T0 + 2.5 * DAY, 5000.0, name="summarize_doc", status="UNSET", project="beta",
           run_id="r1", cost=0.0, span_count=2),
    _trace("t4", T0 - timedelta(milliseconds=500), 0.5, name='it\'s "quoted"', status="OK",
           project="beta", session_id="s2", user_id="u1", input_tokens=600_000,
           output_tokens=400_000, cost=12.5, span_count=1),
    _trace("t5", T0 + 3 * DAY, 42.0, name="100%_done", status="OK", project="gamma",
           user_id="u3", input_tokens=4, output_tokens=3, span_count=1),
    _trace("t6", T0 + 4 * DAY, 99.5, name="back\\slash", status="ERROR", project="gamma",
           session_id="s3", run_id="r2", cost=3.0, error_count=2),
]  # fmt: skip


def _span(trace_id: str, span_id: str, name: str, span_type: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": name,
        "span_type": span_type,
        "status": "OK",
        "start_time": T0,
        "end_time": T0,
        "duration_ms": 1.0,
        "model": None,
        "input_tokens": None,
        "output_tokens": None,
        "cost": None,
        "inputs": None,
        "outputs": None,
    }
    row.update(fields)
    return row


SPANS = [
    _span("t1", "a1", "chat", "LLM", model="gpt-4o", duration_ms=1000.0, cost=0.25,
          inputs='{"q": "I want a Refund"}', outputs='{"a": "Sure"}'),
    _span("t1", "a2", "retrieve", "RETRIEVER", duration_ms=200.0,
          inputs='{"query": "refund policy"}'),
    _span("t2", "b1", "chat", "LLM", model="claude-3", status="ERROR", duration_ms=250.0,
          input_tokens=10, inputs="100% sure"),
    _span("t3", "c1", "summarize_doc", "CHAIN", status="UNSET", duration_ms=4000.0,
          inputs='{"doc": "a_b"}', outputs='{"summary": "short"}'),
    _span("t3", "c2", "search", "TOOL", duration_ms=900.0, outputs="no results"),
    _span("t4", "d1", "chat", "LLM", model="gpt-4o-mini", duration_ms=0.5, cost=12.5,
          inputs="1000 items axb", outputs="done"),
    _span("t5", "e1", "step", "UNKNOWN", duration_ms=40.0, inputs="C:\\dir"),
]  # fmt: skip

TAGS = [
    ("t1", "env", "prod"),
    ("t1", "team", "search"),
    ("t1", "my.key", "dotted value"),
    ("t2", "env", "dev"),
    ("t3", "env", "prod"),
    ("t3", "it's", 'say "hi"'),
    ("t5", "env", "staging"),
    ("t5", "user id", "42"),
]
METADATA = [
    ("t1", "version", "1.2"),
    ("t1", "region", "eu"),
    ("t4", "region", "us"),
    ("t6", "version", "2"),
    ("t6", "flag", "true"),
]
TABLES = {"traces": 6, "spans": 7, "trace_tags": 8, "trace_metadata": 5}


def _fill(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    kv = ("trace_id", "key", "value")
    with engine.begin() as conn:
        conn.execute(sa.insert(TraceRow), TRACES)
        conn.execute(sa.insert(SpanRow), SPANS)
        conn.execute(sa.insert(TraceTagRow), [dict(zip(kv, t, strict=True)) for t in TAGS])
        conn.execute(sa.insert(TraceMetadataRow), [dict(zip(kv, m, strict=True)) for m in METADATA])


# --- backends -------------------------------------------------------------------------------

# Same variables and defaults as tests/conftest.py; an empty value leaves the backend out.
_SERVERS = {
    "postgresql": os.environ.get(
        "LLMTRACE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("LLMTRACE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def _server_database(backend: str) -> Iterator[sa.Engine]:
    """A throwaway database on the server, filled once, dropped afterwards."""
    raw = _SERVERS[backend]
    if not raw:
        pytest.skip(f"{backend} left out (empty URL variable)")
    server = sa.make_url(raw)
    if backend == "mysql":
        server = server.update_query_dict({"charset": "utf8mb4"})
    admin = sa.create_engine(
        server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"llmtrace_filter_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            suffix = "" if backend == "postgresql" else " CHARACTER SET utf8mb4"
            conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
    except (sa.exc.DBAPIError, ImportError) as exc:
        admin.dispose()
        pytest.skip(f"{backend} unavailable: {type(exc).__name__}: {exc}")
    engine = sa.create_engine(server.set(database=name))
    try:
        _fill(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def db(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """An engine on a database holding the fixture data, shared by the module."""
    if request.param == "sqlite":
        engine = sa.create_engine("sqlite://")
        _fill(engine)
        yield engine
        engine.dispose()
    else:
        yield from _server_database(request.param)


def ids(engine: sa.Engine, text: str) -> set[str]:
    where = compile_filter(text)
    assert where is not None
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(TraceRow.trace_id).where(where)))


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in TABLES
        }


# --- filters selecting traces ---------------------------------------------------------------

CASES: list[tuple[str, set[str]]] = [
    # string columns, every comparison operator
    ("name = 'chat'", {"t1", "t2"}),
    ("name == 'chat'", {"t1", "t2"}),
    ("name != 'chat'", ALL - {"t1", "t2"}),
    ("name <> 'chat'", ALL - {"t1", "t2"}),
    ("name < 'b'", {"t5"}),
    ("name >= 'summarize_doc'", {"t3"}),
    ("name > 'it' and name <= 'j'", {"t4"}),
    ("name in ('chat', 'summarize_doc')", {"t1", "t2", "t3"}),
    ("name not in ('chat', 'summarize_doc')", {"t4", "t5", "t6"}),
    ("name like 'sum%'", {"t3"}),
    ("name not like 'c%'", ALL - {"t1", "t2"}),
    ("name ilike 'CHAT'", {"t1", "t2"}),
    ("name ilike 'Sum%DOC'", {"t3"}),
    ("name not ilike 'CH%'", ALL - {"t1", "t2"}),
    ("name is not null", ALL),
    ("name is null", set()),
    ("trace_id in ('t1', \"t3\")", {"t1", "t3"}),
    ("trace_id >= 't5'", {"t5", "t6"}),
    ("project = 'beta'", {"t3", "t4"}),
    ("session_id = 's1'", {"t1", "t2"}),
    ("session_id != 's1'", {"t4", "t6"}),  # SQL semantics: NULL never compares
    ("session_id is null", {"t3", "t5"}),
    ("session_id is not null", {"t1", "t2", "t4", "t6"}),
    ("user_id = 'u1'", {"t1", "t4"}),
    ("run_id = 'r1'", {"t1", "t3"}),
    ("run_id not in ('r1')", {"t6"}),
    # status is compared upper-cased
    ("status = 'error'", {"t2", "t6"}),
    ("status = 'ERROR'", {"t2", "t6"}),
    ("status != 'ok'", {"t2", "t3", "t6"}),
    ("status in ('ok', 'Unset')", {"t1", "t3", "t4", "t5"}),
    ("status like 'e%'", {"t2", "t6"}),
    # strings: quotes, escapes, like escapes
    ('name = "it\'s \\"quoted\\""', {"t4"}),
    ("name = 'it\\'s \"quoted\"'", {"t4"}),
    ("name = 'back\\\\slash'", {"t6"}),
    ("name like 'back\\\\\\\\%'", {"t6"}),  # the pattern back\\% matches a literal backslash
    ("name like '100%'", {"t5"}),
    ("name like '100\\\\%%'", {"t5"}),  # 100\%% : literal % then anything
    ("name like '100\\\\_%'", set()),  # literal _ right after 100: no
    ("name like '100_\\\\_done'", {"t5"}),  # _ matches the %, then a literal _
    ("name = '100%_done'", {"t5"}),  # = treats % and _ literally
    ("name = '100%'", set()),
    # numbers
    ("latency_ms > 1000", {"t1", "t3"}),
    ("duration_ms <= 42", {"t4", "t5"}),
    ("latency_ms = 250.5", {"t2"}),
    ("latency_ms >= 0.5 and latency_ms < 1", {"t4"}),
    ("latency_ms in (42, 99.5)", {"t5", "t6"}),
    ("latency_ms > -1", ALL),
    ("latency_ms < -0.5", set()),
    ("tokens > 100", {"t1", "t4"}),
    ("total_tokens = 0", {"t3", "t6"}),
    ("tokens in (7, 15)", {"t2", "t5"}),
    ("tokens not in (0)", {"t1", "t2", "t4", "t5"}),
    ("tokens = 1000000", {"t4"}),
    ("input_tokens >= 100", {"t1", "t4"}),
    ("output_tokens < 5", {"t3", "t5", "t6"}),
    ("span_count = 2", {"t1", "t3"}),
    ("error_count > 0", {"t2", "t6"}),
    ("error_count != 0", {"t2", "t6"}),
    ("cost > 1", {"t4", "t6"}),
    ("cost = 0", {"t3"}),
    ("cost < 0.5", {"t1", "t3"}),
    ("cost >= 3", {"t4", "t6"}),
    ("cost = 1.25e1", {"t4"}),
    ("cost is null", {"t2", "t5"}),
    ("cost is not null", {"t1", "t3", "t4", "t6"}),
    # times: ISO-8601 (naive = UTC, Z, offsets, fractions) and epoch milliseconds
    ("start_time >= '2026-01-02'", {"t2", "t3", "t5", "t6"}),
    ("start_time < '2026-01-01T00:00:00Z'", {"t4"}),
    ("start_time = '2026-01-01 00:00:00'", {"t1"}),
    ("start_time = '2026-01-01T01:00:00+01:00'", {"t1"}),
    ("start_time = '2025-12-31T23:59:59.5Z'", {"t4"}),
    ("start_time = '2025-12-31T18:59:59.500000-0500'", {"t4"}),
    ("start_time > '2026-01-03T11:59:59.999999Z' and start_time < '2026-01-04'", {"t3"}),
    (f"start_time = {T0_MS}", {"t1"}),
    (f"start_time >= {T0_MS - 500} and start_time < {T0_MS}", {"t4"}),
    (f"start_time in ('2026-01-01', {T0_MS + 86_400_000})", {"t1", "t2"}),
    ("end_time > '2026-01-03T12:00:04Z'", {"t3", "t5", "t6"}),
    (f"end_time <= {T0_MS + 1500}", {"t1", "t4"}),
    (f"end_time = {T0_MS + 1500}.0", {"t1"}),
    # tags
    ("tag.env = 'prod'", {"t1", "t3"}),
    ("TAG.env = 'prod'", {"t1", "t3"}),
    ("tag.env != 'prod'", {"t2", "t5"}),  # has the tag, with another value
    ("tag.env in ('dev', 'staging')", {"t2", "t5"}),
    ("tag.env not in ('dev')", {"t1", "t3", "t5"}),
    ("tag.env like 'pr%'", {"t1", "t3"}),
    ("tag.env > 'p'", {"t1", "t3", "t5"}),
    ("tag.env is null", {"t4", "t6"}),
    ("tag.env is not null", {"t1", "t2", "t3", "t5"}),
    ("not tag.env = 'prod'", {"t2", "t4", "t5", "t6"}),
    ("tag.`my.key` = 'dotted value'", {"t1"}),
    ("tag.`my.key` is not null", {"t1"}),
    ("tag.`it's` = 'say \"hi\"'", {"t3"}),
    ('tag.`it\\\'s` = "say \\"hi\\""', {"t3"}),
    ("tag.`user id` = 42", {"t5"}),  # numbers compare with their text
    ("tag.`user id` = '42'", {"t5"}),
    ("tag.team = 'search' and tag.env = 'prod'", {"t1"}),
    ("tag.missing is null", ALL),
    # metadata
    ("metadata.version = '1.2'", {"t1"}),
    ("metadata.version = 1.2", {"t1"}),
    ("metadata.version = 2", {"t6"}),
    ("metadata.flag = true", {"t6"}),
    ("metadata.flag != false", {"t6"}),
    ("metadata.region in ('eu', 'us')", {"t1", "t4"}),
    ("metadata.region like '_u'", {"t1"}),
    ("metadata.region is null", {"t2", "t3", "t5", "t6"}),
    # spans: "some span of the trace matches"
    ("span.name = 'retrieve'", {"t1"}),
    ("span.name in ('search', 'step')", {"t3", "t5"}),
    ("span.type = 'llm'", {"t1", "t2", "t4"}),
    ("span.span_type = 'TOOL'", {"t3"}),
    ("span.type != 'LLM'", {"t1", "t3", "t5"}),
    ("not span.type = 'llm'", {"t3", "t5", "t6"}),
    ("span.model = 'gpt-4o'", {"t1"}),
    ("span.model like 'gpt-4o%'", {"t1", "t4"}),
    ("span.model is null", {"t1", "t3", "t5"}),
    ("span.status = 'error'", {"t2"}),
    ("span.status in ('unset')", {"t3"}),
    ("span.latency_ms >= 1000", {"t1", "t3"}),
    ("span.duration_ms < 1", {"t4"}),
    ("span.input_tokens = 10", {"t2"}),
    ("span.cost > 0", {"t1", "t4"}),
    ("span.name = 'chat' and span.type = 'retriever'", {"t1"}),  # may be different spans
    # full text over span inputs and outputs, case-insensitive
    ("text = 'refund'", {"t1"}),
    ("text = 'REFUND'", {"t1"}),
    ("text = 'sure'", {"t1", "t2"}),
    ("text = '100%'", {"t2"}),  # % is literal: "1000 items" does not match
    ("text = '%'", {"t2"}),
    ("text = 'a_b'", {"t3"}),  # _ is literal: "axb" does not match
    ("text = '_'", {"t3"}),
    ("text = 'C:\\\\dir'", {"t5"}),
    ("text like '%a_b%'", {"t3", "t4"}),  # like uses the pattern as given
    ("text ilike '%re_und%'", {"t1"}),
    ("text like 'no results'", {"t3"}),
    ("text != 'refund'", ALL - {"t1"}),
    ("text not like '%sure%'", {"t3", "t4", "t5", "t6"}),
    ("text not ilike '%'", {"t6"}),
    # precedence and grouping: not > and > or
    ("name = 'chat' or name = 'summarize_doc' and status = 'OK'", {"t1", "t2"}),
    ("(name = 'chat' or name = 'summarize_doc') and status = 'UNSET'", {"t3"}),
    ("name = 'summarize_doc' and status = 'UNSET' or project = 'gamma'", {"t3", "t5", "t6"}),
    ("name = 'summarize_doc' and (status = 'OK' or project = 'beta')", {"t3"}),
    ("not name = 'chat' and status = 'OK'", {"t4", "t5"}),
    ("not (name = 'chat' and status = 'OK')", ALL - {"t1"}),
    ("not not name = 'chat'", {"t1", "t2"}),
    ("not (not (name = 'chat'))", {"t1", "t2"}),
    ("NAME = 'chat' AND Status = 'ok' Or PROJECT = 'gamma'", {"t1", "t5", "t6"}),
    ("((((name = 'chat'))))", {"t1", "t2"}),
    ("status='OK'and(tokens>100 or cost is null)", {"t1", "t4", "t5"}),
    ("  name\t=\n'chat'  ", {"t1", "t2"}),
    ("(" * MAX_NESTING_DEPTH + "name = 'chat'" + ")" * MAX_NESTING_DEPTH, {"t1", "t2"}),
    ("not " * MAX_NESTING_DEPTH + "name = 'chat'", {"t1", "t2"}),  # an even count
    (" or ".join(["name = 'chat'"] * 500) + " or trace_id = 't6'", {"t1", "t2", "t6"}),
]


@pytest.mark.backends
@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_filter_selects(db: sa.Engine, text: str, expected: set[str]) -> None:
    assert ids(db, text) == expected


@pytest.mark.backends
def test_filter_works_in_core_count_and_orm_select(db: sa.Engine) -> None:
    where = compile_filter("tag.env = 'prod' and span.type = 'llm'")
    assert where is not None
    traces = TraceRow.__table__
    with db.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(traces).where(where))
        assert count.scalar_one() == 1
    with Session(db) as session:
        rows = session.scalars(sa.select(TraceRow).where(where)).all()
        assert [r.trace_id for r in rows] == ["t1"]


def test_blank_filter_is_none() -> None:
    assert compile_filter(None) is None
    assert compile_filter("") is None
    assert compile_filter(" \t\n ") is None


def test_values_are_bound_parameters() -> None:
    where = compile_filter("name = 'DROP TABLE traces' or tag.`k'; --` = 'v'")
    assert where is not None
    sql = str(sa.select(TraceRow.trace_id).where(where))
    assert "DROP" not in sql and "--" not in sql
    params = sa.select(TraceRow.trace_id).where(where).compile().params
    assert set(params.values()) == {"DROP TABLE traces", "k'; --", "v"}


def test_times_bind_as_aware_utc() -> None:
    where = compile_filter("start_time = '2026-01-02T03:04:05.25+02:00'")
    assert where is not None
    (value,) = sa.select(TraceRow.trace_id).where(where).compile().params.values()
    assert value == datetime(2026, 1, 2, 1, 4, 5, 250_000, tzinfo=timezone.utc)
    assert value.utcoffset() == timedelta(0)


# --- errors ---------------------------------------------------------------------------------

# (filter, position, part of the message)
INJECTION_ERRORS: list[tuple[str, int, str]] = [
    ("name = 'x'; DROP TABLE spans; --", 10, "unexpected token ';'"),
    ("name = 'x';", 10, "unexpected token ';'"),
    ("name = 'x' -- comment", 11, "unexpected token '-'"),
    ("name = 'x' /* c */", 11, "unexpected token '/'"),
    ("name = 'x' # c", 11, "unexpected token '#'"),
    ("name = 'x' OR 1=1", 14, "expected a field name"),
    ("name = 'x' union select * from traces", 11, "unexpected token 'union'"),
    ("name = 'x'); DROP TABLE traces; --", 10, "unexpected token ')'"),
    ("name = 'x\\' OR 1=1 --", 7, "unterminated string"),
    ("name = `x`", 7, "unexpected token '`'"),
    ("name = CHAR(65)", 7, "quote text values"),
    ("name = 0x41", 7, "invalid number"),
    ("name = 'x'\x00", 10, "unexpected token '\\x00'"),
    ("name like 'a' escape '!'", 14, "unexpected token 'escape'"),
    ("tag.`a` = 'x' and 1 = 1", 18, "expected a field name"),
    ("1 ; DROP TABLE traces", 0, "expected a field name"),
    ("; DELETE FROM traces", 0, "unexpected token ';'"),
]
ERRORS: list[tuple[str, int, str]] = [
    *INJECTION_ERRORS,
    # tokens
    ("name = 'abc", 7, "unterminated string"),
    ('name = "abc', 7, "unterminated string"),
    ("name = 'a\\qb'", 9, "invalid escape '\\q'"),
    ("name = 'abc\\", 7, "unterminated string"),
    ("name ! 'x'", 5, "unexpected token '!'"),
    ("latency_ms > 5ms", 13, "invalid number"),
    ("latency_ms > 1.", 13, "invalid number"),
    ("tokens = 99999999999999999999", 9, "out of range"),
    ("tokens = 9223372036854775808", 9, "out of range"),
    ("latency_ms > 1e999", 13, "out of range"),
    ("tag.`abc = 'x'", 4, "unterminated backquoted key"),
    ("tag. = 'x'", 4, "expected a key after '.'"),
    # grammar
    ("and", 0, "expected a field name"),
    ("()", 1, "expected a field name"),
    ("name", 4, "expected an operator"),
    ("name 'x'", 5, "expected an operator"),
    ("name =", 6, "unexpected end of filter"),
    ("name = ", 7, "unexpected end of filter"),
    ("name = x", 7, "quote text values"),
    ("name = null", 7, "is null"),
    ("name = 'a' and", 14, "expected a field name"),
    ("name = 'a' or or name = 'b'", 14, "expected a field name"),
    ("(name = 'a'", 11, "')' to close '(' at position 0"),
    ("name = 'a')", 10, "unexpected token ')'"),
    ("name = 'a' name = 'b'", 11, "expected 'and', 'or' or end of filter"),
    ("name in ()", 9, "expected a value"),
    ("name in 'a'", 8, "'(' to start the list"),
    ("name in ('a' 'b')", 13, "expected ',' or ')'"),
    ("name in ('a',)", 13, "expected a value"),
    ("name not = 'a'", 9, "'like', 'ilike' or 'in' after 'not'"),
    ("name is 'a'", 8, "'null' or 'not null'"),
    ("name is not 'a'", 12, "expected 'null'"),
    ("not", 3, "expected a field name"),
    # fields
    ("foo = 1", 0, "unknown field 'foo' (known: cost, duration_ms"),
    ("name = 'a' and span.foo = 'x'", 15, "unknown field 'span.foo'"),
    ("traces.name = 'x'", 0, "unknown field 'traces.name'"),
    ("span.name.x = 'x'", 0, "unknown field"),
    ("tag = 'a'", 3, "expected '.' and a name after 'tag'"),
    ("span = 'a'", 4, "expected '.' and a name after 'span'"),
    ("tag.a.b = 'x'", 0, "must be backquoted: tag.`a.b`"),
    ("metadata.`` = 'x'", 0, "empty metadata key"),
    # types
    ("latency_ms = 'slow'", 13, "expected a number for latency_ms"),
    ("latency_ms = true", 13, "expected a number for latency_ms"),
    ("latency_ms in (1, '2')", 18, "expected a number for latency_ms"),
    ("tokens = 1.5", 9, "expected an integer for tokens"),
    ("span_count = '2'", 13, "expected an integer for span_count"),
    ("name = 5", 7, "expected a string for name"),
    ("name in ('a', false)", 14, "expected a string for name"),
    ("span.model = 4", 13, "expected a string for span.model"),
    ("latency_ms like '5%'", 11, "'like' needs a text field"),
    ("start_time not like '2026%'", 11, "'not like' needs a text field"),
    ("status = 'bogus'", 9, "unknown status 'bogus' (known: UNSET, OK, ERROR)"),
    ("status in ('ok', 'nope')", 17, "unknown status 'nope'"),
    ("span.status = 'failed'", 14, "unknown span.status"),
    ("metadata.version > 1", 19, "expected a string for metadata.version"),
    ("tag.x like 5", 11, "expected a string for tag.x"),
    ("start_time > 'yesterday'", 13, "invalid time 'yesterday' for start_time"),
    ("start_time > '2026-02-30'", 13, "invalid time '2026-02-30' for start_time"),
    ("start_time > '2026-01-01T25:00'", 13, "invalid time"),
    ("end_time < true", 11, "expected an ISO-8601 time or epoch milliseconds for end_time"),
    ("start_time > 999999999999999999", 13, "out of range"),
    ("text > 'a'", 5, "text supports"),
    ("text is null", 5, "text supports"),
    ("text in ('a')", 5, "text supports"),
    ("text = 5", 7, "expected a string for text"),
    # limits
    ("(" * (MAX_NESTING_DEPTH + 1) + "name = 'a'" + ")" * 51, 50, "nested too deeply"),
    ("not " * 60 + "name = 'a'", 200, "nested too deeply"),
    ("(" * 5000 + "name = 'a'" + ")" * 4000, 50, "nested too deeply"),
    ("name = 'a' or " * 800 + "name = 'b'", MAX_FILTER_LENGTH, "filter is too long"),
]


@pytest.mark.parametrize(
    ("text", "position", "message"), ERRORS, ids=[repr(e[0][:50]) for e in ERRORS]
)
def test_filter_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(text)
    error = info.value
    assert message in str(error)
    assert error.position == position
    assert error.filter == text
    assert isinstance(error, InvalidQueryError)


# Hostile text that is valid: it must be bound as data and match nothing.
HARMLESS = [
    "name = 'x\\' OR \\'1\\'=\\'1'",
    'name = "\'; DROP TABLE traces; --"',
    'name = "\\"; DROP TABLE spans; --"',
    "tag.`k'; DROP TABLE trace_tags; --` = 'v'",
    "metadata.k = ';--'",
    'text = "\'); DROP TABLE spans; --"',
    "user_id = '\\\\'",
    "span.model like '%\\' OR 1=1 --'",
]


@pytest.mark.backends
def test_injection_attempts_change_nothing(db: sa.Engine) -> None:
    before = row_counts(db)
    assert before == TABLES
    for text, _, _ in INJECTION_ERRORS:
        with pytest.raises(FilterSyntaxError):
            compile_filter(text)
    for text in HARMLESS:
        assert ids(db, text) == set(), text
    assert set(TABLES) <= set(sa.inspect(db).get_table_names())
    assert row_counts(db) == before


# --- order by -------------------------------------------------------------------------------


def _order(keys: Any) -> list[tuple[str, bool]]:
    return [(str(expr), desc) for expr, desc in parse_order_by(keys)]


def test_order_by_default_is_newest_first() -> None:
    assert _order(None) == [("traces.start_time", True)]
    assert _order([]) == [("traces.start_time", True)]
    assert _order(" ") == [("traces.start_time", True)]


def test_order_by_keys_and_directions() -> None:
    assert _order("latency_ms desc, name") == [
        ("traces.duration_ms", True),
        ("traces.name", False),
    ]
    assert _order(["duration_ms ASC", "total_tokens DESC", "trace_id"]) == [
        ("traces.duration_ms", False),
        ("traces.total_tokens", True),
        ("traces.trace_id", False),
    ]
    assert _order("cost desc") == [("coalesce(traces.cost, -1.0)", True)]
    for key in ORDER_BY_KEYS:
        assert len(parse_order_by(f"{key} desc")) == 1


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("foo", "invalid order_by key 'foo' (allowed: cost, duration_ms, end_time"),
        ("name sideways", "invalid order_by key 'name sideways'"),
        ("name asc extra", "invalid order_by key 'name asc extra'"),
        (["start_time", "bogus desc"], "invalid order_by key 'bogus desc'"),
        ("name, name desc", "order_by repeats 'name'"),
        ("latency_ms, duration_ms", "order_by repeats 'latency_ms'"),
    ],
)
def test_order_by_errors(keys: str | list[str], message: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        parse_order_by(keys)
    assert not isinstance(info.value, FilterSyntaxError)
    assert message in str(info.value)


@pytest.mark.backends
@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (None, ["t6", "t5", "t3", "t2", "t1", "t4"]),
        ("cost desc", ["t4", "t6", "t1", "t3", "t2", "t5"]),  # unknown cost last
        ("cost", ["t2", "t5", "t3", "t1", "t6", "t4"]),
        ("name, latency_ms desc", ["t5", "t6", "t1", "t2", "t4", "t3"]),
        ("span_count desc, tokens", ["t3", "t1", "t5", "t2", "t4", "t6"]),
    ],
)
def test_order_by_sorts(db: sa.Engine, keys: str | None, expected: list[str]) -> None:
    order = [*parse_order_by(keys), (TraceRow.__table__.c.trace_id, False)]
    # As a keyset paginator does: the keys are selected (labelled) and ordered on.
    labels = [expr.label(f"k{i}") for i, (expr, _) in enumerate(order)]
    query = sa.select(*labels).order_by(*[e.desc() if d else e.asc() for e, d in order])
    with db.connect() as conn:
        rows = conn.execute(query).all()
    assert [row[-1] for row in rows] == expected


@pytest.mark.parametrize("text", ["it's", "back\\slash", "\\'", "plain", "%_"])
def test_filter_literal_matches_the_text_exactly(text: str) -> None:
    from llmtrace.store import filter_literal
    from llmtrace.store._filter_syntax import Comparison, Parser, Token

    class _Any(Parser):
        def resolve_field(self, tok: Token) -> Any:
            from llmtrace.store._filter_syntax import Field

            return Field("x", "x", tok.pos)

    node = _Any(f"x = {filter_literal(text)}").parse()
    assert isinstance(node, Comparison)
    assert node.values[0].value == text
