"""Deterministic execution records for the metrics tests and benchmark."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from claude_force.metrics.record import ExecutionRecord, to_us

T0 = datetime(2026, 10, 1, tzinfo=UTC)
AGENTS = ("python-expert", "code-reviewer", "security-specialist", "document-writer")
MODELS = ("claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5")
WORKFLOWS = (None, "code-quality-check", "bug-fix")


def make_records(
    n: int,
    *,
    days: int = 10,
    seed: int = 7,
    start: datetime = T0,
    retries: bool = True,
) -> list[ExecutionRecord]:
    """``n`` executions spread over ``days`` days, with some retries, failures, cache hits,
    unknown costs and simulated runs."""
    rng = random.Random(seed)
    out: list[ExecutionRecord] = []
    for i in range(n):
        started = start + timedelta(seconds=rng.uniform(0, days * 86400))
        agent = rng.choice(AGENTS)
        model = MODELS[AGENTS.index(agent) % len(MODELS)] if rng.random() < 0.9 else "claude-x-9"
        workflow = rng.choice(WORKFLOWS)
        success = rng.random() < 0.93
        cached = success and rng.random() < 0.2
        tokens_in = 0 if cached else rng.randint(200, 5000)
        tokens_out = 0 if cached else rng.randint(50, 1500)
        unknown = model == "claude-x-9"
        attempts = 1 + (rng.random() < 0.1) * rng.randint(1, 2) if retries else 1
        exec_id = f"exec-{seed}-{i:06d}"
        for a in range(1, attempts):
            out.append(
                ExecutionRecord(
                    execution_id=exec_id,
                    attempt=a,
                    final=False,
                    agent=agent,
                    model=model,
                    provider="anthropic",
                    started_us=to_us(started),
                    duration_us=0,
                    success=False,
                    error_type="RateLimitError",
                    cost_pusd=0,
                    workflow=workflow,
                )
            )
        out.append(
            ExecutionRecord(
                execution_id=exec_id,
                attempt=attempts,
                final=True,
                agent=agent,
                model=model,
                provider="anthropic" if rng.random() < 0.8 else "simulated",
                started_us=to_us(started),
                duration_us=int(rng.lognormvariate(13.5, 0.8)),
                queue_wait_us=rng.randint(0, 5000),
                success=success,
                error_type=None if success else rng.choice(("ServerError", "ProviderTimeoutError")),
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cache_write_tokens=rng.choice((0, 0, 1200)),
                cache_read_tokens=rng.choice((0, 0, 3000)),
                cost_pusd=None if unknown else rng.randint(1, 50_000_000_000),
                cached=cached,
                saved_pusd=rng.randint(1, 9_000_000_000) if cached else None,
                simulated=rng.random() < 0.2,
                semantic=cached and i % 3 == 0,  # no draw: the other fields stay as they were
                workflow=workflow,
                workflow_position=rng.randint(0, 3) if workflow else None,
                task_hash="abcd",
            )
        )
    return out
