"""Exact costs: every token kind, the long-prompt tier, effective dates, batch, overrides —
against values worked out by hand from docs/MODELS.md — and how they are recorded."""

from __future__ import annotations

import json
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.catalog import UnknownModelWarning, builtin_catalog
from claude_force.config import load_project
from claude_force.messages import MessageRequest, MessageResponse, Usage
from claude_force.metrics.analytics import Analytics
from claude_force.metrics.backend import Query
from claude_force.metrics.record import PICO, to_pico
from claude_force.runner import RunOptions

D = Decimal
PRICES = builtin_catalog().prices


@pytest.mark.parametrize(
    ("model", "usage", "on", "ttl", "expected"),
    [
        # sonnet-5-5: input 2.00, output 10.00, write 5m 2.50, write 1h 4.00, read 0.20 → 0.10
        ("claude-sonnet-5-5", Usage(1234, 0), date(2026, 1, 1), "5m", "0.002468"),
        ("claude-sonnet-5-5", Usage(0, 567), date(2026, 1, 1), "5m", "0.00567"),
        ("claude-sonnet-5-5", Usage(0, 0, 1000, 0), date(2026, 1, 1), "5m", "0.0025"),
        ("claude-sonnet-5-5", Usage(0, 0, 1000, 0), date(2026, 1, 1), "1h", "0.004"),
        ("claude-sonnet-5-5", Usage(0, 0, 0, 2000), date(2026, 10, 6), "5m", "0.0004"),
        ("claude-sonnet-5-5", Usage(0, 0, 0, 2000), date(2026, 10, 7), "5m", "0.0002"),
        ("claude-sonnet-5-5", Usage(1234, 567, 1000, 2000), date(2026, 10, 6), "5m", "0.011038"),
        ("claude-sonnet-5-5", Usage(1234, 567, 1000, 2000), date(2026, 10, 7), "5m", "0.010838"),
        # haiku-5-5: tiered at 100k prompt tokens (input + cache write + cache read)
        ("claude-haiku-5-5", Usage(100_000, 1000), date(2026, 11, 1), "5m", "0.0105"),
        ("claude-haiku-5-5", Usage(100_001, 1000), date(2026, 11, 1), "5m", "0.0525005"),
        ("claude-haiku-5-5", Usage(50_000, 0, 0, 50_000), date(2026, 11, 1), "5m", "0.0055"),
        ("claude-haiku-5-5", Usage(50_000, 0, 0, 50_001), date(2026, 11, 1), "5m", "0.02750005"),
        ("claude-haiku-5-5", Usage(0, 0, 100_001, 0), date(2026, 11, 1), "1h", "0.100001"),
        # opus-5 exists from its release day only
        ("claude-opus-5", Usage(1000, 1000), date(2026, 7, 24), "5m", "0.03"),
        ("claude-opus-5-5", Usage(1_000_000, 1_000_000), date(2026, 11, 1), "5m", "24"),
    ],
)
def test_cost_of_each_token_kind_tier_and_date(
    model: str, usage: Usage, on: date, ttl: str, expected: str
) -> None:
    cost = PRICES.cost(model, usage, on, cache_ttl=ttl)  # type: ignore[arg-type]
    assert cost == D(expected)
    assert to_pico(cost) == int(D(expected) * PICO)  # stored exactly


def test_no_price_before_a_model_existed_and_for_unknown_models() -> None:
    assert PRICES.cost("claude-opus-5", Usage(1000, 1000), date(2026, 7, 23)) is None
    assert PRICES.cost("claude-mystery-1", Usage(1, 1), date(2026, 7, 23)) is None


def test_batch_discount_halves_input_and_output_only() -> None:
    usage = Usage(1000, 1000, 1000, 1000)
    plain = PRICES.breakdown("claude-sonnet-5-5", usage, date(2026, 11, 1))
    batch = PRICES.breakdown("claude-sonnet-5-5", usage, date(2026, 11, 1), batch=True)
    assert plain is not None and batch is not None
    assert batch.input == D("0.001") and batch.output == D("0.005")
    assert batch.cache_write == plain.cache_write == D("0.0025")
    assert batch.cache_read == plain.cache_read == D("0.0001")
    assert batch.batch_discount == D("0.006")
    assert batch.total == D("0.0086")


