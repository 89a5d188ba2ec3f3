"""`OpenAIJudge`: a judge on any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama...)."""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import llmtrace
from evaluators.judge._base import Judge, JudgeError, JudgeReply, TokenLogprob
from evaluators.judge._cache import JudgeCache, cache_key
from evaluators.judge._limiter import AdaptiveLimiter, limiter_for
from evaluators.judge._parse import REPAIR_PROMPT, ParseError, parse_json, schema_instructions
from llmtrace import pricing

# Structured-output modes, best first; an endpoint that rejects one is remembered at the next.
MODES = ("json_schema", "json_object", "text")
_ENDPOINT_MODE: dict[tuple[str, str], str] = {}
_RETRY_STATUS = frozenset({408, 409, 429})


@dataclass
class JudgeStats:
    """What a judge did so far: real `calls` (HTTP requests that got an answer), `cached`
    replies, `retries`, `errors` (calls that raised `JudgeError`), tokens and cost in USD."""

    calls: int = 0
    cached: int = 0
    retries: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


class OpenAIJudge(Judge):
    """A judge calling `model` through the `openai` package's async client.

    `base_url`/`api_key` default to `OPENAI_BASE_URL`/`OPENAI_API_KEY` (`azure=True` uses
    `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY`, `OPENAI_API_VERSION`, and `model` is the
    deployment). Failed calls are retried `max_retries` times with exponential backoff and
    jitter on 429, 5xx, timeouts and connection errors, honouring `Retry-After`. Calls to one
    endpoint share an adaptive concurrency limit (at most `max_concurrency`, halved on 429s).
    `cache` is True (the default file, `$LLMTRACE_HOME/judge_cache.db`), a path, a
    `JudgeCache`, or None/False for no cache. Every call is traced as an `EVALUATOR` span.

    Example:
        >>> judge = OpenAIJudge("gpt-4o-mini", max_concurrency=32)
        >>> reply = await judge.complete(
        ...     [{"role": "user", "content": "Is 2+2=4? Answer yes or no."}],
        ...     schema={"type": "object", "properties": {"answer": {"type": "string"}},
        ...             "required": ["answer"]},
        ... )
        >>> reply.data["answer"]
        'yes'
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        max_concurrency: int = 16,
        cache: bool | str | os.PathLike[str] | JudgeCache | None = True,
        temperature: float | None = 0.0,
        azure: bool = False,
        api_version: str | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.model = model
        self.azure = azure
        if azure:
            base_url = base_url or os.environ.get("AZURE_OPENAI_ENDPOINT")
            api_key = api_key or os.environ.get("AZURE_OPENAI_API_KEY")
            self.api_version = api_version or os.environ.get("OPENAI_API_VERSION", "2024-10-21")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or _OPENAI).rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_concurrency = max(1, max_concurrency)
        self.temperature = temperature
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.cache = _open_cache(cache)
        self._stats = JudgeStats()
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}

    def __repr__(self) -> str:
        return f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r})"

    def stats(self) -> JudgeStats:
        """A copy of the counters (calls, cached, retries, errors, tokens, cost)."""
        return replace(self._stats)

    @property
    def limiter(self) -> AdaptiveLimiter:
        """The concurrency limiter of this judge's endpoint in the running event loop."""
        return limiter_for(self.base_url, self.max_concurrency)

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
        """Ask the judge (see `Judge.complete`); a cached reply is returned without a call."""
        temp = temperature if temperature else self.temperature
        msgs = [dict(m) for m in messages]
        key = None
        if self.cache is not None:
            key = cache_key(
                model=self.model,
                base_url=self.base_url,
                messages=msgs,
                schema=schema,
                logprobs=logprobs,
                temperature=temp,
                max_tokens=max_tokens,
            )
        async with llmtrace.span(f"judge:{self.model}", span_type="EVALUATOR") as span:
            span.set_model(self.model, provider="azure" if self.azure else "openai")
            span.set_attribute("judge.base_url", self.base_url)
            span.set_inputs({"messages": msgs, "schema": schema})
            if self.cache is not None and key is not None:
                hit = self.cache.get(key)
                if hit is not None:
                    self._stats.cached += 1
                    span.set_attribute("judge.cached", True)
                    span.set_outputs(hit.text)
                    return hit
            span.set_attribute("judge.cached", False)
            call = _Call(self, msgs, schema, schema_name, logprobs, temp, max_tokens)
            try:
                reply = await call.run()
            except JudgeError:
                self._stats.errors += 1
                self._account(call)
                span.set_usage(call.input_tokens, call.output_tokens)
                raise
            span.set_usage(reply.input_tokens, reply.output_tokens)
            span.set_attribute("judge.mode", call.mode)
            span.set_attribute("judge.attempts", call.attempts)
            span.set_outputs(reply.data if reply.data is not None else reply.text)
            self._account(call, reply.cost)
        if self.cache is not None and key is not None:
            self.cache.put(key, reply)
        return reply

    def _account(self, call: _Call, cost: float | None = None) -> None:
        self._stats.input_tokens += call.input_tokens
        self._stats.output_tokens += call.output_tokens
        self._stats.cost += cost or 0.0

    def client(self) -> Any:
        """The `AsyncOpenAI` client of the running event loop (one per loop, its connection
        pool sized to `max_concurrency`; the SDK's own retries are off)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(id(loop))
        if entry is not None and entry[0] is loop:
            return entry[1]
        import openai

        # The pool must hold `max_concurrency` connections; the SDK's httpx flavour builds it.
        httpx: Any = importlib.import_module(openai.DefaultAsyncHttpxClient.__module__)
        if not hasattr(httpx, "Limits"):
            httpx = importlib.import_module(
                openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]
            )
        limits = httpx.Limits(
            max_connections=self.max_concurrency * 2,
            max_keepalive_connections=self.max_concurrency * 2,
        )
        http = openai.DefaultAsyncHttpxClient(limits=limits, timeout=self.timeout)
        client: Any
        if self.azure:
            client = openai.AsyncAzureOpenAI(
                azure_endpoint=self.base_url,
                azure_deployment=self.model,
                api_key=self.api_key,
                api_version=self.api_version,
                timeout=self.timeout,
                max_retries=0,
                http_client=http,
            )
        else:
            client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key,
                timeout=self.timeout,
                max_retries=0,
                http_client=http,
            )
        # Clients of finished loops (one `asyncio.run` per evaluation) are dropped here.
        self._clients = {k: v for k, v in self._clients.items() if not v[0].is_closed()}
        self._clients[id(loop)] = (loop, client)
        return client

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop."""
        entry = self._clients.pop(id(asyncio.get_running_loop()), None)
        if entry is not None:
            await entry[1].close()


