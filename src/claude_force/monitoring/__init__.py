"""Live monitoring: anomaly detection over finished executions and live figures for the dashboard.

Names load lazily: ``claude_force.config.schema`` imports :mod:`.settings` from here and must not
pull in anything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .anomaly import (
        Anomaly,
        AnomalyChange,
        AnomalyDetector,
        AnomalyKind,
        Finding,
        Sample,
        detect,
    )
    from .live import LiveStats
    from .settings import AnomalySettings, RateSettings, ShiftSettings
    from .wire import event_payload, event_type

_EXPORTS: dict[str, str] = {
    "Anomaly": ".anomaly",
    "AnomalyChange": ".anomaly",
    "AnomalyDetector": ".anomaly",
    "AnomalyKind": ".anomaly",
    "Finding": ".anomaly",
    "Sample": ".anomaly",
    "detect": ".anomaly",
    "LiveStats": ".live",
    "AnomalySettings": ".settings",
    "RateSettings": ".settings",
    "ShiftSettings": ".settings",
    "event_payload": ".wire",
    "event_type": ".wire",
}

__all__ = [
    "Anomaly",
    "AnomalyChange",
    "AnomalyDetector",
    "AnomalyKind",
    "AnomalySettings",
    "Finding",
    "LiveStats",
    "RateSettings",
    "Sample",
    "ShiftSettings",
    "detect",
    "event_payload",
    "event_type",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
