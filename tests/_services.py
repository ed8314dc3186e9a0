"""Service guards shared by conftest fixtures and test modules (a module of its own: ``conftest``
is not importable by name once a sub-folder has its own ``conftest.py``)."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("CLAUDE_FORCE_REQUIRE_SERVICES") == "1"


def service_unavailable(name: str, reason: str) -> None:
    """Fail when services are required (CI), else skip with the reason."""
    message = f"{name} not reachable on 127.0.0.1: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (CLAUDE_FORCE_REQUIRE_SERVICES=1)")
    pytest.skip(message)
