"""The ``.claude/`` project format: loading, validation errors, warnings, environment, models."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from _core_helpers import minimal_project, write_project
from claude_force.catalog import UnknownModelWarning
from claude_force.config import ENV_OVERRIDES, ConfigWarning, find_config, load_project
from claude_force.config._jsonpos import line_of
from claude_force.config.loader import apply_env, read_json
from claude_force.errors import (
    ConfigurationError,
    ModelError,
    ProjectNotFoundError,
    UnknownAgentError,
    UnknownWorkflowError,
)

AGENT_FILES = {"agents/a.md": "# A\n\nAgent A.\n"}


def _load_strict(path: Path, **kw: Any) -> Any:
    """Load a project and fail on any warning (a clean project loads silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_project(path, **kw)


# --- projects that must load -----------------------------------------------------------------------


def test_sample_project_loads_without_warnings(sample_config: Path) -> None:
    project = _load_strict(sample_config)
    names = project.agent_names
    assert len(names) >= 10
    for required in (
        "python-expert",
        "code-reviewer",
        "security-specialist",
        "bug-investigator",
        "test-engineer",
        "document-writer",
    ):
        assert required in names
        docs = project.read_agent(required)
        assert docs.definition.strip() and docs.contract and docs.contract.strip()
    assert len(project.settings.workflows) >= 4
    assert "code-quality-check" in project.settings.workflows
    assert project.config_path == sample_config
    assert project.root == sample_config.parent.parent
    assert project.state_dir == sample_config.parent / "state"


def test_old_style_22_project_loads_without_error_or_warning(tmp_path: Path) -> None:
    config = {
        "version": "1.0.0",
        "name": "legacy",
        "description": "a claude-force 2.2 project",
        "agents": {
            "code-reviewer": {
                "file": "agents/code-reviewer.md",
                "contract": "contracts/code-reviewer.contract",
                "domains": ["code-quality", "security"],
                "priority": 1,
            }
        },
        "workflows": {"review": ["code-reviewer"]},
        "governance": {"hooks_enabled": True, "validators": ["scorecard-validator"]},
        "rules": {"delegation": "strict", "max_parallel": 3},
        "paths": {"agents": "agents/", "contracts": "contracts/", "tasks": "tasks/"},
        "skills_integration": {"enabled": True, "skills_dir": "skills/"},
    }
    path = write_project(
        tmp_path,
        config,
        {
            "agents/code-reviewer.md": "# Code Reviewer\n\nReviews code.\n",
            "contracts/code-reviewer.contract": "Rank findings by severity.",
        },
    )
    project = _load_strict(path)
    s = project.settings
    assert s.version == "1.0.0" and s.name == "legacy"
    assert s.governance == {"hooks_enabled": True, "validators": ["scorecard-validator"]}
    assert s.rules == {"delegation": "strict", "max_parallel": 3}
    assert s.skills_integration == {"enabled": True, "skills_dir": "skills/"}
    # the old free-form paths section still gives the default state directory
    assert project.state_dir == path.parent / "state"
    # new sections have their defaults
    assert s.performance.max_concurrent_agents == 10
    assert s.cache.enabled is True


def test_load_project_accepts_the_project_root_or_the_claude_folder(sample_config: Path) -> None:
    root = sample_config.parent.parent
    assert load_project(root).config_path == sample_config
    assert load_project(sample_config.parent).config_path == sample_config
    assert load_project(str(sample_config)).config_path == sample_config


def test_default_config_path_is_found_from_the_working_directory(in_project: Path) -> None:
    assert load_project().config_path == in_project


# --- errors: each names the file, the line and the key -------------------------------------------


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    text = '{\n  "agents": {\n    "a": {"file": "agents/a.md"},\n  }\n}\n'
    path = write_project(tmp_path, text, AGENT_FILES)
    with pytest.raises(ConfigurationError) as info:
        load_project(path, strict=True)
    err = info.value
    assert err.file == path and err.line == 4
    assert f"{path}:4" in str(err) and "invalid JSON" in str(err)
    assert isinstance(err, ValueError)  # what claude-force 2.2 raised
    assert err.exit_code == 2


@pytest.mark.parametrize("text", ["[]", '"agents"', "42", "null"])
def test_top_level_must_be_an_object(tmp_path: Path, text: str) -> None:
    path = write_project(tmp_path, text)
    with pytest.raises(ConfigurationError, match="top level must be a JSON object") as info:
        load_project(path, strict=True)
    assert info.value.file == path and info.value.line == 1


def test_wrong_type_names_key_and_line(tmp_path: Path) -> None:
    text = (
        "{\n"
        '  "agents": {"a": {"file": "agents/a.md"}},\n'
        '  "performance": {\n'
        '    "async_enabled": true,\n'
        '    "max_concurrent_agents": "ten"\n'
        "  }\n"
        "}\n"
    )
    path = write_project(tmp_path, text, AGENT_FILES)
    with pytest.raises(ConfigurationError) as info:
        load_project(path, strict=True)
    err = info.value
    assert err.key == "performance.max_concurrent_agents"
    assert err.line == 5
    assert "'ten'" in str(err)
    assert "docs/configuration.md" in str(err)


@pytest.mark.parametrize(
    ("config", "key", "line"),
    [
        # a list where an object is expected
        ('{\n  "agents": []\n}', "agents", 2),
        # an agent without its required file
        ('{\n  "agents": {\n    "a": {\n      "priority": 1\n    }\n  }\n}', "agents.a.file", 3),
        # a non-integer priority
        (
            '{\n  "agents": {\n    "a": {\n      "file": "agents/a.md",\n      "priority": "high"\n    }\n  }\n}',
            "agents.a.priority",
            5,
        ),
        # a workflow step that is not a string
        (
            '{\n  "agents": {"a": {"file": "agents/a.md"}},\n  "workflows": {\n    "w": ["a",\n      5]\n  }\n}',
            "workflows.w.1",
            5,
        ),
        # a negative price
        (
            '{\n  "agents": {"a": {"file": "agents/a.md"}},\n  "models": {\n    "prices": {"m": {"input": -1}}\n  }\n}',
            "models.prices.m.input",
            4,
        ),
        # an out-of-range bound
        (
            '{\n  "agents": {"a": {"file": "agents/a.md"}},\n  "performance": {"max_concurrent_agents": 0}\n}',
            "performance.max_concurrent_agents",
            3,
        ),
        # a latency preset that does not exist
        (
            '{\n  "agents": {"a": {"file": "agents/a.md"}},\n  "provider": {"latency": "warp"}\n}',
            "provider.latency",
            3,
        ),
    ],
)
def test_validation_errors_name_key_and_line(
    tmp_path: Path, config: str, key: str, line: int
) -> None:
    path = write_project(tmp_path, config, AGENT_FILES)
    with pytest.raises(ConfigurationError) as info:
        load_project(path, strict=True)
    assert info.value.key == key
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: {key}: ")


def test_several_problems_are_counted(tmp_path: Path) -> None:
    config = {"agents": {"a": {"file": "agents/a.md", "priority": "x", "domains": "y"}}}
    path = write_project(tmp_path, config, AGENT_FILES)
    with pytest.raises(ConfigurationError, match=r"and 1 more problem"):
        load_project(path, strict=True)


def test_missing_agents_section(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"workflows": {}})
    with pytest.raises(ConfigurationError, match="missing the 'agents' section") as info:
        load_project(path, strict=True)
    assert info.value.key == "agents" and info.value.file == path


