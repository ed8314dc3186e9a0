"""The one cross-field check settings sections make: a bound that must not be below another."""

from __future__ import annotations

from pydantic import BaseModel


def at_least(section: BaseModel, high: str, low: str) -> None:
    """Raise ``ValueError`` (pydantic reports it with the section's key) when the setting
    ``high`` is below the setting ``low``."""
    hi, lo = getattr(section, high), getattr(section, low)
    if hi < lo:
        raise ValueError(f"{high} ({hi:g}) must be at least {low} ({lo:g})")
