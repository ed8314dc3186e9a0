"""The live registry and the store-based exposition never share a family name with other labels."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from _metrics_data import make_records
from claude_force.events import RetryScheduled
from claude_force.metrics.memory_backend import MemoryMetricsStore
from claude_force.metrics.prometheus import PrometheusMetrics, store_exposition


def _labels(text: bytes) -> dict[str, set[frozenset[str]]]:
    out: dict[str, set[frozenset[str]]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            out.setdefault(family.name, set()).add(frozenset(sample.labels))
    return out


def test_retry_families_are_distinct_between_live_and_store(tmp_path: Path) -> None:
    live = PrometheusMetrics()
    live.on_event(
        RetryScheduled(
            provider="anthropic",
            model="m",
            attempt=1,
            delay_s=0.5,
            reason="backoff",
            error_type="ServerError",
            status=503,
            agent="a",
            execution_id="e",
        )
    )
    store = MemoryMetricsStore()
    recs = make_records(60, days=1, seed=3)
    store.upsert(recs)
    live_families = _labels(live.exposition())
    store_families = _labels(store_exposition(store))
    assert live_families["claude_force_retries"] == {frozenset({"provider", "model", "reason"})}
    assert "claude_force_retries" not in store_families
    assert store_families["claude_force_retried_attempts"] == {frozenset({"agent", "model"})}
    retried = sum(
        s.value
        for f in text_string_to_metric_families(store_exposition(store).decode())
        if f.name == "claude_force_retried_attempts"
        for s in f.samples
    )
    assert retried == sum(not r.final for r in recs) > 0
    # No family is exported by both with a different label set, except the documented ones.
    documented = {
        "claude_force_executions",  # live adds "cached"
        "claude_force_cost_unknown",  # live: model only
        "claude_force_cache_hits",  # live: agent only
        "claude_force_saved_cost_usd",  # live: agent only
        "claude_force_semantic_cache_hits",  # live: agent only
        "claude_force_semantic_saved_cost_usd",  # live: agent only
    }
    clashes = {
        name
        for name in live_families.keys() & store_families.keys()
        if live_families[name] != store_families[name]
    }
    assert clashes <= documented
