"""The offline simulated provider: deterministic, labelled, with a latency model on a fake clock."""

from __future__ import annotations

import random

import pytest

from claude_force.config.schema import ProviderSettings
from claude_force.messages import ChatMessage, MessageRequest, SystemBlock
from claude_force.providers import (
    LATENCY_PRESETS,
    SIMULATED_BANNER,
    LatencyModel,
    Provider,
    SimulatedProvider,
)
from claude_force.providers import select as select_mod
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.select import FORCED_NOTICE, SIMULATION_NOTICE, choose_provider
from claude_force.providers.simulated import estimate_tokens, simulate_text


def request(
    task: str = "Review the login handler for SQL injection.",
    *,
    system: str = "# Security Specialist\n\nYou find vulnerabilities.",
    model: str = "claude-sonnet-5-5",
    max_tokens: int = 4096,
) -> MessageRequest:
    return MessageRequest(
        model=model,
        messages=(ChatMessage("user", task),),
        max_tokens=max_tokens,
        system=(SystemBlock(system, cache=True),) if system else (),
    )


class FakeSleep:
    """Records requested delays and advances a virtual clock instead of sleeping."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay


# --- text ------------------------------------------------------------------------------------------


async def test_same_request_and_seed_give_the_same_response() -> None:
    a = await SimulatedProvider(seed=7).send(request())
    b = await SimulatedProvider(seed=7).send(request())
    assert a == b
    assert a.text == b.text and a.request_id == b.request_id and a.usage == b.usage


async def test_different_task_seed_or_model_give_different_text() -> None:
    base = await SimulatedProvider().send(request())
    other_task = await SimulatedProvider().send(request("Explain Python decorators."))
    other_seed = await SimulatedProvider(seed=1).send(request())
    other_model = await SimulatedProvider().send(request(model="claude-haiku-4-5"))
    assert len({base.text, other_task.text, other_seed.text, other_model.text}) == 4
    assert base.request_id != other_task.request_id


async def test_response_is_labelled_simulated_and_plausible() -> None:
    r = await SimulatedProvider().send(request())
    assert r.text.startswith(SIMULATED_BANNER)
    assert "SIMULATED" in SIMULATED_BANNER and "not by Claude" in SIMULATED_BANNER
    assert r.simulated is True and r.provider == "simulated"
    assert r.stop_reason == "end_turn" and r.complete
    assert r.model == "claude-sonnet-5-5"
    assert r.request_id is not None and r.request_id.startswith("sim_req_")
    assert r.message_id is not None and r.message_id.startswith("sim_msg_")
    # derived from the request: the agent's role heading and the task's first line
    assert "## Security Specialist: response" in r.text
    assert "**Task:** Review the login handler for SQL injection." in r.text
    assert "### Findings" in r.text and "### Recommended steps" in r.text


def test_role_falls_back_without_a_heading() -> None:
    assert "## Assistant: response" in simulate_text(request(system=""))
    assert "## Assistant: response" in simulate_text(request(system="no heading here"))


def test_empty_task_and_long_first_line() -> None:
    empty = MessageRequest(model="m", messages=())
    assert "**Task:** (no task)" in simulate_text(empty)
    long_line = "x" * 500 + "\nsecond line"
    text = simulate_text(request(long_line))
    assert "**Task:** " + "x" * 160 + "\n" in text
    assert "second line" not in text


async def test_tiny_max_tokens_stops_with_max_tokens() -> None:
    r = await SimulatedProvider().send(request(max_tokens=10))
    assert r.stop_reason == "max_tokens"
    assert not r.complete
    assert r.usage.output_tokens == 10
    assert len(r.text) <= 40
    assert r.text.startswith("[SIMULATED")


@pytest.mark.parametrize("max_tokens", [1000, 4096])
async def test_enough_max_tokens_ends_the_turn(max_tokens: int) -> None:
    r = await SimulatedProvider().send(request(max_tokens=max_tokens))
    assert r.stop_reason == "end_turn"
    assert 50 < r.usage.output_tokens <= max_tokens
    assert r.text.rstrip().endswith("._")  # not cut short


# --- usage -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 1), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_estimate_tokens(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


async def test_usage_is_estimated_from_text_length() -> None:
    req = request()
    r = await SimulatedProvider().send(req)
    assert r.usage.input_tokens == estimate_tokens(req.prompt_text)
    assert r.usage.output_tokens == estimate_tokens(r.text)
    assert r.usage.cache_creation_input_tokens == 0 and r.usage.cache_read_input_tokens == 0
    longer = await SimulatedProvider().send(request("word " * 2000))
    assert longer.usage.input_tokens > r.usage.input_tokens + 2000


# --- latency on a virtual clock --------------------------------------------------------------------


async def test_instant_preset_never_sleeps() -> None:
    sleep = FakeSleep()
    provider = SimulatedProvider(latency="instant", sleep=sleep)
    await provider.send(request())
    assert sleep.delays == []
    assert provider.calls == 1


async def test_fixed_latency_model_records_the_exact_delay() -> None:
    sleep = FakeSleep()
    provider = SimulatedProvider(latency=LatencyModel(first_token_s=1.0), sleep=sleep)
    for _ in range(3):
        await provider.send(request())
    assert sleep.delays == [1.0, 1.0, 1.0]
    assert sleep.now == 3.0


async def test_per_token_latency_without_jitter() -> None:
    sleep = FakeSleep()
    model = LatencyModel(first_token_s=0.5, per_token_s=0.01)
    r = await SimulatedProvider(latency=model, sleep=sleep).send(request())
    assert sleep.delays == [pytest.approx(0.5 + 0.01 * r.usage.output_tokens)]


@pytest.mark.parametrize("preset", ["fast", "realistic", "slow"])
async def test_presets_delay_within_their_jitter_and_repeat(preset: str) -> None:
    model = LATENCY_PRESETS[preset]
    sleep = FakeSleep()
    provider = SimulatedProvider(latency=preset, sleep=sleep)
    first = await provider.send(request())
    await provider.send(request())
    await provider.send(request("another task entirely"))
    base = model.first_token_s + model.per_token_s * first.usage.output_tokens
    assert base > 0
    assert base * (1 - model.jitter) <= sleep.delays[0] <= base * (1 + model.jitter)
    assert sleep.delays[0] == sleep.delays[1]  # the same request waits the same time
    assert sleep.delays[2] != sleep.delays[0]


def test_presets_are_ordered_by_speed() -> None:
    tokens = 500
    rng = random.Random(0)
    no_jitter = {
        name: LatencyModel(m.first_token_s, m.per_token_s).delay(tokens, rng)
        for name, m in LATENCY_PRESETS.items()
    }
    assert no_jitter["instant"] == 0
    assert no_jitter["instant"] < no_jitter["fast"] < no_jitter["realistic"] < no_jitter["slow"]


def test_latency_model_delay_is_never_negative() -> None:
    rng = random.Random(1)
    assert LatencyModel(first_token_s=0.0, jitter=0.5).delay(0, rng) == 0.0
    assert LatencyModel(first_token_s=1.0, jitter=1.0).delay(10, rng) >= 0.0


# --- the provider protocol and provider choice ---------------------------------------------------


async def test_simulated_provider_satisfies_the_protocol() -> None:
    provider = SimulatedProvider()
    assert isinstance(provider, Provider)
    assert provider.name == "simulated" and provider.simulated is True
    await provider.aclose()


@pytest.fixture
def fresh_announce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_mod, "_announced", False)


def test_no_key_chooses_simulation_and_says_so_once(
    fresh_announce: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = choose_provider(ProviderSettings(latency="fast", seed=3))
    second = choose_provider(ProviderSettings())
    assert isinstance(first, SimulatedProvider) and isinstance(second, SimulatedProvider)
    assert first.latency == LATENCY_PRESETS["fast"] and first.seed == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("SIMULATED") == 1
    assert err.strip() == SIMULATION_NOTICE


def test_key_chooses_anthropic(fresh_announce: None, capsys: pytest.CaptureFixture[str]) -> None:
    provider = choose_provider(
        ProviderSettings(base_url="http://127.0.0.1:9", timeout_seconds=5), api_key="sk-test"
    )
    assert isinstance(provider, AnthropicProvider)
    assert provider.simulated is False
    assert capsys.readouterr().err == ""


def test_the_key_is_given_not_read_from_the_environment_here(
    fresh_announce: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # ANTHROPIC_API_KEY is read once, when the project loads (Project.environment), and passed
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    assert isinstance(choose_provider(ProviderSettings()), SimulatedProvider)
    assert isinstance(choose_provider(ProviderSettings(), api_key="sk-env"), AnthropicProvider)


@pytest.mark.parametrize("how", ["argument", "settings"])
def test_simulation_can_be_forced_with_a_key(
    fresh_announce: None, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    settings = ProviderSettings(simulate=how == "settings")
    provider = choose_provider(
        settings, api_key="sk-test", simulate=True if how == "argument" else None
    )
    assert isinstance(provider, SimulatedProvider)
    assert capsys.readouterr().err.strip() == FORCED_NOTICE


def test_simulate_false_argument_overrides_settings(fresh_announce: None) -> None:
    provider = choose_provider(ProviderSettings(simulate=True), api_key="sk-test", simulate=False)
    assert isinstance(provider, AnthropicProvider)
