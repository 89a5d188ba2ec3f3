"""The price table: shipped data, dated prices, name matching, overrides, cost arithmetic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from llmtrace import pricing
from llmtrace.exceptions import ConfigError
from llmtrace.pricing import Usage


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("LLMTRACE_PRICES", raising=False)
    pricing.reset_prices()
    yield
    pricing.reset_prices()


def test_shipped_table_loads_and_every_entry_is_sane() -> None:
    prices = pricing.list_prices()
    assert len({p.model for p in prices}) >= 30
    for p in prices:
        assert p.input >= 0 and p.output >= 0
        assert p.cached_input is None or p.cached_input <= p.input
        assert p.valid_from > date(2020, 1, 1)


def test_cost_is_exact_for_input_and_output() -> None:
    cost = pricing.cost_of("gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200))
    assert cost is not None
    assert cost.input == 0.00015  # 1000 * 0.15 / 1e6
    assert cost.output == 0.00012  # 200 * 0.60 / 1e6
    assert cost.total == 0.00027
    assert cost.price.key == "gpt-4o-mini@2024-07-18"


def test_cached_and_reasoning_tokens_use_their_prices() -> None:
    pricing.set_price("m", input=2.0, cached_input=0.5, output=8.0, reasoning=10.0)
    usage = Usage(
        input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=100_000,
        reasoning_tokens=60_000,
    )  # fmt: skip
    cost = pricing.cost_of("m", usage)
    assert cost is not None
    assert cost.input == 1.4  # 600k * 2.0 + 400k cached * 0.5, per 1M
    assert cost.output == 0.92  # 40k * 8.0 + 60k reasoning * 10.0, per 1M
    assert cost.total == 2.32


def test_missing_sub_prices_fall_back_to_input_and_output() -> None:
    pricing.set_price("m", input=1.0, output=3.0)
    usage = Usage(
        input_tokens=100, cached_input_tokens=40, cache_write_tokens=10, output_tokens=50,
        reasoning_tokens=20,
    )  # fmt: skip
    cost = pricing.cost_of("m", usage)
    assert cost is not None and cost.total == round((100 * 1.0 + 50 * 3.0) / 1e6, 12)


def test_cache_write_price() -> None:
    usage = Usage(
        input_tokens=1000, cached_input_tokens=500, cache_write_tokens=300, output_tokens=0
    )
    cost = pricing.cost_of("claude-3-5-sonnet-20241022", usage)
    assert cost is not None
    assert cost.total == round((200 * 3.0 + 500 * 0.3 + 300 * 3.75) / 1e6, 12)


def test_inconsistent_counts_never_go_negative() -> None:
    pricing.set_price("m", input=1.0, output=1.0, cached_input=0.1)
    cost = pricing.cost_of("m", Usage(input_tokens=10, cached_input_tokens=50, output_tokens=0))
    assert cost is not None and cost.total == round(10 * 0.1 / 1e6, 12)


def test_embeddings_reporting_only_a_total_are_priced_as_input() -> None:
    cost = pricing.cost_of("text-embedding-3-small", Usage(total_tokens=5000))
    assert cost is not None and cost.total == 0.0001


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini@2024-07-18"),
        ("openai/gpt-4o-mini", "gpt-4o-mini@2024-07-18"),
        ("GPT-4o-Mini", "gpt-4o-mini@2024-07-18"),
        ("gpt-4-0613", "gpt-4@2023-03-14"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet@2024-06-20"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4@2025-05-22"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku@2024-03-13"),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku@2024-03-13"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13@2024-05-13"),  # its own snapshot price
    ],
)
def test_model_names_match_snapshots_and_prefixes(model: str, key: str) -> None:
    price = pricing.get_price(model, date(2025, 11, 1))
    assert price is not None and price.key == key


@pytest.mark.parametrize("model", ["ft:gpt-4o-mini-2024-07-18:acme::abc", "llama3.1:8b", "gpt-4x"])
def test_unknown_and_fine_tuned_models_have_no_price(model: str) -> None:
    assert pricing.get_price(model) is None
    assert pricing.cost_of(model, Usage(input_tokens=10, output_tokens=5)) is None
    assert pricing.unpriced_models() == {model: 1}


def test_a_call_is_costed_at_the_price_in_force_on_its_date() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    assert pricing.cost_of("gpt-4o", usage, date(2024, 6, 1)).total == 5.0  # type: ignore[union-attr]
    assert pricing.cost_of("gpt-4o", usage, date(2024, 10, 2)).total == 2.5  # type: ignore[union-attr]
    # Before the first date: the earliest price (clock skew, early access).
    assert pricing.cost_of("gpt-4o", usage, date(2020, 1, 1)).total == 5.0  # type: ignore[union-attr]


def test_user_prices_win_and_form_a_history() -> None:
    pricing.set_price("gpt-4o-mini", input=1.0, output=1.0)
    assert pricing.get_price("gpt-4o-mini-2024-07-18").input == 1.0  # type: ignore[union-attr]
    pricing.set_price("mine", input=1.0, output=2.0, valid_from="2025-01-01")
    pricing.set_price("mine", input=0.5, output=1.0, valid_from=date(2025, 6, 1))
    assert pricing.get_price("mine", date(2025, 3, 1)).input == 1.0  # type: ignore[union-attr]
    assert pricing.get_price("mine", date(2025, 7, 1)).input == 0.5  # type: ignore[union-attr]
    pricing.set_price("mine", input=0.25, output=1.0, valid_from=date(2025, 6, 1))  # replaces
    assert pricing.get_price("mine", date(2025, 7, 1)).input == 0.25  # type: ignore[union-attr]


def test_setting_a_price_clears_the_model_from_unpriced() -> None:
    assert pricing.cost_of("local-llm", Usage(input_tokens=1)) is None
    assert pricing.unpriced_models() == {"local-llm": 1}
    pricing.set_price("local-llm", input=0, output=0)
    assert pricing.unpriced_models() == {}
    assert pricing.cost_of("local-llm", Usage(input_tokens=1)).total == 0.0  # type: ignore[union-attr]


def test_empty_usage_or_no_model_is_not_a_cost() -> None:
    assert pricing.cost_of("gpt-4o", Usage()) is None
    assert pricing.cost_of(None, Usage(input_tokens=3)) is None
    assert pricing.unpriced_models() == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input": -1, "output": 1}, "must not be negative"),
        ({"input": "x", "output": 1}, "must be a number"),
        ({"input": float("nan"), "output": 1}, "must be a number"),
        ({"input": 1, "output": 1, "valid_from": "yesterday"}, "ISO date"),
    ],
)
def test_bad_prices_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        pricing.set_price("m", **kwargs)  # type: ignore[arg-type]
    assert pricing.get_price("m") is None


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_price_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"models": [{"model": "corp-llm", "prices": [{"input": 1, "output": 2}]}]}
    monkeypatch.setenv("LLMTRACE_PRICES", str(_write(tmp_path / "p.json", doc)))
    pricing.reset_prices()
    assert pricing.get_price("corp-llm").output == 2.0  # type: ignore[union-attr]


def test_a_bad_price_file_in_the_environment_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LLMTRACE_PRICES", str(_write(tmp_path / "p.json", {"models": 3})))
    pricing.reset_prices()
    assert pricing.get_price("gpt-4o") is not None  # the shipped table still works
    assert "LLMTRACE_PRICES" in caplog.text


def test_load_prices_validates(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.json", {"models": [{"model": "m", "prices": [{"input": 1}]}]})
    with pytest.raises(ConfigError, match="needs 'output'"):
        pricing.load_prices(bad)
    typo = {"models": [{"model": "m", "prices": [{"input": 1, "output": 1, "cache": 1}]}]}
    with pytest.raises(ConfigError, match="unknown keys"):
        pricing.load_prices(_write(tmp_path / "typo.json", typo))
    with pytest.raises(ConfigError, match="not found"):
        pricing.load_prices(tmp_path / "absent.json")
    good = {"models": [{"model": "m", "prices": [{"input": 1, "output": 2}]}]}
    assert [p.key for p in pricing.load_prices(_write(tmp_path / "ok.json", good))] == [
        "m@0001-01-01"
    ]
