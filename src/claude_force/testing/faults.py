"""Fault injection for the Messages API emulator: what goes wrong, and when.

A spec string (the CLI's ``--faults SPEC``) takes one of two forms:

* rates — ``"429:0.1,529:0.05,500:0.05,drop:0.05,slow:0.02"``: each request draws one number
  from a seeded generator and gets at most one fault; the rates must add up to at most 1;
* script — ``"script:ok,429,ok,drop,500"``: faults consumed in order, one per request, then ok.

A fault is ``ok``, an HTTP error status (``400``–``599``, e.g. ``429``, ``529``, ``500``, ``413``),
``drop`` (close the connection after reading the request, before any response byte), ``cut``
(close it halfway through the response body) or ``slow`` (answer only after ``slow_s`` seconds,
longer than a client's timeout). An error status may carry ``/noretry`` or ``/retry`` to send
``x-should-retry: false|true``. Options may appear anywhere in the list: ``retry_after=SECONDS``
(the ``retry-after`` of a 429, default 1), ``slow_s=SECONDS`` (default 30) and, for rates,
``draw=order|content``: ``order`` (default) draws in arrival order; ``content`` gives each distinct
request (system prompt and messages) the same faults on its first, second, … attempt whatever the
arrival order, so that two clients sending the same requests meet the same faults and can be
compared request for request.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["ok", "status", "drop", "cut", "slow"]
_NAMED: dict[str, FaultKind] = {"ok": "ok", "drop": "drop", "cut": "cut", "slow": "slow"}
_OPTIONS = ("retry_after", "slow_s", "draw")
FaultDraw = Literal["order", "content"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected outcome. ``status`` is set only for ``kind == "status"``."""

    kind: FaultKind = "ok"
    status: int | None = None
    should_retry: bool | None = None

    @property
    def label(self) -> str:
        """``ok``, ``drop``, ``cut``, ``slow`` or the status code (the request's recorded outcome)."""
        return str(self.status) if self.kind == "status" else self.kind

    @classmethod
    def parse(cls, token: str) -> Fault:
        """Parse one fault name such as ``429``, ``drop`` or ``500/noretry``."""
        raw = token.strip().lower()
        name, _, modifier = raw.partition("/")
        if name in _NAMED:
            if modifier:
                raise ValueError(
                    f"fault '{token}': /{modifier} applies only to HTTP error statuses"
                )
            return cls(_NAMED[name])
        if not name.isdigit() or not 400 <= int(name) <= 599:
            raise ValueError(
                f"unknown fault '{token}': expected ok, drop, cut, slow "
                "or an HTTP error status between 400 and 599"
            )
        should_retry: bool | None = None
        if modifier == "retry":
            should_retry = True
        elif modifier == "noretry":
            should_retry = False
        elif modifier:
            raise ValueError(
                f"fault '{token}': unknown modifier /{modifier} (use /retry or /noretry)"
            )
        return cls("status", int(name), should_retry)


