"""The Anthropic SDK's exceptions as claude-force's :class:`~claude_force.errors.ProviderError`
tree — one translation for every place that calls the SDK (the provider, streamed or not, a 2.2
client patched in, the health probes); failures of the SDK's HTTP transport (a stream cut off)
included."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import ProviderConnectionError, ProviderError, ProviderTimeoutError, status_error
from ._headers import parse_retry_after, parse_should_retry, ratelimit_headers


@contextlib.contextmanager
def sdk_errors(timed_out: str) -> Iterator[None]:
    """Raise SDK errors raised inside as ``ProviderError``s (``timed_out``: the timeout's message).

    Imports the SDK: use it where the SDK is already loaded (its calls)."""
    import anthropic
    import httpx2 as httpx  # the HTTP client of the anthropic SDK

    try:
        yield
    except anthropic.APIStatusError as exc:
        headers = exc.response.headers
        raise status_error(
            exc.status_code,
            exc.api_message or exc.message,
            request_id=exc.request_id,
            retry_after=parse_retry_after(headers),
            error_type=str(exc.type) if exc.type else None,
            should_retry=parse_should_retry(headers),
            headers=ratelimit_headers(headers),
        ) from exc
    except (anthropic.APITimeoutError, httpx.TimeoutException) as exc:
        raise ProviderTimeoutError(timed_out) from exc
    except anthropic.APIConnectionError as exc:
        raise ProviderConnectionError(f"connection failed: {exc.message}") from exc
    except httpx.HTTPError as exc:  # a stream cut off while its events were read
        raise ProviderConnectionError(f"connection failed: {exc}") from exc
    except anthropic.APIError as exc:  # e.g. a response that does not parse
        raise ProviderError(f"malformed response: {exc.message}") from exc
