"""``claude-force analytics …`` and the 2.2 ``metrics …`` spellings."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner, Result

from _metrics_data import make_records
from claude_force.cli.app import app
from claude_force.metrics.backend import Query
from claude_force.metrics.record import ExecutionRecord
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore

runner = CliRunner()
NOW = datetime.now(UTC)


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # stdout is exactly one JSON document


@pytest.fixture
def recorded(in_project: Path) -> list[ExecutionRecord]:
    """20 days of executions ending now, in the project's metrics store."""
    recs = make_records(600, days=20, start=NOW - timedelta(days=20), seed=4)
    store = SQLiteMetricsStore(in_project.parent / "state" / "metrics.db")
    store.upsert(recs)
    store.close()
    return recs


def test_summary_rolls_up_what_is_due_and_reports_everything(
    recorded: list[ExecutionRecord],
) -> None:
    data = as_json(cli("analytics", "summary", "--json"))
    assert data["executions"] == sum(r.final for r in recorded)
    total = Decimal(sum(r.cost_pusd or 0 for r in recorded)) / 10**12
    assert Decimal(data["cost_usd_exact"]) == total
    assert {"p50_ms", "p95_ms", "p99_ms", "cache_hit_rate", "saved_usd"} <= set(data)
    store = SQLiteMetricsStore(Path(".claude/state/metrics.db"))
    stats = store.stats()
    assert stats.daily_rows > 0  # opening the store ran the automatic rollup (raw > 7 days)
    assert all(r.started_at > NOW - timedelta(days=9) for r in store.records(Query()))
    store.close()
    text = cli("analytics", "summary")
    assert text.exit_code == 0 and "executions" in text.stdout and "p50" in text.stdout


def test_since_until_and_filters(recorded: list[ExecutionRecord]) -> None:
    week = as_json(cli("analytics", "summary", "--since", "3d", "--json"))
    cutoff = NOW - timedelta(days=3)
    expected = sum(r.final for r in recorded if r.started_at >= cutoff)
    assert abs(week["executions"] - expected) <= 2  # 'now' moves a little between the two reads
    assert week["since"] is not None and week["until"] is None
    real = as_json(cli("analytics", "summary", "--real-only", "--agent", "code-reviewer", "--json"))
    assert real["executions"] == sum(
        r.final for r in recorded if not r.simulated and r.agent == "code-reviewer"
    )
    bad = cli("analytics", "summary", "--since", "someday")
    assert bad.exit_code == 2 and "--since" in bad.stderr


@pytest.mark.parametrize(
    ("command", "label"), [("agents", "agent"), ("models", "model"), ("workflows", "workflow")]
)
def test_grouped_reports(recorded: list[ExecutionRecord], command: str, label: str) -> None:
    data = as_json(cli("analytics", command, "--json"))
    groups = data["groups"]
    assert sum(g["executions"] for g in groups) == sum(r.final for r in recorded)
    assert all(label in g for g in groups)
    # wide enough for whole names (a narrow terminal folds them: see the test below)
    text = runner.invoke(app, ["analytics", command, "--since", "30d"], env={"COLUMNS": "120"})
    assert text.exit_code == 0 and groups[0][label] in text.stdout


def test_trends(recorded: list[ExecutionRecord]) -> None:
    days = as_json(cli("analytics", "trends", "--json"))
    assert days["interval"] == "day" and 19 <= len(days["points"]) <= 21
    hours = as_json(cli("analytics", "trends", "--interval", "hour", "--since", "2d", "--json"))
    assert {p["resolution"] for p in hours["points"]} == {"hour"}
    assert cli("analytics", "trends", "--interval", "hour").exit_code == 0
    assert cli("analytics", "trends", "--interval", "week").exit_code == 2


