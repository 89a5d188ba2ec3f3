"""The judge interface scorers call: one async `complete` returning a parsed `JudgeReply`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class JudgeError(Exception):
    """A judge call failed for good (after retries and the repair attempt); the message says
    why (HTTP status, unparseable output, timeout). Scorers turn it into `Score.failed`."""


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log probability and the top alternatives."""

    token: str
    logprob: float
    top: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeReply:
    """What a judge answered: raw `text`, `data` parsed from it when a schema or JSON was asked
    for, `logprobs` when requested and returned, usage and cost, and whether it came from the
    cache (no call made)."""

    text: str
    data: Any = None
    logprobs: Sequence[TokenLogprob] | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    cached: bool = False
    model: str | None = None


class Judge(ABC):
    """An LLM used as a judge. Implementations: `OpenAIJudge` (any OpenAI-compatible endpoint),
    `LangChainJudge` (a LangChain chat model)."""

    model: str

    @abstractmethod
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
        """Ask the judge. With `schema` (a JSON schema of an object), the answer is requested
        as structured output and returned parsed in `data` (validated against the schema's
        required keys); `logprobs=N` asks for the top-N alternatives of each token. Raises
        `JudgeError` when no usable answer could be had."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections (the default does nothing)."""


__all__ = ["Judge", "JudgeError", "JudgeReply", "TokenLogprob"]
