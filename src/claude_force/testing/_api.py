"""The Messages API semantics the emulator speaks, without any I/O.

Request validation with the API's error shapes, the simulated answer and its response body, and
the SSE event sequence of a streamed message.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..messages import ChatMessage, MessageRequest, SystemBlock
from ..providers.simulated import LatencyModel, estimate_tokens, simulate_text

Headers = list[tuple[str, str]]

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES: dict[int, str] = {
    400: "Invalid request (injected by the emulator)",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The requested resource could not be found.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "This request would exceed your organization's rate limit (injected by the emulator).",
    500: "Internal server error (injected by the emulator)",
    529: "Overloaded (injected by the emulator)",
}


def error_type_for(status: int) -> str:
    return ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def default_message(status: int) -> str:
    return _MESSAGES.get(status, f"Error {status} (injected by the emulator)")


class ApiError(Exception):
    """An error answer: status, Anthropic error type, message and extra response headers."""

    def __init__(self, status: int, message: str, *, headers: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type_for(status)
        self.headers: Headers = list(headers)

    def body(self, request_id: str) -> bytes:
        error = {"type": self.error_type, "message": self.message}
        return dump({"type": "error", "error": error, "request_id": request_id})


def dump(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def retry_after_headers(seconds: float) -> Headers:
    """``retry-after`` in whole seconds (as HTTP wants) and the precise ``retry-after-ms``."""
    return [
        ("retry-after", str(math.ceil(seconds))),
        ("retry-after-ms", str(round(seconds * 1000))),
    ]


# --- request validation ---------------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _text_of(content: object, where: str) -> str:
    """The text of a string or of a list of content blocks (non-text blocks are ignored)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(f"{where}: Input should be a valid string or a list of content blocks")
    parts: list[str] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.{i}: Input should be a content block object with a 'type'")
        if block["type"] == "text":
            if not isinstance(block.get("text"), str):
                raise _bad(f"{where}.{i}.text: Field required")
            parts.append(block["text"])
    return "\n".join(parts)


def _system(value: object) -> tuple[SystemBlock, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (SystemBlock(value),) if value else ()
    if not isinstance(value, list):
        raise _bad("system: Input should be a valid string or a list of text blocks")
    blocks: list[SystemBlock] = []
    for i, block in enumerate(value):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad(f"system.{i}: Input should be a text block")
        text = block.get("text")
        if not isinstance(text, str):
            raise _bad(f"system.{i}.text: Field required")
        control = block.get("cache_control")
        if control is None:
            blocks.append(SystemBlock(text))
            continue
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise _bad(f"system.{i}.cache_control.type: Input should be 'ephemeral'")
        ttl = control.get("ttl", "5m")
        if ttl not in ("5m", "1h"):
            raise _bad(f"system.{i}.cache_control.ttl: Input should be '5m' or '1h'")
        blocks.append(SystemBlock(text, cache=True, cache_ttl="1h" if ttl == "1h" else "5m"))
    return tuple(blocks)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"{key}: Input should be a number between {low:g} and {high:g}")
    return float(value)


def parse_request(body: object, *, count_only: bool = False) -> tuple[MessageRequest, bool]:
    """Validate a ``/v1/messages`` body into a :class:`MessageRequest` and its ``stream`` flag."""
    if not isinstance(body, dict):
        raise _bad("The request body is not valid JSON (expected an object)")
    for key in ("model", "messages") if count_only else ("model", "max_tokens", "messages"):
        if key not in body:
            raise _bad(f"{key}: Field required")
    model = body["model"]
    if not isinstance(model, str) or not model:
        raise _bad("model: Input should be a non-empty string")
    max_tokens = body.get("max_tokens", 4096)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad("max_tokens: Input should be an integer greater than or equal to 1")
    raw_messages = body["messages"]
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _bad("messages: at least one message is required")
    messages: list[ChatMessage] = []
    for i, item in enumerate(raw_messages):
        if not isinstance(item, dict) or "content" not in item:
            raise _bad(f"messages.{i}.content: Field required")
        role = item.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        text = _text_of(item["content"], f"messages.{i}.content")
        messages.append(ChatMessage("user" if role == "user" else "assistant", text))
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise _bad("stop_sequences: Input should be a list of strings")
    top_k = body.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise _bad("top_k: Input should be an integer greater than or equal to 0")
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream: Input should be a valid boolean")
    request = MessageRequest(
        model=model,
        messages=tuple(messages),
        max_tokens=max_tokens,
        system=_system(body.get("system")),
        temperature=_number(body, "temperature", 0.0, 1.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        top_k=top_k,
        stop_sequences=tuple(stops),
        metadata_user_id=user_id if isinstance(user_id, str) else None,
    )
    return request, stream


# --- the simulated answer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def answer(request: MessageRequest, seed: int) -> Answer:
    """The simulated text, cut at a stop sequence or at ``max_tokens`` like the real API."""
    text = simulate_text(request, seed)
    for stop in request.stop_sequences:
        at = text.find(stop) if stop else -1
        if at >= 0:
            text = text[:at]
            return Answer(text, "stop_sequence", stop, estimate_tokens(text))
    tokens = estimate_tokens(text)
    if tokens > request.max_tokens:
        return Answer(text[: request.max_tokens * 4], "max_tokens", None, request.max_tokens)
    return Answer(text, "end_turn", None, tokens)


def message_body(
    request: MessageRequest,
    result: Answer,
    *,
    message_id: str,
    input_tokens: int,
    cache_5m: int = 0,
    cache_1h: int = 0,
    cache_read: int = 0,
) -> dict[str, Any]:
    """A complete non-streaming response body in the API's shape."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [{"type": "text", "text": result.text}],
        "stop_reason": result.stop_reason,
        "stop_sequence": result.stop_sequence,
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_5m + cache_1h,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_5m,
                "ephemeral_1h_input_tokens": cache_1h,
            },
            "output_tokens": result.output_tokens,
            "service_tier": "standard",
        },
    }


# --- streaming --------------------------------------------------------------------------------


def sse_events(message: dict[str, Any], chunk_chars: int = 48) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence of a streamed ``message`` (a complete non-streaming body)."""
    text: str = message["content"][0]["text"]
    usage = dict(message["usage"])
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for at in range(0, len(text), chunk_chars):
        delta = {"type": "text_delta", "text": text[at : at + chunk_chars]}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                },
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def sse_bytes(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + dump(data) + b"\n\n"


def sse_stream(
    message: dict[str, Any], latency: LatencyModel, rng: random.Random
) -> list[tuple[bytes, float]]:
    """The encoded events of a streamed ``message``, each with the delay before it is sent."""
    out: list[tuple[bytes, float]] = []
    first = True
    for name, data in sse_events(message):
        delay = 0.0
        if name == "content_block_delta":
            tokens = estimate_tokens(data["delta"]["text"])
            delay = latency.delay(tokens, rng) if first else latency.per_token_s * tokens
            first = False
        out.append((sse_bytes(name, data), delay))
    return out
