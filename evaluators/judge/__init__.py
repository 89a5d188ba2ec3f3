"""Judges: LLMs that score rows. `get_judge("openai:gpt-4o-mini")` builds one."""

from __future__ import annotations

from evaluators.judge._base import Judge, JudgeError, JudgeReply, TokenLogprob

__all__ = ["Judge", "JudgeError", "JudgeReply", "TokenLogprob"]