def test_missing_config_file_is_project_not_found(tmp_path: Path) -> None:
    missing = tmp_path / ".claude" / "claude.json"
    with pytest.raises(ProjectNotFoundError) as info:
        load_project(missing)
    assert isinstance(info.value, FileNotFoundError)
    assert "claude-force init" in str(info.value)


def test_config_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "claude.json").mkdir()
    with pytest.raises(ConfigurationError, match="is a directory"):
        read_json(tmp_path / "claude.json")
    # load_project treats a folder as the project root and looks for .claude/claude.json in it
    with pytest.raises(ProjectNotFoundError, match="configuration file not found"):
        load_project(tmp_path / "claude.json")


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    path = tmp_path / ".claude" / "claude.json"
    path.write_bytes(b'{"agents": {"\xff": {}}}')
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        load_project(path, strict=True)


def test_agent_file_missing_is_project_not_found(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"agents": {"a": {"file": "agents/missing.md"}}})
    with pytest.raises(ProjectNotFoundError) as info:
        load_project(path, strict=True)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert err.key == "agents.a.file" and err.file == path
    assert err.line == 4  # the line of "file" in claude.json (indent=2: {, agents, a, file)
    assert str(err).startswith(f"{path}:4: agents.a.file: ")
    assert "missing.md" in str(err) and "does not exist" in str(err)


