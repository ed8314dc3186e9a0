"""The Messages API emulator: fault specs, HTTP behaviour, validation, accounting, runners."""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anthropic
import h11
import httpx2
import pytest

from claude_force.messages import ChatMessage, MessageRequest, SystemBlock
from claude_force.providers.simulated import SIMULATED_BANNER, LatencyModel, estimate_tokens
from claude_force.testing import (
    FAULT_HEADER,
    Emulator,
    EmulatorThread,
    Fault,
    FaultInjector,
    FaultSpec,
    RateLimits,
    parse_faults,
    runner,
    serve,
)
from claude_force.testing._accounting import PromptCache, RateWindow
from claude_force.testing._api import ApiError, answer, error_type_for, parse_request

MODEL = "claude-sonnet-5-5"
BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Review the parser"}],
}
AUTH = [("x-api-key", "test")]
DROPPED = (ConnectionError, h11.RemoteProtocolError)


class Raw:
    """A tiny HTTP/1.1 client (h11 over one keep-alive connection) for byte-level tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, emu: Emulator) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", emu.port))

    async def request(
        self,
        path: str = "/v1/messages",
        body: object = BODY,
        headers: list[tuple[str, str]] | None = None,
        method: str = "POST",
    ) -> tuple[int, dict[str, str], bytes]:
        if self.conn.our_state is h11.DONE:
            self.conn.start_next_cycle()
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = [("host", "127.0.0.1"), ("content-length", str(len(data)))]
        head += AUTH if headers is None else headers
        for event in (h11.Request(method=method, target=path, headers=head), h11.Data(data=data)):
            self.writer.write(self.conn.send(event) or b"")
        self.writer.write(self.conn.send(h11.EndOfMessage()) or b"")
        return await self.response()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers, chunks = 0, {}, []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, b"".join(chunks)
            else:
                raise ConnectionError(f"unexpected {event!r}")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def raw(emu: Emulator) -> AsyncIterator[Raw]:
    client = await Raw.open(emu)
    yield client
    await client.close()


def sdk(emu: Emulator, **options: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="test", max_retries=0, **options)


# --- fault specs ------------------------------------------------------------------------------


def test_rate_spec_parses_faults_rates_and_options() -> None:
    spec = parse_faults(
        "429:0.1, 529:0.05,500/noretry:0.05,drop:0.05,slow:0.02,retry_after=2.5,slow-s=4"
    )
    assert [(f.label, r) for f, r in spec.rates] == [
        ("429", 0.1),
        ("529", 0.05),
        ("500", 0.05),
        ("drop", 0.05),
        ("slow", 0.02),
    ]
    assert spec.rates[2][0].should_retry is False
    assert (spec.retry_after, spec.slow_s, spec.script) == (2.5, 4.0, ())
    assert not spec.empty


def test_script_spec_and_empty_specs() -> None:
    spec = parse_faults("script:ok,429,OK,drop,500/retry,cut,slow")
    assert [f.label for f in spec.script] == ["ok", "429", "ok", "drop", "500", "cut", "slow"]
    assert spec.script[4] == Fault("status", 500, True)
    for text in (None, "", " none ", "off"):
        assert parse_faults(text).empty


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("teapot:0.1", "unknown fault 'teapot'"),
        ("600:0.1", "between 400 and 599"),
        ("429", "needs a rate, e.g. '429:0.1'"),
        ("429:often", "'often' is not a number"),
        ("429:1.5", "use a number from 0 to 1"),
        ("429:0.6,500:0.6", "add up to 1.2"),
        ("429:0.1,429:0.2", "listed twice"),
        ("script:", "needs at least one fault"),
        ("script:ok,,429", "empty item"),
        ("script:retry_after=1", "needs at least one fault"),
        ("jitter=1", "unknown fault option 'jitter'"),
        ("script:drop/noretry", "applies only to HTTP error statuses"),
        ("script:500/maybe", "unknown modifier /maybe"),
        ("retry_after=-1", "retry_after must be a number of seconds >= 0"),
        ("slow_s=inf", "not a finite number"),
        ("429:0.1,draw=random", "'random' is not 'order' or 'content'"),
        ("script:429,draw=content", "draw=content applies to rates"),
    ],
)
def test_invalid_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_faults(spec)


def test_spec_cannot_have_rates_and_script() -> None:
    with pytest.raises(ValueError, match="not both"):
        FaultSpec(rates=((Fault("drop"), 0.1),), script=(Fault("drop"),))


def test_draw_content_gives_each_request_its_faults_whatever_the_arrival_order() -> None:
    spec = "429:0.2,500:0.2,drop:0.1,draw=content"
    assert parse_faults(spec).draw == "content" and parse_faults("429:0.1").draw == "order"
    tasks = [f"task {i}" for i in range(40)]

    def outcomes(order: list[str]) -> dict[str, list[str]]:
        injector = FaultInjector(spec, seed=3)
        seen: dict[str, list[str]] = {t: [] for t in tasks}
        for task in order:  # three attempts of each task, in the given interleaving
            seen[task].append(injector.next(task).label)
        return seen

    forward = outcomes([t for _ in range(3) for t in tasks])
    backward = outcomes([t for t in reversed(tasks) for _ in range(3)])
    assert forward == backward  # the same content meets the same faults on its nth attempt
    labels = [label for attempts in forward.values() for label in attempts]
    assert {"ok", "429", "500", "drop"} <= set(labels)  # and the rates still apply


def test_script_is_consumed_in_order_then_ok_and_queue_comes_first() -> None:
    injector = FaultInjector("script:429,drop")
    injector.enqueue("500", Fault("slow"))
    assert [injector.next().label for _ in range(6)] == ["500", "slow", "429", "drop", "ok", "ok"]
    injector.reset()
    assert injector.next().label == "429"


def test_rate_faults_are_reproducible_for_a_seed() -> None:
    spec = "429:0.3,drop:0.2"
    first = [FaultInjector(spec, seed=7).next().label for _ in range(1)]
    a, b, c = FaultInjector(spec, seed=7), FaultInjector(spec, seed=7), FaultInjector(spec, seed=8)
    seq_a = [a.next().label for _ in range(400)]
    assert seq_a == [b.next().label for _ in range(400)]
    assert seq_a != [c.next().label for _ in range(400)]
    assert seq_a[0] == first[0]
    assert 80 < seq_a.count("429") < 160 and 40 < seq_a.count("drop") < 120
    assert FaultInjector(None).next().label == "ok"


# --- HTTP behaviour -------------------------------------------------------------------------


async def test_message_response_has_the_api_shape(emu: Emulator, raw: Raw) -> None:
    status, headers, body = await raw.request()
    data = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert headers["request-id"].startswith("req_")
    assert data["id"].startswith("msg_")
    assert {k: data[k] for k in ("type", "role", "model", "stop_reason", "stop_sequence")} == {
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    assert data["content"][0]["type"] == "text"
    assert data["content"][0]["text"].startswith(SIMULATED_BANNER)
    assert set(data["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert data["usage"]["output_tokens"] == estimate_tokens(data["content"][0]["text"])
    record = emu.requests[0]
    assert (record.path, record.outcome, record.status, record.fault) == (
        "/v1/messages",
        "ok",
        200,
        "ok",
    )
    assert record.request_id == headers["request-id"] and record.body == BODY
    assert record.headers["x-api-key"] == "test"


async def test_content_blocks_keep_their_text_and_skip_other_blocks(raw: Raw) -> None:
    content = [
        {"type": "text", "text": "Review this"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}},
        {"type": "text", "text": "and this"},
    ]
    body = {**BODY, "system": "# Tester", "messages": [{"role": "user", "content": content}]}
    status, _, payload = await raw.request(body=body)
    assert status == 200 and "**Task:** Review this" in json.loads(payload)["content"][0]["text"]
    request, stream = parse_request(body)
    assert request.messages[0].content == "Review this\nand this" and not stream


async def test_keep_alive_serves_several_requests_on_one_connection(
    emu: Emulator, raw: Raw
) -> None:
    for _ in range(3):
        status, _, _ = await raw.request()
        assert status == 200
    status, _, _ = await raw.request(headers=[*AUTH, ("connection", "close")])
    assert status == 200 and emu.requests_total == 4
    assert await raw.reader.read() == b""  # the server honoured "connection: close"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 5, "messages": BODY["messages"]}, "model: Field required"),
        ({"model": MODEL, "messages": BODY["messages"]}, "max_tokens: Field required"),
        ({"model": MODEL, "max_tokens": 5}, "messages: Field required"),
        ({**BODY, "messages": []}, "at least one message"),
        ({**BODY, "model": ""}, "model: Input should be"),
        ({**BODY, "max_tokens": 0}, "max_tokens: Input should be"),
        ({**BODY, "max_tokens": True}, "max_tokens: Input should be"),
        ({**BODY, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({**BODY, "messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({**BODY, "messages": [{"role": "user", "content": 3}]}, "messages.0.content"),
        ({**BODY, "messages": [{"role": "user", "content": [1]}]}, "messages.0.content.0"),
        ({**BODY, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "content.0.text"),
        ({**BODY, "system": 5}, "system: Input should be"),
        ({**BODY, "system": [{"type": "image"}]}, "system.0: Input should be a text block"),
        ({**BODY, "system": [{"type": "text"}]}, "system.0.text: Field required"),
        ({**BODY, "system": [{"type": "text", "text": "s", "cache_control": {}}]}, "ephemeral"),
        (
            {
                **BODY,
                "system": [
                    {
                        "type": "text",
                        "text": "s",
                        "cache_control": {"type": "ephemeral", "ttl": "2h"},
                    }
                ],
            },
            "ttl",
        ),
        ({**BODY, "temperature": 1.5}, "temperature: Input should be a number between 0 and 1"),
        ({**BODY, "top_k": -1}, "top_k"),
        ({**BODY, "stop_sequences": "END"}, "stop_sequences"),
        ({**BODY, "stream": "yes"}, "stream"),
        ([1, 2], "expected an object"),
        (b"{not json", "not valid JSON"),
    ],
)
async def test_invalid_requests_get_400(raw: Raw, body: object, message: str) -> None:
    status, headers, payload = await raw.request(body=body)
    data = json.loads(payload)
    assert status == 400
    assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
    assert message in data["error"]["message"]
    assert data["request_id"] == headers["request-id"]


async def test_authentication_and_unknown_paths(raw: Raw) -> None:
    status, _, payload = await raw.request(headers=[])
    assert status == 401 and json.loads(payload)["error"]["type"] == "authentication_error"
    status, _, payload = await raw.request(path="/v1/complete")
    assert status == 404 and json.loads(payload)["error"]["type"] == "not_found_error"
    status, _, _ = await raw.request(method="GET", body=b"")
    assert status == 404
    status, _, _ = await raw.request(headers=[("authorization", "Bearer sk-test")])
    assert status == 200


async def test_configured_api_key_must_match() -> None:
    async with Emulator(api_key="right") as emu:
        client = await Raw.open(emu)
        assert (await client.request(headers=[("x-api-key", "wrong")]))[0] == 401
        assert (await client.request(headers=[("x-api-key", "right")]))[0] == 200
        await client.close()
        assert emu.outcomes == {"401": 1, "ok": 1}


async def test_count_tokens(raw: Raw) -> None:
    body = {"model": MODEL, "system": "You review code.", "messages": BODY["messages"]}
    status, headers, payload = await raw.request("/v1/messages/count_tokens", body)
    request, _ = parse_request(body, count_only=True)
    assert status == 200 and json.loads(payload) == {
        "input_tokens": estimate_tokens(request.prompt_text)
    }
    assert "anthropic-ratelimit-requests-remaining" in headers


async def test_ratelimit_headers_count_down_and_limits_are_enforced() -> None:
    limits = RateLimits(requests=3, input_tokens=10_000, output_tokens=5_000)
    async with Emulator(limits=limits) as emu:
        client = await Raw.open(emu)
        first = (await client.request())[1]
        second = (await client.request())[1]
        for kind in ("requests", "input-tokens", "output-tokens"):
            prefix = f"anthropic-ratelimit-{kind}"
            assert int(second[f"{prefix}-remaining"]) < int(first[f"{prefix}-remaining"])
            assert datetime.fromisoformat(second[f"{prefix}-reset"].replace("Z", "+00:00"))
        assert first["anthropic-ratelimit-requests-limit"] == "3"
        assert first["anthropic-ratelimit-requests-remaining"] == "2"
        assert (await client.request())[0] == 200
        status, headers, payload = await client.request()
        assert status == 429 and json.loads(payload)["error"]["type"] == "rate_limit_error"
        assert (
            float(headers["retry-after-ms"]) > 0
            and headers["anthropic-ratelimit-requests-remaining"] == "0"
        )
        await client.close()


def test_rate_window_resets_after_its_window() -> None:
    now = [1000.0]
    window = RateWindow(RateLimits(requests=1, window_s=60), clock=lambda: now[0])
    assert window.admit() is None
    assert window.admit() == pytest.approx(60.0)
    now[0] += 61
    assert window.admit() is None
    assert dict(window.headers())["anthropic-ratelimit-requests-remaining"] == "0"


async def test_scripted_faults_in_order_with_error_bodies() -> None:
    async with Emulator(faults="script:ok,429,413,401,403,529,500/noretry,drop", seed=3) as emu:
        client = await Raw.open(emu)
        results = [await client.request() for _ in range(7)]
        assert [s for s, _, _ in results] == [200, 429, 413, 401, 403, 529, 500]
        types = [json.loads(b)["error"]["type"] for _, _, b in results[1:]]
        assert types == [
            "rate_limit_error",
            "request_too_large",
            "authentication_error",
            "permission_error",
            "overloaded_error",
            "api_error",
        ]
        assert results[1][1]["retry-after"] == "1" and results[1][1]["retry-after-ms"] == "1000"
        assert results[6][1]["x-should-retry"] == "false" and "x-should-retry" not in results[5][1]
        with pytest.raises(DROPPED):
            await client.request()  # drop: closed before any response byte
        await client.close()
        assert [r.outcome for r in emu.requests] == [
            "ok",
            "429",
            "413",
            "401",
            "403",
            "529",
            "500",
            "drop",
        ]
        assert emu.requests[-1].status is None and emu.outcomes["drop"] == 1
        emu.reset()
        assert emu.requests_total == 0 and not emu.outcomes
        client = await Raw.open(emu)
        assert (await client.request())[0] == 200  # the script starts over
        await client.close()


async def test_draw_content_faults_follow_the_request_body_over_http() -> None:
    bodies = [{**BODY, "messages": [{"role": "user", "content": f"task {i}"}]} for i in range(12)]

    async def statuses(order: list[int]) -> dict[int, list[int]]:
        async with Emulator(faults="429:0.3,529:0.3,draw=content", seed=5) as emu:
            client = await Raw.open(emu)
            seen: dict[int, list[int]] = {i: [] for i in range(len(bodies))}
            for i in order:
                seen[i].append((await client.request(body=bodies[i]))[0])
            await client.close()
            return seen

    first = await statuses([i for _ in range(2) for i in range(12)])
    assert first == await statuses([i for i in reversed(range(12)) for _ in range(2)])
    assert {200, 429, 529} <= {s for attempts in first.values() for s in attempts}


async def test_cut_fault_closes_halfway_through_the_body(emu: Emulator, raw: Raw) -> None:
    emu.enqueue("cut")
    with pytest.raises(DROPPED):
        await raw.request()
    assert emu.requests[0].outcome == "cut"


async def test_fault_header_picks_the_fault_for_one_request(emu: Emulator, raw: Raw) -> None:
    status, headers, _ = await raw.request(headers=[*AUTH, (FAULT_HEADER, "503/retry")])
    assert status == 503 and headers["x-should-retry"] == "true"
    assert (await raw.request(headers=[*AUTH, (FAULT_HEADER, "teapot")]))[0] == 400
    assert (await raw.request())[0] == 200
    assert [r.fault for r in emu.requests] == ["503", "ok", "ok"]


async def test_slow_fault_answers_after_the_delay() -> None:
    async with Emulator(faults="script:slow,slow_s=0.01") as emu:
        client = await Raw.open(emu)
        assert (await client.request())[0] == 200
        await client.close()
        assert emu.requests[0].outcome == "slow"


async def test_stop_cancels_pending_slow_requests() -> None:
    emu = await Emulator(faults="script:slow").start()
    client = await Raw.open(emu)
    pending = asyncio.create_task(client.request())
    await emu.wait_for_requests(1)
    await emu.stop()
    await emu.stop()  # idempotent
    with pytest.raises(DROPPED):
        await pending
    await client.close()


async def test_malformed_http_gets_400_and_oversized_body_413() -> None:
    async with Emulator(max_body_bytes=1000) as emu:
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()
        client = await Raw.open(emu)
        big = {**BODY, "messages": [{"role": "user", "content": "x" * 5000}]}
        status, _, payload = await client.request(body=big)
        assert status == 413 and json.loads(payload)["error"]["type"] == "request_too_large"
        await client.close()
        assert emu.requests[-1].outcome == "413"


async def test_stop_sequence_max_tokens_and_latency() -> None:
    async with Emulator(latency=LatencyModel(first_token_s=0.001)) as emu:
        client = await Raw.open(emu)
        _, _, body = await client.request(body={**BODY, "stop_sequences": ["### Findings"]})
        data = json.loads(body)
        assert data["stop_reason"] == "stop_sequence" and data["stop_sequence"] == "### Findings"
        assert "### Findings" not in data["content"][0]["text"]
        _, _, body = await client.request(body={**BODY, "max_tokens": 5})
        data = json.loads(body)
        assert data["stop_reason"] == "max_tokens" and data["usage"]["output_tokens"] == 5
        await client.close()
    with pytest.raises(ValueError, match="unknown latency preset 'glacial'"):
        Emulator(latency="glacial")


async def test_prompt_cache_writes_then_reads(emu: Emulator, raw: Raw) -> None:
    system = [
        {
            "type": "text",
            "text": "# Reviewer\n" + "Be thorough. " * 50,
            "cache_control": {"type": "ephemeral"},
        },
        {
            "type": "text",
            "text": "Project notes. " * 20,
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        },
    ]
    usages = []
    for sys_blocks in (system, system, system[:1], [system[0], {**system[1], "text": "other"}]):
        _, _, body = await raw.request(body={**BODY, "system": sys_blocks})
        usages.append(json.loads(body)["usage"])
    first, second, prefix, longer = usages
    assert first["cache_read_input_tokens"] == 0
    assert (
        first["cache_creation"]["ephemeral_1h_input_tokens"]
        == first["cache_creation_input_tokens"]
        > 0
    )
    assert second["cache_creation_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["input_tokens"] == first["input_tokens"]
    assert prefix["cache_read_input_tokens"] > 0 and prefix["cache_creation_input_tokens"] == 0
    assert longer["cache_read_input_tokens"] == prefix["cache_read_input_tokens"]
    assert longer["cache_creation_input_tokens"] > 0


def test_prompt_cache_expiry_and_minimum() -> None:
    now = [0.0]
    request = MessageRequest(
        model=MODEL,
        messages=(ChatMessage("user", "hi"),),
        system=(SystemBlock("# Agent\n" + "rules " * 100, cache=True),),
    )
    cache = PromptCache(clock=lambda: now[0])
    written, _, read = cache.account(request)
    assert written > 0 and read == 0
    now[0] += 299
    assert cache.account(request)[2] == written
    now[0] += 301
    assert cache.account(request)[0] == written  # expired after 5 minutes without a read
    assert PromptCache(min_tokens=10_000).account(request) == (0, 0, 0)
    assert cache.account(MessageRequest(model=MODEL, messages=request.messages)) == (0, 0, 0)


def test_api_helpers() -> None:
    assert error_type_for(418) == "invalid_request_error" and error_type_for(503) == "api_error"
    assert ApiError(402, "pay").error_type == "billing_error"
    request = MessageRequest(
        model=MODEL, messages=(ChatMessage("user", "x"),), stop_sequences=("",)
    )
    assert answer(request, 0).stop_reason == "end_turn"


async def test_streaming_sends_the_real_event_sequence(emu: Emulator) -> None:
    client = sdk(emu)
    kinds: list[str] = []
    async with client.messages.stream(**BODY) as stream:
        async for event in stream:
            kinds.append(event.type)
        final = await stream.get_final_message()
    plain = await client.messages.create(**BODY)
    await client.close()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
    } <= set(kinds)
    assert final.content[0].text == plain.content[0].text  # type: ignore[union-attr]
    assert (
        final.usage.output_tokens == plain.usage.output_tokens and final.stop_reason == "end_turn"
    )
    assert emu.requests[0].stream and not emu.requests[1].stream


async def test_streaming_cut_midway_is_a_connection_error() -> None:
    async with Emulator(faults="script:cut", latency="fast") as emu:
        client = sdk(emu)
        # mid-stream, the SDK lets the transport's error through unwrapped
        with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)):
            async with client.messages.stream(**BODY) as stream:
                async for _ in stream:
                    pass
        await client.close()


async def test_two_hundred_concurrent_sdk_requests(emu: Emulator) -> None:
    client = sdk(emu)
    requests = [
        client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": f"task {i}"}]
        )
        for i in range(200)
    ]
    results = await asyncio.gather(*requests)
    await client.close()
    assert all(m.content[0].text.startswith(SIMULATED_BANNER) for m in results)  # type: ignore[union-attr]
    assert emu.requests_total == 200 and emu.outcomes == {"ok": 200}
    assert len({r.request_id for r in emu.requests}) == 200


# --- runners --------------------------------------------------------------------------------


def test_emulator_thread_serves_sync_code() -> None:
    with EmulatorThread(faults="script:529") as emu:
        request = urllib.request.Request(
            emu.base_url + "/v1/messages",
            data=json.dumps(BODY).encode(),
            headers={"x-api-key": "test", "content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=5)
        assert failed.value.code == 529
        failed.value.close()
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["content"][0]["text"].startswith(SIMULATED_BANNER)
        assert emu.outcomes == {"529": 1, "ok": 1}


def test_emulator_thread_reports_start_errors() -> None:
    with EmulatorThread() as emu, pytest.raises(OSError), EmulatorThread(port=emu.port):
        pass


class Flushed(io.StringIO):
    """Captured output that signals when it is flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed = asyncio.Event()

    def flush(self) -> None:
        super().flush()
        self.flushed.set()


async def test_serve_prints_the_url_and_serves_until_cancelled() -> None:
    out = Flushed()
    task = asyncio.create_task(serve(0, "instant", "script:429", out=out))
    await out.flushed.wait()
    url = out.getvalue().split("listening on ")[1].split()[0]
    assert url.startswith("http://127.0.0.1:") and "faults: script:429" in out.getvalue()
    client = anthropic.AsyncAnthropic(base_url=url, api_key="test", max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(**BODY)
    await client.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_run_forever_returns_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def fake_serve(port: int, latency: Any, faults: Any, **options: Any) -> None:
        seen.update(port=port, latency=latency, faults=faults, **options)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "serve", fake_serve)
    runner.run_forever("127.0.0.1", 8123, "fast", "429:0.5", seed=4)
    assert seen == {
        "port": 8123,
        "latency": "fast",
        "faults": "429:0.5",
        "host": "127.0.0.1",
        "seed": 4,
    }
