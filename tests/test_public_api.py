"""Guard of the public face: ``claude_force.__all__``, lazy imports, and the 2.2 module paths."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

import pytest

import claude_force

EXPECTED_ALL = [
    "__version__",
    "AgentOrchestrator",
    "AgentResult",
    "AsyncAgentOrchestrator",
    "AsyncAgentResult",
    "CircuitOpenError",
    "ClaudeForceError",
    "ConfigurationError",
    "Execution",
    "MessageRequest",
    "MessageResponse",
    "Project",
    "Provider",
    "ProviderError",
    "RunOptions",
    "SimulatedProvider",
    "Usage",
    "WorkflowCycleError",
    "WorkflowResult",
    "load_project",
]


def test_all_is_the_reviewed_list() -> None:
    """Adding or removing a public name is a decision: update this list in the same change."""
    assert sorted(claude_force.__all__) == sorted(EXPECTED_ALL)  # order is ruff's business
    assert len(set(claude_force.__all__)) == len(claude_force.__all__)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(claude_force, name)
    assert value is not None
    if name != "__version__":
        assert getattr(value, "__name__", name) == name


def test_dir_lists_the_public_names() -> None:
    assert dir(claude_force) == sorted(EXPECTED_ALL)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = claude_force.Nope  # type: ignore[attr-defined]


def test_version_matches_the_installed_distribution() -> None:
    assert claude_force.__version__ == importlib.metadata.version("claude-force")


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "claude_force.base",
            [
                "AgentResult",
                "WorkflowResult",
                "BaseOrchestrator",
                "CacheProtocol",
                "TrackerProtocol",
            ],
        ),
        ("claude_force.orchestrator", ["AgentOrchestrator", "AgentResult"]),
        ("claude_force.async_orchestrator", ["AsyncAgentOrchestrator", "AsyncAgentResult"]),
    ],
)
def test_module_paths_kept_for_migrating_users(module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    for name in names:
        assert hasattr(mod, name), f"{module}.{name}"


def test_error_hierarchy_keeps_the_builtin_bases() -> None:
    from claude_force.errors import ProjectNotFoundError

    assert issubclass(claude_force.ConfigurationError, ValueError)
    assert issubclass(claude_force.ConfigurationError, claude_force.ClaudeForceError)
    assert issubclass(ProjectNotFoundError, FileNotFoundError)
    assert issubclass(claude_force.ProviderError, claude_force.ClaudeForceError)
    assert claude_force.ConfigurationError.exit_code == 2
    assert claude_force.ProviderError.exit_code == 1


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return set(out.split())


def test_import_claude_force_does_not_import_heavy_modules() -> None:
    loaded = _modules_after("import claude_force")
    for heavy in ("anthropic", "httpx", "pydantic", "typer", "rich", "aiosqlite", "redis"):
        assert heavy not in loaded, heavy


def test_the_core_api_does_not_import_the_sdk_until_it_is_used() -> None:
    loaded = _modules_after(
        "import claude_force\n"
        "claude_force.AgentOrchestrator, claude_force.AsyncAgentOrchestrator\n"
        "import claude_force.async_orchestrator, claude_force.orchestrator"
    )
    assert "claude_force.orchestrator" in loaded
    assert "anthropic" not in loaded
