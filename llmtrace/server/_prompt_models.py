"""Wire models of the prompt registry routes (`_api_prompts`).

Request bodies are validated here (a malformed body is a 400 in the stable error shape);
the values themselves are checked by the store, which names what is wrong. Responses are the
entities' `to_dict()`; the response models document them in /openapi.json.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from llmtrace.server._tracking_models import Scalar

StrictInt = Annotated[int, Field(strict=True)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatMessage(BaseModel):
    """One message of a chat template; keys other than role and content are kept."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str


class PromptCreate(_Body):
    """`POST /prompts`."""

    name: str
    description: str | None = None
    tags: dict[str, Scalar] | None = None


class PromptUpdate(_Body):
    """`PATCH /prompts/{name}`: a description (None leaves it) and tags merged in (an empty
    value removes a tag)."""

    description: str | None = None
    tags: dict[str, Scalar] | None = None


class PromptVersionCreate(_Body):
    """`POST /prompts/{name}/versions`: a text template, or chat messages."""

    template: str | list[ChatMessage]
    template_type: str | None = None
    commit_message: str | None = None
    tags: dict[str, Scalar] | None = None
    config: dict[str, Any] | None = None
    created_by: str | None = None

    def template_value(self) -> str | list[dict[str, Any]]:
        """The template as the store takes it."""
        if isinstance(self.template, str):
            return self.template
        return [m.model_dump() for m in self.template]


class AliasSet(_Body):
    """`PUT /prompts/{name}/aliases/{alias}`."""

    version: StrictInt


# --- response models (documentation) ------------------------------------------------------------


class PromptOut(BaseModel):
    """A prompt with its highest version and its aliases."""

    name: str
    description: str | None
    tags: dict[str, str]
    created_at: datetime | None
    updated_at: datetime | None
    latest_version: int | None
    aliases: dict[str, int]


class PromptPage(BaseModel):
    """A page of prompts in name order."""

    prompts: list[PromptOut]
    next_page_token: str | None


class PromptVersionOut(BaseModel):
    """One version of a prompt."""

    name: str
    version: int
    template: str | list[dict[str, Any]]
    template_type: str
    variables: list[str]
    config: dict[str, Any] | None
    commit_message: str | None
    tags: dict[str, str]
    aliases: list[str]
    created_by: str | None
    created_at: datetime | None


class PromptVersionPage(BaseModel):
    """A page of versions, newest first."""

    versions: list[PromptVersionOut]
    next_page_token: str | None


__all__ = [
    "AliasSet",
    "ChatMessage",
    "PromptCreate",
    "PromptOut",
    "PromptPage",
    "PromptUpdate",
    "PromptVersionCreate",
    "PromptVersionOut",
    "PromptVersionPage",
]
