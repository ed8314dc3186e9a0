"""The Anthropic SDK's exceptions as claude-force's :class:`~claude_force.errors.ProviderError`
tree — one translation for every place that calls the SDK (the provider, streamed or not, a 2.2
client patched in, the health probes); failures of the SDK's HTTP transport (a stream cut off)
included."""

from __future__ import annotations

from types import TracebackType

from ..errors import ProviderConnectionError, ProviderError, ProviderTimeoutError, status_error
from ._headers import parse_retry_after, parse_should_retry, ratelimit_headers


class sdk_errors:  # lower case, like contextlib.suppress: used as ``with sdk_errors(...)``
    """Raise SDK errors raised inside as ``ProviderError``s (``timed_out``: the timeout's message).

    A small class rather than ``@contextlib.contextmanager``: it wraps every model call, and a
    generator-based one holds a generator and its frame for as long as the call waits. The SDK
    is imported only to translate an error (it is loaded by then: the error came from it)."""

    __slots__ = ("timed_out",)

    def __init__(self, timed_out: str) -> None:
        self.timed_out = timed_out

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or not isinstance(exc, Exception):
            return  # success, or cancellation: unchanged
        translated = translate(exc, self.timed_out)
        if translated is not None:
            raise translated from exc


def translate(exc: Exception, timed_out: str) -> ProviderError | None:
    """The ``ProviderError`` for an exception the SDK raised (``None``: not the SDK's)."""
    import anthropic
    import httpx2 as httpx  # the HTTP client of the anthropic SDK

    if isinstance(exc, anthropic.APIStatusError):
        headers = exc.response.headers
        return status_error(
            exc.status_code,
            exc.api_message or exc.message,
            request_id=exc.request_id,
            retry_after=parse_retry_after(headers),
            error_type=str(exc.type) if exc.type else None,
            should_retry=parse_should_retry(headers),
            headers=ratelimit_headers(headers),
        )
    if isinstance(exc, (anthropic.APITimeoutError, httpx.TimeoutException)):
        return ProviderTimeoutError(timed_out)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderConnectionError(f"connection failed: {exc.message}")
    if isinstance(exc, httpx.HTTPError):  # a stream cut off while its events were read
        return ProviderConnectionError(f"connection failed: {exc}")
    if isinstance(exc, anthropic.APIError):  # e.g. a response that does not parse
        return ProviderError(f"malformed response: {exc.message}")
    return None
