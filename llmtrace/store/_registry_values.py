"""Checks of registry arguments (names, aliases, stages, versions), shared by `SqlStore` and
`RestStore` so that a bad argument fails the same way before anything is written or sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store.registry_entities import REQUEST_STATUSES, STAGES

MAX_NAME_LENGTH = 255
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
_NAME = re.compile(r"[^\x00-\x1f/@]+")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
# `models:/name@latest` means the highest version; it cannot be set.
RESERVED_ALIASES = frozenset({"latest"})


def check_model_name(name: Any) -> str:
    """A registered model name: 1-255 characters without '/', '@' or control characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"a model name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) or name != name.strip():
        raise InvalidParameterError(
            f"invalid model name {name!r}: 1 to {MAX_NAME_LENGTH} characters, no '/', '@', "
            "control characters or surrounding spaces (names appear in models:/ URIs)"
        )
    return name


def check_version(version: Any) -> int:
    """A version number (a positive integer, or its decimal string)."""
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidParameterError(f"a model version is a positive integer, got {version!r}")
    return version


def check_alias(alias: Any) -> str:
    """An alias: a letter or '_' then letters, digits, '_' or '-' (not a number, so that
    `models:/name@3` is never ambiguous), and not the reserved `latest`."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or len(alias) > MAX_NAME_LENGTH:
        raise InvalidParameterError(
            f"invalid alias {alias!r}: a letter or '_' followed by letters, digits, '_' or '-'"
        )
    if alias.lower() in RESERVED_ALIASES:
        raise InvalidParameterError(f"alias {alias!r} is reserved (it means the newest version)")
    return alias


def check_stage(stage: Any) -> str:
    """A stage in any case ('production'), returned in its stored spelling ('Production')."""
    if isinstance(stage, str):
        for known in STAGES:
            if stage.strip().lower() == known.lower():
                return known
    raise InvalidParameterError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")


def check_request_status(status: Any) -> str | None:
    """A transition request status filter (None: every status)."""
    if status is None:
        return None
    if isinstance(status, str) and status.upper() in REQUEST_STATUSES:
        return status.upper()
    raise InvalidParameterError(
        f"unknown request status {status!r} (statuses: {', '.join(REQUEST_STATUSES)})"
    )


def check_registry_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Tags as strings, keys 1-250 characters, values at most 5,000."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidParameterError(f"tags must be a dict, got {tags!r:.60}")
    checked: dict[str, str] = {}
    for key, value in tags.items():
        key = str(key)
        if not key or len(key) > MAX_TAG_KEY_LENGTH:
            raise InvalidParameterError(f"tag key must be 1 to {MAX_TAG_KEY_LENGTH} characters")
        text = "" if value is None else str(value)
        if len(text) > MAX_TAG_VALUE_LENGTH:
            raise InvalidParameterError(
                f"tag {key!r}: value longer than {MAX_TAG_VALUE_LENGTH} characters"
            )
        checked[key] = text
    return checked


def check_source(source: Any) -> str:
    """A model version's source: a non-empty model URI or path."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidParameterError(f"a model version needs a source URI, got {source!r}")
    return source


__all__ = [
    "RESERVED_ALIASES",
    "check_alias",
    "check_model_name",
    "check_registry_tags",
    "check_request_status",
    "check_source",
    "check_stage",
    "check_version",
]
