"""Every numeric setting is finite and bounded, and any configuration that loads can run
(issue 16, point 2): a hypothesis property test over the numeric keys of claude.json."""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
from _sec_helpers import cli, hostile_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from claude_force.config import load_project
from claude_force.config.schema import ProjectSettings
from claude_force.errors import ConfigurationError

NUMBER_TYPES = (int, float, Decimal)
# Sections a single execution does not read (the server, anomaly detection, routing) are still
# bounded (the structural test below); the property test runs the ones an execution uses.
RUN_SECTIONS = ("performance", "cache", "provider", "resilience", "metrics", "memory")


@dataclass(frozen=True)
class NumericKey:
    path: tuple[str, ...]
    kind: type
    low: float | None
    low_open: bool
    high: float | None
    high_open: bool


def _number_type(annotation: Any) -> type | None:
    if annotation in NUMBER_TYPES:
        return annotation  # type: ignore[no-any-return]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        found = [a for a in typing.get_args(annotation) if a in NUMBER_TYPES]
        return found[0] if found else None
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def numeric_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[NumericKey]:
    """The numeric settings of ``model`` reached through nested sections (not through dicts)."""
    found: list[NumericKey] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        kind = _number_type(info.annotation)
        if kind is not None and info.annotation is not bool:
            low = high = None
            low_open = high_open = False
            for m in info.metadata:
                if isinstance(m, at.Ge):
                    low = float(m.ge)  # type: ignore[arg-type]
                elif isinstance(m, at.Gt):
                    low, low_open = float(m.gt), True  # type: ignore[arg-type]
                elif isinstance(m, at.Le):
                    high = float(m.le)  # type: ignore[arg-type]
                elif isinstance(m, at.Lt):
                    high, high_open = float(m.lt), True  # type: ignore[arg-type]
            found.append(NumericKey((*prefix, key), kind, low, low_open, high, high_open))
        sub = _model_of(info.annotation)
        if sub is not None:
            found += numeric_keys(sub, (*prefix, key))
    return found


KEYS = numeric_keys(ProjectSettings)
AGENT_KEYS = [
    NumericKey(("agents", "a", *k.path), k.kind, k.low, k.low_open, k.high, k.high_open)
    for k in numeric_keys(ProjectSettings.model_fields["agents"].annotation.__args__[1])  # type: ignore[union-attr]
]


def test_every_numeric_setting_has_a_lower_and_an_upper_bound() -> None:
    assert len(KEYS) > 50  # the walk finds the settings tree
    unbounded = [".".join(k.path) for k in KEYS + AGENT_KEYS if k.low is None or k.high is None]
    assert unbounded == []


@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path: Path, raw: str) -> None:
    config = hostile_project(tmp_path, {"a": {}})
    text = (
        config.read_text().rstrip().removesuffix("}") + ', "cache": {"max_size_mb": ' + raw + "}}"
    )
    config.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        load_project(config)
    assert info.value.key == "cache.max_size_mb" and info.value.exit_code == 2
    assert info.value.line is not None


def test_non_finite_environment_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = hostile_project(tmp_path, {"a": {}})
    monkeypatch.setenv("CLAUDE_FORCE_TIMEOUT", "inf")
    with pytest.raises(ConfigurationError, match="CLAUDE_FORCE_TIMEOUT"):
        load_project(config)


def _value(key: NumericKey) -> st.SearchStrategy[Any]:
    """Values in range (edges included), just outside it, and not finite at all."""
    low = key.low if key.low is not None else -1e6
    high = key.high if key.high is not None else 1e6
    if key.kind is int:
        inside: st.SearchStrategy[Any] = st.integers(math.ceil(low), int(high))
        edges = st.sampled_from([math.ceil(low), int(high)])
        outside = st.sampled_from([int(low) - 1, int(high) + 1])
    else:
        inside = st.floats(low, high, exclude_min=key.low_open, exclude_max=key.high_open)
        edges = st.sampled_from(
            [v for v, open_ in ((low, key.low_open), (high, key.high_open)) if not open_]
            or [high / 2]
        )
        outside = st.sampled_from([low - 1, high * 2 + 1, math.inf, -math.inf, math.nan])
    return st.one_of(inside, edges, outside)


RUN_KEYS = [k for k in KEYS if k.path[0] in RUN_SECTIONS] + AGENT_KEYS


@st.composite
def configs(draw: st.DrawFn) -> dict[tuple[str, ...], Any]:
    chosen = draw(st.lists(st.sampled_from(RUN_KEYS), min_size=1, max_size=6, unique=True))
    return {k.path: draw(_value(k)) for k in chosen}


def _nest(values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    root: dict[str, Any] = {"agents": {"a": {"file": "agents/0.md"}}}
    for path, value in values.items():
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = float(value) if isinstance(value, Decimal) else value
    return root


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=configs())
def test_any_accepted_configuration_can_run(
    tmp_path_factory: pytest.TempPathFactory, values: dict[tuple[str, ...], Any]
) -> None:
    root = tmp_path_factory.mktemp("cfg")
    config = hostile_project(root, {"a": {}})
    config.write_text(json.dumps(_nest(values), indent=2))  # Infinity/NaN written as such
    try:
        project = load_project(config)
    except ConfigurationError:
        result = cli("--config", str(config), "list", "agents")
        assert result.exit_code == 2 and result.stderr.startswith("error: ")
        return
    ran = cli("--config", str(config), "--simulate", "execute", "a", "Hello", "--json")
    if project.problem("a") is not None:  # a broken agent (e.g. priority -1001) loads, unusable
        assert ran.exit_code == 2 and ran.stderr.startswith("error: "), (values, ran.output)
        return
    short_timeout = any(p[-1] == "timeout_seconds" and float(v) < 1 for p, v in values.items())
    if ran.exit_code != 0:
        assert ran.exit_code == 1 and short_timeout, (values, ran.output)
        return
    assert all(r["success"] for r in json.loads(ran.stdout)["results"])
    stats = cli("--config", str(config), "cache", "stats", "--json")
    assert stats.exit_code == 0, (values, stats.output)