_OPENAI = "https://api.openai.com/v1"


def _open_cache(cache: bool | str | os.PathLike[str] | JudgeCache | None) -> JudgeCache | None:
    if cache is None or cache is False:
        return None
    if isinstance(cache, JudgeCache):
        return cache
    if cache is True:
        return JudgeCache()
    return JudgeCache(Path(cache))


class _Call:
    """One `complete`: structured-output fallback, retries, the repair attempt, usage."""

    def __init__(
        self,
        judge: OpenAIJudge,
        messages: list[dict[str, str]],
        schema: Mapping[str, Any] | None,
        schema_name: str,
        logprobs: int | None,
        temperature: float | None,
        max_tokens: int | None,
    ) -> None:
        self.judge = judge
        self.messages = messages
        self.schema = schema
        self.schema_name = schema_name
        self.logprobs = logprobs
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.endpoint = (judge.base_url, judge.model)
        self.mode = _ENDPOINT_MODE.get(self.endpoint, MODES[0]) if schema else "text"
        self.input_tokens = 0
        self.output_tokens = 0
        self.attempts = 0

    async def run(self) -> JudgeReply:
        response = await self._structured(self.messages)
        text, tokens = _content(response)
        data = None
        if self.schema is not None:
            try:
                data = parse_json(text, self.schema)
            except ParseError as exc:
                repair = [
                    *self.messages,
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": REPAIR_PROMPT.format(error=exc)},
                ]
                response = await self._structured(repair)
                text, tokens = _content(response)
                try:
                    data = parse_json(text, self.schema)
                except ParseError as again:
                    raise JudgeError(f"unusable judge answer after one repair: {again}") from None
        cost = pricing.cost_of(
            self.judge.model,
            pricing.Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens),
        )
        return JudgeReply(
            text=text,
            data=data,
            logprobs=tokens,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost=None if cost is None else cost.total,
            model=getattr(response, "model", None) or self.judge.model,
        )

    async def _structured(self, messages: list[dict[str, str]]) -> Any:
        """Call in the current mode, falling back (and remembering it for the endpoint) when
        the endpoint rejects the response format."""
        import openai

        while True:
            try:
                return await self._with_retries(self._request(messages))
            except openai.BadRequestError as exc:
                if self.mode == "text" or not _format_rejected(exc):
                    raise JudgeError(f"the judge endpoint refused the request: {exc}") from exc
                self.mode = MODES[MODES.index(self.mode) + 1]
                _ENDPOINT_MODE[self.endpoint] = self.mode
            except openai.APIError as exc:
                raise JudgeError(_describe(exc, self.attempts)) from exc

    def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        msgs: list[dict[str, str]] = list(messages)
        kwargs: dict[str, Any] = {"model": self.judge.model}
        if self.schema is not None:
            if self.mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": self.schema_name,
                        "schema": dict(self.schema),
                        "strict": _strict_ok(self.schema),
                    },
                }
            else:
                if self.mode == "json_object":
                    kwargs["response_format"] = {"type": "json_object"}
                msgs = [{"role": "system", "content": schema_instructions(self.schema)}, *msgs]
        kwargs["messages"] = msgs
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if self.logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = self.logprobs
        return kwargs

    async def _with_retries(self, kwargs: dict[str, Any]) -> Any:
        import openai

        judge = self.judge
        limiter = judge.limiter
        client = judge.client()
        attempt = 0
        while True:
            ticket = await limiter.acquire()
            try:
                self.attempts += 1
                response = await client.chat.completions.create(**kwargs)
                limiter.succeeded()
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                status = getattr(exc, "status_code", None)
                if status == 429:
                    limiter.throttled(ticket)
                retryable = status is None or status in _RETRY_STATUS or status >= 500
                if not retryable:
                    raise
                if attempt >= judge.max_retries:
                    raise JudgeError(_describe(exc, attempt + 1)) from exc
                wait = _retry_after(exc)
                if wait is None:
                    wait = min(judge.max_backoff, judge.backoff * 2**attempt)
                    wait *= 0.5 + random.random() / 2
                attempt += 1
                judge._stats.retries += 1
            else:
                judge._stats.calls += 1
                usage = getattr(response, "usage", None)
                if usage is not None:
                    self.input_tokens += int(usage.prompt_tokens or 0)
                    self.output_tokens += int(usage.completion_tokens or 0)
                return response
            finally:
                limiter.release()
            await asyncio.sleep(wait)


