"""Multi-process cluster fixtures: a throw-away PostgreSQL database, a project in cluster mode,
worker processes that are always stopped (and killed if they do not stop) at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import copy_sample, service_unavailable

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CHAIN = ["python-expert", "code-reviewer", "test-engineer", "document-writer"]


@contextmanager
def pg_database(prefix: str = "cf_test") -> Iterator[str]:
    """A new PostgreSQL database with a unique name; dropped afterwards (connections forced)."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:
        service_unavailable("PostgreSQL", str(exc))
        raise AssertionError from None  # unreachable: service_unavailable skips or fails
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cluster_project(
    dest: Path,
    database_url: str,
    *,
    redis_url: str | None = None,
    dead_after_s: float = 30,
    **sections: Any,
) -> Path:
    """The sample project in ``dest`` with a cluster section, a 4-step chain workflow and
    memory off for python-expert (its prompts stay exactly the task); ``sections`` override
    top-level sections."""
    config = copy_sample(dest)
    data = json.loads(config.read_text())
    data["cluster"] = {
        "database_url": database_url,
        "heartbeat_seconds": 0.5,
        # generous: on a loaded machine a live worker's heartbeat can be seconds late, and a
        # worker taken for dead has its runs resumed elsewhere (a legitimate repeat)
        "dead_after_seconds": dead_after_s,
        "poll_interval_seconds": 0.05,
    }
    if redis_url:
        data["cluster"]["redis_url"] = redis_url
    data["workflows"]["chain4"] = list(CHAIN)
    # memory on, except for the agent whose prompts the tests compare with the task exactly
    data["agents"]["python-expert"]["memory"] = False
    for key, value in sections.items():
        data[key] = value
    config.write_text(json.dumps(data, indent=1))
    return config


class Workers:
    """``claude-force worker`` processes against one project and one emulator."""

    def __init__(self, config: Path, base_url: str | None, *, concurrency: int = 4) -> None:
        self.config = config
        self.base_url = base_url
        self.concurrency = concurrency
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
        env["CLAUDE_FORCE_CONFIG"] = str(self.config)
        if self.base_url:
            env["ANTHROPIC_BASE_URL"] = self.base_url
            env["ANTHROPIC_API_KEY"] = "test-key"
        env.update(extra)
        return env

    def start(self, *ids: str, simulate: bool = False) -> None:
        for wid in ids:
            log = self.config.parent / f"worker-{wid}.log"
            args = [sys.executable, "-m", "claude_force"]
            if simulate:
                args.append("--simulate")
            args += ["worker", "--id", wid, "--concurrency", str(self.concurrency)]
            with log.open("wb") as out:
                self.procs[wid] = subprocess.Popen(
                    args, stdout=out, stderr=subprocess.STDOUT, env=self.env()
                )
            self.logs[wid] = log
        for wid in ids:
            self.wait_ready(wid)

    def wait_ready(self, wid: str, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.logs[wid].read_text(errors="replace")
            if "executing queued runs" in text:
                return
            if self.procs[wid].poll() is not None:
                raise AssertionError(f"worker {wid} exited:\n{text}")
            time.sleep(0.1)
        raise AssertionError(f"worker {wid} not ready in {timeout_s} s:\n{self.log(wid)}")

    def log(self, wid: str) -> str:
        return self.logs[wid].read_text(errors="replace")

    def kill(self, wid: str) -> None:
        """``kill -9``: no clean-up of any kind in the worker."""
        self.procs[wid].send_signal(signal.SIGKILL)
        self.procs[wid].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def user_text(body: Any) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content)
    return str(content)


def system_text(body: Any) -> str:
    system = body.get("system") or []
    if isinstance(system, list):
        return " ".join(str(b.get("text", "")) for b in system)
    return str(system)


REDIS_URL = "redis://127.0.0.1:6379/13"  # cluster tests: a database of their own, never flushed


def redis_or_skip() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        service_unavailable("Redis", str(exc))
    return REDIS_URL
