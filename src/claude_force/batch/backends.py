"""Where batches run: the Message Batches API (official SDK) or an offline simulation.

:class:`AnthropicBatchBackend` calls ``client.messages.batches.create / retrieve / results /
cancel`` of the official ``anthropic`` SDK, with the SDK's retries off (``max_retries=0``):
creating a batch is not idempotent, so it is never retried blindly; the poll loop of
:class:`~claude_force.batch.service.BatchService` tolerates transient errors of ``retrieve``.

:class:`SimulatedBatchBackend` answers every request at once with the simulated model and keeps
the results under the state directory, so ``batch status`` / ``batch results`` work from another
process. Its answers are labelled as simulated.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    status_error,
)
from ..messages import MessageResponse, Usage
from ..providers._headers import parse_retry_after, parse_should_retry
from ..providers.anthropic import LazySdkClient
from ..providers.simulated import SimulatedProvider
from .types import COUNT_KEYS, BatchNotFoundError, BatchRequest, RawResult, RemoteBatch

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic


class BatchBackend(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def simulated(self) -> bool: ...

    async def create(self, requests: Sequence[BatchRequest]) -> RemoteBatch: ...

    async def retrieve(self, batch_id: str) -> RemoteBatch: ...

    async def results(self, batch_id: str) -> list[RawResult]: ...

    async def cancel(self, batch_id: str) -> RemoteBatch: ...

    async def aclose(self) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the Message Batches API ------------------------------------------------------------------------


class AnthropicBatchBackend(LazySdkClient):
    name = "anthropic"
    simulated = False

    credentials = ("ANTHROPIC_API_KEY",)
    missing = "no Anthropic credentials for the Message Batches API"
    hint = "set ANTHROPIC_API_KEY or pass --api-key, or use --simulate"

    @property
    def base_url(self) -> str | None:
        return self._base_url

    async def _sdk(self) -> AsyncAnthropic:
        if self._client is None:  # importing the SDK and its TLS set-up read files: off the loop
            return await asyncio.to_thread(self._make_client)
        return self._client

    async def create(self, requests: Sequence[BatchRequest]) -> RemoteBatch:
        client = await self._sdk()
        body = [r.to_api() for r in requests]
        async with _mapped("create a batch"):
            batch = await client.messages.batches.create(requests=cast(Any, body))
        return _remote(batch)

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        client = await self._sdk()
        async with _mapped(f"read batch {batch_id}"):
            batch = await client.messages.batches.retrieve(batch_id)
        return _remote(batch)

    async def results(self, batch_id: str) -> list[RawResult]:
        client = await self._sdk()
        out: list[RawResult] = []
        async with _mapped(f"read the results of batch {batch_id}"):
            decoder = await client.messages.batches.results(batch_id)
            async for line in decoder:
                out.append(_raw_result(line))
        return out

    async def cancel(self, batch_id: str) -> RemoteBatch:
        client = await self._sdk()
        async with _mapped(f"cancel batch {batch_id}"):
            batch = await client.messages.batches.cancel(batch_id)
        return _remote(batch)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class _mapped:
    """Turn the SDK's errors into claude-force's typed :class:`ProviderError` family."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        if exc is None:
            return False
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            headers = exc.response.headers
            if exc.status_code == 404:
                raise BatchNotFoundError(f"cannot {self.what}: {exc.message}") from exc
            raise status_error(
                exc.status_code,
                f"cannot {self.what}: {exc.message}",
                request_id=exc.request_id,
                retry_after=parse_retry_after(headers),
                should_retry=parse_should_retry(headers),
            ) from exc
        if isinstance(exc, anthropic.APITimeoutError):
            raise ProviderTimeoutError(f"cannot {self.what}: no response in time") from exc
        if isinstance(exc, anthropic.APIConnectionError):
            raise ProviderConnectionError(f"cannot {self.what}: {exc.message}") from exc
        if isinstance(exc, anthropic.AnthropicError):
            raise ProviderError(f"cannot {self.what}: {exc}") from exc
        return False


