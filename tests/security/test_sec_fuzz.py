"""A bounded fuzz test of claude.json (issue 16): whatever the file holds, loading it ends in a
project or in a configuration error (exit 2, one ``error:`` line) — never a crash, a traceback
or exit 1. ``CLAUDE_FORCE_FUZZ_EXAMPLES`` sets the number of examples (default 60 per test)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from _sec_helpers import AGENT, cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_force.config import load_project
from claude_force.errors import ConfigurationError

EXAMPLES = int(os.environ.get("CLAUDE_FORCE_FUZZ_EXAMPLES", "60"))
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# Keys a fuzzed value may land on: every section and a few of their keys.
PATHS = [
    ("agents",),
    ("agents", "a"),
    ("agents", "a", "file"),
    ("agents", "a", "contract"),
    ("agents", "a", "priority"),
    ("agents", "a", "domains"),
    ("agents", "a", "model"),
    ("workflows",),
    ("workflows", "w"),
    ("workflows", "w", "steps"),
    ("performance",),
    ("performance", "max_concurrent_agents"),
    ("cache",),
    ("cache", "max_size_mb"),
    ("cache", "backend"),
    ("models",),
    ("models", "default"),
    ("models", "prices"),
    ("provider",),
    ("provider", "timeout_seconds"),
    ("resilience",),
    ("resilience", "retry", "max_attempts"),
    ("resilience", "fallback"),
    ("metrics",),
    ("memory",),
    ("server",),
    ("server", "port"),
    ("anomalies",),
    ("routing",),
    ("paths", "state"),
]


def base() -> dict[str, Any]:
    return {
        "agents": {"a": {"file": "agents/a.md", "priority": 1}},
        "workflows": {"w": ["a"]},
    }


def put(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = doc
    for part in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(part, {})
    if isinstance(node, dict):
        node[path[-1]] = value


def outcome(config: Path) -> str:
    """'ok' or 'config-error'; anything else fails the test."""
    try:
        load_project(config, env={})
    except ConfigurationError as exc:
        assert exc.exit_code == 2
        return "config-error"
    return "ok"


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / ".claude" / "agents").mkdir(parents=True)
    (root / ".claude" / "agents" / "a.md").write_text(AGENT)
    return root / ".claude" / "claude.json"


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=4))
def test_fuzzed_values_load_or_exit_2(
    project: Path, changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    doc = base()
    for path, value in changes:
        put(doc, path, value)
    project.write_text(json.dumps(doc))  # Infinity/NaN written as JSON extensions
    outcome(project)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), edits=st.integers(1, 8))
def test_fuzzed_bytes_load_or_exit_2(project: Path, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    data = bytearray(json.dumps(base(), indent=2).encode())
    for _ in range(edits):
        at = rng.randrange(len(data) + 1)
        kind = rng.random()
        if kind < 0.4 and data:
            del data[min(at, len(data) - 1)]
        elif kind < 0.8:
            data[at:at] = bytes([rng.randrange(256)])
        else:
            data[at:at] = rng.choice(
                [b"[" * 200, b"\x00", b"\xef\xbb\xbf", b"\x1b[2J", b'"\\u0000"']
            )
    project.write_bytes(bytes(data))
    outcome(project)


@settings(
    max_examples=min(EXAMPLES, 15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_the_cli_answers_fuzzed_files_with_exit_0_or_2(
    project: Path, changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    doc = base()
    for path, value in changes:
        put(doc, path, value)
    project.write_text(json.dumps(doc))
    result = cli("--config", str(project), "list", "agents")
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
        assert "\x1b" not in result.stderr
