"""What a run takes from the process environment besides settings, read once at the edge.

The settings that the environment may override (``CLAUDE_FORCE_MODEL``, ``ANTHROPIC_BASE_URL``
…) are applied by the loader (``config.loader.ENV_OVERRIDES``). The API key is deliberately not a
setting (``claude.json`` can be committed): it is read here, once, when the project is loaded,
and travels with the :class:`~claude_force.config.Project`. Nothing below the configuration
layer reads ``ANTHROPIC_API_KEY`` again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

API_KEY_ENV = "ANTHROPIC_API_KEY"


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
