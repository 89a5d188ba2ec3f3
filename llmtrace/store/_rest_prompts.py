"""The prompt registry methods of `RestStore` over the server's REST API (docs/prompts.md).

Arguments go through the very checks `SqlStore` runs before any request is sent, so that a bad
name, alias or template fails the same way (same exception, same message); results decode into
the same entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmtrace.store._pagination import check_limit
from llmtrace.store._prompt_template import Template, check_template
from llmtrace.store._prompts import (
    check_alias,
    check_config,
    check_prompt_name,
    check_prompt_tags,
    check_text,
    check_version,
)
from llmtrace.store._rest import RestClient
from llmtrace.store._rest_tracking import segment
from llmtrace.store._tracking_values import TagsLike
from llmtrace.store.prompt_entities import Prompt, PromptList, PromptVersion, PromptVersionList


def _path(name: str, *rest: str | int) -> str:
    return "/".join(["/prompts", segment(name), *(segment(str(r)) for r in rest)])


class RestPromptsMixin(RestClient):
    """The prompt registry half of `RestStore`.

    Example:
        >>> store = RestStore("http://llmtrace:5000")
        >>> store.create_prompt_version("qa", "Answer: {{ question }}").version
        1
    """

    def create_prompt(
        self, name: str, description: str | None = None, tags: TagsLike | None = None
    ) -> Prompt:
        """Register a prompt name without versions; AlreadyExistsError if taken."""
        body = {
            "name": check_prompt_name(name),
            "description": check_text(description, "prompt description"),
            "tags": check_prompt_tags(tags),
        }
        return Prompt.from_dict(self.request("POST", "/prompts", json=body).json())

    def get_prompt(self, name: str) -> Prompt:
        """A prompt with its latest version number and aliases."""
        return Prompt.from_dict(self.get_json(_path(check_prompt_name(name))))

    def search_prompts(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> PromptList:
        """A page of prompts in name order matching the filter."""
        page = self.get_json(
            "/prompts", filter=filter, limit=check_limit(limit), page_token=page_token
        )
        items = [Prompt.from_dict(item) for item in page["prompts"]]
        return PromptList(items, page.get("next_page_token"))

    def update_prompt(
        self, name: str, *, description: str | None = None, tags: TagsLike | None = None
    ) -> Prompt:
        """Change the description and merge tags (an empty value removes a tag)."""
        body = {
            "description": check_text(description, "prompt description"),
            "tags": check_prompt_tags(tags),
        }
        path = _path(check_prompt_name(name))
        return Prompt.from_dict(self.request("PATCH", path, json=body, retry=True).json())

    def delete_prompt(self, name: str) -> None:
        """Delete a prompt with its versions and aliases."""
        self.request("DELETE", _path(check_prompt_name(name)))

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
        """Register the next version of a prompt, creating the prompt if needed."""
        check_prompt_name(name)
        checked, kind = check_template(template, template_type)
        body = {
            "template": checked,
            "template_type": kind,
            "commit_message": check_text(commit_message, "commit message"),
            "tags": check_prompt_tags(tags),
            "config": check_config(config),
            "created_by": check_text(created_by, "created_by", 255),
        }
        response = self.request("POST", _path(name, "versions"), json=body)
        return PromptVersion.from_dict(response.json())

    def get_prompt_version(self, name: str, version: int) -> PromptVersion:
        """One version of a prompt."""
        path = _path(check_prompt_name(name), "versions", check_version(version))
        return PromptVersion.from_dict(self.get_json(path))

    def get_prompt_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        """The version an alias (or `latest`) points at."""
        path = _path(check_prompt_name(name), "aliases", check_alias(alias, writing=False))
        return PromptVersion.from_dict(self.get_json(path))

    def list_prompt_versions(
        self, name: str, *, limit: int = 100, page_token: str | None = None
    ) -> PromptVersionList:
        """A page of a prompt's versions, newest first."""
        page = self.get_json(
            _path(check_prompt_name(name), "versions"),
            limit=check_limit(limit),
            page_token=page_token,
        )
        items = [PromptVersion.from_dict(item) for item in page["versions"]]
        return PromptVersionList(items, page.get("next_page_token"))

    def delete_prompt_version(self, name: str, version: int) -> None:
        """Delete one version and the aliases pointing at it."""
        self.request("DELETE", _path(check_prompt_name(name), "versions", check_version(version)))

    def set_prompt_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at an existing version."""
        path = _path(check_prompt_name(name), "aliases", check_alias(alias, writing=True))
        self.request("PUT", path, json={"version": check_version(version)})

    def delete_prompt_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self.request(
            "DELETE", _path(check_prompt_name(name), "aliases", check_alias(alias, writing=True))
        )


__all__ = ["RestPromptsMixin"]
