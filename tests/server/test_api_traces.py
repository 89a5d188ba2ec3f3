"""The traces/spans/assessments/usage routes on the wire: status codes, the stable error shape,
strict request validation, the documented response shapes and the OpenAPI description.

Requests are plain `httpx` calls to a real uvicorn server; tests that touch data run on
SQLite, PostgreSQL and MariaDB (``server``), the others on SQLite (``sqlite_server``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from llmtrace.exceptions import InvalidParameterError
from llmtrace.server._api_schemas import (
    AssessmentListOut,
    AssessmentOut,
    ModelUsageListOut,
    TraceListOut,
    TraceOut,
)
from llmtrace.store import RestStore
from llmtrace.store._rest import AuthenticationError
from llmtrace.store._wire import span_record_to_dict
from tests.server._traces_helpers import many_traces, record, sid, tid
from tests.server.conftest import LiveServer

API = "/api/v1"


def call(live: LiveServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, live.url + API + path, timeout=30, **kwargs)


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The error object of a response, after checking status and shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["status"] == status and error["message"], error
    assert isinstance(error["code"], str) and error["code"].isupper()
    if code is not None:
        assert error["code"] == code, error
    return error


def valid(model: type[BaseModel], response: httpx.Response) -> Any:
    """The JSON body, after checking it against its documented response model."""
    assert response.status_code in (200, 201), response.text
    data = response.json()
    model.model_validate(data, strict=False)
    return data


@pytest.fixture
def loaded(server: LiveServer) -> LiveServer:
    server.store.log_spans(many_traces(12))
    return server


# --- reads ---------------------------------------------------------------------------------------


def test_search_get_and_post_page_through_the_same_results(loaded: LiveServer) -> None:
    everything = valid(TraceListOut, call(loaded, "GET", "/traces", params={"limit": 100}))
    assert [t["name"] for t in everything["traces"]] == [f"t{i}" for i in range(11, -1, -1)]
    assert everything["next_page_token"] is None

    query = {"order_by": ["status", "latency_ms desc"], "limit": 5}
    names: list[str] = []
    token = None
    while True:
        params = {**query, **({"page_token": token} if token else {})}
        page = valid(TraceListOut, call(loaded, "GET", "/traces", params=params))
        body = valid(TraceListOut, call(loaded, "POST", "/traces/search", json=params))
        assert body == page
        names += [t["name"] for t in page["traces"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert len(names) == 12 and names[:2] == ["t7", "t0"]  # ERROR first, slowest first

    prod = call(loaded, "GET", "/traces", params={"filter": "tag.env = 'prod'", "project": "proj"})
    assert {t["name"] for t in prod.json()["traces"]} == {"t1", "t5", "t7", "t11"}
    one = prod.json()["traces"][0]
    assert one["start_time"].endswith("+00:00") and one["tags"] == {"env": "prod"}


def test_get_trace_with_spans_and_assessments(loaded: LiveServer) -> None:
    created = call(
        loaded,
        "POST",
        f"/traces/{tid(103)}/assessments",
        json={"name": "relevance", "value": 0.5, "span_id": sid(2), "metadata": {"k": [1]}},
    )
    assert created.status_code == 201
    valid(AssessmentOut, created)
    trace = valid(TraceOut, call(loaded, "GET", f"/traces/{tid(103)}"))
    assert trace["info"]["trace_id"] == tid(103) and trace["info"]["span_count"] == 2
    # Flat, in start order, linked by parent_span_id.
    assert [(s["name"], s["parent_span_id"]) for s in trace["spans"]] == [
        ("t3", None),
        ("generate", sid(1)),
    ]
    assert "children" not in trace["spans"][0]
    assert trace["spans"][1]["model"] == "free" and trace["spans"][1]["input_tokens"] == 3
    assert trace["assessments"] == [created.json()]
    listed = valid(AssessmentListOut, call(loaded, "GET", f"/traces/{tid(103)}/assessments"))
    assert listed == {"assessments": [created.json()]}


def test_model_usage(loaded: LiveServer) -> None:
    usage = valid(ModelUsageListOut, call(loaded, "GET", "/usage/models"))
    assert {m["model"]: m["calls"] for m in usage["models"]} == {"priced": 6, "free": 6}
    since = valid(
        ModelUsageListOut,
        call(loaded, "GET", "/usage/models", params={"since": "2026-11-01T12:00:10Z"}),
    )
    assert sum(m["calls"] for m in since["models"]) == 2
    naive = call(loaded, "GET", "/usage/models", params={"since": "2026-11-01T12:00:10"})
    assert "UTC offset" in error_of(naive, 400, "INVALID_QUERY")["message"]


# --- errors --------------------------------------------------------------------------------------


def test_bad_filter_is_400_with_the_position(loaded: LiveServer) -> None:
    bad = "status = 'OK' and and"
    for response in (
        call(loaded, "GET", "/traces", params={"filter": bad}),
        call(loaded, "POST", "/traces/search", json={"filter": bad}),
        call(loaded, "DELETE", "/traces", params={"filter": bad}),
    ):
        error = error_of(response, 400, "FILTER_SYNTAX")
        assert error["details"]["position"] == 18
        assert error["details"]["filter"] == bad and error["details"]["reason"]
    assert len(loaded.store.search_traces(limit=100)) == 12


def test_unknown_ids_are_404(loaded: LiveServer) -> None:
    unknown = tid(999)
    for method, path, body in [
        ("GET", f"/traces/{unknown}", None),
        ("DELETE", f"/traces/{unknown}", None),
        ("DELETE", "/traces/not-a-trace-id", None),
        ("PUT", f"/traces/{unknown}/tags/k", {"value": "v"}),
        ("DELETE", f"/traces/{unknown}/tags/k", None),
        ("POST", f"/traces/{unknown}/assessments", {"name": "x", "value": 1}),
        ("PATCH", "/assessments/nope", {"value": 1}),
        ("DELETE", "/assessments/nope", None),
        ("GET", "/no-such-route", None),
    ]:
        error = error_of(call(loaded, method, path, json=body), 404, "NOT_FOUND")
        assert "not found" in error["message"].lower(), (method, path)


def test_bad_queries_are_400(loaded: LiveServer) -> None:
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", "/traces", {"limit": 0}, "INVALID_QUERY"),
        ("GET", "/traces", {"limit": 10_001}, "INVALID_QUERY"),
        ("GET", "/traces", {"limit": "ten"}, "INVALID_ARGUMENT"),
        ("GET", "/traces", {"page_token": "garbage!"}, "INVALID_QUERY"),
        ("GET", "/traces", {"order_by": "nonsense desc"}, "INVALID_QUERY"),
        ("DELETE", "/traces", {}, "INVALID_QUERY"),
        ("DELETE", "/traces", {"older_than": -1}, "INVALID_ARGUMENT"),
        ("DELETE", "/traces", {"older_than": "inf"}, "INVALID_ARGUMENT"),
        ("DELETE", "/traces", {"older_than": 1, "before": "2026-01-01T00:00:00Z"}, "INVALID_QUERY"),
        ("DELETE", "/traces", {"before": "2026-01-01T00:00:00"}, "INVALID_QUERY"),
        ("DELETE", "/traces", {"filter": "status = 'OK'", "batch_size": 0}, "INVALID_ARGUMENT"),
        ("GET", "/usage/models", {"since": "yesterday"}, "INVALID_ARGUMENT"),
    ]
    for method, path, params, code in cases:
        error_of(call(loaded, method, path, params=params), 400, code)
    assert len(loaded.store.search_traces(limit=100)) == 12


def test_malformed_and_mistyped_bodies_are_400(sqlite_server: LiveServer) -> None:
    sqlite_server.store.log_spans([record(1, 1)])
    assessment = sqlite_server.store.log_assessment(tid(1), "x", 1)
    good_span = span_record_to_dict(record(2, 1))
    routes = [
        ("POST", "/spans"),
        ("POST", "/traces/search"),
        ("POST", f"/traces/{tid(1)}/assessments"),
        ("PATCH", f"/assessments/{assessment.assessment_id}"),
        ("PUT", f"/traces/{tid(1)}/tags/k"),
    ]
    headers = {"content-type": "application/json"}
    for method, path in routes:
        for raw in (b"{not json", b"[1, 2", b"\xff\xfe", b'{"a": 1} trailing'):
            response = call(sqlite_server, method, path, content=raw, headers=headers)
            error_of(response, 400, "INVALID_ARGUMENT")

    def bad_span(**change: Any) -> list[dict[str, Any]]:
        return [{**good_span, **change}]

    wrong: list[tuple[str, str, Any]] = [
        ("POST", "/spans", {"spans": [good_span]}),  # an object, not a list
        ("POST", "/spans", [good_span, "span"]),
        ("POST", "/spans", bad_span(trace_id="XYZ")),
        ("POST", "/spans", bad_span(span_id="ABCDEF0123456789")),
        ("POST", "/spans", bad_span(start_time_ns="1")),
        ("POST", "/spans", bad_span(start_time_ns=1.5)),
        ("POST", "/spans", bad_span(end_time_ns=0)),  # before the start
        ("POST", "/spans", bad_span(end_time_ns=2**64)),  # past OTLP's range (year 2554)
        ("POST", "/spans", bad_span(is_local_root="yes")),
        ("POST", "/spans", bad_span(status="FINE")),
        ("POST", "/spans", bad_span(attributes=[1])),
        ("POST", "/spans", bad_span(colour="red")),
        ("POST", "/spans", [{k: v for k, v in good_span.items() if k != "name"}]),
        ("POST", "/traces/search", {"limit": "10"}),
        ("POST", "/traces/search", {"filter": 5}),
        ("POST", "/traces/search", {"fitler": "status = 'OK'"}),
        ("POST", f"/traces/{tid(1)}/assessments", {"value": 1}),  # no name
        ("POST", f"/traces/{tid(1)}/assessments", {"name": "x"}),  # no value
        ("POST", f"/traces/{tid(1)}/assessments", {"name": "x", "value": 1, "metadata": []}),
        ("PATCH", f"/assessments/{assessment.assessment_id}", {"rationale": 5}),
        ("PATCH", f"/assessments/{assessment.assessment_id}", {"name": "renamed"}),
        ("PUT", f"/traces/{tid(1)}/tags/k", {"value": 1}),
    ]
    for method, path, body in wrong:
        error = error_of(call(sqlite_server, method, path, json=body), 400, "INVALID_ARGUMENT")
        assert error["message"], (path, body)
    assert [t.trace_id for t in sqlite_server.store.search_traces()] == [tid(1)]
    assert sqlite_server.store.get_assessments(tid(1)) == [assessment]


def test_too_large_bodies_are_413(live_server: Callable[..., LiveServer]) -> None:
    live = live_server(max_body_bytes=4096)
    big = span_record_to_dict(record(1, 1, attrs={"text": "x" * 5000}))
    error_of(call(live, "POST", "/spans", json=[big]), 413, "PAYLOAD_TOO_LARGE")
    with RestStore(live.url) as rest:
        with pytest.raises(InvalidParameterError, match="exceeds the limit"):
            rest.log_spans([record(1, 1, attrs={"text": "x" * 5000})])
        rest.log_spans([record(2, 1)])
    assert [t.trace_id for t in live.store.search_traces()] == [tid(2)]


# --- writes --------------------------------------------------------------------------------------


def test_post_spans_then_get_trace(server: LiveServer) -> None:
    body = [span_record_to_dict(r) for r in many_traces(3)]
    answer = call(server, "POST", "/spans", json=body)
    assert answer.status_code == 200 and answer.json() == {"accepted": 6}
    again = call(server, "POST", "/spans", json=body)  # a retry: nothing stored twice
    assert again.json() == {"accepted": 6}
    trace = call(server, "GET", f"/traces/{tid(101)}").json()
    assert trace["info"]["span_count"] == 2 and trace["info"]["project"] == "proj"
    assert trace["spans"][0]["inputs"] == {"q": "question 1", "n": 1, "ok": True}


def test_delete_one_and_in_bulk(loaded: LiveServer) -> None:
    assert call(loaded, "DELETE", f"/traces/{tid(100)}").status_code == 204
    error_of(call(loaded, "DELETE", f"/traces/{tid(100)}"), 404)
    upper = call(loaded, "DELETE", f"/traces/{tid(101).upper()}")
    assert upper.status_code == 204
    deleted = call(loaded, "DELETE", "/traces", params={"filter": "status = 'ERROR'"})
    assert deleted.json() == {"deleted": 1}  # t7 (t0 is gone)
    by_age = call(loaded, "DELETE", "/traces", params={"before": "2026-11-01T12:00:05+00:00"})
    assert by_age.json() == {"deleted": 3}  # t2, t3, t4
    assert call(loaded, "DELETE", "/traces", params={"older_than": 0}).json() == {"deleted": 6}


def test_tags_on_the_wire(loaded: LiveServer) -> None:
    put = call(loaded, "PUT", f"/traces/{tid(100)}/tags/team%2Fowner", json={"value": "ml"})
    assert put.status_code == 204 and put.content == b""
    assert call(loaded, "PUT", f"/traces/{tid(100)}/tags/flag").status_code == 204
    tags = call(loaded, "GET", f"/traces/{tid(100)}").json()["info"]["tags"]
    assert tags == {"env": "dev", "team/owner": "ml", "flag": "true"}
    assert call(loaded, "DELETE", f"/traces/{tid(100)}/tags/team%2Fowner").status_code == 204
    tags = call(loaded, "GET", f"/traces/{tid(100)}").json()["info"]["tags"]
    assert tags == {"env": "dev", "flag": "true"}


def test_patch_changes_only_the_given_fields(loaded: LiveServer) -> None:
    created = call(
        loaded,
        "POST",
        f"/traces/{tid(100)}/assessments",
        json={"name": "judge", "value": 3, "source_type": "CODE", "rationale": "r", "error": "e"},
    ).json()
    path = f"/assessments/{created['assessment_id']}"
    patched = valid(AssessmentOut, call(loaded, "PATCH", path, json={"rationale": None}))
    assert patched["rationale"] is None and patched["error"] == "e" and patched["value"] == 3
    assert patched["updated_at"] > created["updated_at"]
    assert patched["created_at"] == created["created_at"]
    nulled = call(loaded, "PATCH", path, json={"value": None, "metadata": {"a": 1}}).json()
    assert nulled["value"] is None and nulled["metadata"] == {"a": 1} and nulled["error"] == "e"
    assert call(loaded, "DELETE", path).status_code == 204
    assert call(loaded, "GET", f"/traces/{tid(100)}/assessments").json() == {"assessments": []}


def test_non_finite_payloads_are_sent_as_standard_json(sqlite_server: LiveServer) -> None:
    sqlite_server.store.log_spans([record(1, 1, attrs={"score": math.nan, "top": math.inf})])
    response = call(sqlite_server, "GET", f"/traces/{tid(1)}")
    assert response.status_code == 200
    data = json.loads(response.text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert data["spans"][0]["attributes"] == {"score": "NaN", "top": "Infinity"}


# --- auth and the API description ----------------------------------------------------------------


def test_read_keys_search_but_do_not_write(live_server: Callable[..., LiveServer]) -> None:
    live = live_server(auth=True)
    live.store.log_spans([record(1, 1)])
    _, reader = live.store.create_api_key("reader", scope="read")
    _, writer = live.store.create_api_key("writer")
    with RestStore(live.url, api_key=reader) as rest:
        # Long enough to go as POST /traces/search, which needs only read access.
        assert len(rest.search_traces("name = 'step' " + "or name = 'x' " * 200)) == 1
        assert rest.get_trace(tid(1)).info.span_count == 1
        with pytest.raises(AuthenticationError, match="403"):
            rest.log_spans([record(2, 1)])
        with pytest.raises(AuthenticationError, match="403"):
            rest.set_trace_tag(tid(1), "k")
    with RestStore(live.url, api_key=writer) as rest:
        rest.log_spans([record(2, 1)])
        rest.set_trace_tag(tid(2), "k")
    anonymous = RestStore(live.url, api_key="")
    with anonymous, pytest.raises(AuthenticationError, match="401"):
        anonymous.search_traces()


def test_openapi_documents_the_routes(sqlite_server: LiveServer) -> None:
    document = httpx.get(sqlite_server.url + "/openapi.json", timeout=10).json()
    paths = document["paths"]
    expected = {
        "/api/v1/traces": {"get", "delete"},
        "/api/v1/traces/search": {"post"},
        "/api/v1/traces/{trace_id}": {"get", "delete"},
        "/api/v1/traces/{trace_id}/tags/{key}": {"put", "delete"},
        "/api/v1/traces/{trace_id}/assessments": {"get", "post"},
        "/api/v1/assessments/{assessment_id}": {"patch", "delete"},
        "/api/v1/usage/models": {"get"},
        "/api/v1/spans": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert paths["/api/v1/traces/search"]["post"]["x-llmtrace-scope"] == "read"
    ok = paths["/api/v1/traces/{trace_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TraceOut"}
    spans = paths["/api/v1/spans"]["post"]["requestBody"]["content"]["application/json"]
    assert spans["schema"]["items"] == {"$ref": "#/components/schemas/SpanRecordIn"}
    schemas = document["components"]["schemas"]
    assert {"TraceListOut", "TraceOut", "AssessmentRequest", "AssessmentPatch"} <= set(schemas)
    params = {p["name"] for p in paths["/api/v1/traces"]["get"]["parameters"]}
    assert params == {"filter", "order_by", "limit", "page_token", "project"}


def test_a_database_gone_away_is_503_and_retried_then_reported(
    sqlite_server: LiveServer,
) -> None:
    import sqlalchemy as sa

    from llmtrace.exceptions import StoreError

    with sqlite_server.store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE trace_tags"))
        conn.execute(sa.text("DROP TABLE trace_metadata"))
        conn.execute(sa.text("DROP TABLE assessments"))
        conn.execute(sa.text("DROP TABLE spans"))
        conn.execute(sa.text("DROP TABLE traces"))
    answer = httpx.get(sqlite_server.url + "/api/v1/traces")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "STORE_UNAVAILABLE"
    store = RestStore(sqlite_server.url, retries=1)
    try:
        with pytest.raises(StoreError, match="503 STORE_UNAVAILABLE"):
            store.search_traces()
    finally:
        store.close()
    assert httpx.get(sqlite_server.url + "/health").status_code == 200


def test_a_redirect_is_an_error_not_followed() -> None:
    from llmtrace.exceptions import StoreError

    # What a login proxy or a URL that is not an llmtrace server answers.
    transport = httpx.MockTransport(
        lambda request: httpx.Response(307, headers={"location": "http://sso.invalid/login"})
    )
    store = RestStore("http://proxy.invalid", transport=transport)
    try:
        with pytest.raises(StoreError, match="307"):
            store.search_traces()
    finally:
        store.close()
