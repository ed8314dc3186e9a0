"""Cost estimates before a run: estimated tokens × the real price table (pure, injected date).

An estimate is labelled as one (``estimated=True``, ``basis``): prompt tokens are counted with the
same ~4-characters-per-token rule the simulated model uses, over the agent's system prompt and the
task; output tokens are ``max_tokens × output_ratio`` (a run rarely uses its whole ``max_tokens``).
No prompt-cache discount is assumed, so a run whose system prompt is read from Anthropic's
prompt cache costs less than its estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ..messages import CacheTTL, Usage
from ..pricing import PriceTable
from ..providers.simulated import estimate_tokens


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass
class CostEstimate:
    """An estimated cost of one run (the 2.2 fields first, then ours).

    ``estimated_cost`` is USD as a float (2.2); ``cost_usd`` is the exact ``Decimal``. Both are
    ``None`` for a model without a price in the catalog.
    """

    model: str
    estimated_input_tokens: int
    estimated_output_tokens: int
    estimated_cost: float | None
    breakdown: dict[str, Any] = field(default_factory=dict)
    cost_usd: Decimal | None = None
    batch: bool = False
    estimated: bool = True
    basis: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_usd"] = None if self.cost_usd is None else str(self.cost_usd.normalize())
        return data


@dataclass(frozen=True)
class CostEstimator:
    prices: PriceTable
    output_ratio: float = 0.25
    today: Callable[[], date] = _today

    def __post_init__(self) -> None:
        if not 0 < self.output_ratio <= 1:
            raise ValueError(f"output_ratio must be in (0, 1], got {self.output_ratio}")

    def output_tokens(self, max_tokens: int) -> int:
        return max(1, math.ceil(max_tokens * self.output_ratio))

    def estimate(
        self,
        model: str,
        *,
        system: str,
        task: str,
        max_tokens: int = 4096,
        batch: bool = False,
        cache_ttl: CacheTTL = "5m",
    ) -> CostEstimate:
        prompt = estimate_tokens(f"{system}\n{task}" if system else task)
        output = self.output_tokens(max_tokens)
        usage = Usage(input_tokens=prompt, output_tokens=output)
        b = self.prices.breakdown(model, usage, self.today(), cache_ttl=cache_ttl, batch=batch)
        basis = (
            f"estimate: {prompt:,} prompt tokens (system prompt + task, ~4 characters per token), "
            f"{output:,} output tokens (max_tokens {max_tokens:,} × {self.output_ratio:g}), "
            "no prompt-cache discount" + (", 50% batch discount" if batch else "")
        )
        if b is None:
            return CostEstimate(
                model,
                prompt,
                output,
                None,
                {"input_tokens": prompt, "output_tokens": output},
                None,
                batch,
                True,
                basis + "; the model has no price in the catalog",
            )
        return CostEstimate(
            model=model,
            estimated_input_tokens=prompt,
            estimated_output_tokens=output,
            estimated_cost=float(b.total),
            breakdown={
                "input_cost": float(b.input),
                "output_cost": float(b.output),
                "input_tokens": prompt,
                "output_tokens": output,
                "batch_discount": float(b.batch_discount),
            },
            cost_usd=b.total,
            batch=batch,
            estimated=True,
            basis=basis,
        )
