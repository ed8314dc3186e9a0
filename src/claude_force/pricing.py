"""Effective-dated model prices and exact cost computation (pure; no I/O beyond loading data).

Prices are USD per million tokens, held as ``Decimal`` so that a cost is exact. A cost uses the
price in force on the execution's UTC date. An unknown model has no price: its cost is ``None``
(unknown), never a guess.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the project's model catalog loads without the messages
    from .messages import CacheTTL, Usage

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-million-token rates for one tier."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, base: Rates | None = None) -> Rates:
        def pick(name: str) -> Decimal:
            if name in raw and raw[name] is not None:
                return Decimal(str(raw[name]))
            if base is not None:
                return getattr(base, name)  # type: ignore[no-any-return]
            if name == "cache_write_5m":
                return Decimal(str(raw["input"])) * Decimal("1.25")
            if name == "cache_write_1h":
                return Decimal(str(raw["input"])) * 2
            if name == "cache_read":
                return Decimal(str(raw["input"])) / 10
            raise KeyError(name)

        return cls(
            input=pick("input"),
            output=pick("output"),
            cache_write_5m=pick("cache_write_5m"),
            cache_write_1h=pick("cache_write_1h"),
            cache_read=pick("cache_read"),
        )


@dataclass(frozen=True, slots=True)
class PriceEntry:
    model: str
    effective_from: date | None
    rates: Rates
    long_context: Rates | None = None
    long_context_threshold: int | None = None
    source: str = ""
    assumed: tuple[str, ...] = ()

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The tier for a prompt of this many input-side tokens."""
        if (
            self.long_context is not None
            and self.long_context_threshold is not None
            and prompt_tokens > self.long_context_threshold
        ):
            return self.long_context
        return self.rates

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PriceEntry:
        eff = raw.get("effective_from")
        rates = Rates.from_mapping(raw)
        long_raw = raw.get("long_context")
        return cls(
            model=str(raw["model"]),
            effective_from=date.fromisoformat(eff) if eff else None,
            rates=rates,
            long_context=Rates.from_mapping(long_raw) if long_raw else None,
            long_context_threshold=int(long_raw["threshold_tokens"]) if long_raw else None,
            source=str(raw.get("source", "")),
            assumed=tuple(raw.get("assumed", ())),
        )


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal
    batch_discount: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.input + self.output + self.cache_write + self.cache_read


class PriceTable:
    """All price entries, looked up by model and date."""

    def __init__(self, entries: Iterable[PriceEntry], *, batch_discount: Decimal = Decimal("0.5")):
        by_model: dict[str, list[PriceEntry]] = {}
        for e in entries:
            by_model.setdefault(e.model, []).append(e)
        for lst in by_model.values():
            lst.sort(key=lambda e: e.effective_from or date.min)
        self._by_model = by_model
        self.batch_discount = batch_discount

    @property
    def models(self) -> list[str]:
        return sorted(self._by_model)

    def entries(self, model: str) -> list[PriceEntry]:
        return list(self._by_model.get(model, ()))

    def price_for(self, model: str, on: date) -> PriceEntry | None:
        """The entry in force on ``on`` (the latest whose effective_from ≤ on)."""
        lst = self._by_model.get(model)
        if not lst:
            return None
        keys = [e.effective_from or date.min for e in lst]
        i = bisect.bisect_right(keys, on) - 1
        return lst[i] if i >= 0 else None

    def breakdown(
        self,
        model: str,
        usage: Usage,
        on: date,
        *,
        cache_ttl: CacheTTL = "5m",
        batch: bool = False,
    ) -> CostBreakdown | None:
        entry = self.price_for(model, on)
        if entry is None:
            return None
        r = entry.rates_for(usage.prompt_tokens)
        write_rate = r.cache_write_1h if cache_ttl == "1h" else r.cache_write_5m
        inp = Decimal(usage.input_tokens) * r.input / MILLION
        out = Decimal(usage.output_tokens) * r.output / MILLION
        cw = Decimal(usage.cache_creation_input_tokens) * write_rate / MILLION
        cr = Decimal(usage.cache_read_input_tokens) * r.cache_read / MILLION
        if batch:
            # The Batches API discounts input and output; cache reads/writes keep their price.
            factor = 1 - self.batch_discount
            saved = (inp + out) * self.batch_discount
            return CostBreakdown(inp * factor, out * factor, cw, cr, saved)
        return CostBreakdown(inp, out, cw, cr)

    def cost(
        self,
        model: str,
        usage: Usage,
        on: date,
        *,
        cache_ttl: CacheTTL = "5m",
        batch: bool = False,
    ) -> Decimal | None:
        b = self.breakdown(model, usage, on, cache_ttl=cache_ttl, batch=batch)
        return None if b is None else b.total

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> PriceTable:
        """A table where each overridden model gets a new entry (effective from its date or always).

        Fields missing from an override inherit from the entry it replaces.
        """
        entries = [e for lst in self._by_model.values() for e in lst]
        for model, raw in overrides.items():
            eff_raw = raw.get("effective_from")
            eff = date.fromisoformat(str(eff_raw)) if eff_raw else None
            current = self.price_for(model, eff or date.max)
            base = current.rates if current else None
            rates = Rates.from_mapping(raw, base=base)
            if eff is None:
                entries = [e for e in entries if e.model != model]
            entries.append(
                PriceEntry(
                    model=model,
                    effective_from=eff,
                    rates=rates,
                    long_context=current.long_context if current else None,
                    long_context_threshold=current.long_context_threshold if current else None,
                    source="claude.json models.prices override",
                )
            )
        return PriceTable(entries, batch_discount=self.batch_discount)
