"""What the routes share: the orchestrator, the monitor, the token, the readiness cache; the
server's errors and how they map to HTTP status codes."""

from __future__ import annotations

import asyncio
import hmac
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request

from ..clock import Clock, utcnow
from ..errors import (
    CircuitOpenError,
    ClaudeForceError,
    ConfigurationError,
    ProviderError,
    UnknownAgentError,
    UnknownWorkflowError,
)
from ..monitoring.anomaly import Sample
from .broadcast import Broadcaster
from .monitor import Monitor
from .settings import ServerSettings

if TYPE_CHECKING:
    from ..engine import AgentEngine
    from ..metrics.tracker import MetricsTracker
    from ..runner import Execution
    from ..workflows.result import WorkflowResult

T = TypeVar("T")

WARMUP_MAX_SAMPLES = 50_000
WARMUP_PAGE = 2_000
"""Stored executions read per query by the warm-up: the store (one connection, one lock) and
the GIL are free for requests between pages. (All 50,000 in one read held the dashboard's
first queries up for 0.3-0.7 s each, for the 3 s of the read, on a store of 1M rows.)"""


class AuthError(ClaudeForceError):
    """The request lacks the server's bearer token, or carries a wrong one."""


class UnknownExecutionError(ClaudeForceError):
    """No stored execution has this id (or it was rolled up into daily rows)."""


class MetricsUnavailableError(ClaudeForceError):
    """Analytics were asked for, but this orchestrator records no metrics."""


def _provider_error_names() -> frozenset[str]:
    names: set[str] = set()
    todo: list[type[BaseException]] = [ProviderError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return frozenset(names)


PROVIDER_ERRORS = _provider_error_names()
"""Error types of failures the provider caused (answered with 502)."""
NOT_SENT_ERRORS = frozenset({CircuitOpenError.__name__, "RateLimitDeadlineError"})
"""Error types of calls that were never sent: breaker open, rate limit past the deadline (503)."""


def status_of_error(exc: ClaudeForceError) -> int:
    """The HTTP status of an error raised while handling a request."""
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, (UnknownAgentError, UnknownWorkflowError, UnknownExecutionError)):
        return 404
    if isinstance(exc, ConfigurationError):
        return 400
    if isinstance(exc, MetricsUnavailableError) or type(exc).__name__ in NOT_SENT_ERRORS:
        return 503
    if isinstance(exc, ProviderError):
        return 502
    return 500


def status_of_failure(error_type: str | None) -> int:
    """The HTTP status of a finished run: 502 provider failure, 503 not sent, else 200."""
    if error_type in PROVIDER_ERRORS:
        return 502
    if error_type in NOT_SENT_ERRORS:
        return 503
    return 200


def status_of_execution(ex: Execution) -> int:
    return 200 if ex.success else status_of_failure(ex.error_type)


def status_of_workflow(result: WorkflowResult) -> int:
    """200 unless the run failed because a step's provider failed (502) or was not sent (503)."""
    if result.status != "failed":
        return 200
    codes = [status_of_failure(s.error_type) for s in result.steps.values() if not s.ok]
    return max(codes, default=200)


