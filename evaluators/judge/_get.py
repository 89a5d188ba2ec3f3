"""`get_judge`: a judge from a model string, a LangChain chat model or a `Judge`."""

from __future__ import annotations

import os
from typing import Any

from evaluators.judge._base import Judge
from evaluators.judge._langchain import LangChainJudge, is_chat_model
from evaluators.judge._openai import OpenAIJudge


def get_judge(spec: Any = None, **options: Any) -> Judge:
    """The judge `spec` names.

    - `"openai:gpt-4o-mini"` (or a bare model name): an `OpenAIJudge` on `OPENAI_BASE_URL`
      (vLLM, Ollama and other OpenAI-compatible servers work the same way);
    - `"azure:<deployment>"`: an `OpenAIJudge` on Azure OpenAI (`AZURE_OPENAI_ENDPOINT`,
      `AZURE_OPENAI_API_KEY`, `OPENAI_API_VERSION`);
    - a LangChain chat model: a `LangChainJudge`;
    - a `Judge`: itself; None: the spec in `LLMTRACE_JUDGE`.

    `options` go to `OpenAIJudge` (`base_url`, `api_key`, `max_concurrency`, `cache`, ...).

    Example:
        >>> judge = get_judge("openai:gpt-4o-mini", base_url="http://localhost:8000/v1")
    """
    if isinstance(spec, Judge):
        return spec
    if spec is None:
        spec = os.environ.get("LLMTRACE_JUDGE")
        if not spec:
            raise ValueError(
                "no judge given: pass judge='openai:<model>' (or a LangChain chat model), "
                "or set LLMTRACE_JUDGE"
            )
    if isinstance(spec, str):
        provider, sep, model = spec.partition(":")
        if not sep:
            provider, model = "openai", spec
        provider = provider.strip().lower()
        model = model.strip()
        if not model:
            raise ValueError(f"judge {spec!r} names no model (expected 'openai:<model>')")
        if provider == "openai":
            return OpenAIJudge(model, **options)
        if provider == "azure":
            return OpenAIJudge(model, azure=True, **options)
        raise ValueError(
            f"unknown judge provider {provider!r} in {spec!r}: use 'openai:<model>' (any "
            "OpenAI-compatible endpoint via base_url) or 'azure:<deployment>'"
        )
    if is_chat_model(spec):
        return LangChainJudge(spec)
    raise TypeError(
        f"cannot make a judge of {type(spec).__name__}: give 'openai:<model>', a LangChain "
        "chat model or a Judge"
    )


__all__ = ["get_judge"]
