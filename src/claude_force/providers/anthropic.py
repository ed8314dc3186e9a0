"""The real provider: the official ``anthropic`` SDK's ``AsyncAnthropic`` over HTTP.

The SDK's own retries are off (``max_retries=0``): claude-force has exactly one retry layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    status_error,
)
from ..messages import MessageRequest, MessageResponse, Usage
from ._headers import parse_retry_after, parse_should_retry

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic


class AnthropicProvider:
    """Sends requests to Claude (or to any Messages-API-compatible server at ``base_url``)."""

    name = "anthropic"
    simulated = False

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str | None = None,
        timeout_seconds: float = 120.0,
        client: AsyncAnthropic | None = None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout_seconds
        self._client = client

    @property
    def client(self) -> AsyncAnthropic:
        """The SDK client, created at first use (importing the SDK costs ~0.3 s)."""
        if self._client is None:
            from anthropic import AsyncAnthropic

            self._client = AsyncAnthropic(
                api_key=self._api_key,
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=0,
            )
        return self._client

    async def send(self, request: MessageRequest) -> MessageResponse:
        import anthropic

        body: dict[str, Any] = request.to_api()
        try:
            raw = await self.client.messages.with_raw_response.create(**body)
            message = raw.parse()
        except anthropic.APIStatusError as exc:
            headers = exc.response.headers
            raise status_error(
                exc.status_code,
                exc.api_message or exc.message,
                request_id=exc.request_id,
                retry_after=parse_retry_after(headers),
                error_type=str(exc.type) if exc.type else None,
                should_retry=parse_should_retry(headers),
            ) from exc
        except anthropic.APITimeoutError as exc:
            raise ProviderTimeoutError(f"no response within {self._timeout:g}s") from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderConnectionError(f"connection failed: {exc.message}") from exc
        except anthropic.APIResponseValidationError as exc:  # pragma: no cover - defensive
            raise ProviderError(f"malformed response: {exc.message}") from exc
        text = "".join(getattr(b, "text", "") for b in message.content if b.type == "text")
        u = message.usage
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
            cache_read_input_tokens=u.cache_read_input_tokens or 0,
        )
        return MessageResponse(
            text=text,
            model=message.model,
            stop_reason=message.stop_reason,
            usage=usage,
            request_id=raw.headers.get("request-id"),
            message_id=message.id,
            provider=self.name,
            simulated=False,
            headers=tuple(
                (k, v) for k, v in raw.headers.items() if k.startswith("anthropic-ratelimit-")
            ),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