def _project_with_override(tmp_path: Path, sample_config: Path) -> Path:
    data = json.loads(sample_config.read_text())
    data["models"]["prices"] = {
        "claude-sonnet-5-5": {"input": "1.50", "effective_from": "2026-11-01"}
    }
    sample_config.write_text(json.dumps(data))
    return sample_config


def test_claude_json_override_takes_effect_on_its_date(tmp_path: Path, sample_config: Path) -> None:
    project = load_project(_project_with_override(tmp_path, sample_config))
    prices = project.catalog.prices
    usage = Usage(1000, 1000)
    assert prices.cost("claude-sonnet-5-5", usage, date(2026, 10, 31)) == D("0.012")
    assert prices.cost("claude-sonnet-5-5", usage, date(2026, 11, 1)) == D("0.0115")


# --- how costs are recorded -------------------------------------------------------------------


class FixedUsage:
    """A provider that answers every request with the same usage (and optionally a model id)."""

    name = "fixed"
    simulated = False

    def __init__(self, usage: Usage, model: str | None = None) -> None:
        self.usage = usage
        self.model = model

    async def send(self, request: MessageRequest) -> MessageResponse:
        return MessageResponse(
            "ok", self.model or request.model, "end_turn", self.usage, provider="fixed"
        )

    async def aclose(self) -> None:
        return None


def _memory_metrics(sample_config: Path) -> None:
    data = json.loads(sample_config.read_text())
    data["metrics"] = {"backend": "memory"}
    sample_config.write_text(json.dumps(data))


async def test_recorded_cost_is_exact(sample_config: Path) -> None:
    _memory_metrics(sample_config)
    usage = Usage(1234, 567, 1000, 0)  # no cache read: the expected cost is the same every day
    orch = AsyncAgentOrchestrator(sample_config, provider=FixedUsage(usage))
    for _ in range(3):
        ex = await orch.execute("python-expert", "t", RunOptions(use_cache=False))
        assert ex.cost_usd == D("0.010638")
    assert orch.metrics is not None
    await orch.metrics.aflush()
    stats = Analytics(orch.metrics.store).summary()
    assert stats.cost_usd == D("0.031914")
    assert stats.cost_unknown == 0
    assert (stats.input_tokens, stats.output_tokens, stats.cache_write_tokens) == (3702, 1701, 3000)
    await orch.close()


async def test_unknown_model_is_warned_once_and_its_cost_recorded_as_unknown(
    sample_config: Path,
) -> None:
    _memory_metrics(sample_config)
    orch = AsyncAgentOrchestrator(
        sample_config, provider=FixedUsage(Usage(100, 10), model="claude-mystery-1")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):
            await orch.execute("python-expert", f"task {i}")
    mine = [w for w in caught if issubclass(w.category, UnknownModelWarning)]
    assert len(mine) == 1 and "claude-mystery-1" in str(mine[0].message)
    assert orch.metrics is not None
    await orch.metrics.aflush()
    stats = Analytics(orch.metrics.store).summary(Query(model="claude-mystery-1"))
    assert stats.executions == 3
    assert stats.cost_unknown == 3 and stats.cost_usd == 0  # never guessed
    records = list(orch.metrics.store.records(Query()))
    assert all(r.cost_pusd is None and r.cost_usd is None for r in records)
    await orch.close()


async def test_a_failed_call_costs_nothing_rather_than_unknown(sample_config: Path) -> None:
    _memory_metrics(sample_config)

    class Failing(FixedUsage):
        async def send(self, request: MessageRequest) -> MessageResponse:
            from claude_force.errors import InvalidRequestError

            raise InvalidRequestError("bad request", status=400)

    orch = AsyncAgentOrchestrator(sample_config, provider=Failing(Usage()))
    ex = await orch.execute("python-expert", "t")
    assert not ex.success
    assert orch.metrics is not None
    await orch.metrics.aflush()
    stats = Analytics(orch.metrics.store).summary()
    assert (stats.executions, stats.failures, stats.cost_unknown) == (1, 1, 0)
    await orch.close()