def test_missing_agent_file_can_be_deferred_with_check_files_false(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"agents": {"a": {"file": "agents/missing.md"}}})
    project = load_project(path, check_files=False)
    with pytest.raises(ProjectNotFoundError):
        project.read_agent("a")


def test_missing_contract_file_warns_and_runs_without_contract(tmp_path: Path) -> None:
    # claude-force 2.2 treated a missing contract as no contract; projects rely on it.
    config = {"agents": {"a": {"file": "agents/a.md", "contract": "contracts/gone.contract"}}}
    path = write_project(tmp_path, config, AGENT_FILES)
    with pytest.warns(ConfigWarning, match=r"agents\.a\.contract.*gone\.contract") as record:
        project = load_project(path)
    assert project.read_agent("a").contract is None
    assert len([w for w in record if issubclass(w.category, ConfigWarning)]) == 1
    # the warning is given once per project, not at every run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert project.read_agent("a").contract is None
    # once the contract exists it is picked up
    (path.parent / "contracts").mkdir()
    (path.parent / "contracts" / "gone.contract").write_text("Now here.", encoding="utf-8")
    assert project.read_agent("a").contract == "Now here."


@pytest.mark.parametrize("which", ["file", "contract"])
@pytest.mark.parametrize("rel", ["../outside.md", "agents/../../outside.md", "/etc/hostname"])
def test_paths_escaping_claude_folder_are_refused(tmp_path: Path, which: str, rel: str) -> None:
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    agent: dict[str, str] = {"file": "agents/a.md"}
    agent[which] = rel
    path = write_project(tmp_path, {"agents": {"a": agent}}, AGENT_FILES)
    with pytest.raises(ConfigurationError, match="escapes the project folder") as info:
        load_project(path, strict=True)
    assert info.value.key == f"agents.a.{which}"
    assert info.value.line == {"file": 4, "contract": 5}[which]
    assert f"{path}:{info.value.line}: " in str(info.value)
    assert not isinstance(info.value, FileNotFoundError)


def test_symlink_escaping_claude_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# secret\n", encoding="utf-8")
    path = write_project(tmp_path, {"agents": {"a": {"file": "agents/link.md"}}})
    (path.parent / "agents").mkdir()
    (path.parent / "agents" / "link.md").symlink_to(secret)
    with pytest.raises(ConfigurationError, match="escapes the project folder"):
        load_project(path, strict=True)


