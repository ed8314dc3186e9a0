"""The validated settings tree of ``.claude/claude.json`` (pydantic at the edge).

Every section is optional except ``agents``; the sections claude-force 1.x/2.2 projects carry
(``governance``, ``rules``, ``paths``, ``skills_integration``, ``version``, ``name``,
``description``) load as they are. Unknown keys are kept and reported as warnings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..cluster.settings import ClusterSettings
from ..memory.settings import MemorySettings
from ..metrics.settings import MetricsSettings
from ..monitoring.settings import AnomalySettings
from ..resilience.config import ResilienceSettings
from ..routing.settings import RoutingSettings
from ..server.settings import ServerSettings
from ..telemetry.settings import TelemetrySettings
from ..workflows.spec import WorkflowEntry

LatencyPreset = Literal["instant", "fast", "realistic", "slow"]
DAY = 86_400.0
MAX_PRICE = Decimal(100_000)  # USD per million tokens


class Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class AgentSettings(Section):
    file: str = Field(min_length=1)
    contract: str | None = None
    domains: list[str] = Field(default_factory=list)
    priority: int = Field(default=2, ge=-1000, le=1000)
    description: str | None = None
    model: str | None = None
    cache: bool = True
    semantic_cache: bool = True  # False: this agent's calls never use the semantic cache
    memory: bool = True


class PerformanceSettings(Section):
    async_enabled: bool = True
    max_concurrent_agents: int = Field(default=10, ge=1, le=1000)
    timeout_seconds: float = Field(default=600.0, gt=0, le=DAY * 7)


class SemanticCacheSettings(Section):
    """``cache.semantic``: answer paraphrases of cached tasks (needs the ``semantic`` extra)."""

    enabled: bool = False
    # cosine similarity of all-MiniLM-L6-v2 task embeddings; calibrated on the train part of
    # benchmarks/data/semantic_pairs.json (see docs/caching.md, "Semantic cache")
    threshold: float = Field(default=0.85, ge=0.5, le=1.0)


class CacheSettings(Section):
    enabled: bool = True
    ttl_hours: float = Field(default=24.0, gt=0, le=87_600)  # ten years
    max_size_mb: float = Field(default=100.0, gt=0, le=1_048_576)  # 1 TiB
    exclude_agents: list[str] = Field(default_factory=list)
    backend: Literal["sqlite", "memory", "redis"] = "sqlite"
    redis_url: str | None = None
    secret: SecretStr | None = None
    # False (default): the key leaves out agent-memory context, so a repeated task is a hit
    # even after related tasks ran; True: strict keying on the request exactly as sent
    key_includes_memory: bool = False
    semantic: SemanticCacheSettings = Field(default_factory=SemanticCacheSettings)


class FeatureFlags(Section):
    async_enabled: bool = True
    cache_enabled: bool = True
    parallel_workflows_enabled: bool = True


class PriceOverride(Section):
    input: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    output: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    cache_write_5m: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    cache_write_1h: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    cache_read: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    effective_from: date | None = None


class ModelSettings(Section):
    default: str | None = None
    agents: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    routing: dict[Literal["simple", "normal", "critical"], str] = Field(default_factory=dict)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    prompt_cache_ttl: Literal["5m", "1h"] = "5m"  # Anthropic prompt-cache lifetime


class PathSettings(Section):
    state: str = "state"


class ProviderSettings(Section):
    base_url: str | None = None
    timeout_seconds: float = Field(default=120.0, gt=0, le=DAY)
    # true: always simulated; false: the real API, falling back (exit 3) without a key;
    # "auto": falling back on purpose (exit 0); "never": no key is an error (exit 2)
    simulate: bool | Literal["auto", "never"] = False
    latency: LatencyPreset = "realistic"
    seed: int = Field(default=0, ge=0, le=2**63 - 1)


class ProjectSettings(Section):
    version: str | None = None
    name: str | None = None
    description: str | None = None
    agents: dict[str, AgentSettings]
    workflows: dict[str, WorkflowEntry] = Field(default_factory=dict)  # list form or DAG form
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    features: FeatureFlags = Field(default_factory=FeatureFlags)
    models: ModelSettings = Field(default_factory=ModelSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    anomalies: AnomalySettings = Field(default_factory=AnomalySettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    # Sections of existing projects that claude-force carries but does not interpret.
    governance: Any = None
    rules: Any = None
    skills_integration: Any = None


def unknown_keys(model: BaseModel, prefix: str = "") -> list[str]:
    """Dotted paths of keys that no model declares (pydantic's ``extra='allow'`` keeps them)."""
    found: list[str] = []
    for key in model.model_extra or {}:
        found.append(f"{prefix}{key}")
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name == "paths":
            continue  # old projects keep arbitrary path names here
        if isinstance(value, BaseModel):
            found += unknown_keys(value, f"{prefix}{name}.")
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    found += unknown_keys(v, f"{prefix}{name}.{k}.")
    return found