def test_export(recorded: list[ExecutionRecord], tmp_path: Path) -> None:
    doc = as_json(cli("analytics", "export", "--json"))
    assert doc["executions"] and doc["daily"]
    out = tmp_path / "e.csv"
    result = cli("analytics", "export", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(doc["executions"]) + len(doc["daily"])
    assert cli("analytics", "export", "--format", "xml").exit_code == 2


def test_rollup_on_demand(recorded: list[ExecutionRecord]) -> None:
    data = as_json(cli("analytics", "rollup", "--json"))
    assert data["raw_rows_rolled"] > 0 and data["daily_rows"] > 0
    again = as_json(cli("analytics", "rollup", "--json", "--until", "2099-01-01", "--vacuum"))
    assert again["raw_rows_left"] == 0
    assert again["raw_rows_rolled"] == data["raw_rows_left"]
    text = cli("analytics", "rollup")
    assert text.exit_code == 0 and "rolled" in text.stderr and text.stdout == ""
    total = as_json(cli("analytics", "summary", "--json"))
    assert total["executions"] == sum(r.final for r in recorded)


def test_prometheus_exposition(recorded: list[ExecutionRecord]) -> None:
    result = cli("analytics", "prometheus")
    assert result.exit_code == 0
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    assert sum(s.value for s in families["claude_force_executions"].samples) == sum(
        r.final for r in recorded
    )
    assert "claude_force_execution_duration_seconds" in families


def test_old_metrics_spellings(recorded: list[ExecutionRecord], tmp_path: Path) -> None:
    s = as_json(cli("metrics", "summary", "--json"))
    assert s["executions"] == sum(r.final for r in recorded)
    recent = as_json(cli("metrics", "summary", "--hours", "24", "--json"))
    assert recent["executions"] < s["executions"]
    assert "last 24 hours" in cli("metrics", "summary", "--hours", "24").stdout
    agents = as_json(cli("metrics", "agents", "--json"))
    assert sum(a["executions"] for a in agents.values()) == s["executions"]
    costs = as_json(cli("metrics", "costs", "--json"))
    assert costs["total"] == pytest.approx(sum(costs["by_agent"].values()))
    assert "python-expert" in cli("metrics", "costs").stdout
    assert cli("metrics", "agents").exit_code == 0
    out = tmp_path / "m.json"
    assert cli("metrics", "export", str(out)).exit_code == 0
    assert json.loads(out.read_text())["summary"]["executions"] == s["executions"]
    assert cli("metrics", "export", str(tmp_path / "m.csv"), "--format", "csv").exit_code == 0
    assert cli("metrics", "export", str(out), "--format", "yaml").exit_code == 2


def test_a_project_without_metrics_reports_zeros_and_writes_nothing(in_project: Path) -> None:
    data = as_json(cli("analytics", "summary", "--json"))
    assert data["executions"] == 0 and data["p50_ms"] is None
    assert not (in_project.parent / "state" / "metrics.db").exists()
    assert "executions" in cli("metrics", "summary").stdout


def test_runs_from_the_cli_are_recorded(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
    assert (
        cli("--simulate", "run", "agent", "code-reviewer", "--task", "look", "--json").exit_code
        == 0
    )
    data = as_json(cli("analytics", "agents", "--json"))
    assert [g["agent"] for g in data["groups"]] == ["code-reviewer"]


def test_a_memory_backend_is_explained(in_project: Path) -> None:
    data = json.loads(in_project.read_text())
    data["metrics"] = {"backend": "memory"}
    in_project.write_text(json.dumps(data))
    result = cli("analytics", "summary", "--json")
    assert as_json(result)["executions"] == 0
    assert "memory" in result.stderr


def test_names_in_tables_are_shown_not_read_as_markup(in_project: Path) -> None:
    import dataclasses

    recs = make_records(5, days=1, start=NOW - timedelta(hours=2), seed=9)
    recs = [dataclasses.replace(r, agent="[red]x[/red]") for r in recs]
    store = SQLiteMetricsStore(in_project.parent / "state" / "metrics.db")
    store.upsert(recs)
    store.close()
    result = cli("analytics", "agents")
    assert result.exit_code == 0, result.output
    assert "[red]x[/red]" in result.stdout  # rich would have printed a red "x"


def test_a_narrow_table_folds_long_names_and_never_cuts_a_figure(in_project: Path) -> None:
    import dataclasses

    recs = make_records(6, days=1, start=NOW - timedelta(hours=2), seed=11)
    long_name = "security-specialist-for-payment-services"
    recs = [dataclasses.replace(r, agent=long_name) for r in recs]
    store = SQLiteMetricsStore(in_project.parent / "state" / "metrics.db")
    store.upsert(recs)
    store.close()
    result = runner.invoke(app, ["analytics", "agents"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout
    name_cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert "".join(name_cells) == long_name  # folded over lines, not one character lost
    (row,) = [line for line in lines if line.startswith("│") and "%" in line]
    figures = [cell.strip() for cell in row.split("│")[2:-1]]
    assert len(figures) == 7 and all(figures)  # runs, ok, tokens, cost, hits, p50, p95
    assert figures[-1].endswith("s") and figures[-2].endswith("s")  # p50, p95 in full
