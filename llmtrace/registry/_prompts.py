"""The prompt registry, the fluent way: register, load, alias and search prompts in the
configured store (the one traces go to: a database, or an llmtrace server).

Example:
    >>> from llmtrace.registry import load_prompt, register_prompt, set_prompt_alias
    >>> register_prompt("qa", "Answer briefly: {{ question }}", commit_message="first")
    PromptVersion(name='qa', version=1, ...)
    >>> set_prompt_alias("qa", "production", 1)
    >>> prompt = load_prompt("prompts:/qa@production")
    >>> client.chat.completions.create(
    ...     model="gpt-4o-mini",
    ...     messages=[{"role": "user", "content": prompt.format(question="2+2?")}],
    ... )  # the LLM span records llmtrace.prompt.name = "qa", llmtrace.prompt.version = 1
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store import Store
from llmtrace.store._prompt_template import Template
from llmtrace.store._prompts import LATEST, check_alias, check_prompt_name, check_version
from llmtrace.store._tracking_values import TagsLike
from llmtrace.store.prompt_entities import URI_SCHEME, Prompt, PromptList, PromptVersion
from llmtrace.tracking._defaults import default_store

# name, then "/<version>" or "@<alias>" (or nothing: the latest version)
_REFERENCE = re.compile(r"(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?")


@dataclass(frozen=True)
class PromptRef:
    """A parsed prompt reference: a name with a version, an alias, or neither (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def load(self, store: Store) -> PromptVersion:
        """The version this reference names, from `store`."""
        if self.version is not None:
            return store.get_prompt_version(self.name, self.version)
        return store.get_prompt_version_by_alias(self.name, self.alias or LATEST)


def parse_prompt_ref(reference: str, version: int | str | None = None) -> PromptRef:
    """Parse `prompts:/name/3`, `prompts:/name@alias`, `prompts:/name` (latest), or the same
    without the `prompts:/` scheme. `version` (a number, or an alias name) may name the
    version of a reference that does not; InvalidParameterError for anything malformed.

    Example:
        >>> parse_prompt_ref("prompts:/qa@production")
        PromptRef(name='qa', version=None, alias='production')
        >>> parse_prompt_ref("qa", version=3)
        PromptRef(name='qa', version=3, alias=None)
    """
    if not isinstance(reference, str):
        raise InvalidParameterError(f"a prompt reference must be a string, got {reference!r}")
    body = reference[len(URI_SCHEME) :] if reference.startswith(URI_SCHEME) else reference
    match = _REFERENCE.fullmatch(body)
    if match is None:
        raise InvalidParameterError(
            f"invalid prompt reference {reference!r}: expected prompts:/<name>, "
            "prompts:/<name>/<version> or prompts:/<name>@<alias>"
        )
    name = check_prompt_name(match["name"])
    number: int | None = None
    alias = match["alias"]
    if match["version"] is not None:
        if not match["version"].isdigit():
            raise InvalidParameterError(
                f"invalid prompt reference {reference!r}: the version after '/' must be a "
                "number (use '@' for an alias)"
            )
        number = check_version(int(match["version"]))
    if version is not None:
        if number is not None or alias is not None:
            raise InvalidParameterError(
                f"{reference!r} already names a version; do not also pass version={version!r}"
            )
        if isinstance(version, str) and not version.isdigit():
            alias = version
        else:
            number = check_version(int(version))
    if alias is not None:
        check_alias(alias, writing=False)
    return PromptRef(name, number, alias)


def register_prompt(
    name: str,
    template: Template,
    commit_message: str | None = None,
    tags: TagsLike | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    template_type: str | None = None,
) -> PromptVersion:
    """Register a new version of prompt `name` (created on first use) and return it.

    `template` is text with `{{ variables }}`, or a list of chat messages
    `{"role": ..., "content": ...}`; `config` keeps model settings with the prompt.

    Example:
        >>> register_prompt("qa", [
        ...     {"role": "system", "content": "You answer in one sentence."},
        ...     {"role": "user", "content": "{{ question }}"},
        ... ], commit_message="chat version", config={"temperature": 0})
    """
    return default_store().create_prompt_version(
        name,
        template,
        template_type=template_type,
        commit_message=commit_message,
        tags=tags,
        config=config,
    )


def load_prompt(name_or_uri: str, version: int | str | None = None) -> PromptVersion:
    """Load a prompt version: `prompts:/qa/3`, `prompts:/qa@production`, `prompts:/qa` (the
    latest), or a name with `version` (a number or an alias). NotFoundError if it does not
    exist.

    Example:
        >>> load_prompt("qa", version=2).format(question="2+2?")
    """
    return parse_prompt_ref(name_or_uri, version).load(default_store())


def get_prompt(name: str) -> Prompt:
    """A prompt's description, tags, latest version number and aliases."""
    return default_store().get_prompt(name)


def search_prompts(
    filter: str | None = None, *, limit: int = 100, page_token: str | None = None
) -> PromptList:
    """A page of prompts in name order, e.g. `search_prompts("tags.team = 'search'")`."""
    return default_store().search_prompts(filter, limit=limit, page_token=page_token)


def set_prompt_alias(name: str, alias: str, version: int) -> None:
    """Point `alias` (e.g. "production") at an existing version of prompt `name`."""
    default_store().set_prompt_alias(name, alias, version)


def delete_prompt_alias(name: str, alias: str) -> None:
    """Remove an alias of prompt `name`."""
    default_store().delete_prompt_alias(name, alias)


__all__ = [
    "PromptRef",
    "delete_prompt_alias",
    "get_prompt",
    "load_prompt",
    "parse_prompt_ref",
    "register_prompt",
    "search_prompts",
    "set_prompt_alias",
]
