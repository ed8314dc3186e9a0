"""The ``server`` section of ``claude.json`` (imports only pydantic: the config schema uses it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

TOKEN_ENV = "CLAUDE_FORCE_SERVER_TOKEN"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MIN_TOKEN_CHARS = 43
"""A token for a non-loopback address: 32 random bytes, URL-safe base64 (``claude-force serve
--new-token`` prints one)."""
MIN_TOKEN_DISTINCT = 16


def new_token() -> str:
    """32 random bytes from the operating system's generator, URL-safe base64 (43 characters)."""
    import secrets

    return secrets.token_urlsafe(32)


def weak_token(token: str) -> str | None:
    """Why ``token`` is too weak to guard a non-loopback address, or None. A token cannot be
    proven random; this refuses the short and the repetitive ones."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"it has {len(token)} characters, fewer than {MIN_TOKEN_CHARS} (32 random bytes)"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"it uses only {len(set(token))} distinct characters; it does not look random"
    return None


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
    ``ready_probe``: ``count_tokens`` (free) or ``messages`` (adds the smallest generation
    request, about 9 tokens per probe, at most one per ``ready_cache_seconds``).
    ``max_body_bytes``: the largest request body (checked before it is read, and while it
    streams). ``max_runs_per_client``: runs in flight per client address; ``max_sse_clients``:
    open event streams. After ``auth_failures_before_backoff`` wrong tokens in a row a client
    waits 1 s, 2 s, 4 s … up to ``auth_backoff_max_seconds`` before it may try again.
    ``trusted_proxies``: addresses or networks (``10.0.0.0/8``) of reverse proxies whose
    ``X-Forwarded-For`` names the client; the per-client limits and back-off then apply to the
    real client, not to the proxy. Empty (the default): the header is ignored.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token: SecretStr | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    warmup_hours: float = Field(default=24.0, ge=0, le=8_760)
    ready_cache_seconds: float = Field(default=5.0, ge=0, le=86_400)
    ready_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    ready_probe: Literal["count_tokens", "messages"] = "count_tokens"
    stats_interval_seconds: float = Field(default=2.0, gt=0, le=3600)
    live_window_minutes: float = Field(default=5.0, gt=0, le=60)
    sse_queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    follow_seconds: float = Field(default=2.0, ge=0, le=3600)
    dashboard_refresh_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=268_435_456)
    max_runs_per_client: int = Field(default=4, ge=1, le=1000)
    max_sse_clients: int = Field(default=32, ge=1, le=10_000)
    auth_failures_before_backoff: int = Field(default=5, ge=1, le=1000)
    auth_backoff_max_seconds: float = Field(default=300.0, ge=1, le=86_400)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        return value
