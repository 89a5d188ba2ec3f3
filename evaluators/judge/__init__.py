"""Judges: LLMs that score rows. `get_judge("openai:gpt-4o-mini")` builds one."""

from __future__ import annotations

from evaluators.judge._base import Judge, JudgeError, JudgeReply, TokenLogprob
from evaluators.judge._cache import JudgeCache, default_cache_path
from evaluators.judge._get import get_judge
from evaluators.judge._langchain import LangChainJudge
from evaluators.judge._limiter import AdaptiveLimiter
from evaluators.judge._openai import JudgeStats, OpenAIJudge
from evaluators.judge._parse import parse_json

__all__ = [
    "AdaptiveLimiter",
    "Judge",
    "JudgeCache",
    "JudgeError",
    "JudgeReply",
    "JudgeStats",
    "LangChainJudge",
    "OpenAIJudge",
    "TokenLogprob",
    "default_cache_path",
    "get_judge",
    "parse_json",
]
