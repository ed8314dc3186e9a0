"""The model catalog: default model, aliases, retired ids, routing defaults and prices.

Loaded from the package's ``data/models.json`` and overridable from ``claude.json`` (``models``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ._once import warn_once
from .errors import ModelError
from .pricing import PriceEntry, PriceTable

Complexity = Literal["simple", "normal", "critical"]


class UnknownModelWarning(UserWarning):
    """A model id that is neither in the catalog nor known to be retired."""


@dataclass(frozen=True)
class ModelCatalog:
    default: str
    routing: dict[str, str]
    aliases: dict[str, str]
    retired_prefixes: dict[str, str]
    default_sampling_only: frozenset[str]
    prices: PriceTable
    _warned: set[str] = field(default_factory=set, compare=False, repr=False)

    @property
    def known(self) -> list[str]:
        return self.prices.models

    def replacement_for(self, model: str) -> str | None:
        """The suggested successor of a retired id, or None when ``model`` is not retired."""
        for prefix, successor in self.retired_prefixes.items():
            if model == prefix or model.startswith(prefix + "-") or model.startswith(prefix + "."):
                return successor
        return None

    def resolve(
        self,
        model: str,
        *,
        where: str = "model",
        file: Path | str | None = None,
        line: int | None = None,
    ) -> str:
        """Turn an alias into an id; refuse retired ids; warn once about unknown ones.

        ``where`` (the setting's key), ``file`` and ``line`` only locate the setting in errors.
        """
        model = model.strip()
        if not model:
            raise ModelError(
                "empty model id", file=file, line=line, key=where, hint=f"use e.g. {self.default}"
            )
        model = self.aliases.get(model, model)
        successor = self.replacement_for(model)
        if successor is not None:
            raise ModelError(
                f"model '{model}' is retired",
                file=file,
                line=line,
                key=where,
                hint=_retired_hint(where, successor),
            )
        if model not in self.prices.models:
            warn_once(
                self._warned,
                model,
                f"model '{model}' is not in claude-force's catalog; it will be sent as is and its "
                f"cost recorded as unknown (add a price under claude.json models.prices)",
                UnknownModelWarning,
                stacklevel=2,
            )
        return model

    def warn_unpriced(self, model: str) -> None:
        """Warn once per model (shared with :meth:`resolve`) that a cost is recorded as unknown."""
        warn_once(
            self._warned,
            model,
            f"model '{model}' has no price in claude-force's catalog; its cost is recorded "
            f"as unknown (add a price under claude.json models.prices)",
            UnknownModelWarning,
            stacklevel=2,
        )

    def for_complexity(self, complexity: Complexity) -> str:
        return self.routing[complexity]

    def sampling_allowed(self, model: str) -> bool:
        """False for models reported to reject non-default temperature/top_p/top_k."""
        return model not in self.default_sampling_only

    def with_overrides(
        self,
        *,
        default: str | None = None,
        routing: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
        prices: dict[str, dict[str, Any]] | None = None,
    ) -> ModelCatalog:
        return ModelCatalog(
            default=default or self.default,
            routing={**self.routing, **(routing or {})},
            aliases={**self.aliases, **(aliases or {})},
            retired_prefixes=self.retired_prefixes,
            default_sampling_only=self.default_sampling_only,
            prices=self.prices.with_overrides(prices) if prices else self.prices,
        )


@cache
def _raw_data() -> dict[str, Any]:
    text = resources.files("claude_force").joinpath("data/models.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def builtin_catalog() -> ModelCatalog:
    """A fresh catalog from the package data (fresh so that 'warned once' is per catalog)."""
    raw = _raw_data()
    return ModelCatalog(
        default=raw["default"],
        routing=dict(raw["routing"]),
        aliases=dict(raw["aliases"]),
        retired_prefixes=dict(raw["retired_prefixes"]),
        default_sampling_only=frozenset(raw.get("default_sampling_only", ())),
        prices=PriceTable(
            (PriceEntry.from_mapping(p) for p in raw["prices"]),
            batch_discount=Decimal(str(raw.get("batch_discount", "0.5"))),
        ),
    )


def _retired_hint(where: str, successor: str) -> str:
    """Where to put the successor: a fallback chain or a workflow step is changed in place
    (``models`` and ``--model`` do not reach them); other settings as before."""
    if where.startswith(("resilience.", "workflows.")):
        return f"use '{successor}' instead (change {where} in claude.json)"
    return f"use '{successor}' instead (set it in claude.json 'models' or pass --model)"
