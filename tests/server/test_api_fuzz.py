"""Property-based requests over every documented route: whatever a client sends, the server
answers in the stable error shape (4xx) or succeeds, never 5xx.

Schemathesis generates requests (valid and invalid bodies, parameters, headers) from the app's
own `/openapi.json` and sends them in process; a SQLite store sits underneath. Generation is
derandomised, so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from llmtrace.server import ServerConfig, create_app

_APP = create_app(ServerConfig(store="sqlite://", artifacts="unused"))
OPERATIONS = sorted(
    (
        result.ok()
        for result in schemathesis.openapi.from_asgi("/openapi.json", _APP).get_all_operations()
    ),
    key=lambda op: op.label,
)
_APP.state.store.close()


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(ServerConfig(store=f"sqlite:///{tmp / 'fuzz.db'}", artifacts=str(tmp / "a")))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.store.close()


@pytest.mark.parametrize("label", [op.label for op in OPERATIONS])
def test_no_request_gets_a_server_error(schema: Any, label: str) -> None:
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        response = case.call()
        case.validate_response(response, checks=(not_a_server_error,))
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["status"] == response.status_code
            assert error["code"] and error["message"]

    check()
