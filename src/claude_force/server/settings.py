"""The ``server`` section of ``claude.json`` (imports only pydantic: the config schema uses it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

TOKEN_ENV = "CLAUDE_FORCE_SERVER_TOKEN"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ServerSettings(BaseModel):
    """How ``claude-force serve`` listens and what it protects.

    ``token``: a bearer token required by the endpoints that run agents (``POST``); the
    environment variable ``CLAUDE_FORCE_SERVER_TOKEN`` overrides it. It is never logged or
    shown. ``allowed_hosts``: extra ``Host`` header values accepted besides the loopback names
    and the bound host (a guard against DNS rebinding; ``["*"]`` accepts any).
    ``warmup_hours``: stored executions of this many past hours seed the anomaly baselines at
    start. ``ready_cache_seconds``: how long a ``/readyz`` provider probe is reused.
    ``follow_seconds``: how often the server reads the executions other processes wrote to the
    metrics store (anomalies, live stream; 0 turns it off). ``dashboard_refresh_seconds``: how
    often an open dashboard asks for fresh figures besides the live stream.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token: SecretStr | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    warmup_hours: float = Field(default=24.0, ge=0)
    ready_cache_seconds: float = Field(default=5.0, ge=0)
    ready_timeout_seconds: float = Field(default=5.0, gt=0)
    stats_interval_seconds: float = Field(default=2.0, gt=0, le=3600)
    live_window_minutes: float = Field(default=5.0, gt=0, le=60)
    sse_queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    follow_seconds: float = Field(default=2.0, ge=0, le=3600)
    dashboard_refresh_seconds: float = Field(default=5.0, ge=0.5, le=3600)
