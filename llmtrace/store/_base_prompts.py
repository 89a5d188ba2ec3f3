"""The prompt registry part of the `Store` protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from llmtrace.store._prompt_template import Template
from llmtrace.store._tracking_values import TagsLike
from llmtrace.store.prompt_entities import Prompt, PromptList, PromptVersion, PromptVersionList


class PromptStore(Protocol):
    """Storage of the prompt registry (`SqlStore` and `RestStore` implement it).

    Names are 1-255 letters, digits, '_', '-' or '.'; aliases 1-255 letters, digits, '_' or
    '-' starting with a letter or '_'; `latest` is a reserved alias for the highest version.
    Bad arguments raise `InvalidParameterError`, unknown prompts, versions or aliases
    `NotFoundError`, an existing name `AlreadyExistsError`, on both implementations.
    """

    def create_prompt(
        self, name: str, description: str | None = None, tags: TagsLike | None = None
    ) -> Prompt:
        """Register a prompt name without versions; AlreadyExistsError if taken."""
        ...

    def get_prompt(self, name: str) -> Prompt:
        """A prompt with its latest version number and aliases."""
        ...

    def search_prompts(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> PromptList:
        """A page of prompts in name order matching the filter (name, description,
        created_at, updated_at, tags.<key>)."""
        ...

    def update_prompt(
        self, name: str, *, description: str | None = None, tags: TagsLike | None = None
    ) -> Prompt:
        """Change the description and merge tags (an empty value removes a tag)."""
        ...

    def delete_prompt(self, name: str) -> None:
        """Delete a prompt with its versions and aliases."""

    def create_prompt_version(
        self,
        name: str,
        template: Template,
        *,
        template_type: str | None = None,
        commit_message: str | None = None,
        tags: TagsLike | None = None,
        config: Mapping[str, Any] | None = None,
        created_by: str | None = None,
    ) -> PromptVersion:
        """Register the next version (highest + 1) of a prompt, creating the prompt if
        needed."""
        ...

    def get_prompt_version(self, name: str, version: int) -> PromptVersion:
        """One version of a prompt."""
        ...

    def get_prompt_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        """The version an alias (or `latest`) points at."""
        ...

    def list_prompt_versions(
        self, name: str, *, limit: int = 100, page_token: str | None = None
    ) -> PromptVersionList:
        """A page of a prompt's versions, newest first."""
        ...

    def delete_prompt_version(self, name: str, version: int) -> None:
        """Delete one version and the aliases pointing at it."""

    def set_prompt_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at an existing version."""

    def delete_prompt_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
