"""What a run takes from the process environment besides settings, read once at the edge.

The settings that the environment may override (``CLAUDE_FORCE_MODEL``, ``ANTHROPIC_BASE_URL``
…) are applied by the loader (:data:`ENV_OVERRIDES`, below). The API key is deliberately not a
setting (``claude.json`` can be committed): it is read here, once, when the project is loaded,
and travels with the :class:`~claude_force.config.Project`. Nothing below the configuration
layer reads ``ANTHROPIC_API_KEY`` again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

API_KEY_ENV = "ANTHROPIC_API_KEY"

# Environment variable → (section, key, parser name). Documented in docs/configuration.md.
ENV_OVERRIDES: dict[str, tuple[str, str, str]] = {
    "CLAUDE_FORCE_STATE_DIR": ("paths", "state", "str"),
    "CLAUDE_FORCE_MODEL": ("models", "default", "str"),
    "CLAUDE_FORCE_MAX_CONCURRENT": ("performance", "max_concurrent_agents", "int"),
    "CLAUDE_FORCE_TIMEOUT": ("provider", "timeout_seconds", "float"),
    "CLAUDE_FORCE_CACHE_ENABLED": ("cache", "enabled", "bool"),
    "CLAUDE_FORCE_CACHE_BACKEND": ("cache", "backend", "str"),
    "CLAUDE_FORCE_REDIS_URL": ("cache", "redis_url", "str"),
    "CLAUDE_FORCE_DATABASE_URL": ("cluster", "database_url", "str"),
    "CLAUDE_FORCE_SIMULATE": ("provider", "simulate", "simulate"),
    "CLAUDE_FORCE_LATENCY": ("provider", "latency", "str"),
    "CLAUDE_FORCE_TRACES": ("telemetry", "traces", "str"),
    "CLAUDE_FORCE_LOG_FORMAT": ("telemetry", "log_format", "str"),
    "ANTHROPIC_BASE_URL": ("provider", "base_url", "str"),
}


@dataclass(frozen=True, slots=True)
class RunEnvironment:
    """The environment's part of a run that is not a setting."""

    api_key: str | None = field(default=None, repr=False)  # never printed, never logged

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> RunEnvironment:
        environ = os.environ if env is None else env
        return cls(api_key=(environ.get(API_KEY_ENV) or "").strip() or None)

    def key(self, explicit: str | None = None) -> str | None:
        """The API key to use: one given explicitly (``--api-key``, ``api_key=``) wins."""
        return explicit or self.api_key
