"""Rate limits learned from 429s, alias keys under rate_limits.models, fallback-config warnings,
and retired-model hints that name the key to change."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from _resilience_helpers import Scripted, request, write_project
from claude_force.config import load_project
from claude_force.config.loader import ConfigWarning
from claude_force.errors import (
    ConfigurationError,
    ModelError,
    ProviderError,
    RateLimitError,
    status_error,
)
from claude_force.pipeline import PipelineSpec, wrap
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.resilience import (
    RateLimitedProvider,
    RateLimiter,
    RateLimitSettings,
    ResilienceHub,
    ResilienceSettings,
    VirtualClock,
    run_virtual,
)
from claude_force.testing import Emulator
from claude_force.testing._accounting import RateLimits

MODEL = "claude-sonnet-5-5"
EXHAUSTED = (
    ("anthropic-ratelimit-requests-limit", "4"),
    ("anthropic-ratelimit-requests-remaining", "0"),
)


def limited_429() -> ProviderError:
    return status_error(429, "slow down", retry_after=0.01, headers=EXHAUSTED)


async def test_a_429_from_the_api_carries_its_ratelimit_headers() -> None:
    async with Emulator(limits=RateLimits(requests=1)) as emu:
        provider = AnthropicProvider("test", base_url=emu.base_url)
        try:
            first = await provider.send(request())
            with pytest.raises(RateLimitError) as raised:
                await provider.send(request())
        finally:
            await provider.aclose()
    assert ("anthropic-ratelimit-requests-remaining", "0") in raised.value.headers
    assert dict(raised.value.headers)["anthropic-ratelimit-requests-limit"] == "1"
    assert all(k.startswith("anthropic-ratelimit-") for k, _ in first.headers)


async def test_the_limiter_adapts_to_a_final_429_without_a_retry_layer() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(RateLimitSettings(), clock=clock)
    layer = RateLimitedProvider(Scripted([limited_429(), None]), limiter)
    with pytest.raises(RateLimitError):
        await layer.send(request())
    (snap,) = limiter.snapshot()[MODEL]
    assert snap.source == "headers" and snap.per_minute == 4
    start = clock.now()
    await run_virtual(clock, layer.send(request()))
    assert clock.now() - start == pytest.approx(15)  # 4/min, none left: the next slot is 15 s on


async def test_each_retried_429_adapts_the_limiter_through_the_hub() -> None:
    clock = VirtualClock(auto=True)
    settings = ResilienceSettings.model_validate(
        {"retry": {"max_attempts": 3, "base_delay_seconds": 0.01, "max_delay_seconds": 0.01}}
    )
    hub = ResilienceHub(settings, clock=clock)
    pipeline = wrap(Scripted([limited_429(), None]), hub.install(PipelineSpec()))
    response = await pipeline.send(request())  # retried; the success carries no headers
    assert response.model == MODEL
    (snap,) = hub.snapshot()["rate_limits"][MODEL].values()
    assert snap["per_minute"] == 4 and snap["source"] == "headers"


async def test_errors_without_headers_leave_the_limiter_alone() -> None:
    limiter = RateLimiter(RateLimitSettings(), clock=VirtualClock())
    layer = RateLimitedProvider(Scripted([status_error(500, "boom")]), limiter)
    with pytest.raises(ProviderError):
        await layer.send(request())
    assert limiter.snapshot() == {}


def test_rate_limit_keys_are_resolved_through_the_catalog(tmp_path: Path) -> None:
    path = write_project(
        tmp_path, {"rate_limits": {"models": {"sonnet": {"requests_per_minute": 7}}}}
    )
    s = load_project(path).settings.resilience.rate_limits
    assert list(s.models) == [MODEL] and s.limits_for(MODEL).requests_per_minute == 7
    # ids stay as they are (and the settings object is untouched)
    same = write_project(tmp_path / "b", {"rate_limits": {"models": {MODEL: {}}}})
    assert list(load_project(same).settings.resilience.rate_limits.models) == [MODEL]


def test_an_alias_and_its_id_both_listed_is_an_error(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"rate_limits": {"models": {"sonnet": {}, MODEL: {}}}})
    with pytest.raises(ConfigurationError) as info:
        load_project(path)
    assert "resilience.rate_limits.models" in str(info.value)
    assert "'sonnet' and 'claude-sonnet-5-5' are the same model" in str(info.value)


def test_a_retired_rate_limit_key_names_the_key(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"rate_limits": {"models": {"claude-3-opus-20240229": {}}}})
    with pytest.raises(ModelError) as info:
        load_project(path)
    text = str(info.value)
    assert "resilience.rate_limits.models.claude-3-opus-20240229" in text and str(path) in text
    assert "change resilience.rate_limits.models" in text


def test_a_fallback_chain_for_an_unknown_agent_warns(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"fallback": {"agents": {"alpah": ["haiku"]}}})
    with pytest.warns(ConfigWarning) as caught:
        load_project(path)
    (message,) = [str(w.message) for w in caught if "fallback" in str(w.message)]
    assert str(path) in message and "resilience.fallback.agents.alpah" in message
    assert "'alpha'" in message  # the close match is suggested
    ok = write_project(tmp_path / "b", {"fallback": {"agents": {"alpha": ["haiku"]}}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load_project(ok)


def test_retired_models_in_fallback_chains_and_workflow_steps_name_the_key(
    tmp_path: Path,
) -> None:
    retired = "claude-3-opus-20240229"
    fb = write_project(tmp_path, {"fallback": {"models": [retired]}})
    with pytest.raises(ModelError) as info:
        load_project(fb)
    hint = info.value.hint or ""
    assert "change resilience.fallback.models.0 in claude.json" in hint
    assert "--model" not in hint
    wf = write_project(
        tmp_path / "b",
        workflows={"flow": {"steps": [{"agent": "alpha", "model": retired}]}},
    )
    with pytest.raises(ModelError) as info:
        load_project(wf, strict=True)  # tolerant (default): only that workflow is refused
    hint = info.value.hint or ""
    assert "change workflows.flow.steps.0.model in claude.json" in hint
    assert "--model" not in hint
    plain = write_project(tmp_path / "c", models={"default": retired})
    with pytest.raises(ModelError, match="pass --model"):
        load_project(plain)