def test_a_file_replaced_by_an_escaping_link_after_it_was_read_is_refused(
    tmp_path: Path,
) -> None:
    """Reads of an unchanged agent stat the paths resolved at its last read; a file replaced by
    a link (same size and time as the file it replaced, another inode) is resolved again."""
    import os

    path = write_project(
        tmp_path, {"agents": {"a": {"file": "agents/a.md"}}}, {"agents/a.md": "# A\n"}
    )
    project = load_project(path, strict=True)
    agent_file = path.parent / "agents" / "a.md"
    assert project.read_agent("a").definition == "# A\n"
    assert project.read_agent("a").definition == "# A\n"  # from memory
    secret = tmp_path / "secret.md"
    secret.write_text("# S\n", encoding="utf-8")  # same size
    st = agent_file.stat()
    os.utime(secret, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same time
    agent_file.unlink()
    agent_file.symlink_to(secret)
    with pytest.raises(ConfigurationError, match="escapes the project folder"):
        project.read_agent("a")
    agent_file.unlink()
    agent_file.write_text("# B, changed\n", encoding="utf-8")
    assert project.read_agent("a").definition == "# B, changed\n"


@pytest.mark.parametrize("body", ["", "   \n\t\n"])
def test_empty_agent_file(tmp_path: Path, body: str) -> None:
    path = write_project(
        tmp_path, {"agents": {"a": {"file": "agents/a.md"}}}, {"agents/a.md": body}
    )
    with pytest.raises(ConfigurationError, match="is empty") as info:
        load_project(path, strict=True)
    assert info.value.key == "agents.a.file" and info.value.line == 4


def test_agent_file_that_is_not_text(tmp_path: Path) -> None:
    path = write_project(tmp_path, {"agents": {"a": {"file": "agents/a.md"}}})
    (path.parent / "agents").mkdir()
    (path.parent / "agents" / "a.md").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigurationError, match="cannot read") as info:
        load_project(path, strict=True)
    assert info.value.key == "agents.a.file" and info.value.line == 4


def test_workflow_naming_unknown_agent_suggests_the_closest(tmp_path: Path) -> None:
    config = {
        "agents": {"code-reviewer": {"file": "agents/a.md"}},
        "workflows": {"review": ["code-reviwer"]},
    }
    path = write_project(tmp_path, config, AGENT_FILES)
    with pytest.raises(UnknownAgentError) as info:
        load_project(path, strict=True)
    msg = str(info.value)
    assert "workflow 'review' step 1 names unknown agent 'code-reviwer'" in msg
    assert "did you mean 'code-reviewer'?" in msg
    assert info.value.key == "workflows.review"


def test_unknown_agent_and_workflow_lookups(sample_config: Path) -> None:
    project = load_project(sample_config)
    with pytest.raises(UnknownAgentError, match="not found") as info:
        project.agent("python-expret")
    assert "did you mean 'python-expert'" in str(info.value)
    with pytest.raises(UnknownAgentError, match="available: api-documenter"):
        project.agent("zzzzzz")
    with pytest.raises(UnknownWorkflowError, match="did you mean 'bug-fix'"):
        project.workflow("bugfix")


# --- unknown keys: a warning, never an error ------------------------------------------------------


def test_unknown_keys_warn_with_their_name_and_line(tmp_path: Path) -> None:
    text = (
        "{\n"
        '  "agents": {"a": {"file": "agents/a.md", "prioritty": 1}},\n'
        '  "performence": {"max_concurrent_agents": 3},\n'
        '  "cache": {"ttl_hour": 3}\n'
        "}\n"
    )
    path = write_project(tmp_path, text, AGENT_FILES)
    with pytest.warns(ConfigWarning) as record:
        project = load_project(path)
    messages = sorted(str(w.message) for w in record if issubclass(w.category, ConfigWarning))
    assert messages == [
        f"{path}:2: unknown key 'agents.a.prioritty' is ignored (check its spelling)",
        f"{path}:3: unknown key 'performence' is ignored (check its spelling)",
        f"{path}:4: unknown key 'cache.ttl_hour' is ignored (check its spelling)",
    ]
    # the misspelt section did not apply, the project still works
    assert project.settings.performance.max_concurrent_agents == 10


# --- environment overrides -------------------------------------------------------------------------

# One valid value per variable and what it must produce (section, key, value).
ENV_SAMPLES: dict[str, tuple[str, Any]] = {
    "CLAUDE_FORCE_STATE_DIR": ("/tmp/cf-state", "/tmp/cf-state"),
    "CLAUDE_FORCE_MODEL": ("claude-haiku-4-5", "claude-haiku-4-5"),
    "CLAUDE_FORCE_MAX_CONCURRENT": ("7", 7),
    "CLAUDE_FORCE_TIMEOUT": ("12.5", 12.5),
    "CLAUDE_FORCE_CACHE_ENABLED": ("no", False),
    "CLAUDE_FORCE_CACHE_BACKEND": ("memory", "memory"),
    "CLAUDE_FORCE_REDIS_URL": ("redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/3"),
    "CLAUDE_FORCE_SIMULATE": ("yes", True),
    "CLAUDE_FORCE_DATABASE_URL": (
        "postgresql://postgres@127.0.0.1:5432/cf",
        "postgresql://postgres@127.0.0.1:5432/cf",
    ),
    "CLAUDE_FORCE_LATENCY": ("fast", "fast"),
    "CLAUDE_FORCE_TRACES": ("console", "console"),
    "CLAUDE_FORCE_LOG_FORMAT": ("json", "json"),
    "ANTHROPIC_BASE_URL": ("http://127.0.0.1:9", "http://127.0.0.1:9"),
}


