"""``claude-force cache stats|list|inspect|prune|clear``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from claude_force.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")


def cli(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def filled(in_project: Path) -> Path:
    """Three answers cached (two agents), one of them served twice.

    Agent memory is off: it injects past sessions into the prompt, which (rightly) changes the
    cache key of a repeated task; these tests are about the cache alone.
    """
    config = json.loads(in_project.read_text())
    config["memory"] = {"enabled": False}
    in_project.write_text(json.dumps(config))
    for agent, task in (("python-expert", "a"), ("python-expert", "b"), ("code-reviewer", "c")):
        assert cli("--simulate", "execute", agent, task, "--json").exit_code == 0
    assert cli("--simulate", "execute", "python-expert", "a", "--json").exit_code == 0
    return in_project


def test_stats_json_and_table(filled: Path) -> None:
    data = as_json(cli("cache", "stats", "--json"))
    assert (data["entries"], data["hits"], data["misses"], data["stores"]) == (3, 1, 3, 3)
    assert data["hit_rate"] == 0.25 and data["backend"] == "sqlite"
    assert float(data["cost_saved_usd"]) > 0 and data["tokens_saved"]["total"] > 0
    assert data["location"].endswith("cache.db")
    table = cli("cache", "stats")
    assert table.exit_code == 0
    for label in ("hit rate", "25.0%", "integrity failures", "cost saved", "evictions"):
        assert label in table.stdout


def test_list_filters_and_orders(filled: Path) -> None:
    rows = as_json(cli("cache", "list", "--json"))
    assert len(rows) == 3
    assert rows[0]["agent"] == "python-expert" and rows[0]["hits"] == 1  # most recently used
    assert {r["namespace"] for r in rows} == {"sim"}
    only = as_json(cli("cache", "list", "--agent", "code-reviewer", "--json"))
    assert [r["agent"] for r in only] == ["code-reviewer"]
    assert len(as_json(cli("cache", "list", "-n", "1", "--json"))) == 1
    shown = cli("cache", "list")
    assert shown.exit_code == 0 and "code-reviewer" in shown.stdout
    none = cli("cache", "list", "--agent", "nobody")
    assert none.exit_code == 0 and "no entries" in none.stderr


def test_inspect_by_prefix(filled: Path) -> None:
    key = as_json(cli("cache", "list", "--agent", "code-reviewer", "--json"))[0]["key"]
    data = as_json(cli("cache", "inspect", key[:10], "--json"))
    assert data["key"] == key and data["valid"] and data["live"]
    assert data["entry"]["task_preview"] == "c" and data["entry"]["simulated"] is True
    assert "SIMULATED" in data["entry"]["text"]
    text = cli("cache", "inspect", key)
    assert text.exit_code == 0 and "signature  valid" in text.stdout
    bad = cli("cache", "inspect", "zz")
    assert bad.exit_code == 2 and "not a cache key" in bad.stderr
    missing = cli("cache", "inspect", "0" * 64)
    assert missing.exit_code == 2 and "no cache entry" in missing.stderr


def test_inspect_shows_a_tampered_entry_as_invalid(filled: Path) -> None:
    db = filled.parent / "state" / "cache.db"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE entries SET sig = zeroblob(32) WHERE agent = 'code-reviewer'")
    conn.commit()
    conn.close()
    key = as_json(cli("cache", "list", "--agent", "code-reviewer", "--json"))[0]["key"]
    data = as_json(cli("cache", "inspect", key, "--json"))
    assert not data["valid"] and "signature" in data["problem"] and data["entry"] is None
    assert "INVALID" in cli("cache", "inspect", key).stdout


def test_prune_and_clear(filled: Path) -> None:
    assert as_json(cli("cache", "prune", "--json")) == {"removed": 0}
    assert "removed 0 expired entries" in cli("cache", "prune").stdout
    refused = cli("cache", "clear")  # no terminal, no --yes: refuse
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert as_json(cli("cache", "clear", "--agent", "code-reviewer", "--yes", "--json")) == {
        "removed": 1,
        "agent": "code-reviewer",
    }
    assert "removed 2 entries" in cli("cache", "clear", "-y").stdout
    stats = as_json(cli("cache", "stats", "--json"))
    assert stats["entries"] == 0 and stats["hits"] == 1  # statistics are kept


def test_clear_asks_on_a_terminal(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("claude_force.cli._common.interactive", lambda: True)
    declined = cli("cache", "clear", input="n\n")
    assert declined.exit_code == 1
    assert as_json(cli("cache", "stats", "--json"))["entries"] == 3
    accepted = cli("cache", "clear", input="y\n")
    assert accepted.exit_code == 0 and "removed 3 entries" in accepted.stdout


def test_commands_work_without_a_cache_yet(in_project: Path) -> None:
    data = as_json(cli("cache", "stats", "--json"))
    assert (data["entries"], data["hits"], data["hit_rate"]) == (0, 0, 0.0)
    assert "the cache is empty" in cli("cache", "list").stderr


def test_configuration_errors_exit_2(in_project: Path) -> None:
    config = json.loads(in_project.read_text())
    config["cache"]["backend"] = "redis"
    in_project.write_text(json.dumps(config))
    result = cli("cache", "stats")
    assert result.exit_code == 2 and "cache.redis_url" in result.stderr


def test_stats_without_the_semantic_extra(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The base install has no numpy: ``cache stats`` still answers, and says so."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a)
    )
    data = as_json(cli("cache", "stats", "--json"))
    assert data["entries"] == 3
    semantic = next(v for v in data.values() if isinstance(v, dict) and "threshold" in v)
    assert semantic["available"] is False


def test_stats_of_an_unused_semantic_cache_loads_no_vector_store(filled: Path) -> None:
    """A read-only command starts fast: with no task vectors stored, ``cache stats`` reports 0
    without importing the semantic store (and numpy, its extra) — checked in a fresh process."""
    import subprocess
    import sys

    assert not (filled.parent / "state" / "semantic.db").exists()
    code = (
        "import sys, io, contextlib\n"
        "from claude_force.cli import main\n"
        "sys.argv = ['claude-force', 'cache', 'stats', '--json']\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('numpy' in sys.modules, 'claude_force.cache.semantic.store' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=filled.parent.parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"
    data = as_json(cli("cache", "stats", "--json"))
    semantic = next(v for v in data.values() if isinstance(v, dict) and "threshold" in v)
    assert semantic["entries"] == 0
