"""Warn once per key: the unpriced-model and missing-contract warnings say their piece once per
model or agent, not on every call."""

from __future__ import annotations

import warnings


def warn_once(
    seen: set[str], key: str, message: str, category: type[Warning], stacklevel: int = 1
) -> None:
    """``warnings.warn(message, category)`` the first time ``key`` is met; ``seen`` remembers
    the keys. ``stacklevel`` counts from the caller, as it does for ``warnings.warn``."""
    if key in seen:
        return
    seen.add(key)
    warnings.warn(message, category, stacklevel=stacklevel + 1)