def test_every_env_override_has_a_sample() -> None:
    assert set(ENV_SAMPLES) == set(ENV_OVERRIDES)


@pytest.mark.parametrize("name", sorted(ENV_OVERRIDES))
def test_env_override_applies(sample_config: Path, name: str) -> None:
    raw, expected = ENV_SAMPLES[name]
    section, key, _ = ENV_OVERRIDES[name]
    project = load_project(sample_config, env={name: raw})
    assert getattr(getattr(project.settings, section), key) == expected


def test_env_overrides_come_from_os_environ_by_default(
    sample_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_MAX_CONCURRENT", "4")
    monkeypatch.setenv("CLAUDE_FORCE_STATE_DIR", "runs")
    project = load_project(sample_config)
    assert project.settings.performance.max_concurrent_agents == 4
    assert project.state_dir == sample_config.parent / "runs"
    # an explicit env mapping replaces os.environ entirely
    assert load_project(sample_config, env={}).settings.performance.max_concurrent_agents == 10


def test_env_model_override_changes_the_default_model(sample_config: Path) -> None:
    project = load_project(sample_config, env={"CLAUDE_FORCE_MODEL": "haiku"})
    assert project.model_for("python-expert") == "claude-haiku-5-5"


def test_env_override_keeps_other_keys_of_the_section(tmp_path: Path) -> None:
    path = minimal_project(tmp_path, performance={"max_concurrent_agents": 3, "timeout_seconds": 9})
    project = load_project(path, env={"CLAUDE_FORCE_MAX_CONCURRENT": "5"})
    assert project.settings.performance.max_concurrent_agents == 5
    assert project.settings.performance.timeout_seconds == 9


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CLAUDE_FORCE_MAX_CONCURRENT", "ten", "is not a number"),
        ("CLAUDE_FORCE_TIMEOUT", "soon", "is not a number"),
        ("CLAUDE_FORCE_CACHE_ENABLED", "maybe", "is not a boolean"),
        ("CLAUDE_FORCE_SIMULATE", "2", "is not a boolean"),
    ],
)
def test_env_values_that_do_not_parse_name_the_variable(
    sample_config: Path, name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError, match=expected) as info:
        load_project(sample_config, env={name: value})
    assert f"{name}={value!r}" in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("CLAUDE_FORCE_MAX_CONCURRENT", "0", "performance.max_concurrent_agents"),
        ("CLAUDE_FORCE_TIMEOUT", "-1", "provider.timeout_seconds"),
        ("CLAUDE_FORCE_LATENCY", "warp", "provider.latency"),
        ("CLAUDE_FORCE_CACHE_BACKEND", "mongo", "cache.backend"),
    ],
)
def test_env_values_that_fail_validation_name_the_variable(
    sample_config: Path, name: str, value: str, key: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_project(sample_config, env={name: value})
    assert info.value.key == key
    assert f"environment variable {name}" in str(info.value)


def test_env_retired_model_is_refused(sample_config: Path) -> None:
    with pytest.raises(ModelError, match="claude-sonnet-5-5"):
        load_project(sample_config, env={"CLAUDE_FORCE_MODEL": "claude-3-5-sonnet-20241022"})


def test_apply_env_replaces_a_non_object_section() -> None:
    merged, used = apply_env({"performance": 5}, {"CLAUDE_FORCE_MAX_CONCURRENT": "2"})
    assert merged["performance"] == {"max_concurrent_agents": 2}
    assert used == {"CLAUDE_FORCE_MAX_CONCURRENT"}


# --- finding the project ---------------------------------------------------------------------------


def test_find_config_walks_up_directories(tmp_path: Path) -> None:
    path = minimal_project(tmp_path)
    deep = tmp_path / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    assert find_config(deep) == path
    assert find_config(tmp_path) == path


def test_find_config_uses_the_nearest_project(tmp_path: Path) -> None:
    minimal_project(tmp_path)
    inner = minimal_project(tmp_path / "inner")
    assert find_config(tmp_path / "inner") == inner


def test_find_config_without_a_project_points_at_the_start(tmp_path: Path) -> None:
    start = tmp_path / "empty"
    start.mkdir()
    found = find_config(start)
    assert found == start.resolve() / ".claude" / "claude.json"
    assert not found.exists()


def test_find_config_honours_claude_force_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = minimal_project(tmp_path / "elsewhere")
    monkeypatch.setenv("CLAUDE_FORCE_CONFIG", str(elsewhere))
    assert find_config(tmp_path) == elsewhere


def test_load_project_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = minimal_project(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert load_project().config_path == path


# --- models ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "models", "agent_model"),
    [
        ("models.default", {"default": "claude-3-5-sonnet-20241022"}, None),
        ("agent", {}, "claude-3-opus-20240229"),
        ("models.agents", {"agents": {"a": "claude-3-haiku-20240307"}}, None),
    ],
)
def test_retired_model_is_a_model_error_with_successor(
    tmp_path: Path, where: str, models: dict[str, Any], agent_model: str | None
) -> None:
    agent: dict[str, Any] = {"file": "agents/a.md"}
    if agent_model:
        agent["model"] = agent_model
    path = write_project(tmp_path, {"agents": {"a": agent}, "models": models}, AGENT_FILES)
    with pytest.raises(ModelError, match="is retired") as info:
        load_project(path, strict=True)
    msg = str(info.value)
    assert "instead" in msg
    successor = {"models.default": "claude-sonnet-5-5", "agent": "claude-opus-5-5"}.get(
        where, "claude-haiku-5-5"
    )
    assert f"'{successor}'" in msg
    assert info.value.exit_code == 2
    # the error points at the setting in the file
    key = {"models.default": "models.default", "agent": "agents.a.model"}.get(
        where, "models.agents.a"
    )
    assert info.value.key == key and info.value.file == path
    assert info.value.line is not None and msg.startswith(f"{path}:{info.value.line}: {key}: ")


def test_model_precedence_and_aliases(tmp_path: Path) -> None:
    config = {
        "agents": {
            "a": {"file": "agents/a.md", "model": "opus"},
            "b": {"file": "agents/a.md"},
            "c": {"file": "agents/a.md"},
        },
        "models": {
            "default": "claude-haiku-4-5",
            "agents": {"b": "team-fast"},
            "aliases": {"team-fast": "claude-haiku-5-5"},
        },
    }
    project = _load_strict(write_project(tmp_path, config, AGENT_FILES))
    assert project.model_for("a") == "claude-opus-5-5"  # the agent's own model, via an alias
    assert project.model_for("b") == "claude-haiku-5-5"  # models.agents, via a custom alias
    assert project.model_for("c") == "claude-haiku-4-5"  # models.default
    assert project.model_for("c", "sonnet") == "claude-sonnet-5-5"  # an explicit override wins
    assert project.catalog.default == "claude-haiku-4-5"


def test_default_model_comes_from_the_catalog(tmp_path: Path) -> None:
    project = load_project(minimal_project(tmp_path))
    assert project.model_for("alpha") == "claude-sonnet-5-5"


def test_unknown_model_warns_once_and_is_used(tmp_path: Path) -> None:
    path = minimal_project(tmp_path, models={"default": "claude-future-9"})
    with pytest.warns(UnknownModelWarning, match="claude-future-9") as record:
        project = load_project(path)
    assert len([w for w in record if issubclass(w.category, UnknownModelWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert project.model_for("alpha") == "claude-future-9"
        assert project.model_for("beta") == "claude-future-9"


# --- reading agents --------------------------------------------------------------------------------


def test_read_agent_rereads_changed_files(tmp_path: Path) -> None:
    path = minimal_project(tmp_path)
    project = load_project(path)
    first = project.read_agent("alpha")
    assert first.definition.startswith("# Alpha Agent")
    assert first.contract == "Alpha always answers in one paragraph."
    assert project.read_agent("alpha") is first  # unchanged files: served from memory
    agent_file = path.parent / "agents" / "alpha.md"
    agent_file.write_text("# Alpha Agent v2 with a longer text\n", encoding="utf-8")
    st = agent_file.stat()
    os.utime(agent_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert project.read_agent("alpha").definition.startswith("# Alpha Agent v2")


def test_state_dir_absolute_and_home(tmp_path: Path) -> None:
    project = load_project(minimal_project(tmp_path, paths={"state": str(tmp_path / "st")}))
    assert project.state_dir == tmp_path / "st"
    assert project.ensure_state_dir().is_dir()
    home = load_project(minimal_project(tmp_path / "h", paths={"state": "~/cf-state"}))
    assert home.state_dir == Path.home() / "cf-state"


def test_secret_settings_are_not_dumped(tmp_path: Path) -> None:
    project = load_project(minimal_project(tmp_path, cache={"secret": "s3cr3t-value"}))
    assert project.settings.cache.secret is not None
    assert project.settings.cache.secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(project.settings)
    assert "s3cr3t-value" not in json.dumps(project.settings.model_dump(mode="json"))


# --- the JSON position helper ----------------------------------------------------------------------


def test_line_of_finds_nested_keys_and_list_items() -> None:
    text = '{\n  "a": {\n    "b": [\n      1,\n      {"c": 2}\n    ]\n  },\n  "d": 3\n}'
    assert line_of(text, ["a"]) == 2
    assert line_of(text, ["a", "b"]) == 3
    assert line_of(text, ["a", "b", 0]) == 4
    assert line_of(text, ["a", "b", 1, "c"]) == 5
    assert line_of(text, ["d"]) == 8
    assert line_of(text, []) == 1
    assert line_of(text, ["missing"]) is None
    assert line_of(text, ["a", "b", 7]) is None
    assert line_of(text, ["d", "x"]) is None  # not an object
    # broken text never raises
    assert line_of("{", ["a"]) is None
    assert line_of('{"a":', ["a", "b"]) is None
    assert line_of('{"b": nope, "a": 1}', ["a"]) is None


def test_nearby_project_is_the_one_discovery_of_the_2_2_faces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_force.config.discover import nearby_project

    monkeypatch.delenv("CLAUDE_FORCE_CONFIG", raising=False)
    alone = tmp_path / "alone"
    alone.mkdir()
    none = nearby_project(alone)
    assert none.root is None and none.project is None and none.error is None
    config = minimal_project(tmp_path / "proj")
    deep = config.parent.parent / "src" / "deep"
    deep.mkdir(parents=True)
    found = nearby_project(deep)
    assert found.root == config.parent.parent.resolve() and found.project is not None
    located = nearby_project(deep, load=False)
    assert located.root == found.root and located.project is None
    monkeypatch.setenv("CLAUDE_FORCE_CONFIG", str(config))  # the environment names it
    assert nearby_project(alone).root == config.parent.parent
    config.write_text("{ not json", encoding="utf-8")
    broken = nearby_project(deep)
    assert broken.project is None and isinstance(broken.error, ValueError)
    assert broken.root == config.parent.parent


def test_the_api_key_is_read_once_when_the_project_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = minimal_project(tmp_path)
    project = load_project(config, env={"ANTHROPIC_API_KEY": " sk-test "})
    assert project.environment.api_key == "sk-test"
    assert project.environment.key("explicit") == "explicit"  # --api-key / api_key= wins
    assert "sk-test" not in repr(project) and "sk-test" not in repr(project.environment)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert load_project(config).environment.api_key is None
