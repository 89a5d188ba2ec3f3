"""`LangChainJudge`: a LangChain chat model used as a judge (`langchain-core` needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import llmtrace
from evaluators.judge._base import Judge, JudgeError, JudgeReply
from evaluators.judge._openai import JudgeStats
from evaluators.judge._parse import REPAIR_PROMPT, ParseError, parse_json, schema_instructions
from llmtrace import pricing


class LangChainJudge(Judge):
    """A judge over any LangChain `BaseChatModel`. Structured output is asked for in the
    prompt (the schema as JSON instructions) and read with the tolerant parser, with one
    repair attempt; retries and rate limits are the chat model's own.

    Example:
        >>> from langchain_openai import ChatOpenAI
        >>> judge = LangChainJudge(ChatOpenAI(model="gpt-4o-mini", temperature=0))
    """

    def __init__(self, chat_model: Any, *, model: str | None = None) -> None:
        self.chat_model = chat_model
        self._stats = JudgeStats()
        self.model = model or str(
            getattr(chat_model, "model_name", None)
            or getattr(chat_model, "model", None)
            or type(chat_model).__name__
        )

    def stats(self) -> JudgeStats:
        """A copy of the counters (calls, errors, tokens, cost; no cache, no own retries)."""
        return replace(self._stats)

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        schema: Mapping[str, Any] | None = None,
        schema_name: str = "verdict",
        logprobs: int | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> JudgeReply:
        """Ask the chat model (see `Judge.complete`); `logprobs` are not available here."""
        msgs = [dict(m) for m in messages]
        if schema is not None:
            msgs = [{"role": "system", "content": schema_instructions(schema)}, *msgs]
        usage = [0, 0]
        async with llmtrace.span(f"judge:{self.model}", span_type="EVALUATOR") as span:
            span.set_model(self.model, provider="langchain")
            span.set_inputs({"messages": msgs, "schema": schema})
            text = await self._ask(msgs, usage)
            data = None
            if schema is not None:
                try:
                    data = parse_json(text, schema)
                except ParseError as exc:
                    repair = [
                        *msgs,
                        {"role": "assistant", "content": text},
                        {"role": "user", "content": REPAIR_PROMPT.format(error=exc)},
                    ]
                    text = await self._ask(repair, usage)
                    try:
                        data = parse_json(text, schema)
                    except ParseError as again:
                        self._stats.errors += 1
                        raise JudgeError(
                            f"unusable judge answer after one repair: {again}"
                        ) from None
            span.set_usage(usage[0], usage[1])
            span.set_outputs(data if data is not None else text)
        cost = pricing.cost_of(
            self.model, pricing.Usage(input_tokens=usage[0], output_tokens=usage[1])
        )
        self._stats.input_tokens += usage[0]
        self._stats.output_tokens += usage[1]
        self._stats.cost += 0.0 if cost is None else cost.total
        return JudgeReply(
            text=text,
            data=data,
            input_tokens=usage[0],
            output_tokens=usage[1],
            cost=None if cost is None else cost.total,
            model=self.model,
        )

    async def _ask(self, messages: list[dict[str, str]], usage: list[int]) -> str:
        self._stats.calls += 1
        try:
            message = await self.chat_model.ainvoke(
                [(m.get("role", "user"), m.get("content", "")) for m in messages]
            )
        except Exception as exc:
            self._stats.errors += 1
            raise JudgeError(f"the LangChain judge failed: {exc}") from exc
        meta = getattr(message, "usage_metadata", None) or {}
        usage[0] += int(meta.get("input_tokens") or 0)
        usage[1] += int(meta.get("output_tokens") or 0)
        content = getattr(message, "content", message)
        if isinstance(content, list):
            content = "".join(
                p.get("text", "") if isinstance(p, Mapping) else str(p) for p in content
            )
        return str(content)


def is_chat_model(value: Any) -> bool:
    """Whether `value` is a LangChain chat model (False when langchain-core is absent)."""
    try:
        from langchain_core.language_models import BaseChatModel
    except ImportError:
        return False
    return isinstance(value, BaseChatModel)


__all__ = ["LangChainJudge"]