@dataclass
class ServerState:
    orchestrator: AgentEngine  # the engine served (an orchestrator's, when given one)
    owned: bool
    settings: ServerSettings
    monitor: Monitor
    broadcaster: Broadcaster
    token: str | None = field(repr=False)
    clock: Clock
    monotonic: Clock
    started_at: float = 0.0
    _ready: tuple[float, dict[str, Any]] | None = field(default=None, repr=False)
    _ready_lock: asyncio.Lock | None = field(default=None, repr=False)
    warming: asyncio.Task[int] | None = field(default=None, repr=False)  # the anomaly warm-up
    _folders: list[tuple[str, str]] = field(default_factory=list, repr=False)

    # --- auth ------------------------------------------------------------------------------------

    def check_token(self, authorization: str | None) -> None:
        """Raise :class:`AuthError` unless ``Authorization: Bearer <token>`` matches (in
        constant time). No token configured: everything passes."""
        if self.token is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )
        if not ok:
            raise AuthError(
                "this endpoint needs the server's bearer token",
                hint="send 'Authorization: Bearer <token>' (server.token or "
                "CLAUDE_FORCE_SERVER_TOKEN)",
            )

    # --- metrics ---------------------------------------------------------------------------------

    async def ask_metrics(self, question: Callable[[MetricsTracker], T]) -> T:
        """``question`` answered from the engine's metrics, off the event loop;
        :class:`MetricsUnavailableError` (503) when the engine records none."""
        tracker = self.orchestrator.metrics
        if tracker is None:
            raise MetricsUnavailableError(
                "metrics are off for this server",
                hint="set metrics.enabled true in claude.json (and keep enable_tracking on)",
            )
        return await asyncio.to_thread(question, tracker)

    # --- paths -----------------------------------------------------------------------------------

    def __post_init__(self) -> None:
        # The forms of this machine's folders the API must not show (resolved now: resolving
        # a path inside a request would block the event loop).
        project = self.orchestrator.project
        forms: list[tuple[str, str]] = []
        for folder, shown in ((project.root, "."), (project.state_dir, "<state-dir>")):
            for form in dict.fromkeys((str(folder), str(folder.resolve()))):
                if len(form) > 1:
                    forms.append((form, shown))
        self._folders = forms

    def redact_paths(self, text: str) -> str:
        """``text`` without this machine's absolute folders: the project's root becomes ``.``,
        a state directory outside it ``<state-dir>``. The HTTP API shows no absolute path."""
        for form, shown in self._folders:
            text = text.replace(form, shown)
        return text

    def shown_path(self, path: Path) -> str:
        """A path as the API shows it: relative to the project's root when inside it."""
        text = str(path)
        for form, shown in self._folders:
            if shown == "." and (text == form or text.startswith(form + os.sep)):
                return text[len(form) + 1 :] or "."
        return self.redact_paths(text)

    # --- readiness -------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, Any]:
        """Provider probe, breakers, rate limits and a writable state directory; the result is
        reused for ``ready_cache_seconds`` (a real probe is a request to the API)."""
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            now = self.monotonic.now()
            if self._ready is not None and now - self._ready[0] < self.settings.ready_cache_seconds:
                return self._ready[1]
            from ..resilience.health import check_health

            orch = self.orchestrator
            report = await check_health(
                orch.pipeline,
                orch.project.catalog.default,
                hub=orch.hub,
                timeout_s=self.settings.ready_timeout_seconds,
                messages=self.settings.ready_probe == "messages",
            )
            state_dir = await asyncio.to_thread(_check_writable, orch.project.state_dir)
            state_dir["path"] = self.shown_path(orch.project.state_dir)
            if state_dir["error"]:
                state_dir["error"] = self.redact_paths(state_dir["error"])
            data = report.to_dict()
            data["state_dir"] = state_dir
            data["ready"] = report.status != "unreachable" and bool(state_dir["writable"])
            self._ready = (now, data)
            return data

    # --- anomaly warm-up -------------------------------------------------------------------------

    async def warm_up(self) -> int:
        """Seed the anomaly baselines with the stored executions of the last ``warmup_hours``,
        then with those that finished meanwhile (held by the monitor since :meth:`hold_live`)."""
        tracker = self.orchestrator.metrics
        hours = self.settings.warmup_hours
        samples: list[Sample] = []
        try:
            if tracker is not None and hours > 0:
                since = utcnow(self.clock) - timedelta(hours=hours)
                samples = await asyncio.to_thread(self._stored_samples, tracker, since)
        except BaseException:  # cancelled or failed: what was held goes to the detector
            self.monitor.warm_up(samples)
            raise
        return await self.monitor.warm_up_soon(samples)  # between requests, not in one go

    def hold_live(self) -> None:
        """Before the warm-up starts: new executions wait for the stored ones (see ``Monitor``)."""
        self.monitor.hold(utcnow(self.clock))

    @staticmethod
    def _stored_samples(tracker: MetricsTracker, since: datetime) -> list[Sample]:
        from ..metrics.backend import Query
        from ..metrics.record import to_us

        tracker.flush()
        # the newest WARMUP_MAX_SAMPLES only: an index scan read backwards with a LIMIT,
        # so a store of millions of rows does not hold the start-up (and /readyz) up; a page
        # at a time, newest first (each page ends where the last one did: the rows of its
        # last microsecond are read again and skipped, none is lost)
        store, since_us = tracker.store, to_us(since)
        samples: list[Sample] = []
        size, until, edge_us = WARMUP_PAGE, None, None
        edge: set[tuple[str, int]] = set()  # the rows read of microsecond edge_us
        while len(samples) < WARMUP_MAX_SAMPLES:
            page = store.recent(Query(since_us, until), size)
            fresh = [r for r in page if r.key not in edge]
            samples += (s for s in map(Sample.from_record, fresh) if s is not None)
            if len(page) < size:
                break
            # (nothing new: one microsecond holds more rows than a page; read more of it)
            size = WARMUP_PAGE if fresh else size * 2
            last = page[-1].started_us
            at_last = {r.key for r in page if r.started_us == last}
            edge = edge | at_last if last == edge_us else at_last
            edge_us, until = last, last + 1
            time.sleep(0)  # (a worker thread: the GIL goes to the event loop's requests)
        samples.sort(key=lambda s: s.at)
        return samples[-WARMUP_MAX_SAMPLES:]


def _check_writable(folder: Path) -> dict[str, Any]:
    """Create the state directory if needed and write (then remove) a small file in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".ready-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return {"path": str(folder), "writable": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"path": str(folder), "writable": True, "error": None}


def state_of(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    state: ServerState = request.app.state.claude_force
    return state
