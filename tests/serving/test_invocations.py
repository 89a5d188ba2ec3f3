"""`/invocations` over real HTTP: every input form, params, CSV, outputs, and every error."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmtrace._version import __version__
from llmtrace.serving import TRACE_ID_HEADER, ServingError, create_app
from tests.serving.conftest import (
    DataOnly,
    Identity,
    LiveApp,
    Moody,
    Recorder,
    Registered,
    Scientific,
)

pytestmark = pytest.mark.usefixtures("tracing_off")

Start = Callable[..., LiveApp]


@pytest.fixture
def recorder(scoring_server: Start) -> LiveApp:
    return scoring_server(Recorder(), trace=False)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of a response, after checking status and shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "status"}
    assert error["status"] == status
    return error


# --- input forms -------------------------------------------------------------------------------


def test_dataframe_split_with_index_and_params(recorder: LiveApp) -> None:
    r = recorder.post_json(
        {
            "dataframe_split": {
                "columns": ["question", "k"],
                "data": [["why?", 1], ["how?", 2]],
                "index": [10, 11],
            },
            "params": {"temperature": 0.2},
        }
    )
    assert r.status_code == 200, r.text
    seen = r.json()["predictions"]
    assert seen["type"] == "DataFrame"
    assert seen["columns"] == ["question", "k"]
    assert seen["index"] == [10, 11]
    assert seen["records"] == [{"question": "why?", "k": 1}, {"question": "how?", "k": 2}]
    assert seen["dtypes"][1] == "int64"
    assert seen["params"] == {"temperature": 0.2}


def test_dataframe_records(recorder: LiveApp) -> None:
    r = recorder.post_json({"dataframe_records": [{"q": "a", "n": 1}, {"q": "b", "n": None}]})
    assert r.status_code == 200, r.text
    seen = r.json()["predictions"]
    assert seen["type"] == "DataFrame"
    assert seen["columns"] == ["q", "n"]
    assert seen["records"][0] == {"q": "a", "n": 1.0}
    assert seen["records"][1]["n"] is None  # NaN in the frame comes back as null
    assert seen["params"] is None


@pytest.mark.parametrize("key", ["instances", "inputs"])
def test_tensor_forms_reach_the_model_as_json_values(recorder: LiveApp, key: str) -> None:
    value = [{"role": "user", "content": "hi"}, ["ragged", ["list"]], 3]
    r = recorder.post_json({key: value, "params": {"max_tokens": 5}})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == {
        "type": "list",
        "value": value,
        "params": {"max_tokens": 5},
    }


def test_scalar_input_and_charset_in_content_type(recorder: LiveApp) -> None:
    r = recorder.client.post(
        "/invocations",
        content=b'{"inputs": "hello"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["predictions"]["value"] == "hello"


def test_csv(recorder: LiveApp) -> None:
    r = recorder.client.post(
        "/invocations",
        content=b"question,k\nwhy?,1\nhow?,2\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    seen = r.json()["predictions"]
    assert seen["type"] == "DataFrame"
    assert seen["records"] == [{"question": "why?", "k": 1}, {"question": "how?", "k": 2}]


def test_model_without_params_argument(scoring_server: Start) -> None:
    live = scoring_server(DataOnly(), trace=False)
    r = live.post_json({"inputs": [1, 2, 3]})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": {"n": 3}}


# --- outputs -----------------------------------------------------------------------------------


def test_pandas_and_numpy_outputs_are_json(scoring_server: Start) -> None:
    live = scoring_server(Scientific(), trace=False)
    frame = live.post_json({"inputs": "frame"})
    assert frame.json() == {"predictions": [{"a": 1.5, "b": "x"}, {"a": None, "b": None}]}
    assert live.post_json({"inputs": "series"}).json() == {"predictions": [1, 2, 3]}
    assert live.post_json({"inputs": "array"}).json() == {"predictions": [[1.0, None], [None, 2.0]]}
    scalars = live.post_json({"inputs": "scalars"})
    assert scalars.status_code == 200, scalars.text
    assert scalars.json()["predictions"] == {
        "f32": 0.5,
        "i64": 7,
        "bool": True,
        "when": "2026-01-02T03:04:05",
        "na": None,
        "strings": ["a", "b"],
    }


def test_unserializable_output_is_a_500_and_the_server_keeps_serving(
    scoring_server: Start,
) -> None:
    live = scoring_server(Moody(), trace=False)
    error = error_of(live.post_json({"inputs": "unserializable"}), 500)
    assert error["code"] == "OUTPUT_NOT_SERIALIZABLE"
    assert "object" in error["message"]
    assert live.post_json({"inputs": "fine"}).json() == {"predictions": {"ok": "fine"}}


# --- request errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "no input key"),
        ({"params": {"a": 1}}, "no input key"),
        ({"inputs": 1, "instances": 2}, "several input keys: instances, inputs"),
        ({"inputs": 1, "data": 2}, "unknown key(s) in the request: 'data'"),
        ([1, 2], "must be an object"),
        ({"inputs": 1, "params": [1]}, "'params' must be a JSON object"),
        ({"dataframe_split": [[1]]}, "'dataframe_split' must be an object with 'data'"),
        ({"dataframe_split": {"data": [[1]], "dtype": 1}}, "unknown key(s) in 'dataframe_split'"),
        ({"dataframe_split": {"data": 5}}, "'dataframe_split.data' must be a list"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}, "invalid 'dataframe_split'"),
        ({"dataframe_records": {"a": 1}}, "'dataframe_records' must be a list of objects"),
    ],
)
def test_bad_json_requests_are_400(recorder: LiveApp, payload: Any, fragment: str) -> None:
    error = error_of(recorder.post_json(payload), 400)
    assert error["code"] == "INVALID_INPUT"
    assert fragment in error["message"]


def test_malformed_json_is_400(recorder: LiveApp) -> None:
    r = recorder.client.post(
        "/invocations", content=b'{"inputs": [1,', headers={"content-type": "application/json"}
    )
    error = error_of(r, 400)
    assert error["code"] == "MALFORMED_REQUEST"
    assert error["message"].startswith("the request body is not valid JSON")


@pytest.mark.parametrize(
    "body",
    [b"", b'a,b\n1,2,3,4\n5\n"unterminated', b"\xff\xfe\x00bad"],
    ids=["empty", "ragged", "binary"],
)
def test_invalid_csv_is_400(recorder: LiveApp, body: bytes) -> None:
    r = recorder.client.post("/invocations", content=body, headers={"content-type": "text/csv"})
    error = error_of(r, 400)
    assert error["message"].startswith("the request body is not valid CSV")


@pytest.mark.parametrize(
    ("content_type", "fragment"),
    [
        (None, "no Content-Type"),
        ("application/x-www-form-urlencoded", "unsupported Content-Type"),
        ("text/plain", "unsupported Content-Type 'text/plain'"),
    ],
)
def test_wrong_content_type_is_415(
    recorder: LiveApp, content_type: str | None, fragment: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = recorder.client.post("/invocations", content=b'{"inputs": 1}', headers=headers)
    error = error_of(r, 415)
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert fragment in error["message"]
    assert "application/json or text/csv" in error["message"]


def test_body_over_the_limit_is_413(scoring_server: Start) -> None:
    live = scoring_server(Identity(), trace=False, max_body_bytes=1000)
    small = live.post_json({"inputs": "x" * 900})
    assert small.status_code == 200
    error = error_of(live.post_json({"inputs": "x" * 2000}), 413)
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert "over the limit of 1000 bytes" in error["message"]

    def chunks() -> Any:  # no Content-Length: the limit applies while reading
        for _ in range(5):
            yield b"x" * 400

    streamed = live.client.post(
        "/invocations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "over the limit" in error_of(streamed, 413)["message"]


# --- model errors ------------------------------------------------------------------------------


def test_model_exception_is_500_with_message_only_then_serving_continues(
    scoring_server: Start,
) -> None:
    live = scoring_server(Moody(), trace=False)
    error = error_of(live.post_json({"inputs": "crash"}), 500)
    assert error["code"] == "MODEL_ERROR"
    assert error["message"] == "the model failed: RuntimeError: the GPU caught fire"
    assert "Traceback" not in live.post_json({"inputs": "crash"}).text
    good = live.post_json({"inputs": "fine"})
    assert good.status_code == 200
    assert good.json() == {"predictions": {"ok": "fine"}}


def test_invalid_parameter_error_from_the_model_is_400(scoring_server: Start) -> None:
    live = scoring_server(Moody(), trace=False)
    error = error_of(live.post_json({"inputs": "invalid"}), 400)
    assert error["code"] == "INVALID_INPUT"
    assert error["message"] == "column 'question' is required (string)"


# --- other routes ------------------------------------------------------------------------------


def test_ping_health_version(scoring_server: Start) -> None:
    live = scoring_server(Registered(), trace=False)
    ping = live.client.get("/ping")
    assert ping.status_code == 200
    assert ping.content == b""
    model = {"name": "support-bot", "version": "3", "uri": "models:/support-bot/3"}
    assert live.client.get("/health").json() == {"status": "ok", "model": model, "tracing": False}
    assert live.client.get("/version").json() == {"llmtrace": __version__, "model": model}


def test_explicit_name_and_version_win(scoring_server: Start) -> None:
    live = scoring_server(Registered(), model_name="bot", model_version=9, trace=False)
    assert live.client.get("/health").json()["model"] == {
        "name": "bot",
        "version": "9",
        "uri": "models:/support-bot/3",
    }


def test_unknown_route_and_wrong_method_use_the_error_shape(recorder: LiveApp) -> None:
    assert error_of(recorder.client.get("/nope"), 404)["code"] == "NOT_FOUND"
    assert error_of(recorder.client.get("/invocations"), 405)["code"] == "METHOD_NOT_ALLOWED"


def test_no_trace_header_without_tracing(recorder: LiveApp) -> None:
    assert TRACE_ID_HEADER not in recorder.post_json({"inputs": 1}).headers


def test_create_app_refuses_what_it_cannot_serve() -> None:
    with pytest.raises(ServingError, match="has no predict"):
        create_app(object())  # type: ignore[arg-type]
    with pytest.raises(ServingError, match="max_body_bytes must be positive"):
        create_app(Identity(), max_body_bytes=0)


class Sleepy:
    """Sleeps as long as its input says, then echoes it."""

    def predict(self, data: Any, params: Any = None) -> Any:
        time.sleep(float(data[0]))
        return data


def test_a_slow_model_gets_504_and_the_server_keeps_serving(
    scoring_server: Callable[..., LiveApp],
) -> None:
    live = scoring_server(Sleepy(), trace=False, timeout=0.3)
    started = time.monotonic()
    slow = live.post_json({"inputs": [2.0]})
    assert time.monotonic() - started < 1.5  # answered at the limit, not when the model ends
    assert slow.status_code == 504
    error = slow.json()["error"]
    assert error["code"] == "TIMEOUT" and "0.3 s" in error["message"]
    fast = live.post_json({"inputs": [0.01]})
    assert fast.status_code == 200 and fast.json() == {"predictions": [0.01]}
