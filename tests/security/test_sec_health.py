"""A health probe that tells the truth (issue 16, point 8): ``count_tokens`` answering is not
``/v1/messages`` working; ``--messages`` probes generation, and every report says what it did
and did not check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _resilience_helpers import write_project
from claude_force.cli.app import main
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.resilience.health import COUNT_TOKENS, MESSAGES, check_health
from claude_force.testing import Emulator, EmulatorThread

MODEL = "claude-sonnet-5-5"


async def test_messages_failing_is_caught_by_the_messages_probe() -> None:
    async with Emulator(latency="instant") as emu:
        provider = AnthropicProvider(api_key="test", base_url=emu.base_url)
        emu.enqueue("ok", "500")  # count_tokens answers, generation fails
        report = await check_health(provider, MODEL, messages=True)
        assert [r.path for r in emu.requests] == ["/v1/messages/count_tokens", "/v1/messages"]
        sent = emu.requests[1].body
        await provider.aclose()
    assert sent["max_tokens"] == 1 and sent["messages"][0]["content"] == "ping"
    assert report.status == "unreachable" and report.exit_code == 1
    assert report.probe.checked == (COUNT_TOKENS,)
    assert (report.probe.error or "").startswith(MESSAGES)


async def test_count_tokens_alone_says_what_it_did_not_check() -> None:
    async with Emulator(latency="instant") as emu:
        provider = AnthropicProvider(api_key="test", base_url=emu.base_url)
        emu.enqueue("ok", "500")
        report = await check_health(provider, MODEL)
        assert len(emu.requests) == 1  # generation was not tried (nor paid for)
        await provider.aclose()
    assert report.status == "healthy"
    assert report.probe.checked == (COUNT_TOKENS,)
    assert any(MESSAGES in n and "not tried" in n for n in report.probe.not_checked)


async def test_both_endpoints_answering() -> None:
    async with Emulator(latency="instant") as emu:
        provider = AnthropicProvider(api_key="test", base_url=emu.base_url)
        report = await check_health(provider, MODEL, messages=True)
        await provider.aclose()
    assert report.status == "healthy"
    assert report.probe.checked == (COUNT_TOKENS, MESSAGES) and report.probe.not_checked == ()


def test_cli_health_messages_and_its_text_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path)
    with EmulatorThread(latency="instant") as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.base_url)
        args = ["--config", str(config), "--api-key", "test", "health"]
        assert main([*args, "--messages", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["provider"]["checked"] == [COUNT_TOKENS, MESSAGES]
        assert main(args) == 0
        text = capsys.readouterr().out
    assert f"checked: {COUNT_TOKENS}" in text and "not checked: POST /v1/messages" in text


def test_readyz_reports_what_it_checked(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from claude_force.server.app import create_app

    config = write_project(tmp_path, server={"ready_probe": "messages"})
    with TestClient(create_app(config, simulate=True), base_url="http://127.0.0.1") as c:
        body = c.get("/readyz").json()
    assert body["ready"] is True
    assert body["provider"]["not_checked"] == [
        "the simulated model answers locally: no API was contacted"
    ]
