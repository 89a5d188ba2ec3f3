"""The prompt registry over HTTP: `RestStore` through a live server and `SqlStore` on the same
database (SQLite, PostgreSQL, MariaDB) give equal results and the same exceptions with the same
messages; the routes answer 201/204/400/404/409 in the stable error shape."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from llmtrace.exceptions import (
    AlreadyExistsError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
)
from llmtrace.store import RestStore, SqlStore
from llmtrace.store._base_prompts import PromptStore
from tests.server._tracking_helpers import plain, same
from tests.server.conftest import LiveServer

Op = Callable[[Any], Any]
CHAT = [
    {"role": "system", "content": 'Answer in {{ lang }} as JSON {"a": 1}'},
    {"role": "user", "content": "{{ q }} ✓", "name": "u"},
]


@dataclass
class Pair:
    rest: RestStore
    sql: SqlStore

    def check(self, op: Op) -> Any:
        """The same result both ways; returns the REST one."""
        rest, sql = op(self.rest), op(self.sql)
        assert same(rest, sql), (plain(rest), plain(sql))
        return rest

    def refuses(self, op: Op, error: type[Exception]) -> str:
        """Both raise `error` with the same message; returns it."""
        with pytest.raises(error) as rest_exc:
            op(self.rest)
        with pytest.raises(error) as sql_exc:
            op(self.sql)
        assert type(rest_exc.value) is type(sql_exc.value)
        assert str(rest_exc.value) == str(sql_exc.value)
        return str(rest_exc.value)


@pytest.fixture
def pair(server: LiveServer) -> Iterator[Pair]:
    rest = RestStore(server.url)
    yield Pair(rest, server.store)
    rest.close()


def test_the_registry_reads_the_same_both_ways(pair: Pair) -> None:
    rest = pair.rest
    created = rest.create_prompt("qa", description="answers", tags={"team": "search", "n": 2})
    assert same(created, pair.sql.get_prompt("qa"))
    v1 = rest.create_prompt_version("qa", "Q: {{ q }} {literal}", commit_message="first")
    v2 = rest.create_prompt_version(
        "qa", CHAT, tags={"k": "v"}, config={"temperature": 0.5, "stop": ["\n"]}, created_by="ada"
    )
    assert (v1.version, v2.version, v2.template_type) == (1, 2, "chat")
    assert same(v2, pair.sql.get_prompt_version("qa", 2))
    rest.create_prompt_version("other.prompt-1", "x")  # created on first version
    rest.set_prompt_alias("qa", "production", 1)
    rest.set_prompt_alias("qa", "_beta-2", 2)
    pair.check(lambda s: s.get_prompt("qa"))
    pair.check(lambda s: s.get_prompt_version("qa", 1))
    assert pair.check(lambda s: s.get_prompt_version_by_alias("qa", "production")).version == 1
    assert pair.check(lambda s: s.get_prompt_version_by_alias("qa", "latest")).version == 2
    pair.check(lambda s: s.list_prompt_versions("qa"))
    first = pair.check(lambda s: s.list_prompt_versions("qa", limit=1))
    pair.check(lambda s: s.list_prompt_versions("qa", limit=1, page_token=first.next_page_token))
    pair.check(lambda s: s.search_prompts())
    pair.check(lambda s: s.search_prompts("tags.team = 'search' or name like 'other%'"))
    page = pair.check(lambda s: s.search_prompts(limit=1))
    pair.check(lambda s: s.search_prompts(limit=1, page_token=page.next_page_token))
    updated = rest.update_prompt("qa", description="new", tags={"team": ""})
    assert same(updated, pair.sql.get_prompt("qa")) and updated.tags == {"n": "2"}
    rest.delete_prompt_alias("qa", "_beta-2")
    rest.delete_prompt_version("qa", 1)
    assert pair.check(lambda s: s.get_prompt("qa")).aliases == {}
    rest.delete_prompt("other.prompt-1")
    assert [p.name for p in pair.check(lambda s: s.search_prompts())] == ["qa"]


def test_the_registry_refuses_the_same_way(pair: Pair) -> None:
    pair.rest.create_prompt_version("p", "{{ x }}")
    assert "already exists" in pair.refuses(lambda s: s.create_prompt("p"), AlreadyExistsError)
    for op in (
        lambda s: s.get_prompt("nope"),
        lambda s: s.get_prompt_version("p", 5),
        lambda s: s.get_prompt_version_by_alias("p", "prod"),
        lambda s: s.get_prompt_version_by_alias("nope", "latest"),
        lambda s: s.set_prompt_alias("p", "prod", 7),
        lambda s: s.delete_prompt_alias("p", "prod"),
        lambda s: s.delete_prompt_version("p", 9),
        lambda s: s.list_prompt_versions("nope"),
        lambda s: s.update_prompt("nope", description="x"),
        lambda s: s.delete_prompt("nope"),
    ):
        pair.refuses(op, NotFoundError)
    for op in (
        lambda s: s.create_prompt("a/b"),
        lambda s: s.create_prompt("..", description="x"),
        lambda s: s.create_prompt("x", description="nul\x00"),
        lambda s: s.create_prompt_version("p", {"role": "user"}),
        lambda s: s.create_prompt_version("p", [{"role": "user", "content": 3}]),
        lambda s: s.create_prompt_version("p", "x", template_type="chat"),
        lambda s: s.create_prompt_version("p", "x", config={"nan": float("nan")}),
        lambda s: s.set_prompt_alias("p", "latest", 1),
        lambda s: s.set_prompt_alias("p", "9lives", 1),
        lambda s: s.get_prompt_version("p", 0),
        lambda s: s.search_prompts(limit=0),
    ):
        pair.refuses(op, InvalidParameterError)
    pair.refuses(lambda s: s.search_prompts("name ="), FilterSyntaxError)
    pair.refuses(lambda s: s.search_prompts(page_token="bogus"), InvalidQueryError)
    with pytest.raises(FilterSyntaxError) as err:
        pair.rest.search_prompts("tags.x = 1 and oops")
    assert err.value.position == 15


def test_routes_answer_with_statuses_and_the_error_shape(sqlite_server: LiveServer) -> None:
    base = sqlite_server.url + "/api/v1/prompts"
    with httpx.Client(timeout=10) as http:
        created = http.post(base, json={"name": "h", "tags": {"a": 1}})
        assert created.status_code == 201 and created.json()["tags"] == {"a": "1"}
        assert http.post(base, json={"name": "h"}).status_code == 409
        version = http.post(f"{base}/h/versions", json={"template": CHAT, "commit_message": "m"})
        assert version.status_code == 201
        assert version.json()["variables"] == ["lang", "q"]
        assert version.json()["template"] == CHAT
        assert http.put(f"{base}/h/aliases/prod", json={"version": 1}).status_code == 204
        assert http.get(f"{base}/h/aliases/prod").json()["aliases"] == ["prod"]
        assert http.get(f"{base}/h/versions/abc").status_code == 400
        for response, status in [
            (http.get(f"{base}/missing"), 404),
            (http.get(f"{base}/h/versions/2"), 404),
            (http.post(f"{base}/h/versions", json={"template": 5}), 400),
            (http.post(f"{base}/h/versions", json={"template": "x", "bad": 1}), 400),
            (http.put(f"{base}/h/aliases/prod", json={"version": "1"}), 400),
            (http.put(f"{base}/h/aliases/latest", json={"version": 1}), 400),
            (http.get(base, params={"filter": "name = "}), 400),
        ]:
            assert response.status_code == status, response.text
            error = response.json()["error"]
            assert error["status"] == status and error["code"] and error["message"]
        assert http.delete(f"{base}/h/aliases/prod").status_code == 204
        assert http.delete(f"{base}/h").status_code == 204


PROMPT_METHODS = [
    name
    for name, value in vars(PromptStore).items()
    if callable(value) and not name.startswith("_")
]


@pytest.mark.parametrize("method", PROMPT_METHODS)
def test_both_stores_take_the_protocols_arguments(method: str) -> None:
    def shape(cls: type) -> list[tuple[str, Any, Any]]:
        params = inspect.signature(getattr(cls, method)).parameters.values()
        return [(p.name, p.kind, p.default) for p in params]

    assert shape(SqlStore) == shape(PromptStore) == shape(RestStore)