def _remote(batch: Any) -> RemoteBatch:
    counts = batch.request_counts
    return RemoteBatch(
        id=batch.id,
        processing_status=batch.processing_status,
        counts={k: int(getattr(counts, k, 0) or 0) for k in COUNT_KEYS},
        created_at=_iso(batch.created_at),
        ended_at=_iso(batch.ended_at),
        expires_at=_iso(batch.expires_at),
    )


def message_response(message: Any, provider: str = "anthropic") -> MessageResponse:
    """A :class:`MessageResponse` from an SDK ``Message``."""
    u = message.usage
    return MessageResponse(
        text="".join(getattr(b, "text", "") for b in message.content if b.type == "text"),
        model=message.model,
        stop_reason=message.stop_reason,
        usage=Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
            cache_read_input_tokens=u.cache_read_input_tokens or 0,
        ),
        message_id=message.id,
        provider=provider,
    )


def _raw_result(line: Any) -> RawResult:
    result = line.result
    kind = result.type
    if kind == "succeeded":
        return RawResult(line.custom_id, "succeeded", message_response(result.message))
    if kind == "errored":
        err = getattr(getattr(result, "error", None), "error", None)
        return RawResult(
            line.custom_id,
            "errored",
            error_type=str(getattr(err, "type", "api_error")),
            error=str(getattr(err, "message", "the request failed")),
        )
    return RawResult(line.custom_id, "canceled" if kind == "canceled" else "expired")


# --- the offline simulation ---------------------------------------------------------------------------


class SimulatedBatchBackend:
    """Answers a batch at once with the simulated model; results kept in ``directory``."""

    name = "simulated"
    simulated = True

    def __init__(self, directory: Path, *, seed: int = 0) -> None:
        self.directory = directory
        self._provider = SimulatedProvider(latency="instant", seed=seed)

    def _path(self, batch_id: str, suffix: str) -> Path:
        if not batch_id.startswith("simbatch_") or not batch_id[9:].isalnum():
            raise BatchNotFoundError(f"no simulated batch '{batch_id}'")
        return self.directory / f"{batch_id}{suffix}"

    async def create(self, requests: Sequence[BatchRequest]) -> RemoteBatch:
        batch_id = f"simbatch_{uuid.uuid4().hex}"
        results = [
            RawResult(r.custom_id, "succeeded", await self._provider.send(r.request))
            for r in requests
        ]
        now = datetime.now(UTC)
        batch = RemoteBatch(
            id=batch_id,
            processing_status="ended",
            counts={
                "processing": 0,
                "succeeded": len(results),
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            created_at=_iso(now),
            ended_at=_iso(now),
            expires_at=_iso(now + timedelta(hours=24)),
        )
        lines = "".join(json.dumps(r.to_dict()) + "\n" for r in results)
        await asyncio.to_thread(self._write, batch, lines)
        return batch

    def _write(self, batch: RemoteBatch, lines: str) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path(batch.id, ".jsonl").write_text(lines, encoding="utf-8")
        self._path(batch.id, ".json").write_text(json.dumps(batch.to_dict()), encoding="utf-8")

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        raw = await asyncio.to_thread(self._read, batch_id, ".json")
        data = json.loads(raw)
        return RemoteBatch(**data)

    async def results(self, batch_id: str) -> list[RawResult]:
        raw = await asyncio.to_thread(self._read, batch_id, ".jsonl")
        return [RawResult.from_dict(json.loads(line)) for line in raw.splitlines() if line]

    def _read(self, batch_id: str, suffix: str) -> str:
        try:
            return self._path(batch_id, suffix).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BatchNotFoundError(f"no simulated batch '{batch_id}'") from None

    async def cancel(self, batch_id: str) -> RemoteBatch:
        return await self.retrieve(batch_id)  # a simulated batch has always ended already

    async def aclose(self) -> None:
        return None
