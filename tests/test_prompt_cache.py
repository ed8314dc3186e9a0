"""Anthropic prompt caching: the TTL setting reaches the request and the price; the saving is shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.catalog import builtin_catalog
from claude_force.cli.app import app
from claude_force.config import load_project
from claude_force.messages import Usage
from claude_force.metrics.analytics import Analytics
from claude_force.metrics.backend import Query
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.prompt_cache import PromptCacheSavings, prompt_cache_savings
from claude_force.metrics.record import ExecutionRecord, to_us
from claude_force.runner import build_request
from claude_force.testing import Emulator

PRICES = builtin_catalog().prices
SONNET, HAIKU = "claude-sonnet-5-5", "claude-haiku-5-5"


def test_build_request_marks_the_system_prompt_with_the_ttl() -> None:
    five = build_request("sys", "task", SONNET).to_api()
    assert five["system"] == [
        {"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}
    ]
    hour = build_request("sys", "task", SONNET, cache_ttl="1h").to_api()
    assert hour["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}  # type: ignore[index]


def _set_ttl(config: Path, ttl: str) -> None:
    data = json.loads(config.read_text())
    data.setdefault("models", {})["prompt_cache_ttl"] = ttl
    data["metrics"] = {"backend": "memory"}
    data["cache"] = {"enabled": False}
    config.write_text(json.dumps(data))


@pytest.mark.parametrize("ttl", ["5m", "1h"])
async def test_ttl_reaches_the_api_and_the_price(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch, ttl: str
) -> None:
    _set_ttl(sample_config, ttl)
    async with Emulator() as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        core = AsyncAgentOrchestrator(sample_config, api_key="sk-test", enable_memory=False)
        async with core:
            first = await core.execute("code-reviewer", "review module a")
            second = await core.execute("code-reviewer", "review module b")
            assert first.success and second.success, first.errors + second.errors
            sent = emu.requests[0].body["system"][0]["cache_control"]
            assert sent == (
                {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}
            )
            assert first.usage.cache_creation_input_tokens > 500
            assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
            day = first.started_at.date()
            assert first.cost_usd == PRICES.cost(first.model, first.usage, day, cache_ttl=ttl)
            if ttl == "1h":
                assert first.cost_usd > PRICES.cost(first.model, first.usage, day)  # type: ignore[operator]
            assert second.cost_usd < first.cost_usd  # type: ignore[operator]
            assert core.metrics is not None
            await core.metrics.aflush()
            saved = core.metrics.analytics().prompt_cache(PRICES, cache_ttl=ttl)
    rates = PRICES.price_for(SONNET, day)
    assert rates is not None
    r = rates.rates
    read = second.usage.cache_read_input_tokens
    write = first.usage.cache_creation_input_tokens
    write_rate = r.cache_write_1h if ttl == "1h" else r.cache_write_5m
    assert saved.read_tokens == read and saved.write_tokens == write
    assert saved.read_saved_usd == Decimal(read) * (r.input - r.cache_read) / 1_000_000
    assert saved.write_premium_usd == Decimal(write) * (write_rate - r.input) / 1_000_000
    assert saved.cache_ttl == ttl


def _rec(
    i: int, model: str, day: datetime, read: int, write: int, cached: bool = False
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"e{i}",
        agent="a",
        model=model,
        provider="anthropic",
        started_us=to_us(day),
        duration_us=1000,
        success=True,
        input_tokens=10,
        output_tokens=10,
        cache_write_tokens=write,
        cache_read_tokens=read,
        cached=cached,
    )


def test_savings_use_the_price_in_force_on_each_day() -> None:
    store = MemoryMetricsStore()
    before = datetime(2026, 10, 1, 12, tzinfo=UTC)  # sonnet cache reads at 0.20
    after = datetime(2026, 10, 20, 12, tzinfo=UTC)  # … cut to 0.10 from 2026-10-07
    store.upsert(
        [
            _rec(1, SONNET, before, 1_000_000, 0),
            _rec(2, SONNET, after, 1_000_000, 0),
            _rec(3, HAIKU, after, 0, 1_000_000),
            _rec(4, "claude-private-1", after, 500, 500),
        ]
    )
    s = prompt_cache_savings(store, PRICES)
    # sonnet input 2.00: saved (2.00-0.20) + (2.00-0.10); haiku write premium 0.125-0.10
    assert s.read_saved_usd == Decimal("1.80") + Decimal("1.90")
    assert s.write_premium_usd == Decimal("0.025")
    assert s.net_saved_usd == Decimal("3.675")
    assert (s.read_tokens, s.write_tokens, s.unpriced_tokens) == (2_000_000, 1_000_000, 1000)
    hour = prompt_cache_savings(store, PRICES, cache_ttl="1h")
    assert hour.write_premium_usd == Decimal("0.10")  # haiku 1 h write 0.20 − input 0.10
    only_after = prompt_cache_savings(store, PRICES, Query(since_us=to_us(after) - 1))
    assert only_after.read_saved_usd == Decimal("1.90")
    d = s.to_dict()
    assert d["net_saved_usd_exact"] == "3.675" and d["write_priced_as"] == "5m"
    assert Analytics(store).prompt_cache(PRICES).net_saved_usd == s.net_saved_usd


def test_no_cache_tokens_no_savings() -> None:
    store = MemoryMetricsStore()
    store.upsert([_rec(1, SONNET, datetime(2026, 11, 1, tzinfo=UTC), 0, 0)])
    assert prompt_cache_savings(store, PRICES) == PromptCacheSavings()


def test_analytics_summary_shows_the_prompt_cache_figure(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = load_project(in_project)
    from claude_force.metrics.tracker import MetricsTracker

    tracker = MetricsTracker.for_project(project)
    tracker.record(_rec(1, SONNET, datetime.now(UTC), 2_000_000, 0))
    tracker.close()
    runner = CliRunner()
    result = runner.invoke(app, ["analytics", "summary", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    r = PRICES.price_for(SONNET, datetime.now(UTC).date())
    assert r is not None
    expected = float(2 * (r.rates.input - r.rates.cache_read))
    assert data["prompt_cache"]["read_saved_usd"] == pytest.approx(expected)
    assert data["prompt_cache"]["cache_read_tokens"] == 2_000_000
    text = runner.invoke(app, ["analytics", "summary"])
    assert text.exit_code == 0
    assert "saved by prompt cache" in text.stdout and "2,000,000 tokens read" in text.stdout
    assert Usage().total_tokens == 0
