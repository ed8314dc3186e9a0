"""Parse retry hints from HTTP response headers (pure)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
    except (ValueError, TypeError):  # neither seconds nor an HTTP date: no hint
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
        parsed = parsed.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, parsed.timestamp() - current)


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    value = headers.get("x-should-retry")
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def ratelimit_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The ``anthropic-ratelimit-*`` headers (of a response or an error), as pairs."""
    return tuple((k, v) for k, v in headers.items() if k.lower().startswith("anthropic-ratelimit-"))
