"""Model catalog and exact, effective-dated costs (every expected figure is worked out by hand)."""

from __future__ import annotations

import json
import warnings
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from _core_helpers import minimal_project
from claude_force.catalog import UnknownModelWarning, builtin_catalog
from claude_force.config import load_project
from claude_force.errors import ConfigurationError, ModelError
from claude_force.messages import Usage
from claude_force.pricing import PriceEntry, PriceTable, Rates

DAY = date(2026, 11, 1)
M = 1_000_000


@pytest.fixture
def prices() -> PriceTable:
    return builtin_catalog().prices


def cost(prices: PriceTable, model: str, usage: Usage, on: date = DAY, **kw: object) -> Decimal:
    value = prices.cost(model, usage, on, **kw)  # type: ignore[arg-type]
    assert value is not None
    return value


# --- one token kind at a time, several models ------------------------------------------------------

# USD per million tokens from MODELS.md: input, cache write 5m, cache write 1h, cache read, output
HAND_TABLE = {
    "claude-opus-5-5": ("4.00", "5.00", "8.00", "0.20", "20.00"),
    "claude-opus-5": ("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-sonnet-5": ("2.00", "2.50", "4.00", "0.20", "10.00"),
    "claude-fable-5-1": ("10.00", "12.50", "20.00", "0.25", "50.00"),
    "claude-opus-4-6": ("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-opus-4-5": ("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-sonnet-4-6": ("3.00", "3.75", "6.00", "0.30", "15.00"),
    "claude-sonnet-4-5": ("3.00", "3.75", "6.00", "0.30", "15.00"),
    "claude-haiku-4-5": ("1.00", "1.25", "2.00", "0.10", "5.00"),
}


@pytest.mark.parametrize("model", sorted(HAND_TABLE))
def test_a_million_tokens_of_each_kind_cost_the_list_price(prices: PriceTable, model: str) -> None:
    inp, w5, w1, read, out = (Decimal(x) for x in HAND_TABLE[model])
    assert cost(prices, model, Usage(input_tokens=M)) == inp
    assert cost(prices, model, Usage(output_tokens=M)) == out
    assert cost(prices, model, Usage(cache_creation_input_tokens=M)) == w5
    assert cost(prices, model, Usage(cache_creation_input_tokens=M), cache_ttl="1h") == w1
    assert cost(prices, model, Usage(cache_read_input_tokens=M)) == read


def test_mixed_usage_hand_checked(prices: PriceTable) -> None:
    # claude-sonnet-4-5: 1,234 in × $3 + 567 out × $15 + 2,000 write × $3.75 + 10,000 read × $0.30
    usage = Usage(1234, 567, 2000, 10_000)
    b = prices.breakdown("claude-sonnet-4-5", usage, DAY)
    assert b is not None
    assert b.input == Decimal("0.003702")
    assert b.output == Decimal("0.008505")
    assert b.cache_write == Decimal("0.0075")
    assert b.cache_read == Decimal("0.003")
    assert b.total == Decimal("0.022707")
    # claude-haiku-4-5: 1,000 in × $1 + 1,000 out × $5 = $0.006
    assert cost(prices, "claude-haiku-4-5", Usage(1000, 1000)) == Decimal("0.006")
    # claude-opus-5-5: 1 output token = $0.00002
    assert cost(prices, "claude-opus-5-5", Usage(output_tokens=1)) == Decimal("0.00002")


def test_the_2_2_cost_bug_is_not_reproduced(prices: PriceTable) -> None:
    """2.2 divided per-1K prices by a million: 1M input tokens of Sonnet 4.5 cost $0.003."""
    assert cost(prices, "claude-sonnet-4-5", Usage(input_tokens=M)) == Decimal("3.00")
    assert cost(prices, "claude-sonnet-4-5", Usage(input_tokens=M)) != Decimal("0.003")
    # a typical call: 2,000 in + 1,000 out on Sonnet 4.5 = $0.006 + $0.015 = $0.021 (2.2: $0.000021)
    assert cost(prices, "claude-sonnet-4-5", Usage(2000, 1000)) == Decimal("0.021")


# --- the long-prompt tier of claude-haiku-5-5 -----------------------------------------------------


def test_haiku_5_5_tier_boundary(prices: PriceTable) -> None:
    at = Usage(input_tokens=100_000, output_tokens=1000)
    above = Usage(input_tokens=100_001, output_tokens=1000)
    # ≤ 100k prompt tokens: $0.10 in, $0.50 out
    assert cost(prices, "claude-haiku-5-5", at) == Decimal("0.0105")  # 0.01 + 0.0005
    # > 100k: $0.50 in, $2.50 out for the whole request
    assert cost(prices, "claude-haiku-5-5", above) == Decimal("0.0525005")  # 0.0500005 + 0.0025


def test_haiku_5_5_tier_counts_cached_prompt_tokens(prices: PriceTable) -> None:
    below = Usage(input_tokens=50_000, cache_read_input_tokens=50_000)
    above = Usage(input_tokens=50_000, cache_read_input_tokens=50_001)
    # 50k × 0.10 + 50k × 0.01 = 0.005 + 0.0005
    assert cost(prices, "claude-haiku-5-5", below) == Decimal("0.0055")
    # 50k × 0.50 + 50,001 × 0.05 = 0.025 + 0.00250005
    assert cost(prices, "claude-haiku-5-5", above) == Decimal("0.02750005")
    # cache writes: 5m at 0.125 (assumed 1.25× input) below, 0.625 above
    assert cost(prices, "claude-haiku-5-5", Usage(cache_creation_input_tokens=M)) == Decimal(
        "0.625"
    )
    assert cost(prices, "claude-haiku-5-5", Usage(cache_creation_input_tokens=80_000)) == Decimal(
        "0.01"
    )


def test_haiku_5_5_marks_assumed_prices(prices: PriceTable) -> None:
    entry = prices.price_for("claude-haiku-5-5", DAY)
    assert entry is not None
    assert set(entry.assumed) == {"cache_write_5m", "cache_write_1h"}
    assert entry.long_context_threshold == 100_000


# --- effective dates --------------------------------------------------------------------------------


def test_sonnet_5_5_cache_read_price_change(prices: PriceTable) -> None:
    read = Usage(cache_read_input_tokens=M)
    assert cost(prices, "claude-sonnet-5-5", read, date(2026, 10, 6)) == Decimal("0.20")
    assert cost(prices, "claude-sonnet-5-5", read, date(2026, 10, 7)) == Decimal("0.10")
    # the other rates did not change
    for day in (date(2026, 10, 6), date(2026, 10, 7)):
        assert cost(prices, "claude-sonnet-5-5", Usage(M, M), day) == Decimal("12.00")


def test_model_not_yet_released_has_no_price(prices: PriceTable) -> None:
    assert prices.cost("claude-opus-5", Usage(input_tokens=M), date(2026, 7, 23)) is None
    assert cost(prices, "claude-opus-5", Usage(input_tokens=M), date(2026, 7, 24)) == Decimal(5)


def test_unknown_model_has_no_cost(prices: PriceTable) -> None:
    assert prices.cost("claude-future-9", Usage(M, M), DAY) is None
    assert prices.breakdown("claude-future-9", Usage(M, M), DAY) is None
    assert prices.price_for("claude-future-9", DAY) is None
    assert prices.entries("claude-future-9") == []


# --- batch discount --------------------------------------------------------------------------------


def test_batch_halves_input_and_output_but_not_cache(prices: PriceTable) -> None:
    usage = Usage(M, M, cache_creation_input_tokens=M, cache_read_input_tokens=M)
    b = prices.breakdown("claude-sonnet-4-5", usage, DAY, batch=True)
    assert b is not None
    assert b.input == Decimal("1.50")
    assert b.output == Decimal("7.50")
    assert b.cache_write == Decimal("3.75")
    assert b.cache_read == Decimal("0.30")
    assert b.batch_discount == Decimal("9.00")  # what the batch saved
    assert b.total == Decimal("13.05")
    assert cost(prices, "claude-sonnet-4-5", usage) == Decimal("22.05")


# --- overrides from claude.json --------------------------------------------------------------------


def test_price_override_without_date_replaces_the_price(tmp_path: Path) -> None:
    path = minimal_project(tmp_path, models={"prices": {"claude-sonnet-4-5": {"input": "2.50"}}})
    table = load_project(path).catalog.prices
    old_day = date(2020, 1, 1)
    assert cost(table, "claude-sonnet-4-5", Usage(input_tokens=M), old_day) == Decimal("2.50")
    assert cost(table, "claude-sonnet-4-5", Usage(input_tokens=M)) == Decimal("2.50")
    # fields not overridden are inherited from the entry it replaces
    assert cost(table, "claude-sonnet-4-5", Usage(output_tokens=M)) == Decimal("15.00")
    assert cost(table, "claude-sonnet-4-5", Usage(cache_read_input_tokens=M)) == Decimal("0.30")
    entry = table.price_for("claude-sonnet-4-5", DAY)
    assert entry is not None and "override" in entry.source
    # the packaged table is untouched
    assert cost(builtin_catalog().prices, "claude-sonnet-4-5", Usage(input_tokens=M)) == 3


def test_price_override_with_date_applies_from_that_date(tmp_path: Path) -> None:
    override = {"claude-haiku-4-5": {"output": 4, "effective_from": "2027-01-01"}}
    table = load_project(minimal_project(tmp_path, models={"prices": override})).catalog.prices
    out = Usage(output_tokens=M)
    assert cost(table, "claude-haiku-4-5", out, date(2026, 12, 31)) == Decimal("5.00")
    assert cost(table, "claude-haiku-4-5", out, date(2027, 1, 1)) == Decimal("4")
    assert cost(table, "claude-haiku-4-5", Usage(input_tokens=M), date(2027, 1, 1)) == 1


def test_price_override_keeps_the_long_context_tier(tmp_path: Path) -> None:
    override = {"claude-haiku-5-5": {"input": "0.20"}}
    table = load_project(minimal_project(tmp_path, models={"prices": override})).catalog.prices
    assert cost(table, "claude-haiku-5-5", Usage(input_tokens=100_000)) == Decimal("0.02")
    # above the threshold the packaged long-context tier still applies
    assert cost(table, "claude-haiku-5-5", Usage(input_tokens=200_000)) == Decimal("0.1")


def test_price_for_a_new_model_derives_cache_prices(tmp_path: Path) -> None:
    override = {"my-finetune": {"input": 2, "output": 8}}
    path = minimal_project(tmp_path, models={"prices": override, "default": "my-finetune"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a priced model is known: no warning
        project = load_project(path)
    table = project.catalog.prices
    assert cost(table, "my-finetune", Usage(M, M)) == Decimal(10)
    assert cost(table, "my-finetune", Usage(cache_creation_input_tokens=M)) == Decimal("2.50")
    assert cost(
        table, "my-finetune", Usage(cache_creation_input_tokens=M), cache_ttl="1h"
    ) == Decimal(4)
    assert cost(table, "my-finetune", Usage(cache_read_input_tokens=M)) == Decimal("0.2")


@pytest.mark.parametrize(
    ("override", "missing"),
    [
        ({"my-finetune": {"input": 2}}, "output"),
        ({"my-finetune": {"cache_read": "0.1"}}, "input and output"),
        # a date before the model's first price: nothing to inherit from either
        ({"claude-opus-5": {"input": 4, "effective_from": "2026-01-01"}}, "output"),
    ],
)
def test_a_new_models_price_without_input_or_output_names_the_key(
    tmp_path: Path, override: dict[str, dict[str, object]], missing: str
) -> None:
    path = minimal_project(tmp_path, models={"prices": override})
    with pytest.raises(ConfigurationError) as info:
        load_project(path)
    model = next(iter(override))
    err = info.value
    assert err.file == path and err.key == f"models.prices.{model}" and err.line is not None
    assert f"inherit {missing} from" in str(err) and '"input" and "output"' in str(err)


def test_rates_need_input_and_output() -> None:
    with pytest.raises(KeyError):
        Rates.from_mapping({"input": 1})
    entry = PriceEntry.from_mapping({"model": "x", "input": "1", "output": "2"})
    assert entry.effective_from is None and entry.long_context is None


# --- the catalog -----------------------------------------------------------------------------------


def test_catalog_defaults_and_routing() -> None:
    cat = builtin_catalog()
    assert cat.default == "claude-sonnet-5-5"
    assert cat.for_complexity("simple") == "claude-haiku-5-5"
    assert cat.for_complexity("normal") == "claude-sonnet-5-5"
    assert cat.for_complexity("critical") == "claude-opus-5-5"


def test_every_model_the_catalog_points_at_is_priced_and_not_retired() -> None:
    cat = builtin_catalog()
    targets = {cat.default, *cat.routing.values(), *cat.aliases.values()}
    targets |= set(cat.retired_prefixes.values())
    for model in targets:
        assert model in cat.known, model
        assert cat.replacement_for(model) is None, model


def test_packaged_prices_name_their_source() -> None:
    raw = json.loads(
        resources.files("claude_force").joinpath("data/models.json").read_text("utf-8")
    )
    for entry in raw["prices"]:
        assert entry["source"], entry["model"]
        assert Decimal(entry["input"]) > 0 and Decimal(entry["output"]) > 0


@pytest.mark.parametrize(
    ("alias", "model"),
    [
        ("opus", "claude-opus-5-5"),
        ("sonnet", "claude-sonnet-5-5"),
        ("haiku", "claude-haiku-5-5"),
        ("fable", "claude-fable-5-1"),
        ("  claude-haiku-4-5 ", "claude-haiku-4-5"),
    ],
)
def test_aliases_resolve(alias: str, model: str) -> None:
    assert builtin_catalog().resolve(alias) == model


@pytest.mark.parametrize(
    ("old", "successor"),
    [
        ("claude-3-5-sonnet-20241022", "claude-sonnet-5-5"),
        ("claude-3-5-haiku-20241022", "claude-haiku-5-5"),
        ("claude-3-opus-20240229", "claude-opus-5-5"),
        ("claude-3-7-sonnet-latest", "claude-sonnet-5-5"),
        ("claude-2.1", "claude-sonnet-5-5"),
        ("claude-2", "claude-sonnet-5-5"),
        ("claude-instant-1.2", "claude-haiku-5-5"),
    ],
)
def test_retired_ids_name_their_successor(old: str, successor: str) -> None:
    cat = builtin_catalog()
    assert cat.replacement_for(old) == successor
    with pytest.raises(ModelError, match=f"'{old}' is retired.*use '{successor}' instead"):
        cat.resolve(old, where="models.default")


def test_retired_prefix_does_not_match_other_ids() -> None:
    cat = builtin_catalog()
    assert cat.replacement_for("claude-20") is None
    assert cat.replacement_for("claude-sonnet-4-5") is None


def test_empty_model_id_is_refused() -> None:
    with pytest.raises(ModelError, match="empty model id"):
        builtin_catalog().resolve("  ", where="agents.a.model")


def test_unknown_model_warns_once_per_catalog() -> None:
    cat = builtin_catalog()
    with pytest.warns(UnknownModelWarning) as record:
        assert cat.resolve("claude-future-9") == "claude-future-9"
        assert cat.resolve("claude-future-9") == "claude-future-9"
    assert len(record) == 1
    with pytest.warns(UnknownModelWarning):  # a fresh catalog warns again
        builtin_catalog().resolve("claude-future-9")


def test_sampling_restrictions() -> None:
    cat = builtin_catalog()
    assert cat.sampling_allowed("claude-sonnet-5") is False
    assert cat.sampling_allowed("claude-sonnet-5-5") is True


def test_with_overrides_merges() -> None:
    base = builtin_catalog()
    cat = base.with_overrides(
        default="claude-haiku-4-5",
        routing={"simple": "claude-haiku-4-5"},
        aliases={"quick": "claude-haiku-4-5"},
    )
    assert cat.default == "claude-haiku-4-5"
    assert cat.routing["simple"] == "claude-haiku-4-5"
    assert cat.routing["critical"] == "claude-opus-5-5"
    assert cat.resolve("quick") == "claude-haiku-4-5"
    assert cat.resolve("opus") == "claude-opus-5-5"
    assert cat.prices is base.prices  # no price overrides: the table is shared, not copied
    assert base.default == "claude-sonnet-5-5"  # the base is unchanged


def test_warn_once_warns_once_per_key_at_the_callers_line() -> None:
    import warnings

    from claude_force._once import warn_once

    seen: set[str] = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for key in ("a", "a", "b"):
            warn_once(seen, key, f"about {key}", UserWarning)
    assert [str(w.message) for w in caught] == ["about a", "about b"]
    assert all(w.filename == __file__ for w in caught)  # stacklevel counts from the caller
    assert seen == {"a", "b"}
