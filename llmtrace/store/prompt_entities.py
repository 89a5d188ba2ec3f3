"""Typed results of the prompt registry: `Prompt`, `PromptVersion` and their pages.

A `PromptVersion` is immutable once registered; `format()` renders it (see
`llmtrace.store._prompt_template` for the `{{ variable }}` syntax) and links the LLM calls that
follow in the same trace to it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmtrace.context import record_prompt_use
from llmtrace.store._prompt_template import Message, Template, render
from llmtrace.store.entities import Page

URI_SCHEME = "prompts:/"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@dataclass
class Prompt:
    """A registered prompt: a name under which template versions are kept, with the highest
    version and the aliases (`production` -> 3) it has now."""

    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """`prompts:/<name>`: the latest version."""
        return URI_SCHEME + self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prompt:
        """The inverse of `to_dict`."""
        return cls(
            name=str(data["name"]),
            description=data.get("description"),
            tags=dict(data.get("tags") or {}),
            created_at=_time(data.get("created_at")),
            updated_at=_time(data.get("updated_at")),
            latest_version=data.get("latest_version"),
            aliases={str(k): int(v) for k, v in (data.get("aliases") or {}).items()},
        )


@dataclass
class PromptVersion:
    """One immutable version of a prompt.

    `template` is a string (`template_type` "text") or a list of `{"role", "content"}`
    messages ("chat"); `variables` are the `{{ names }}` it takes; `config` holds model settings
    kept with the prompt (model, temperature...); `aliases` are those pointing at this version.

    Example:
        >>> pv = store.get_prompt_version("qa", 3)
        >>> pv.format(question="What is 2+2?")
        'Answer briefly: What is 2+2?'
        >>> pv.uri
        'prompts:/qa/3'
    """

    name: str
    version: int
    template: Template
    template_type: str = "text"
    variables: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
    commit_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    created_by: str | None = None
    created_at: datetime | None = None

    @property
    def uri(self) -> str:
        """`prompts:/<name>/<version>`, which `load_prompt` accepts."""
        return f"{URI_SCHEME}{self.name}/{self.version}"

    @property
    def is_chat(self) -> bool:
        """True for a chat template (a list of messages)."""
        return self.template_type == "chat"

    def format(
        self,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        allow_missing: bool = False,
        allow_extra: bool = False,
        **variables: Any,
    ) -> str | list[Message]:
        """The template with its variables filled in: a string for a text prompt, a new list
        of messages for a chat prompt. Values are given as keywords or as one mapping (for
        variables named like the options); non-string values are inserted as `str(value)`.

        A variable without a value raises `InvalidParameterError` naming it, unless
        `allow_missing` (it then stays `{{ name }}`, to be filled later); a value the template
        does not use raises too (usually a typo), unless `allow_extra`.

        LLM and chat spans started afterwards in the same trace record this prompt's name and
        version (`llmtrace.prompt.name`, `llmtrace.prompt.version`).

        Example:
            >>> pv.format(question="2+2?")
            >>> pv.format({"question": "2+2?", "allow_extra": "x"}, allow_extra=True)
        """
        merged = {**(values or {}), **variables}
        rendered = render(
            self.template,
            self.variables,
            merged,
            allow_missing=allow_missing,
            allow_extra=allow_extra,
            what=f"prompt {self.name!r} version {self.version}",
        )
        record_prompt_use(self.name, self.version)
        return rendered

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "version": self.version,
            "template": copy.deepcopy(self.template),
            "template_type": self.template_type,
            "variables": list(self.variables),
            "config": copy.deepcopy(self.config),
            "commit_message": self.commit_message,
            "tags": dict(self.tags),
            "aliases": list(self.aliases),
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptVersion:
        """The inverse of `to_dict`."""
        return cls(
            name=str(data["name"]),
            version=int(data["version"]),
            template=data["template"],
            template_type=str(data.get("template_type") or "text"),
            variables=list(data.get("variables") or []),
            config=data.get("config"),
            commit_message=data.get("commit_message"),
            tags=dict(data.get("tags") or {}),
            aliases=list(data.get("aliases") or []),
            created_by=data.get("created_by"),
            created_at=_time(data.get("created_at")),
        )


class PromptList(Page[Prompt]):
    """A page of prompts in name order; `next_page_token` fetches the next page."""


class PromptVersionList(Page[PromptVersion]):
    """A page of a prompt's versions, newest first; `next_page_token` fetches the next."""


__all__ = ["URI_SCHEME", "Prompt", "PromptList", "PromptVersion", "PromptVersionList"]
