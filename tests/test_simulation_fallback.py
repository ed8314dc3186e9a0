"""No silent fakes: without a key the CLI says in its exit status that the simulated model
answered, unless the project (or --simulate) asked for it; ``never`` refuses to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from _core_helpers import minimal_project
from claude_force import fallback_flag
from claude_force.async_orchestrator import AsyncAgentOrchestrator
from claude_force.cli.app import app
from claude_force.config.schema import ProviderSettings
from claude_force.errors import ConfigurationError
from claude_force.providers.anthropic import AnthropicProvider
from claude_force.providers.select import choose_provider
from claude_force.providers.simulated import SimulatedProvider

runner = CliRunner()


def project(tmp_path: Path, simulate: object = None) -> Path:
    provider: dict[str, object] = {"latency": "instant"}
    if simulate is not None:
        provider["simulate"] = simulate
    return minimal_project(tmp_path, provider=provider, memory={"enabled": False})


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(
        app, ["--config", str(config), *args, "execute", "alpha", "hi", "--json"], env=env
    )
    return result.exit_code, result.stderr


def test_an_unintended_fallback_exits_3_and_says_why(tmp_path: Path) -> None:
    code, err = run(project(tmp_path))
    assert code == 3
    assert "exit status 3" in err and "SIMULATED" in err and "ANTHROPIC_API_KEY" in err


@pytest.mark.parametrize("how", ["flag", "auto", "env-auto", "true"])
def test_simulating_on_purpose_exits_0(tmp_path: Path, how: str) -> None:
    config = project(tmp_path, "auto" if how == "auto" else True if how == "true" else None)
    args = ("--simulate",) if how == "flag" else ()
    env = {"CLAUDE_FORCE_SIMULATE": "auto"} if how == "env-auto" else None
    assert run(config, *args, env=env)[0] == 0


def test_never_refuses_before_running(tmp_path: Path) -> None:
    config = project(tmp_path)
    code, err = run(config, env={"CLAUDE_FORCE_SIMULATE": "never"})
    assert code == 2 and "provider.simulate" in err and "ANTHROPIC_API_KEY" in err
    assert not (config.parent / "state" / "metrics.db").exists()  # nothing ran
    # an explicit --simulate is not a silent fallback
    assert run(config, "--simulate", env={"CLAUDE_FORCE_SIMULATE": "never"})[0] == 0
    code, err = run(config, env={"CLAUDE_FORCE_SIMULATE": "sometimes"})
    assert code == 2 and "auto or never" in err


def test_batches_follow_the_same_rule(tmp_path: Path) -> None:
    config = project(tmp_path)
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("one\ntwo\n")
    base = ["--config", str(config), "batch", "submit", "alpha", "--tasks-file", str(tasks)]
    assert runner.invoke(app, [*base, "--json"]).exit_code == 3
    never = runner.invoke(app, [*base, "--json"], env={"CLAUDE_FORCE_SIMULATE": "never"})
    assert never.exit_code == 2


def test_choose_provider() -> None:
    fallback_flag.reset()
    never = ProviderSettings(simulate="never")
    with pytest.raises(ConfigurationError, match="switched off"):
        choose_provider(never)
    assert isinstance(choose_provider(never, api_key="sk-ant-x"), AnthropicProvider)
    assert isinstance(choose_provider(never, simulate=True), SimulatedProvider)
    assert not fallback_flag.fell_back()
    assert isinstance(choose_provider(ProviderSettings(simulate="auto")), SimulatedProvider)
    assert not fallback_flag.fell_back()
    assert isinstance(choose_provider(ProviderSettings()), SimulatedProvider)
    assert not fallback_flag.fell_back()  # chosen, but nothing ran on it yet
    fallback_flag.ran()
    assert fallback_flag.fell_back()
    fallback_flag.reset()


def test_commands_that_run_nothing_exit_0(tmp_path: Path) -> None:
    config = project(tmp_path)
    for args in (["list", "agents"], ["info", "alpha"]):
        assert runner.invoke(app, ["--config", str(config), *args]).exit_code == 0


async def test_the_python_api_refuses_too_when_never(tmp_path: Path) -> None:
    config = project(tmp_path, "never")
    orch = AsyncAgentOrchestrator(config, enable_memory=False)
    with pytest.raises(ConfigurationError):
        orch.provider  # noqa: B018
    await orch.close()
