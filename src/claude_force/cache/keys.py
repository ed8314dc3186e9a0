"""Cache keys: a canonical hash of everything that determines a model response (pure).

The key hashes the request body exactly as the provider receives it (``MessageRequest.to_api()``),
so a field added to the request later — tools, tool_choice, thinking … — is part of the key without
a change here. Only fields known *not* to change the response are removed:

* ``metadata`` (``user_id``: who asks, not what is asked);
* ``cache_control`` markers on system blocks, message content blocks and tools (Anthropic prompt
  caching changes price and latency, never the text).

Equivalent spellings are normalised (a string ``system`` or message ``content`` equals one text
block; integer sampling values equal their float). The provider's identity (name, seed of the
simulation, base URL) and a namespace separate simulated from real responses, and
``KEY_VERSION`` guarantees that a future change of the key or entry format never serves old
entries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..messages import MessageRequest

KEY_VERSION = 1

Namespace = Literal["sim", "live", "compat"]
NAMESPACES: tuple[Namespace, ...] = ("sim", "live", "compat")

_SAMPLING_FLOATS = ("temperature", "top_p")
_DROPPED_TOP_LEVEL = ("metadata", "stream")


def canonical_json(value: object) -> bytes:
    """JSON with sorted keys and no insignificant whitespace: equal data, equal bytes.

    Raises ``ValueError`` for NaN/infinity and ``TypeError`` for values JSON cannot carry.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _text_blocks(value: object) -> object:
    """``"text"`` → ``[{"type": "text", "text": "text"}]`` (the API treats them alike)."""
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    return value


def _without_cache_control(blocks: object) -> object:
    if isinstance(blocks, Sequence) and not isinstance(blocks, (str, bytes)):
        out: list[object] = []
        for block in blocks:
            if isinstance(block, Mapping):
                out.append({k: v for k, v in block.items() if k != "cache_control"})
            else:
                out.append(block)
        return out
    return blocks


def request_material(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a Messages request body that determines the response, normalised."""
    material: dict[str, Any] = {k: v for k, v in body.items() if k not in _DROPPED_TOP_LEVEL}
    if "system" in material:
        material["system"] = _without_cache_control(_text_blocks(material["system"]))
    if "messages" in material and isinstance(material["messages"], Sequence):
        messages: list[object] = []
        for message in material["messages"]:
            if isinstance(message, Mapping):
                m = dict(message)
                if "content" in m:
                    m["content"] = _without_cache_control(_text_blocks(m["content"]))
                messages.append(m)
            else:
                messages.append(message)
        material["messages"] = messages
    if "tools" in material:
        material["tools"] = _without_cache_control(material["tools"])
    for name in _SAMPLING_FLOATS:
        value = material.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            material[name] = float(value)
    return material


def body_key(body: Mapping[str, Any], *, namespace: Namespace, provider: str) -> str:
    """The cache key (64 hex digits) of a request body sent to ``provider``."""
    material = {
        "v": KEY_VERSION,
        "ns": namespace,
        "provider": provider,
        "request": request_material(body),
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


def request_key(request: MessageRequest, *, namespace: Namespace, provider: str) -> str:
    """The cache key of a typed request."""
    return body_key(request.to_api(), namespace=namespace, provider=provider)


def compat_key(agent_name: str, task: str, model: str) -> str:
    """The key of :class:`~claude_force.response_cache.ResponseCache` (2.2 API: agent, task, model).

    It lives in its own namespace, so it can never collide with a pipeline entry.
    """
    material = {"v": KEY_VERSION, "ns": "compat", "agent": agent_name, "task": task, "model": model}
    return hashlib.sha256(canonical_json(material)).hexdigest()


def is_key(text: str) -> bool:
    """Whether ``text`` looks like a full cache key."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
