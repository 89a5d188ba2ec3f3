"""The model registry and the prompt registry: versions, aliases, stages and approvals, on
the configured store.

Example:
    >>> from llmtrace import registry
    >>> v = registry.register_model(f"runs:/{run_id}/model", "rag-bot")
    >>> registry.set_model_alias("rag-bot", "champion", v.version)
"""

from __future__ import annotations

from llmtrace.registry._models import (
    approve_transition,
    create_registered_model,
    current_user,
    delete_model_alias,
    get_latest_versions,
    get_model_version,
    get_model_version_by_alias,
    get_registered_model,
    pending_transitions,
    register_model,
    reject_transition,
    request_transition,
    search_model_versions,
    search_registered_models,
    set_model_alias,
    transition_model_version_stage,
)
from llmtrace.registry._prompts import (
    PromptRef,
    delete_prompt_alias,
    get_prompt,
    load_prompt,
    parse_prompt_ref,
    register_prompt,
    search_prompts,
    set_prompt_alias,
)
from llmtrace.store.prompt_entities import Prompt, PromptList, PromptVersion, PromptVersionList

__all__ = [
    "Prompt",
    "PromptList",
    "PromptRef",
    "PromptVersion",
    "PromptVersionList",
    "approve_transition",
    "create_registered_model",
    "current_user",
    "delete_model_alias",
    "delete_prompt_alias",
    "get_latest_versions",
    "get_model_version",
    "get_model_version_by_alias",
    "get_prompt",
    "get_registered_model",
    "load_prompt",
    "parse_prompt_ref",
    "pending_transitions",
    "register_model",
    "register_prompt",
    "reject_transition",
    "request_transition",
    "search_model_versions",
    "search_prompts",
    "search_registered_models",
    "set_model_alias",
    "set_prompt_alias",
    "transition_model_version_stage",
]