def _strict_ok(schema: Mapping[str, Any]) -> bool:
    """Whether OpenAI's strict mode accepts `schema`: every object closed
    (`additionalProperties: false`) with all its properties required."""
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required") or ()) != set(props):
            return False
        return all(_strict_ok(p) for p in props.values() if isinstance(p, Mapping))
    items = schema.get("items")
    return _strict_ok(items) if isinstance(items, Mapping) else True


def _format_rejected(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "support"))


def _describe(exc: Exception, attempts: int) -> str:
    status = getattr(exc, "status_code", None)
    what = f"HTTP {status}" if status else type(exc).__name__
    return f"judge call failed after {attempts} attempts ({what}): {exc}"


def _retry_after(exc: Exception) -> float | None:
    """Seconds the server asked to wait (`retry-after-ms`, `retry-after` seconds or date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _content(response: Any) -> tuple[str, list[TokenLogprob] | None]:
    """The text of the first choice and its token log probabilities, if any."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise JudgeError("the judge returned no choices")
    choice = choices[0]
    text = choice.message.content or ""
    tokens = None
    content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
    if content:
        tokens = [
            TokenLogprob(
                t.token,
                float(t.logprob),
                {alt.token: float(alt.logprob) for alt in (t.top_logprobs or [])},
            )
            for t in content
        ]
    return text, tokens


__all__ = ["JudgeStats", "OpenAIJudge"]
