"""Read-only cache commands create nothing; the 2.2 facade never raises storage errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claude_force.cache.secret import KEY_FILE_NAME
from claude_force.cli.app import app
from claude_force.config import load_project
from claude_force.response_cache import DB_FILE_NAME, ResponseCache

runner = CliRunner()


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    monkeypatch.delenv("CLAUDE_FORCE_CACHE_SECRET", raising=False)


def _state(config: Path) -> Path:
    return load_project(config, check_files=False).state_dir


def test_stats_and_list_create_neither_the_database_nor_the_key(in_project: Path) -> None:
    state = _state(in_project)
    stats = runner.invoke(app, ["cache", "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.stdout)
    assert (data["entries"], data["bytes"], data["hits"]) == (0, 0, 0)
    assert data["location"].endswith(DB_FILE_NAME)
    listed = runner.invoke(app, ["cache", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    assert "the cache is empty" in runner.invoke(app, ["cache", "list"]).stderr
    assert not (state / DB_FILE_NAME).exists()
    assert not (state / KEY_FILE_NAME).exists()


def test_an_existing_cache_without_its_key_is_counted_without_making_a_key(
    in_project: Path,
) -> None:
    config = json.loads(in_project.read_text())
    config["memory"] = {"enabled": False}
    in_project.write_text(json.dumps(config))
    ran = runner.invoke(app, ["--simulate", "execute", "python-expert", "a task", "--json"])
    assert ran.exit_code == 0, ran.output
    state = _state(in_project)
    assert (state / DB_FILE_NAME).exists()
    (state / KEY_FILE_NAME).unlink()
    data = json.loads(runner.invoke(app, ["cache", "stats", "--json"]).stdout)
    assert data["entries"] == 1
    rows = json.loads(runner.invoke(app, ["cache", "list", "--json"]).stdout)
    assert [r["agent"] for r in rows] == ["python-expert"]
    assert not (state / KEY_FILE_NAME).exists()


def test_the_facade_reads_nothing_into_existence(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    with ResponseCache(cache_dir=folder) as c:
        assert c.size() == 0 and c.get_stats()["entries"] == 0
    assert not (folder / DB_FILE_NAME).exists() and not (folder / KEY_FILE_NAME).exists()


def test_delete_size_clear_prune_log_a_broken_cache_and_return_neutral_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    conn = sqlite3.connect(folder / DB_FILE_NAME)
    conn.execute("CREATE TABLE someone_elses (x)")
    conn.commit()
    conn.close()
    with ResponseCache(cache_dir=folder) as c:
        assert c.delete("0" * 64) is False
        assert c.size() == 0
        assert c.clear() is None
        assert c.prune() == 0
    for what in ("delete", "size", "clear", "prune"):
        assert f"ResponseCache.{what}: cache unavailable" in caplog.text
