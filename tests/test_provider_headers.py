"""Retry hints parsed from response headers (pure): ``retry-after-ms``, ``retry-after`` in
seconds or as an HTTP date, and ``x-should-retry``."""

from __future__ import annotations

import email.utils

import pytest

from claude_force.providers._headers import parse_retry_after, parse_should_retry

NOW = 1_790_000_000.0  # a fixed "current time" (no wall clock)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": "-3"}, 0.0),  # never negative
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # milliseconds win
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # a bad ms value is ignored
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),  # in the past
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize("value", ["", "later", "Thu, 99 Foo 2026"])
def test_unparseable_retry_after_is_no_hint(value: str) -> None:
    try:
        result = parse_retry_after({"retry-after": value}, now=NOW)
    except (TypeError, ValueError) as exc:  # pragma: no cover - the assertion below explains
        pytest.fail(f"an unparseable retry-after must be ignored, not raise: {exc!r}")
    assert result is None


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("false", False), (None, None), ("maybe", None)]
)
def test_should_retry(value: str | None, expected: bool | None) -> None:
    headers = {} if value is None else {"x-should-retry": value}
    assert parse_should_retry(headers) is expected
