"""`llmtrace.serving` types and `serve()`'s argument checks (its `__all__` is pinned in
tests/test_public_api.py)."""

from __future__ import annotations

import pytest

from llmtrace.exceptions import LlmtraceError
from llmtrace.serving import ServableModel, ServingError, serve
from tests.serving.conftest import DataOnly, Identity


def test_serving_error_is_a_library_error() -> None:
    # The CLI turns LlmtraceError into one `error:` line.
    assert issubclass(ServingError, LlmtraceError)


def test_any_object_with_predict_is_servable() -> None:
    assert isinstance(Identity(), ServableModel)
    assert isinstance(DataOnly(), ServableModel)
    assert not isinstance(object(), ServableModel)


def test_several_workers_need_a_uri() -> None:
    with pytest.raises(ServingError, match="workers > 1 needs a model URI"):
        serve(Identity(), workers=2)
    with pytest.raises(ServingError, match="workers must be at least 1"):
        serve(Identity(), workers=0)
