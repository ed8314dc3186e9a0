"""Shared fixtures: a fresh sample project, service guards, offline defaults."""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from _services import REQUIRE_SERVICES, service_unavailable

__all__ = ["REQUIRE_SERVICES", "copy_sample", "service_unavailable"]


EXIT_GRACE_S = 120


def pytest_unconfigure(config: pytest.Config) -> None:
    """Once the tests are done the process must end. A stuck child process once kept it waiting
    (multiprocessing joins live children at exit, without a timeout) until CI's time limit ran
    out. So after EXIT_GRACE_S, print every thread's stack and exit 1: a red run with the cause
    in its log, minutes after the tests, instead of a silent timeout."""
    faulthandler.dump_traceback_later(EXIT_GRACE_S, exit=True, file=sys.__stderr__)


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key or a user's settings: every run is offline by default."""
    for name in list(os.environ):
        if (
            name.startswith(("ANTHROPIC_", "CLAUDE_FORCE_"))
            and name != "CLAUDE_FORCE_REQUIRE_SERVICES"
        ):
            monkeypatch.delenv(name, raising=False)


def copy_sample(dest: Path) -> Path:
    """Copy the packaged sample project to ``dest/.claude``; returns the path of claude.json."""
    src = Path(str(resources.files("claude_force").joinpath("sample_project")))
    shutil.copytree(src, dest / ".claude")
    return dest / ".claude" / "claude.json"


@pytest.fixture
def sample_config(tmp_path: Path) -> Path:
    return copy_sample(tmp_path)


@pytest.fixture
def in_project(sample_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CWD is a fresh sample project's root."""
    monkeypatch.chdir(sample_config.parent.parent)
    yield sample_config


@pytest.fixture
def redis_url() -> str:
    """A Redis URL on 127.0.0.1 (database 15, flushed by the tests that use it)."""
    url = "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:
        service_unavailable("Redis", str(exc))
    return url
