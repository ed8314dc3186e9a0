"""The engine layer: one service that owns the runs of a project (see :mod:`.service`)."""

from .bound import ConcurrencyBound
from .service import AgentEngine, EngineOptions

__all__ = ["AgentEngine", "ConcurrencyBound", "EngineOptions"]
