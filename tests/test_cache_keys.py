"""Cache keys: every input that determines a response changes the key; spelling does not."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_force.cache.keys import (
    KEY_VERSION,
    body_key,
    canonical_json,
    compat_key,
    is_key,
    request_key,
    request_material,
)
from claude_force.messages import ChatMessage, MessageRequest, SystemBlock

BASE: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "# Alpha\nDefinition.\n\n# Agent contract\nBe brief."}],
    "messages": [{"role": "user", "content": "Review this function."}],
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 40,
    "stop_sequences": ["END"],
    "tools": [
        {
            "name": "lookup",
            "description": "Look something up",
            "input_schema": {
                "type": "object",
                "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["q"],
            },
        }
    ],
    "tool_choice": {"type": "auto"},
}


def key(body: dict[str, Any], ns: str = "live", provider: str = "anthropic") -> str:
    return body_key(body, namespace=ns, provider=provider)  # type: ignore[arg-type]


# one mutation per input that determines the response
MUTATIONS: dict[str, Any] = {
    "model": lambda b: b.__setitem__("model", "claude-opus-5-5"),
    "max_tokens": lambda b: b.__setitem__("max_tokens", 1025),
    "system (agent definition or contract)": lambda b: b["system"][0].__setitem__(
        "text", b["system"][0]["text"] + " "
    ),
    "messages (task)": lambda b: b["messages"][0].__setitem__("content", "Review this function!"),
    "messages (injected context)": lambda b: b["messages"].insert(
        0, {"role": "user", "content": "context"}
    ),
    "role": lambda b: b["messages"][0].__setitem__("role", "assistant"),
    "temperature": lambda b: b.__setitem__("temperature", 0.51),
    "temperature unset": lambda b: b.pop("temperature"),
    "top_p": lambda b: b.__setitem__("top_p", 0.8),
    "top_k": lambda b: b.__setitem__("top_k", 41),
    "stop_sequences": lambda b: b.__setitem__("stop_sequences", ["END", "STOP"]),
    "tools": lambda b: b["tools"][0]["input_schema"]["required"].append("n"),
    "tool_choice": lambda b: b.__setitem__("tool_choice", {"type": "any"}),
    "a new field": lambda b: b.__setitem__("thinking", {"type": "enabled", "budget_tokens": 1024}),
}


def test_each_input_changes_the_key() -> None:
    base = key(BASE)
    seen = {base}
    for name, mutate in MUTATIONS.items():
        body = copy.deepcopy(BASE)
        mutate(body)
        k = key(body)
        assert k != base, name
        seen.add(k)
    assert len(seen) == len(MUTATIONS) + 1
    assert key(BASE, ns="sim") != base  # simulated and real answers never mix
    assert key(BASE, provider="simulated;seed=1") != key(BASE, provider="simulated;seed=2")
    assert is_key(base) and KEY_VERSION == 1


def test_fields_that_do_not_change_the_answer_do_not_change_the_key() -> None:
    body = copy.deepcopy(BASE)
    body["metadata"] = {"user_id": "someone"}
    body["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    body["tools"][0]["cache_control"] = {"type": "ephemeral"}
    assert key(body) == key(BASE)
    # a string equals one text block; an integer temperature equals its float
    as_blocks = copy.deepcopy(BASE)
    as_blocks["messages"][0]["content"] = [{"type": "text", "text": "Review this function."}]
    as_string = copy.deepcopy(BASE)
    as_string["system"] = BASE["system"][0]["text"]
    assert key(as_blocks) == key(BASE) == key(as_string)
    one = copy.deepcopy(BASE)
    one["temperature"] = 1
    one_f = copy.deepcopy(BASE)
    one_f["temperature"] = 1.0
    assert key(one) == key(one_f)


def _reorder(value: Any, rnd: st.DataObject) -> Any:
    """The same data with every dict's keys inserted in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        order = rnd.draw(st.permutations(range(len(items))))
        return {items[i][0]: _reorder(items[i][1], rnd) for i in order}
    if isinstance(value, list):
        return [_reorder(v, rnd) for v in value]
    return value


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_dict_key_order_never_matters(data: st.DataObject) -> None:
    reordered = _reorder(copy.deepcopy(BASE), data)
    assert key(reordered) == key(BASE)
    assert canonical_json(reordered) == canonical_json(BASE)


texts = st.text(max_size=40)
floats01 = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def requests(draw: st.DrawFn) -> MessageRequest:
    return MessageRequest(
        model=draw(st.sampled_from(["claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5"])),
        messages=tuple(
            ChatMessage(draw(st.sampled_from(["user", "assistant"])), draw(texts))
            for _ in range(draw(st.integers(1, 3)))
        ),
        max_tokens=draw(st.integers(1, 8192)),
        system=tuple(
            SystemBlock(draw(texts), cache=draw(st.booleans()))
            for _ in range(draw(st.integers(0, 2)))
        ),
        temperature=draw(st.none() | floats01),
        top_p=draw(st.none() | floats01),
        top_k=draw(st.none() | st.integers(1, 500)),
        stop_sequences=tuple(draw(st.lists(st.text(min_size=1, max_size=5), max_size=2))),
        metadata_user_id=draw(st.none() | texts),
    )


def _semantic(r: MessageRequest) -> tuple[Any, ...]:
    """What must decide the key: everything but prompt-cache marks and the user id."""
    return (
        r.model,
        tuple((m.role, m.content) for m in r.messages),
        r.max_tokens,
        tuple(b.text for b in r.system),
        r.temperature,
        r.top_p,
        r.top_k,
        r.stop_sequences,
    )


@given(requests(), requests())
@settings(max_examples=200, deadline=None)
def test_keys_are_equal_exactly_when_the_request_is(a: MessageRequest, b: MessageRequest) -> None:
    ka = request_key(a, namespace="live", provider="anthropic")
    kb = request_key(b, namespace="live", provider="anthropic")
    assert (ka == kb) == (_semantic(a) == _semantic(b))


def test_request_material_keeps_unknown_fields_and_drops_only_known_noise() -> None:
    m = request_material({**BASE, "metadata": {"user_id": "x"}, "stream": False})
    assert "metadata" not in m and "stream" not in m
    assert m["tools"][0]["name"] == "lookup" and m["tool_choice"] == {"type": "auto"}


def test_compat_keys_are_their_own_namespace() -> None:
    k = compat_key("alpha", "task", "claude-sonnet-5-5")
    assert is_key(k)
    assert k != compat_key("beta", "task", "claude-sonnet-5-5")
    assert k != compat_key("alpha", "task!", "claude-sonnet-5-5")
    assert k != compat_key("alpha", "task", "claude-opus-5-5")
    assert not is_key(k[:-1]) and not is_key("Z" * 64)
