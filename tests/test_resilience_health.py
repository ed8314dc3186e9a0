"""``check_health`` and ``claude-force health [--json]``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from _resilience_helpers import Scripted, err, request, write_project
from claude_force.cli.app import main
from claude_force.pipeline import PipelineSpec, resilient_spec, wrap
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.simulated import SimulatedProvider
from claude_force.resilience import ResilienceHub, ResilienceSettings, VirtualClock
from claude_force.resilience.health import assess, check_health, innermost, probe
from claude_force.testing import Emulator, EmulatorThread

MODEL = "claude-sonnet-5-5"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_healthy_emulator_reports_headroom_from_its_headers() -> None:
    async with Emulator(latency="instant") as emu:
        hub = ResilienceHub(ResilienceSettings(), clock=VirtualClock())
        provider = wrap(
            AnthropicProvider(api_key="test", base_url=emu.base_url), resilient_spec(hub)
        )
        report = await check_health(provider, MODEL, hub=hub)
        assert [r.path for r in emu.requests] == ["/v1/messages/count_tokens"]
        await provider.aclose()
    assert report.status == "healthy" and report.exit_code == 0
    p = report.probe
    assert (p.provider, p.reachable, p.ok, p.status, p.simulated) == (
        "anthropic",
        True,
        True,
        200,
        False,
    )
    assert p.rate_limits["requests"]["limit"] == 4000
    assert report.rate_limits[MODEL]["requests"]["source"] == "headers"
    data = report.to_dict()
    assert data["status"] == "healthy" and data["provider"]["model"] == MODEL
    json.dumps(data)


async def test_overloaded_is_degraded_and_errors_are_unreachable() -> None:
    async with Emulator(latency="instant") as emu:
        provider = AnthropicProvider(api_key="test", base_url=emu.base_url)
        emu.enqueue("529")
        overloaded = await check_health(provider, MODEL)
        emu.enqueue("500")
        broken = await check_health(provider, MODEL)
        await provider.aclose()
    assert overloaded.status == "degraded" and overloaded.probe.status == 529
    assert overloaded.probe.reachable is True and overloaded.exit_code == 1
    assert broken.status == "unreachable" and broken.probe.status == 500
    assert overloaded.breakers == [] and overloaded.rate_limits == {}


async def test_nothing_listening_is_unreachable() -> None:
    provider = AnthropicProvider(
        api_key="test", base_url=f"http://127.0.0.1:{free_port()}", timeout_seconds=5
    )
    report = await check_health(provider, MODEL)
    await provider.aclose()
    assert report.status == "unreachable" and report.probe.reachable is False
    assert "connection" in (report.probe.error or "")


async def test_a_slow_probe_times_out() -> None:
    async with Emulator(latency="instant", faults="script:slow,slow_s=5") as emu:
        provider = AnthropicProvider(api_key="test", base_url=emu.base_url)
        found = await probe(provider, MODEL, timeout_s=0.2)
        await provider.aclose()
    assert not found.ok and found.reachable is False and "0.2s" in (found.error or "")


async def test_open_breakers_make_it_degraded_and_the_simulation_needs_no_probe() -> None:
    clock = VirtualClock()
    settings = ResilienceSettings.model_validate(
        {"breaker": {"minimum_calls": 1}, "retry": {"enabled": False}}
    )
    hub = ResilienceHub(settings, clock=clock)
    inner = Scripted([err(503)])
    pipeline = wrap(inner, resilient_spec(hub))
    with pytest.raises(Exception, match="503"):
        await pipeline.send(request())
    report = await check_health(wrap(SimulatedProvider(), PipelineSpec()), MODEL, hub=hub)
    assert report.probe.simulated and report.probe.ok
    assert report.status == "degraded" and report.breakers[0]["state"] == "open"
    unknown = await check_health(pipeline, MODEL, hub=hub)  # Scripted: no cheap probe
    assert unknown.probe.reachable is None and unknown.status == "degraded"
    assert innermost(pipeline) is inner


def test_assess() -> None:
    from claude_force.resilience.health import Probe

    ok = Probe("anthropic", MODEL, False, True, True)
    limited = Probe("anthropic", MODEL, False, True, False, status=429)
    down = Probe("anthropic", MODEL, False, False, False)
    assert assess(ok, []) == "healthy"
    assert assess(ok, [{"state": "half_open"}]) == "degraded"
    assert assess(limited, []) == "degraded"
    assert assess(down, []) == "unreachable"


# --- the command ------------------------------------------------------------------------------


def test_cli_health_json_against_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path)
    with EmulatorThread(latency="instant") as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        code = main(["--config", str(config), "--api-key", "test", "health", "--json"])
    out = capsys.readouterr().out
    data = json.loads(out)  # stdout is JSON only
    assert code == 0 and data["status"] == "healthy"
    assert data["provider"]["reachable"] is True
    assert data["rate_limits"][data["provider"]["model"]]["requests"]["per_minute"] == 4000


def test_cli_health_unreachable_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{free_port()}")
    code = main(["--config", str(config), "--api-key", "test", "health", "--timeout", "5"])
    out = capsys.readouterr().out
    assert code == 1 and "unreachable" in out and "connection failed" in out


def test_cli_health_text_with_the_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"rate_limits": {"default": {"requests_per_minute": 50}}})
    code = main(["--config", str(config), "--simulate", "health", "--model", "claude-haiku-5-5"])
    out = capsys.readouterr().out
    assert code == 0 and "healthy" in out and "SIMULATED" in out and "claude-haiku-5-5" in out
    assert "breakers: none used yet" in out


def test_cli_health_configuration_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"breaker": {"failure_rate_threshold": 2}})
    code = main(["--config", str(config), "health", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert "resilience.breaker.failure_rate_threshold" in captured.err


def test_text_report_shows_breakers_limits_and_failures(capsys: pytest.CaptureFixture[str]) -> None:
    from claude_force.cli.health import _print
    from claude_force.resilience.health import HealthReport, Probe

    report = HealthReport(
        status="degraded",
        checked_at="2030-01-01T00:00:00+00:00",
        probe=Probe("anthropic", MODEL, False, True, False, status=529, error="overloaded"),
        breakers=[
            {
                "provider": "anthropic",
                "model": MODEL,
                "state": "open",
                "failure_rate": 0.75,
                "calls_in_window": 0,
                "failures_in_window": 0,
                "retry_in_s": 12.5,
            }
        ],
        rate_limits={
            MODEL: {
                "requests": {
                    "per_minute": 50.0,
                    "available": 10.0,
                    "headroom": 0.2,
                    "source": "configured",
                }
            }
        },
    )
    _print(report)
    unprobed = HealthReport(
        "healthy", "t", Probe("custom", MODEL, False, None, True, error="no cheap probe"), [], {}
    )
    _print(unprobed)
    out = capsys.readouterr().out
    assert "degraded" in out and "overloaded" in out
    assert "open" in out and "75%" in out and "12.5s" in out
    assert "requests" in out and "20%" in out and "configured" in out
    assert "not probed (no cheap probe)" in out and "rate limits: none" in out
