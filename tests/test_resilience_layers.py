"""Model fallback, the hub that wires the layers, the config section and the orchestrator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _resilience_helpers import Recorder, Scripted, err, request, write_project
from claude_force import callctx
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.config import load_project
from claude_force.errors import (
    CircuitOpenError,
    ConfigurationError,
    InvalidRequestError,
    OverloadedError,
    ServerError,
)
from claude_force.events import EventBus, ModelFallback
from claude_force.pipeline import PipelineSpec, default_spec, wrap
from claude_force.resilience import (
    BreakerSettings,
    FallbackProvider,
    FallbackSettings,
    RateLimitDeadlineError,
    ResilienceHub,
    ResilienceSettings,
    RetryingProvider,
    RetrySettings,
    VirtualClock,
    hub_of,
)

PRIMARY, SECOND, THIRD = "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5"
RESILIENCE_LAYERS = [
    "FallbackProvider",
    "RateLimitedProvider",
    "CircuitBreakerProvider",
    "RetryingProvider",
]


def fallback(
    inner: Scripted, models: list[str], agents: dict[str, list[str]] | None = None
) -> tuple[FallbackProvider, Recorder, VirtualClock]:
    bus, clock = EventBus(), VirtualClock()
    layer = FallbackProvider(
        inner,
        FallbackSettings(models=models, agents=agents or {}),
        bus=bus,
        clock=clock,
        sampling_allowed=lambda m: m != THIRD,
    )
    return layer, Recorder(bus), clock


def open_error() -> CircuitOpenError:
    return CircuitOpenError(f"fake/{PRIMARY}", datetime(2030, 1, 1, tzinfo=UTC))


async def test_open_breaker_falls_back_and_the_answer_records_the_model() -> None:
    inner = Scripted(per_model={PRIMARY: [open_error()]})
    layer, rec, _ = fallback(inner, [SECOND, THIRD])
    with callctx.using(agent="alpha", execution_id="e1"):
        out = await layer.send(request())
    assert out.model == SECOND and [c.model for c in inner.calls] == [PRIMARY, SECOND]
    (event,) = rec.of(ModelFallback)
    assert (event.from_model, event.to_model, event.reason, event.agent, event.execution_id) == (
        PRIMARY,
        SECOND,
        "CircuitOpenError",
        "alpha",
        "e1",
    )


async def test_exhausted_retries_and_rate_limits_fall_back_through_the_chain() -> None:
    inner = Scripted(
        per_model={
            PRIMARY: [OverloadedError("overloaded", status=529)],
            SECOND: [RateLimitDeadlineError(SECOND, "requests", 30, 1)],
        }
    )
    layer, rec, _ = fallback(inner, [SECOND, THIRD])
    out = await layer.send(request())
    assert out.model == THIRD
    assert [(e.from_model, e.to_model) for e in rec.of(ModelFallback)] == [
        (PRIMARY, SECOND),
        (SECOND, THIRD),
    ]


async def test_request_errors_do_not_fall_back() -> None:
    inner = Scripted(per_model={PRIMARY: [err(400)]})
    layer, rec, _ = fallback(inner, [SECOND])
    with pytest.raises(InvalidRequestError):
        await layer.send(request())
    assert len(inner.calls) == 1 and rec.events == []


async def test_when_every_model_fails_the_last_error_names_the_chain() -> None:
    inner = Scripted(per_model={PRIMARY: [err(503)], SECOND: [err(529)]})
    layer, _, _ = fallback(inner, [SECOND])
    with pytest.raises(OverloadedError) as info:
        await layer.send(request())
    assert info.value.__notes__ == [f"fallback chain: {PRIMARY} (ServerError) → {SECOND}"]


async def test_per_agent_chains_replace_the_global_one_and_repeats_are_skipped() -> None:
    inner = Scripted(per_model={PRIMARY: [err(503)]})
    layer, _, _ = fallback(inner, [SECOND], agents={"beta": [PRIMARY, THIRD]})
    assert layer.chain(PRIMARY, "beta") == [PRIMARY, THIRD]
    assert layer.chain(PRIMARY, None) == [PRIMARY, SECOND]
    with callctx.using(agent="beta"):
        out = await layer.send(
            __import__("dataclasses").replace(request(), temperature=0.3, top_k=5)
        )
    assert out.model == THIRD
    sent = inner.calls[-1]
    assert (sent.temperature, sent.top_k) == (None, None)  # THIRD rejects sampling parameters


async def test_no_fallback_once_the_deadline_has_passed() -> None:
    inner = Scripted(per_model={PRIMARY: [err(503)]})
    layer, _, clock = fallback(inner, [SECOND])
    with callctx.using(deadline=clock.now()), pytest.raises(ServerError):
        await layer.send(request())
    assert len(inner.calls) == 1


# --- the hub ---------------------------------------------------------------------------------


def chain_types(provider: object) -> list[str]:
    names = []
    while provider is not None:
        names.append(type(provider).__name__)
        provider = getattr(provider, "inner", None)
    return names


def test_hub_installs_layers_in_order_and_can_be_found_again() -> None:
    hub = ResilienceHub(ResilienceSettings(fallback=FallbackSettings(models=[SECOND])))
    spec = hub.install(PipelineSpec())
    pipeline = wrap(Scripted(), spec)
    assert chain_types(pipeline) == [
        "FallbackProvider",
        "RateLimitedProvider",
        "CircuitBreakerProvider",
        "RetryingProvider",
        "Scripted",
    ]
    assert hub_of(pipeline) is hub
    assert hub_of(Scripted()) is None


def test_disabled_layers_are_left_out() -> None:
    settings = ResilienceSettings.model_validate(
        {
            "retry": {"enabled": False},
            "breaker": {"enabled": False},
            "rate_limits": {"enabled": False},
        }
    )
    spec = ResilienceHub(settings).install(PipelineSpec())
    assert spec.layers() == [spec.rate_limit]
    assert chain_types(wrap(Scripted(), spec)) == ["Scripted"]


async def test_retry_charges_the_rate_limiter_and_the_snapshot_reports_state() -> None:
    clock = VirtualClock(auto=True)
    settings = ResilienceSettings.model_validate(
        {
            "rate_limits": {"default": {"requests_per_minute": 100}},
            "breaker": {"minimum_calls": 2, "cooldown_seconds": 10},
            "retry": {"max_attempts": 2, "base_delay_seconds": 0.01, "max_delay_seconds": 0.01},
        }
    )
    hub = ResilienceHub(settings, clock=clock)
    inner = Scripted([err(503), None, err(503), err(503), err(503), err(503)])
    pipeline = wrap(inner, hub.install(PipelineSpec()))
    await pipeline.send(request())  # one retry: 2 requests charged
    assert hub.limiter.buckets(PRIMARY).buckets["requests"].level(clock.now()) == pytest.approx(
        98, abs=0.1
    )
    with pytest.raises(ServerError):
        await pipeline.send(request())  # a success and a failure: 50% of 2 calls opens it
    with pytest.raises(CircuitOpenError):
        await pipeline.send(request())
    snap = hub.snapshot()
    (breaker,) = snap["breakers"]
    assert breaker["state"] == "open" and breaker["model"] == PRIMARY
    assert 0 < breaker["retry_in_s"] <= 10
    limits = snap["rate_limits"][PRIMARY]["requests"]
    assert limits["per_minute"] == 100 and limits["source"] == "configured"
    assert 0 < limits["headroom"] < 1


async def test_open_breaker_fails_before_waiting_for_rate_limit_capacity() -> None:
    clock = VirtualClock()
    settings = ResilienceSettings(
        breaker=BreakerSettings(minimum_calls=1, cooldown_seconds=60),
        retry=RetrySettings(enabled=False),
    )
    hub = ResilienceHub(settings, clock=clock)
    inner = Scripted([err(503)])
    pipeline = wrap(inner, hub.install(PipelineSpec()))
    with pytest.raises(ServerError):
        await pipeline.send(request())
    hub.limiter.charge(PRIMARY)  # even with a limiter that would have to wait …
    with pytest.raises(CircuitOpenError):
        await pipeline.send(request())  # … the open circuit answers at once
    assert len(inner.calls) == 1 and clock.pending == 0


# --- configuration and the orchestrator -------------------------------------------------------


def test_the_resilience_section_loads_with_defaults_and_overrides(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        {
            "retry": {"max_attempts": 6, "budget_ratio": 0.5},
            "breaker": {"cooldown_seconds": 5},
            "rate_limits": {
                "default": {"requests_per_minute": 50},
                "models": {PRIMARY: {"output_tokens_per_minute": 8000}},
            },
            "fallback": {"models": [SECOND], "agents": {"beta": [THIRD]}},
        },
    )
    s = load_project(path).settings.resilience
    assert s.retry.max_attempts == 6 and s.retry.base_delay_seconds == 0.5
    assert s.breaker.cooldown_seconds == 5 and s.breaker.failure_rate_threshold == 0.5
    assert s.rate_limits.limits_for(PRIMARY).requests_per_minute == 50
    assert s.rate_limits.limits_for(PRIMARY).output_tokens_per_minute == 8000
    assert s.fallback.chain_for("beta") == [THIRD] and s.fallback.chain_for("alpha") == [SECOND]
    assert load_project(write_project(tmp_path / "b")).settings.resilience == ResilienceSettings()


def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"retry": {"max_attempts": 0}})
    with pytest.raises(ConfigurationError) as info:
        load_project(path)
    assert "resilience.retry.max_attempts" in str(info.value) and str(path) in str(info.value)
    path2 = write_project(
        tmp_path / "b", {"breaker": {"cooldown_seconds": 60, "max_cooldown_seconds": 1}}
    )
    with pytest.raises(ConfigurationError, match="max_cooldown_seconds"):
        load_project(path2)


def test_unknown_keys_in_the_section_warn(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"retry": {"max_attempt": 4}})
    with pytest.warns(UserWarning, match="resilience.retry.max_attempt"):
        load_project(path)


def test_max_retries_maps_to_max_attempts(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"retry": {"max_attempts": 6}})

    def attempts(orch: AsyncAgentOrchestrator) -> int:
        p: object = orch.pipeline
        while not isinstance(p, RetryingProvider):
            p = p.inner
        return p.policy.max_attempts

    assert attempts(AsyncAgentOrchestrator(path, provider=Scripted())) == 6
    orch = AsyncAgentOrchestrator(path, provider=Scripted(), max_retries=2)
    assert orch.max_retries == 2 and attempts(orch) == 2
    assert attempts(AsyncAgentOrchestrator(path, provider=Scripted(), max_retries=0)) == 1
    default = AsyncAgentOrchestrator(write_project(tmp_path / "b"), provider=Scripted())
    assert default.max_retries == 3 and attempts(default) == 3


def test_default_spec_wires_resilience_from_the_project(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, {"fallback": {"models": [SECOND]}}))
    spec = default_spec(project, EventBus(), max_attempts=4)
    pipeline = wrap(Scripted(), spec)
    names = chain_types(pipeline)
    mine = [n for n in names if n in RESILIENCE_LAYERS]
    assert mine == RESILIENCE_LAYERS  # in this order, whatever other layers surround them
    # right above the provider (and the tracing layer, which only observes each model call)
    below = [n for n in names[names.index("RetryingProvider") + 1 :] if n != "TracingProvider"]
    assert len(below) == 1
    hub = hub_of(pipeline)
    assert hub is not None and hub.retry_policy.max_attempts == 4


async def test_an_execution_records_the_model_that_answered(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"fallback": {"models": [SECOND]}}, models={"default": PRIMARY})
    inner = Scripted(per_model={PRIMARY: [open_error()]})
    bus = EventBus()
    rec = Recorder(bus)
    async with AsyncAgentOrchestrator(path, provider=inner, bus=bus) as orch:
        result = await orch.execute_agent("alpha", "do it")
    assert result.success and result.metadata["model"] == SECOND
    assert [e.to_model for e in rec.of(ModelFallback)] == [SECOND]
    assert json.dumps(result.to_dict())  # plain data


def test_public_names_are_exported() -> None:
    import claude_force.resilience as r

    assert sorted(r.__all__) == sorted(set(r.__all__))
    for name in r.__all__:
        assert getattr(r, name) is not None, name