OK = Fault()


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Parsed ``--faults`` spec: either ``rates`` or a ``script`` (or neither: no faults)."""

    rates: tuple[tuple[Fault, float], ...] = ()
    script: tuple[Fault, ...] = ()
    retry_after: float = 1.0
    slow_s: float = 30.0
    draw: FaultDraw = "order"
    text: str = field(default="none", compare=False)

    def __post_init__(self) -> None:
        if self.rates and self.script:
            raise ValueError("a fault spec has either rates or a script, not both")
        total = sum(rate for _, rate in self.rates)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}; they must add up to at most 1")
        for value, name in ((self.retry_after, "retry_after"), (self.slow_s, "slow_s")):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"fault option {name} must be a number of seconds >= 0")

    @property
    def empty(self) -> bool:
        return not self.rates and not self.script


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: '{text}' is not a finite number")
    return value


def parse_faults(spec: str | None) -> FaultSpec:
    """Parse a ``--faults`` spec; raise :class:`ValueError` saying what is wrong and how to fix it."""
    text = (spec or "").strip()
    if text.lower() in ("", "none", "off"):
        return FaultSpec()
    scripted = text.lower().startswith("script:")
    body = text[len("script:") :] if scripted else text
    if scripted and not body.strip():
        raise ValueError("'script:' needs at least one fault, e.g. 'script:ok,429,drop'")
    tokens = [t.strip() for t in body.split(",")]
    if any(not t for t in tokens):
        raise ValueError(f"fault spec '{text}' has an empty item (check the commas)")
    options: dict[str, float] = {}
    draw: FaultDraw = "order"
    rates: list[tuple[Fault, float]] = []
    script: list[Fault] = []
    for token in tokens:
        if "=" in token:
            key, _, value = token.partition("=")
            key = key.strip().lower().replace("-", "_")
            if key not in _OPTIONS:
                raise ValueError(f"unknown fault option '{key}' (known: {', '.join(_OPTIONS)})")
            if key == "draw":
                draw = _draw(value.strip(), scripted)
            else:
                options[key] = _number(value.strip(), f"fault option {key}")
        elif scripted:
            script.append(Fault.parse(token))
        else:
            name, sep, rate_text = token.rpartition(":")
            if not sep:
                raise ValueError(
                    f"fault '{token}' needs a rate, e.g. '{token}:0.1' "
                    "(or list faults in order with 'script:ok,429,...')"
                )
            rate = _number(rate_text.strip(), f"rate of fault '{name}'")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"rate of fault '{name}' is {rate:g}; use a number from 0 to 1")
            fault = Fault.parse(name)
            if any(f == fault for f, _ in rates):
                raise ValueError(f"fault '{name}' is listed twice")
            rates.append((fault, rate))
    if scripted and not script:
        raise ValueError("'script:' needs at least one fault, e.g. 'script:ok,429,drop'")
    return FaultSpec(
        rates=tuple(rates),
        script=tuple(script),
        retry_after=options.get("retry_after", 1.0),
        slow_s=options.get("slow_s", 30.0),
        draw=draw,
        text=text,
    )


def _draw(value: str, scripted: bool) -> FaultDraw:
    if value.lower() not in ("order", "content"):
        raise ValueError(f"fault option draw: '{value}' is not 'order' or 'content'")
    if scripted and value.lower() == "content":
        raise ValueError("fault option draw=content applies to rates, not to a script")
    return "content" if value.lower() == "content" else "order"


class FaultInjector:
    """Decides the fault of each request: queued one-offs, then the script or the seeded rates."""

    def __init__(self, spec: FaultSpec | str | None = None, *, seed: int = 0) -> None:
        self.spec = spec if isinstance(spec, FaultSpec) else parse_faults(spec)
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Start over: the script from its first item, the generator from its seed."""
        self._rng = random.Random(self.seed)
        self._position = 0
        self._queue: list[Fault] = []
        self._attempts: Counter[str] = Counter()  # draw=content: requests seen per content

    def enqueue(self, *faults: Fault | str) -> None:
        """Faults for the next requests, in order, ahead of the spec."""
        self._queue.extend(f if isinstance(f, Fault) else Fault.parse(f) for f in faults)

    def next(self, content: str | None = None) -> Fault:
        """The next request's fault. With ``draw=content``, ``content`` (the request's system
        prompt and messages) seeds the draw together with how often that content came before."""
        if self._queue:
            return self._queue.pop(0)
        if self.spec.script:
            if self._position < len(self.spec.script):
                self._position += 1
                return self.spec.script[self._position - 1]
            return OK
        if not self.spec.rates:
            return OK
        if self.spec.draw == "content" and content is not None:
            nth = self._attempts[content]
            self._attempts[content] = nth + 1
            draw = random.Random(f"{self.seed}\x00{nth}\x00{content}").random()
        else:
            draw = self._rng.random()
        cumulative = 0.0
        for fault, rate in self.spec.rates:
            cumulative += rate
            if draw < cumulative:
                return fault
        return OK
