"""Prompt templates: `{{ variable }}` placeholders in text or in chat messages.

The syntax is deliberately small, so that a template means the same thing everywhere:

* `{{ name }}` is a variable: a Python identifier between double braces, spaces allowed
  inside the braces (`{{name}}`, `{{  name  }}`).
* Everything else is literal text. Single braces (`{"a": 1}`, `f"{x}"`), double braces around
  anything that is not an identifier (`{{ 1 + 2 }}`, `{{"k": 1}}`) and stray `}}` are left
  exactly as written, so JSON and code examples survive formatting.
* `\\{{ name }}` (a backslash before the braces) writes a literal `{{ name }}`: the backslash is
  dropped and the placeholder is not a variable.
* Values are inserted once: a value that itself contains `{{ x }}` is not formatted again.

A chat template is a list of messages `{"role": ..., "content": ...}` whose contents are
templates; other message keys (`name`, ...) are kept as they are.

This module is pure (no database, no tracing): the store uses it to validate templates and
extract their variables at registration, `PromptVersion.format` to render them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llmtrace.exceptions import InvalidParameterError

TEMPLATE_TYPES = ("text", "chat")
MAX_TEMPLATE_CHARS = 1_000_000
MAX_MESSAGES = 1_000
# An escaping backslash (group 1), then the variable name (group 2).
_PLACEHOLDER = re.compile(r"(\\?)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

Message = dict[str, Any]
Template = str | list[Message]


def _check_message(index: int, message: Any) -> Message:
    if not isinstance(message, Mapping):
        raise InvalidParameterError(
            f"chat template message {index} must be an object with 'role' and 'content', "
            f"got {type(message).__name__}"
        )
    role, content = message.get("role"), message.get("content")
    if not isinstance(role, str) or not role.strip():
        raise InvalidParameterError(f"chat template message {index}: 'role' must be a string")
    if not isinstance(content, str):
        raise InvalidParameterError(
            f"chat template message {index}: 'content' must be a string, got "
            f"{type(content).__name__}"
        )
    out = {str(k): v for k, v in message.items()}
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"chat template message {index} is not JSON-serialisable: {exc}"
        ) from None
    return out


def _check_chars(text: str, what: str) -> None:
    if "\x00" in text:
        raise InvalidParameterError(f"{what} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameterError(f"{what} is not valid Unicode (lone surrogate)") from None


def check_template(template: Any, template_type: str | None = None) -> tuple[Template, str]:
    """A valid template and its type ("text" for a string, "chat" for a list of messages).

    `template_type`, when given, must agree with the template's shape; a chat template may
    also be given as its JSON text.

    Example:
        >>> check_template([{"role": "user", "content": "Hi {{ name }}"}])[1]
        'chat'
    """
    if template_type is not None and template_type not in TEMPLATE_TYPES:
        raise InvalidParameterError(
            f"template_type must be 'text' or 'chat', got {template_type!r}"
        )
    if template_type == "chat" and isinstance(template, str):
        try:
            template = json.loads(template)
        except ValueError as exc:
            raise InvalidParameterError(
                f"a chat template given as text must be a JSON list of messages: {exc}"
            ) from None
    if isinstance(template, str):
        if len(template) > MAX_TEMPLATE_CHARS:
            raise InvalidParameterError(
                f"template is {len(template)} characters long (max {MAX_TEMPLATE_CHARS})"
            )
        _check_chars(template, "template")
        return template, "text"
    if isinstance(template, Sequence) and not isinstance(template, (bytes, bytearray)):
        if template_type == "text":
            raise InvalidParameterError("template_type 'text' needs a string template")
        if not template:
            raise InvalidParameterError("a chat template needs at least one message")
        if len(template) > MAX_MESSAGES:
            raise InvalidParameterError(
                f"chat template has {len(template)} messages (max {MAX_MESSAGES})"
            )
        messages = [_check_message(i, m) for i, m in enumerate(template)]
        total = 0
        for i, message in enumerate(messages):
            _check_chars(message["role"], f"chat template message {i} role")
            _check_chars(message["content"], f"chat template message {i} content")
            total += len(message["content"])
        if total > MAX_TEMPLATE_CHARS:
            raise InvalidParameterError(
                f"chat template contents are {total} characters long (max {MAX_TEMPLATE_CHARS})"
            )
        return messages, "chat"
    raise InvalidParameterError(
        "template must be a string (text) or a list of {'role', 'content'} messages (chat), "
        f"got {type(template).__name__}"
    )


def _texts(template: Template) -> Iterable[str]:
    if isinstance(template, str):
        yield template
    else:
        for message in template:
            yield message["content"]


def extract_variables(template: Template) -> list[str]:
    """The variable names of a template, in order of first appearance.

    Example:
        >>> extract_variables("{{ a }} and {{b}}, {{ a }}; {not} \\\\{{ c }}")
        ['a', 'b']
    """
    seen: dict[str, None] = {}
    for text in _texts(template):
        for match in _PLACEHOLDER.finditer(text):
            if not match.group(1):
                seen.setdefault(match.group(2), None)
    return list(seen)


def _render_text(text: str, values: Mapping[str, str], keep_missing: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]
        name = match.group(2)
        if name in values:
            return values[name]
        if keep_missing:
            return match.group(0)
        raise AssertionError(f"unchecked variable {name!r}")  # pragma: no cover

    return _PLACEHOLDER.sub(replace, text)


def render(
    template: Template,
    variables: Sequence[str],
    values: Mapping[str, Any],
    *,
    allow_missing: bool = False,
    allow_extra: bool = False,
    what: str = "prompt",
) -> str | list[Message]:
    """`template` with its variables replaced by `str(value)`.

    A variable without a value is an error naming it (or, with `allow_missing`, stays as
    written); a value for no variable is an error too (a typo would otherwise go unnoticed)
    unless `allow_extra`.
    """
    missing = [name for name in variables if name not in values]
    if missing and not allow_missing:
        names = ", ".join(repr(n) for n in missing)
        raise InvalidParameterError(
            f"{what} is missing value(s) for variable(s) {names} (it takes: "
            f"{', '.join(variables) or 'no variables'})"
        )
    extra = sorted(set(values) - set(variables))
    if extra and not allow_extra:
        names = ", ".join(repr(n) for n in extra)
        raise InvalidParameterError(
            f"{what} has no variable(s) {names} (it takes: {', '.join(variables) or 'none'}); "
            "pass allow_extra=True to ignore values it does not use"
        )
    texts = {k: v if isinstance(v, str) else str(v) for k, v in values.items()}
    if isinstance(template, str):
        return _render_text(template, texts, allow_missing)
    return [
        {**message, "content": _render_text(message["content"], texts, allow_missing)}
        for message in template
    ]


__all__ = [
    "MAX_TEMPLATE_CHARS",
    "TEMPLATE_TYPES",
    "Message",
    "Template",
    "check_template",
    "extract_variables",
    "render",
]
