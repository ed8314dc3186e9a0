"""The Message Batches API of the emulator (no I/O): create, retrieve, results, cancel.

A batch is ``in_progress`` until ``delay_s`` (on the injected clock) has passed since it was
created, then ``ended``; its requests are answered then, each like ``/v1/messages`` would
(simulated text, prompt-cache accounting). A request whose ``params`` are invalid ends
``errored`` with an ``invalid_request_error`` (as the real API reports per-request problems);
a malformed batch (no requests, a bad or repeated ``custom_id``) is refused with 400.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..providers.simulated import estimate_tokens
from ._accounting import PromptCache
from ._api import ApiError, answer, message_body, parse_request

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_PREFIX = "/v1/messages/batches"
MAX_REQUESTS = 100_000


def batch_route(method: str, path: str) -> str | None:
    """``batch_create`` / ``batch_get`` / ``batch_results`` / ``batch_cancel``, or None."""
    if path == _PREFIX:
        return "batch_create" if method == "POST" else None
    if not path.startswith(_PREFIX + "/"):
        return None
    parts = path[len(_PREFIX) + 1 :].split("/")
    if len(parts) == 1 and method == "GET":
        return "batch_get"
    if len(parts) == 2 and parts[1] == "results" and method == "GET":
        return "batch_results"
    if len(parts) == 2 and parts[1] == "cancel" and method == "POST":
        return "batch_cancel"
    return None


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@dataclass
class _Batch:
    id: str
    requests: list[tuple[str, Any]]  # (custom_id, params) as received
    created: float  # on the store's clock
    created_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


class BatchStore:
    """The batches one emulator holds."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        cache: PromptCache | None = None,
    ) -> None:
        self.delay_s = delay_s
        self.clock = clock
        self.seed = seed
        self.cache = cache or PromptCache()
        self._batches: dict[str, _Batch] = {}
        self.processed = 0  # requests answered so far (tests look at it)

    def clear(self) -> None:
        self._batches.clear()
        self.processed = 0

    def __len__(self) -> int:
        return len(self._batches)

    # --- the routes ---------------------------------------------------------------------------

    def handle(self, route: str, path: str, body: Any, base_url: str) -> tuple[bytes, str]:
        """The 200 answer of ``route`` (JSON or JSON Lines) and its content type."""
        if route == "batch_create":
            return _json(self._view(self.create(body), base_url))
        batch = self._get(path[len(_PREFIX) + 1 :].split("/")[0])
        if route == "batch_cancel":
            self.cancel(batch)
            return _json(self._view(batch, base_url))
        self._advance(batch)
        if route == "batch_results":
            if batch.ended_at is None:
                raise ApiError(400, f"Batch {batch.id} has not finished processing")
            lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in batch.results)
            return lines.encode(), "application/x-jsonl"
        return _json(self._view(batch, base_url))

    def create(self, body: Any) -> _Batch:
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            raise ApiError(400, "requests: Field required")
        requests = body["requests"]
        if not requests:
            raise ApiError(400, "requests: List should have at least 1 item")
        if len(requests) > MAX_REQUESTS:
            raise ApiError(400, f"requests: at most {MAX_REQUESTS:,} requests per batch")
        seen: set[str] = set()
        parsed: list[tuple[str, Any]] = []
        for i, item in enumerate(requests):
            cid = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid):
                raise ApiError(400, f"requests.{i}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$")
            if cid in seen:
                raise ApiError(400, f"requests.{i}.custom_id: '{cid}' is not unique in the batch")
            seen.add(cid)
            parsed.append((cid, item.get("params")))
        now = self.clock()
        batch = _Batch(
            f"msgbatch_emu{uuid.uuid4().hex[:20]}",
            parsed,
            now,
            datetime.now(UTC).replace(microsecond=0),
        )
        self._batches[batch.id] = batch
        self._advance(batch)
        return batch

    def cancel(self, batch: _Batch) -> None:
        if batch.ended_at is not None:
            return
        batch.cancel_initiated_at = datetime.now(UTC).replace(microsecond=0)
        batch.results = [
            {"custom_id": cid, "result": {"type": "canceled"}} for cid, _ in batch.requests
        ]
        batch.ended_at = batch.cancel_initiated_at

    # --- processing ---------------------------------------------------------------------------

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No batch found with id {batch_id}")
        return batch

    def _advance(self, batch: _Batch) -> None:
        """End the batch (answering every request) once its delay has passed."""
        if batch.ended_at is not None or self.clock() < batch.created + self.delay_s:
            return
        batch.results = [self._answer(cid, params) for cid, params in batch.requests]
        batch.ended_at = datetime.now(UTC).replace(microsecond=0)

    def _answer(self, cid: str, params: Any) -> dict[str, Any]:
        self.processed += 1
        try:
            if isinstance(params, dict) and params.get("stream"):
                raise ApiError(400, "stream: streaming is not supported in batches")
            request, _ = parse_request(params)
        except ApiError as exc:
            error = {"type": exc.error_type, "message": exc.message}
            return {
                "custom_id": cid,
                "result": {"type": "errored", "error": {"type": "error", "error": error}},
            }
        result = answer(request, self.seed)
        write_5m, write_1h, read = self.cache.account(request)
        input_tokens = max(0, estimate_tokens(request.prompt_text) - write_5m - write_1h - read)
        message = message_body(
            request,
            result,
            message_id=f"msg_emu{uuid.uuid4().hex[:21]}",
            input_tokens=input_tokens,
            cache_5m=write_5m,
            cache_1h=write_1h,
            cache_read=read,
        )
        message["usage"]["service_tier"] = "batch"
        return {"custom_id": cid, "result": {"type": "succeeded", "message": message}}

    def _view(self, batch: _Batch, base_url: str) -> dict[str, Any]:
        ended = batch.ended_at is not None
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if ended:
            for r in batch.results:
                counts[r["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch.requests)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": _iso(batch.created_at),
            "expires_at": _iso(batch.created_at + timedelta(hours=24)),
            "ended_at": _iso(batch.ended_at) if batch.ended_at else None,
            "cancel_initiated_at": (
                _iso(batch.cancel_initiated_at) if batch.cancel_initiated_at else None
            ),
            "archived_at": None,
            "results_url": f"{base_url}{_PREFIX}/{batch.id}/results" if ended else None,
        }


def _json(value: dict[str, Any]) -> tuple[bytes, str]:
    return json.dumps(value, separators=(",", ":")).encode(), "application/json"
