"""Templating of registered prompts: `{{ variable }}` placeholders, everything else literal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from llmtrace.context import forget_prompt_uses
from llmtrace.exceptions import InvalidParameterError
from llmtrace.store._prompt_template import check_template, extract_variables, render
from llmtrace.store.prompt_entities import PromptVersion


@pytest.fixture(autouse=True)
def _forget_formatted_prompts() -> Iterator[None]:
    # `format()` links the next spans of this context to the prompt: leave none behind.
    yield
    forget_prompt_uses()


def text(template: str, **values: object) -> str:
    result = render(template, extract_variables(template), values)
    assert isinstance(result, str)
    return result


@pytest.mark.parametrize(
    ("template", "variables"),
    [
        ("{{a}} {{ b }} {{   c\t}} {{\nd\n}}", ["a", "b", "c", "d"]),
        ("{{ a }} {{ b }} {{ a }}", ["a", "b"]),
        ("{a} {{ 1a }} {{ a-b }} {{ a.b }} {{ }} {{'k': 1}}", []),
        ('{"answer": "{{ answer }}"}', ["answer"]),
        ("\\{{ escaped }} {{ kept }}", ["kept"]),
        ("{{{ triple }}}", ["triple"]),
        ("{{ _private }} {{ Name2 }}", ["_private", "Name2"]),
        ("", []),
    ],
)
def test_variables_are_extracted_in_order(template: str, variables: list[str]) -> None:
    assert extract_variables(template) == variables


def test_formatting_is_whitespace_tolerant_and_leaves_single_braces() -> None:
    assert text("Hi {{name}}, {{  name }}!", name="Ada") == "Hi Ada, Ada!"
    json_prompt = 'Reply as {"answer": "<text>", "score": {"min": 0}} about {{ topic }}'
    assert text(json_prompt, topic="tea") == (
        'Reply as {"answer": "<text>", "score": {"min": 0}} about tea'
    )
    code = "def f(x): return f'{x}' if x else {}  # {{ lang }}"
    assert text(code, lang="py") == "def f(x): return f'{x}' if x else {}  # py"
    assert text("{{{ x }}}", x="v") == "{v}"
    assert (
        text(
            "{{ 1 + 2 }} }} {{",
        )
        == "{{ 1 + 2 }} }} {{"
    )


def test_values_are_inserted_once_and_as_text() -> None:
    assert text("{{ a }} {{ b }}", a="{{ b }}", b=2) == "{{ b }} 2"
    assert text("{{ n }}/{{ f }}/{{ none }}", n=3, f=0.5, none=None) == "3/0.5/None"
    assert text("{{ a }}", a="\\1 \\g<0> $1") == "\\1 \\g<0> $1"  # no regex replacement syntax


def test_an_escaped_placeholder_is_written_literally() -> None:
    assert text("\\{{ name }} is {{ name }}", name="x") == "{{ name }} is x"
    with pytest.raises(InvalidParameterError, match="has no variable"):
        text("\\{{ name }}", name="x")


def test_missing_variables_are_named() -> None:
    with pytest.raises(InvalidParameterError) as err:
        text("{{ question }} with {{ context }} in {{ lang }}", lang="en")
    message = str(err.value)
    assert "'question', 'context'" in message and "lang" in message


def test_extra_values_are_refused_unless_allowed() -> None:
    with pytest.raises(InvalidParameterError, match="'quesiton'"):
        text("{{ question }}", question="q", quesiton="typo")
    assert render("{{ a }}", ["a"], {"a": 1, "b": 2}, allow_extra=True) == "1"


def test_missing_values_can_be_left_for_later() -> None:
    partial = render("{{ a }} {{ b }}", ["a", "b"], {"a": "x"}, allow_missing=True)
    assert partial == "x {{ b }}"
    assert text(str(partial), b="y") == "x y"


def test_chat_templates_render_each_message_content() -> None:
    messages = [
        {"role": "system", "content": 'Speak {{ lang }}. JSON only: {"a": 1}'},
        {"role": "user", "content": "{{ question }}", "name": "bob"},
    ]
    template, kind = check_template(messages)
    assert kind == "chat"
    rendered = render(template, extract_variables(template), {"lang": "fr", "question": "q?"})
    assert rendered == [
        {"role": "system", "content": 'Speak fr. JSON only: {"a": 1}'},
        {"role": "user", "content": "q?", "name": "bob"},
    ]
    assert messages[1]["content"] == "{{ question }}"  # the template is not changed


@pytest.mark.parametrize(
    ("template", "kind", "match"),
    [
        (None, None, "template must be"),
        (b"bytes", None, "template must be"),
        ([{"role": "user", "content": 1}], None, "'content' must be a string"),
        ([{"content": "x"}], None, "'role'"),
        (["just text"], None, "must be an object"),
        ([{"role": "user", "content": "x", "extra": object()}], None, "JSON"),
        ("not json", "chat", "JSON list"),
        ('{"role": "user"}', "chat", "template must be"),
        ("\ud800", None, "lone surrogate"),
        ("x" * 1_000_001, None, "max"),
    ],
)
def test_invalid_templates(template: object, kind: str | None, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        check_template(template, kind)


def test_prompt_version_format_and_round_trip() -> None:
    pv = PromptVersion("qa", 3, "Q: {{ q }}", variables=["q"], config={"temperature": 0})
    assert pv.format(q="2+2?") == "Q: 2+2?"
    assert pv.format({"q": "mapping"}) == "Q: mapping"
    assert pv.uri == "prompts:/qa/3" and not pv.is_chat
    with pytest.raises(InvalidParameterError, match=r"prompt 'qa' version 3 .*'q'"):
        pv.format()
    options = PromptVersion("o", 1, "{{ allow_extra }}", variables=["allow_extra"])
    assert options.format({"allow_extra": "as a value"}) == "as a value"
    assert PromptVersion.from_dict(json.loads(json.dumps(pv.to_dict()))) == pv
