"""The tracking routes over raw HTTP: statuses, the stable error shape, malformed bodies (400,
never 500), non-finite numbers on the wire, page tokens, percent-encoded keys, the OpenAPI
description and the read scope of `POST /runs/search`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from llmtrace.server._tracking_models import (
    ExperimentOut,
    ExperimentPage,
    MetricPage,
    RunInfoOut,
    RunOut,
    RunPage,
)
from tests.server.conftest import LiveServer

API = "/api/v1"


@pytest.fixture
def http(sqlite_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sqlite_server.url + API, timeout=30) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def _valid(model: type[BaseModel], response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    data = response.json()
    model.model_validate(data)  # the answer matches the documented model
    return data


def _run(http: httpx.Client, name: str = "exp") -> tuple[str, str]:
    exp = http.post("/experiments", json={"name": name}).json()["experiment_id"]
    run = http.post("/runs", json={"experiment_id": exp}).json()["info"]["run_id"]
    return exp, run


def test_statuses_and_shapes(http: httpx.Client, sqlite_server: LiveServer) -> None:
    created = http.post("/experiments", json={"name": "exp", "tags": {"a": 1, "b": True}})
    assert created.status_code == 201
    exp = created.json()["experiment_id"]
    got = _valid(ExperimentOut, http.get(f"/experiments/{exp}"))
    assert got["tags"] == {"a": "1", "b": "True"}
    assert got["artifact_location"] == f"{sqlite_server.config.artifacts}/{exp}"
    assert got["created_at"].endswith("+00:00")
    assert _valid(ExperimentOut, http.get("/experiments/by-name", params={"name": "exp"}))
    _error(http.get("/experiments/by-name", params={"name": "none"}), 404, "NOT_FOUND")
    _error(http.post("/experiments", json={"name": "exp"}), 409, "ALREADY_EXISTS")
    assert http.patch(f"/experiments/{exp}", json={"name": "renamed"}).status_code == 204
    assert http.put(f"/experiments/{exp}/tags/x%2Fy", json={"value": "1"}).status_code == 204
    assert http.get(f"/experiments/{exp}").json()["tags"]["x/y"] == "1"
    assert http.delete(f"/experiments/{exp}/tags/x%2Fy").status_code == 204
    run = http.post("/runs", json={"experiment_id": exp, "start_time": "2025-06-01T12:00:00Z"})
    run_data = _valid(RunOut, run, 201)
    run_id = run_data["info"]["run_id"]
    assert run_data["info"]["start_time"] == "2025-06-01T12:00:00+00:00"
    ended = http.patch(f"/runs/{run_id}", json={"status": "KILLED"})
    assert _valid(RunInfoOut, ended)["status"] == "KILLED"
    assert http.delete(f"/runs/{run_id}").status_code == 204
    assert http.post(f"/runs/{run_id}/restore").status_code == 204
    assert http.delete(f"/experiments/{exp}").status_code == 204
    assert http.post(f"/experiments/{exp}/restore").status_code == 204
    listed = _valid(ExperimentPage, http.get("/experiments", params={"view": "all"}))
    assert [e["name"] for e in listed["experiments"]] == ["renamed"]


@pytest.mark.parametrize(
    "path",
    [
        "/runs/{missing}",
        "/runs/{missing}/metrics/loss/history",
        "/runs/{missing}/artifacts",
        "/runs/{missing}/artifacts/a.txt",
        "/experiments/{missing}",
    ],
)
def test_unknown_ids_are_404(http: httpx.Client, path: str) -> None:
    error = _error(http.get(path.format(missing="0" * 32)), 404, "NOT_FOUND")
    assert "0" * 32 in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/experiments", b"{bad json"),
        ("POST", "/experiments", b"[]"),
        ("POST", "/experiments", b'{"name": 5}'),
        ("POST", "/experiments", b'{"name": "x", "colour": "red"}'),
        ("POST", "/experiments", b""),
        ("POST", "/experiments", b"\xff\xfe\x00"),
        ("POST", "/experiments", b"[" * 100_000 + b"]" * 100_000),
        ("POST", "/runs", b'{"experiment_id": "{exp}", "start_time": "yesterday"}'),
        ("POST", "/runs/{run}/batch", b'{"metrics": [{"key": "m", "value": "high"}]}'),
        ("POST", "/runs/{run}/batch", b'{"metrics": [{"key": "m", "value": 1, "step": 1.5}]}'),
        ("POST", "/runs/{run}/batch", b'{"params": {"k": null}}'),
        ("POST", "/runs/{run}/metrics", b'{"key": "m", "value": true}'),
        ("POST", "/runs/{run}/metrics", b'{"key": "m", "value": "nan"}'),
        ("POST", "/runs/{run}/params", b'{"key": "p"}'),
        ("PUT", "/runs/{run}/tags/k", b'{"value": {"nested": 1}}'),
        ("PATCH", "/runs/{run}", b"null"),
        ("POST", "/runs/search", b'{"experiment_ids": 5}'),
        ("POST", "/runs/search", b'{"experiment_ids": ["{exp}"], "limit": "ten"}'),
        ("GET", "/runs?experiment_id={exp}&limit=abc", b""),
        ("GET", "/experiments?limit=-1", b""),
        ("GET", "/experiments?page_token=nonsense", b""),
    ],
)
def test_malformed_requests_are_400(
    http: httpx.Client, method: str, path: str, body: bytes
) -> None:
    exp, run = _run(http)
    content = body.replace(b"{exp}", exp.encode()).replace(b"{run}", run.encode())
    headers = {"Content-Type": "application/json"}
    response = http.request(
        method, path.format(exp=exp, run=run), content=content or None, headers=headers
    )
    _error(response, 400)


def test_store_errors_keep_their_code_and_message(http: httpx.Client) -> None:
    exp, run = _run(http)
    assert http.post(f"/runs/{run}/params", json={"key": "lr", "value": 0.1}).status_code == 204
    error = _error(
        http.post(f"/runs/{run}/params", json={"key": "lr", "value": 0.2}), 400, "INVALID_PARAMETER"
    )
    assert "immutable" in error["message"] and "'0.1'" in error["message"]
    bad = http.post("/runs/search", json={"experiment_ids": [exp], "filter": "metrics.x >"})
    details = _error(bad, 400, "FILTER_SYNTAX")["details"]
    assert details["position"] == 11 and details["filter"] == "metrics.x >"
    bad = http.get("/runs", params={"experiment_id": exp, "filter": "name = "})
    assert _error(bad, 400, "FILTER_SYNTAX")["details"]["position"] == 7
    bad = http.post("/runs/search", json={"experiment_ids": [exp], "order_by": ["colour"]})
    _error(bad, 400, "INVALID_QUERY")
    _error(http.post(f"/runs/{run}/metrics", json={"key": "../m", "value": 1}), 400)
    naive = http.post("/runs", json={"experiment_id": exp, "start_time": "2025-01-01T00:00:00"})
    assert "timezone-aware" in _error(naive, 400, "INVALID_PARAMETER")["message"]


def test_non_finite_numbers_on_the_wire(http: httpx.Client) -> None:
    _, run = _run(http)
    for value in ("NaN", "Infinity", "-Infinity"):
        body = {"key": value.lower(), "value": value, "step": 1}
        assert http.post(f"/runs/{run}/metrics", json=body).status_code == 204
    # Bare NaN/Infinity tokens (what Python's json writes by default) are read too.
    raw = b'{"metrics": [{"key": "bare", "value": NaN}, {"key": "binf", "value": -Infinity}]}'
    sent = http.post(
        f"/runs/{run}/batch", content=raw, headers={"Content-Type": "application/json"}
    )
    assert sent.status_code == 204
    got = _valid(RunOut, http.get(f"/runs/{run}"))
    assert got["metrics"] == {
        "nan": "NaN",
        "infinity": "Infinity",
        "-infinity": "-Infinity",
        "bare": "NaN",
        "binf": "-Infinity",
    }
    history = _valid(MetricPage, http.get(f"/runs/{run}/metrics/-infinity/history"))
    assert [m["value"] for m in history["metrics"]] == ["-Infinity"]
    assert history["metrics"][0]["step"] == 1
    assert "NaN" not in http.get(f"/runs/{run}").text.replace('"NaN"', "")


def test_pages_over_the_query_string_form(http: httpx.Client) -> None:
    exp, _ = _run(http, "a")
    other, _ = _run(http, "b")
    for i in range(5):
        run = http.post("/runs", json={"experiment_id": exp, "name": f"r{i}"}).json()
        http.post(f"/runs/{run['info']['run_id']}/metrics", json={"key": "m", "value": i})
    params: dict[str, Any] = {
        "experiment_id": [exp, other],
        "order_by": ["metrics.m desc", "name"],
        "limit": 2,
    }
    names: list[str] = []
    while True:
        page = _valid(RunPage, http.get("/runs", params=params))
        assert len(page["runs"]) <= 2
        names += [r["info"]["name"] for r in page["runs"]]
        if page["next_page_token"] is None:
            break
        params["page_token"] = page["next_page_token"]
    assert names[:5] == ["r4", "r3", "r2", "r1", "r0"]
    assert len(names) == 7  # and the two runs without the metric, last
    body = {"experiment_ids": [exp, other], "order_by": ["metrics.m desc", "name"], "limit": 2}
    first = _valid(RunPage, http.post("/runs/search", json=body))
    assert [r["info"]["name"] for r in first["runs"]] == ["r4", "r3"]
    # A token from the POST form continues the same query in the GET form.
    params = {"experiment_id": [exp, other], "order_by": ["metrics.m desc", "name"]}
    params.update(limit=2, page_token=first["next_page_token"])
    assert [r["info"]["name"] for r in http.get("/runs", params=params).json()["runs"]] == [
        "r2",
        "r1",
    ]
    _error(http.get("/runs", params={**params, "order_by": "name"}), 400, "INVALID_QUERY")


def test_history_and_experiment_pages(http: httpx.Client) -> None:
    _, run = _run(http)
    metrics = [{"key": "a/b", "value": float(i), "step": i} for i in range(5)]
    assert http.post(f"/runs/{run}/batch", json={"metrics": metrics}).status_code == 204
    url = f"/runs/{run}/metrics/a%2Fb/history"
    steps, token = [], None
    while True:
        page = _valid(MetricPage, http.get(url, params={"limit": 2, "page_token": token}))
        steps += [m["step"] for m in page["metrics"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert steps == [0, 1, 2, 3, 4]
    for i in range(4):
        http.post("/experiments", json={"name": f"e{i}"})
    first = http.get("/experiments", params={"limit": 3}).json()
    assert [e["name"] for e in first["experiments"]] == ["exp", "e0", "e1"]
    rest = http.get("/experiments", params={"limit": 3, "page_token": first["next_page_token"]})
    assert [e["name"] for e in rest.json()["experiments"]] == ["e2", "e3"]
    assert rest.json()["next_page_token"] is None
    foreign = {"view": "all", "page_token": first["next_page_token"]}
    _error(http.get("/experiments", params=foreign), 400, "INVALID_QUERY")


def test_keys_with_reserved_characters_in_paths(http: httpx.Client) -> None:
    _, run = _run(http)
    keys = ["a/b", "x y", "100%", "q?x#y", "ünï", "..", "a/"]
    for key in keys:
        encoded = key.replace("%", "%25").replace("/", "%2F").replace(" ", "%20")
        encoded = encoded.replace("?", "%3F").replace("#", "%23").replace(".", "%2E")
        path = f"/runs/{run}/tags/{encoded}"
        response = http.put(path, json={"value": key})
        if key == "..":
            _error(response, 400, "INVALID_PARAMETER")  # the store refuses '..' keys
            continue
        assert response.status_code == 204, (key, response.text)
    tags = http.get(f"/runs/{run}").json()["tags"]
    assert tags == {k: k for k in keys if k != ".."}
    assert http.delete(f"/runs/{run}/tags/a%2Fb").status_code == 204
    assert "a/b" not in http.get(f"/runs/{run}").json()["tags"]


def test_openapi_describes_the_routes(http: httpx.Client, sqlite_server: LiveServer) -> None:
    schema = httpx.get(sqlite_server.url + "/openapi.json").json()
    paths = schema["paths"]
    expected = {
        f"{API}/experiments": {"get", "post"},
        f"{API}/experiments/by-name": {"get"},
        f"{API}/experiments/{{experiment_id}}": {"get", "patch", "delete"},
        f"{API}/experiments/{{experiment_id}}/restore": {"post"},
        f"{API}/experiments/{{experiment_id}}/tags/{{key}}": {"put", "delete"},
        f"{API}/runs": {"get", "post"},
        f"{API}/runs/search": {"post"},
        f"{API}/runs/{{run_id}}": {"get", "patch", "delete"},
        f"{API}/runs/{{run_id}}/restore": {"post"},
        f"{API}/runs/{{run_id}}/batch": {"post"},
        f"{API}/runs/{{run_id}}/metrics": {"post"},
        f"{API}/runs/{{run_id}}/params": {"post"},
        f"{API}/runs/{{run_id}}/tags/{{key}}": {"put", "delete"},
        f"{API}/runs/{{run_id}}/metrics/{{key}}/history": {"get"},
        f"{API}/runs/{{run_id}}/artifacts": {"get"},
        f"{API}/runs/{{run_id}}/artifacts/{{path}}": {"get", "put"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) >= methods, path
        for method in methods:
            assert paths[path][method]["summary"], (path, method)
    assert paths[f"{API}/runs/search"]["post"]["x-llmtrace-scope"] == "read"
    answer = paths[f"{API}/runs/search"]["post"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/RunPage")
    metric = schema["components"]["schemas"]["MetricIn"]["properties"]["value"]
    assert {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]} in metric["anyOf"]


def test_search_needs_only_a_read_key(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    live = live_server(f"sqlite:///{tmp_path / 'auth.db'}", auth=True)
    _, writer = live.store.create_api_key("ci", scope="write")
    _, reader = live.store.create_api_key("dashboard", scope="read")
    base = live.url + API
    as_writer = {"Authorization": f"Bearer {writer}"}
    as_reader = {"Authorization": f"Bearer {reader}"}
    exp = httpx.post(f"{base}/experiments", json={"name": "e"}, headers=as_writer).json()
    body = {"experiment_ids": [exp["experiment_id"]]}
    assert httpx.post(f"{base}/runs/search", json=body, headers=as_reader).status_code == 200
    refused = httpx.post(f"{base}/runs", json={"experiment_id": "x"}, headers=as_reader)
    _error(refused, 403)
    _error(httpx.post(f"{base}/runs/search", json=body), 401)


def test_default_artifact_root_falls_back_to_the_environment(
    live_server: Callable[..., LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTRACE_ARTIFACTS", "s3://bucket/root/")
    live = live_server(f"sqlite:///{tmp_path / 'env.db'}", artifacts=None)
    created = httpx.post(f"{live.url}{API}/experiments", json={"name": "e"}).json()
    exp = httpx.get(f"{live.url}{API}/experiments/{created['experiment_id']}").json()
    assert exp["artifact_location"] == f"s3://bucket/root/{created['experiment_id']}"
