"""Fixtures of the hardening suite (issue 16)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_FORCE_LATENCY", "instant")
