"""The state directory holds cached answers, metrics and memory: only its owner may read it."""

from __future__ import annotations

import stat
from pathlib import Path

from claude_force import AgentOrchestrator


def test_state_dir_is_private_to_its_owner(sample_config: Path) -> None:
    with AgentOrchestrator(str(sample_config), simulate=True) as orch:
        assert orch.run_agent("python-expert", "review utils.py").success
        state = orch.project.state_dir
    assert state.is_dir()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert any(p.suffix == ".db" for p in state.iterdir())
