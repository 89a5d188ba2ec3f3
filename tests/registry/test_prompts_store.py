"""The prompt registry in `SqlStore`, on SQLite, PostgreSQL and MariaDB/MySQL: prompts,
versions numbered under concurrency, aliases (`latest` reserved), search with pages, and the
errors each mistake raises."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from llmtrace.exceptions import (
    AlreadyExistsError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
)
from llmtrace.store import SqlStore

CHAT = [
    {"role": "system", "content": 'You answer in {{ language }}. Output JSON: {"answer": "..."}'},
    {"role": "user", "content": "{{question}} — ünïcødé ✓", "name": "asker"},
]


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


def test_versions_are_numbered_from_one_and_create_the_prompt(store: SqlStore) -> None:
    first = store.create_prompt_version("qa", "Answer: {{ question }}", commit_message="first")
    second = store.create_prompt_version(
        "qa",
        CHAT,
        commit_message="chat",
        tags={"team": "search", "n": 3},
        config={"model": "gpt-4o-mini", "temperature": 0.2, "stop": ["\n"]},
        created_by="ada",
    )
    assert (first.version, second.version) == (1, 2)
    assert first.template_type == "text" and first.variables == ["question"]
    assert second.template_type == "chat" and second.template == CHAT
    assert second.variables == ["language", "question"]
    assert second.tags == {"team": "search", "n": "3"}
    assert second.config == {"model": "gpt-4o-mini", "temperature": 0.2, "stop": ["\n"]}
    assert second.created_by == "ada" and second.uri == "prompts:/qa/2"
    assert store.get_prompt_version("qa", 2) == second
    assert store.get_prompt_version("qa", 1) == first
    prompt = store.get_prompt("qa")
    assert prompt.latest_version == 2 and prompt.aliases == {}
    assert prompt.created_at is not None and prompt.updated_at == second.created_at


def test_text_templates_are_stored_exactly(store: SqlStore) -> None:
    text = 'JSON {"a": {"b": [1, 2]}} {{ x }} {{{ y }}} \\{{ z }} }} {single} \t\n' + "é" * 70_000
    stored = store.create_prompt_version("exact", text)
    assert store.get_prompt_version("exact", 1).template == text == stored.template
    assert stored.variables == ["x", "y"]


def test_a_chat_template_may_be_given_as_json_text(store: SqlStore) -> None:
    import json

    pv = store.create_prompt_version("chat", json.dumps(CHAT), template_type="chat")
    assert pv.template == CHAT and pv.template_type == "chat"


def test_create_prompt_get_update_and_delete(store: SqlStore) -> None:
    created = store.create_prompt("summary", description="summarises", tags={"a": "1"})
    assert store.get_prompt("summary") == created
    with pytest.raises(AlreadyExistsError, match="summary"):
        store.create_prompt("summary")
    updated = store.update_prompt("summary", description="shorter", tags={"a": "", "b": "2"})
    assert updated.description == "shorter" and updated.tags == {"b": "2"}
    assert store.update_prompt("summary", tags={"c": "3"}).description == "shorter"
    store.create_prompt_version("summary", "x")
    store.set_prompt_alias("summary", "prod", 1)
    store.delete_prompt("summary")
    with pytest.raises(NotFoundError):
        store.get_prompt("summary")
    with pytest.raises(NotFoundError):
        store.get_prompt_version("summary", 1)
    # The name is free again, and numbering starts over.
    assert store.create_prompt_version("summary", "y").version == 1


def test_names_are_case_sensitive_on_every_backend(store: SqlStore) -> None:
    store.create_prompt("QA", description="upper")
    store.create_prompt("qa", description="lower")
    assert store.get_prompt("QA").description == "upper"
    assert store.create_prompt_version("qa", "x").version == 1
    assert store.get_prompt("QA").latest_version is None
    assert [p.name for p in store.search_prompts()] in (["QA", "qa"], ["qa", "QA"])


def test_aliases_point_at_versions_and_latest_is_reserved(store: SqlStore) -> None:
    for text in ("v1 {{ a }}", "v2 {{ a }}", "v3 {{ a }}"):
        store.create_prompt_version("p", text)
    store.set_prompt_alias("p", "production", 1)
    store.set_prompt_alias("p", "staging", 3)
    assert store.get_prompt_version_by_alias("p", "production").template == "v1 {{ a }}"
    store.set_prompt_alias("p", "production", 2)  # moved
    store.set_prompt_alias("p", "production", 2)  # unchanged: still fine
    assert store.get_prompt_version_by_alias("p", "production").version == 2
    assert store.get_prompt_version_by_alias("p", "latest").version == 3
    assert store.get_prompt_version("p", 2).aliases == ["production"]
    assert store.get_prompt("p").aliases == {"production": 2, "staging": 3}
    with pytest.raises(InvalidParameterError, match="reserved"):
        store.set_prompt_alias("p", "latest", 1)
    with pytest.raises(NotFoundError, match="no version 9"):
        store.set_prompt_alias("p", "beta", 9)
    with pytest.raises(NotFoundError, match="no alias 'beta'"):
        store.get_prompt_version_by_alias("p", "beta")
    store.delete_prompt_alias("p", "staging")
    with pytest.raises(NotFoundError):
        store.delete_prompt_alias("p", "staging")
    assert store.get_prompt("p").aliases == {"production": 2}


def test_a_deleted_version_number_is_never_given_again(store: SqlStore) -> None:
    store.create_prompt_version("qa", "one {{ q }}")
    store.create_prompt_version("qa", "two {{ q }}")
    store.delete_prompt_version("qa", 2)
    assert store.create_prompt_version("qa", "three {{ q }}").version == 3
    with pytest.raises(NotFoundError):
        store.get_prompt_version("qa", 2)


def test_deleting_a_version_drops_its_aliases(store: SqlStore) -> None:
    for text in ("one", "two", "three"):
        store.create_prompt_version("d", text)
    store.set_prompt_alias("d", "prod", 3)
    store.delete_prompt_version("d", 3)
    with pytest.raises(NotFoundError):
        store.get_prompt_version_by_alias("d", "prod")
    assert store.get_prompt_version_by_alias("d", "latest").version == 2
    with pytest.raises(NotFoundError):
        store.delete_prompt_version("d", 3)
    store.delete_prompt_version("d", 1)
    store.delete_prompt_version("d", 2)
    with pytest.raises(NotFoundError, match="no versions"):
        store.get_prompt_version_by_alias("d", "latest")
    assert store.get_prompt("d").latest_version is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.create_prompt("has space"), "invalid prompt name"),
        (lambda s: s.create_prompt("a/b"), "invalid prompt name"),
        (lambda s: s.create_prompt("a@b"), "invalid prompt name"),
        (lambda s: s.create_prompt(""), "invalid prompt name"),
        (lambda s: s.create_prompt("x" * 256), "invalid prompt name"),
        (lambda s: s.create_prompt(".hidden"), "invalid prompt name"),
        (lambda s: s.create_prompt("ok", description="a\x00b"), "NUL"),
        (lambda s: s.create_prompt_version("ok", 42), "template must be"),
        (lambda s: s.create_prompt_version("ok", []), "at least one message"),
        (lambda s: s.create_prompt_version("ok", [{"role": "user"}]), "'content'"),
        (lambda s: s.create_prompt_version("ok", "x", template_type="chat"), "JSON list"),
        (lambda s: s.create_prompt_version("ok", CHAT, template_type="text"), "string"),
        (lambda s: s.create_prompt_version("ok", "x", template_type="xml"), "template_type"),
        (lambda s: s.create_prompt_version("ok", "x", config=[1]), "config must be a dict"),
        (lambda s: s.create_prompt_version("ok", "x", config={"f": float("nan")}), "JSON"),
        (lambda s: s.create_prompt_version("ok", "x\x00"), "NUL"),
        (lambda s: s.create_prompt_version("ok", "x", commit_message="é" * 40_000), "bytes"),
        (lambda s: s.get_prompt_version("ok", 0), "start at 1"),
        (lambda s: s.get_prompt_version("ok", "1"), "integer"),
        (lambda s: s.get_prompt_version_by_alias("ok", "1st"), "invalid prompt alias"),
        (lambda s: s.set_prompt_alias("ok", "a b", 1), "invalid prompt alias"),
        (lambda s: s.list_prompt_versions("ok", limit=0), "limit"),
        (lambda s: s.search_prompts(limit=10_001), "limit"),
    ],
)
def test_bad_arguments_raise_invalid_parameter(store: SqlStore, call: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        call(store)
    with pytest.raises(NotFoundError):  # and nothing was created
        store.get_prompt("ok")


def test_unknown_prompts_raise_not_found(store: SqlStore) -> None:
    for call in (
        lambda: store.get_prompt("nope"),
        lambda: store.get_prompt_version("nope", 1),
        lambda: store.get_prompt_version_by_alias("nope", "latest"),
        lambda: store.list_prompt_versions("nope"),
        lambda: store.set_prompt_alias("nope", "prod", 1),
        lambda: store.delete_prompt_alias("nope", "prod"),
        lambda: store.delete_prompt_version("nope", 1),
        lambda: store.update_prompt("nope", description="x"),
        lambda: store.delete_prompt("nope"),
    ):
        with pytest.raises(NotFoundError, match="nope"):
            call()


def test_versions_are_listed_newest_first_in_pages(store: SqlStore) -> None:
    for i in range(7):
        store.create_prompt_version("pages", f"v{i + 1}")
    store.set_prompt_alias("pages", "prod", 4)
    seen: list[int] = []
    token = None
    while True:
        page = store.list_prompt_versions("pages", limit=3, page_token=token)
        seen += [v.version for v in page]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    assert store.list_prompt_versions("pages", limit=10)[3].aliases == ["prod"]
    first = store.list_prompt_versions("pages", limit=3)
    store.create_prompt_version("other", "x")
    with pytest.raises(InvalidQueryError, match="does not belong"):
        store.list_prompt_versions("other", page_token=first.next_page_token)
    with pytest.raises(InvalidQueryError):
        store.list_prompt_versions("pages", page_token="garbage!")


def test_search_filters_and_pages(store: SqlStore) -> None:
    for name, team in [("qa-long", "search"), ("qa-short", "search"), ("Qa-x", "ads"),
                       ("summary", "search"), ("translate", None)]:  # fmt: skip
        store.create_prompt(name, description=None if team is None else f"by {team}",
                            tags={} if team is None else {"team": team})  # fmt: skip
    store.create_prompt_version("qa-long", "x")

    def names(filter: str | None, limit: int = 100) -> list[str]:
        out: list[str] = []
        token = None
        while True:
            page = store.search_prompts(filter, limit=limit, page_token=token)
            out += [p.name for p in page]
            token = page.next_page_token
            if token is None:
                return out

    assert names("name like 'qa-%'") == ["qa-long", "qa-short"]  # like is case-sensitive
    assert sorted(names("name ilike 'qa-%'")) == ["Qa-x", "qa-long", "qa-short"]
    assert names("tags.team = 'search' and name != 'summary'") == ["qa-long", "qa-short"]
    assert names("tags.team is null") == ["translate"]
    assert names("description is null or tags.team in ('ads')") == ["Qa-x", "translate"]
    assert names("not tags.team = 'search'", limit=1) in (["Qa-x", "translate"],)
    assert names("tags.team = 'search'", limit=1) == ["qa-long", "qa-short", "summary"]
    assert names("created_at > '2000-01-01'") == names(None)
    assert len(names(None, limit=2)) == 5
    found = store.search_prompts("name = 'qa-long'")
    assert found[0].latest_version == 1 and found[0].tags == {"team": "search"}
    with pytest.raises(FilterSyntaxError) as err:
        store.search_prompts("name = ")
    assert err.value.position == 7
    with pytest.raises(FilterSyntaxError, match="unknown field"):
        store.search_prompts("latency_ms > 1")
    with pytest.raises(FilterSyntaxError, match="needs a text field"):
        store.search_prompts("created_at like 'x%'")
    page = store.search_prompts(None, limit=1)
    with pytest.raises(InvalidQueryError):
        store.search_prompts("name like '%'", page_token=page.next_page_token)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_concurrent_registrations_never_share_a_number(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"migrated_{backend}_url")
    store = SqlStore(url, pool_size=10, max_overflow=0)
    threads, per_thread = 8, 4
    barrier = threading.Barrier(threads)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            for j in range(per_thread):
                pv = store.create_prompt_version("hot", f"thread {i} call {j}")
                numbers.append(pv.version)
        except BaseException as exc:
            errors.append(exc)

    try:
        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(60)
        assert not errors, errors
        assert sorted(numbers) == list(range(1, threads * per_thread + 1))
        stored = store.list_prompt_versions("hot", limit=100)
        assert [v.version for v in stored] == list(range(threads * per_thread, 0, -1))
    finally:
        store.close()
