"""What Anthropic's prompt cache saved, from recorded token counts and the price table (pure).

Every request marks the agent's system prompt as a prompt-cache breakpoint. The API then reports
``cache_read_input_tokens`` (served from the cache, billed at the cache-read rate, a tenth of the
input rate or less) and ``cache_creation_input_tokens`` (written to the cache, billed at 1.25× the
input rate for 5 minutes, 2× for 1 hour). So:

* ``read_saved_usd`` = cache-read tokens × (input rate − cache-read rate): what those tokens
  would have cost more without the cache;
* ``write_premium_usd`` = cache-write tokens × (write rate − input rate): what writing the cache
  cost more than plain input;
* ``net_saved_usd`` = the difference (negative when prompts are written but rarely read again).

Computed per model and per UTC day with the price in force that day, so it is exact over raw and
rolled-up metrics alike. Two simplifications, both documented in docs/cost.md: the recorded rows do
not keep each request's cache lifetime, so writes are priced at the project's
``models.prompt_cache_ttl``; and the base (≤ long-context threshold) price tier is used, because
daily rollups do not keep each prompt's length. Tokens of response-cache hits are included: a hit
replays a recorded answer whose usage already reflected the prompt cache, and counting it keeps
"saved by the response cache" + "saved by the prompt cache" = what would have been paid with
neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..pricing import MILLION, PriceTable
from .backend import MetricsStore, Query
from .record import from_us

if TYPE_CHECKING:
    from ..messages import CacheTTL


@dataclass(frozen=True, slots=True)
class PromptCacheSavings:
    read_tokens: int = 0
    write_tokens: int = 0
    read_saved_usd: Decimal = Decimal(0)
    write_premium_usd: Decimal = Decimal(0)
    unpriced_tokens: int = 0  # cache tokens of models without a price (not counted above)
    cache_ttl: CacheTTL = "5m"

    @property
    def net_saved_usd(self) -> Decimal:
        return self.read_saved_usd - self.write_premium_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache_read_tokens": self.read_tokens,
            "cache_write_tokens": self.write_tokens,
            "read_saved_usd": float(self.read_saved_usd),
            "write_premium_usd": float(self.write_premium_usd),
            "net_saved_usd": float(self.net_saved_usd),
            "net_saved_usd_exact": format(self.net_saved_usd.normalize(), "f"),
            "unpriced_tokens": self.unpriced_tokens,
            "write_priced_as": self.cache_ttl,
        }


def prompt_cache_savings(
    store: MetricsStore,
    prices: PriceTable,
    query: Query | None = None,
    *,
    cache_ttl: CacheTTL = "5m",
) -> PromptCacheSavings:
    """The prompt-cache figures of the executions in ``query`` (see the module docstring)."""
    cells = store.aggregate(query or Query(), by=("model", "period"), granularity="day")
    read = write = unpriced = 0
    saved = premium = Decimal(0)
    for (model, day_us), cell in cells.items():
        if not (cell.cache_read_tokens or cell.cache_write_tokens):
            continue
        entry = prices.price_for(str(model), from_us(int(day_us)).date())
        if entry is None:
            unpriced += cell.cache_read_tokens + cell.cache_write_tokens
            continue
        r = entry.rates
        write_rate = r.cache_write_1h if cache_ttl == "1h" else r.cache_write_5m
        read += cell.cache_read_tokens
        write += cell.cache_write_tokens
        saved += Decimal(cell.cache_read_tokens) * (r.input - r.cache_read) / MILLION
        premium += Decimal(cell.cache_write_tokens) * (write_rate - r.input) / MILLION
    return PromptCacheSavings(read, write, saved, premium, unpriced, cache_ttl)
