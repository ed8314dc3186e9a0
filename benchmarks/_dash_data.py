"""A metrics store with a million executions, made fast: one recursive-CTE ``INSERT`` in SQLite
(Python objects for a million rows would take minutes on a shared machine). The rows are what the
tracker writes: 4 agents × 3 models, ~5 % failures, ~20 % cache hits, ~3 % with a retried
attempt, spread evenly over the last ``days`` days up to ``now``."""

from __future__ import annotations

import random
import time
from pathlib import Path

from claude_force.metrics.histogram import bucket_index
from claude_force.metrics.sqlite_backend import SQLiteMetricsStore

AGENTS = ("python-expert", "code-reviewer", "security-specialist", "document-writer")
MODELS = ("claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5")


def make_store(path: Path, n: int, *, now_us: int, days: float = 7.0, seed: int = 7) -> float:
    """Fill ``path`` with ``n`` executions; returns the seconds it took."""
    t0 = time.perf_counter()
    store = SQLiteMetricsStore(path)
    conn = store._conn  # the benchmark writes in bulk; the store's API writes batch by batch
    rng = random.Random(seed)
    durations = [max(1.0, rng.lognormvariate(6.5, 0.6)) for _ in range(997)]  # ms, ~700 ms
    conn.execute("CREATE TEMP TABLE dur (k INTEGER PRIMARY KEY, us INTEGER, bucket INTEGER)")
    conn.executemany(
        "INSERT INTO dur VALUES (?, ?, ?)",
        [(k, int(ms * 1000), bucket_index(ms)) for k, ms in enumerate(durations)],
    )
    span_us = int(days * 86_400_000_000)
    start_us = now_us - span_us
    step = span_us / n
    conn.execute("BEGIN")
    conn.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {n - 1})
        INSERT INTO executions (execution_id, attempt, final, started_us, agent, provider, model,
            workflow, outcome, simulated, success, error_type, duration_us, queue_wait_us,
            latency_bucket, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens,
            cost_pusd, cached, saved_pusd, workflow_position, workflow_run_id, step_id, task_hash)
        SELECT printf('bench-%08d', i), 1, 1, {start_us} + CAST(i * {step} AS INTEGER),
            CASE i % 4 WHEN 0 THEN '{AGENTS[0]}' WHEN 1 THEN '{AGENTS[1]}'
                       WHEN 2 THEN '{AGENTS[2]}' ELSE '{AGENTS[3]}' END,
            'anthropic',
            CASE i % 3 WHEN 0 THEN '{MODELS[0]}' WHEN 1 THEN '{MODELS[1]}' ELSE '{MODELS[2]}' END,
            CASE WHEN i % 5 = 0 THEN 'code-quality-check' ELSE '' END,
            CASE WHEN i % 20 = 7 THEN 'OverloadedError' ELSE 'success' END,
            0, CASE WHEN i % 20 = 7 THEN 0 ELSE 1 END,
            CASE WHEN i % 20 = 7 THEN 'OverloadedError' ELSE NULL END,
            d.us, (i * 7919) % 50000, d.bucket,
            CASE WHEN i % 5 = 1 THEN 0 ELSE 800 + i % 3000 END,
            CASE WHEN i % 5 = 1 THEN 0 ELSE 200 + i % 900 END,
            0, CASE WHEN i % 7 = 0 THEN 1500 ELSE 0 END,
            CASE WHEN i % 5 = 1 THEN 0 ELSE 3000000000 + (i % 1000) * 9000000 END,
            CASE WHEN i % 5 = 1 THEN 1 ELSE 0 END,
            CASE WHEN i % 5 = 1 THEN 4000000000 ELSE NULL END,
            NULL, NULL, NULL, printf('%016x', i)
        FROM c JOIN dur d ON d.k = i % 997
        """
    )
    # ~3 % of executions had a failed first attempt (final=0, attempt 1; the final is attempt 1
    # too here, so these carry their own ids — what matters is the row count and the mix)
    conn.execute(
        """
        INSERT INTO executions (execution_id, attempt, final, started_us, agent, provider, model,
            workflow, outcome, simulated, success, error_type, duration_us, queue_wait_us,
            latency_bucket, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens,
            cost_pusd, cached, saved_pusd, task_hash)
        SELECT execution_id, 0, 0, started_us, agent, provider, model, workflow,
            'RateLimitError', 0, 0, 'RateLimitError', 0, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, task_hash
        FROM executions WHERE CAST(substr(execution_id, 7) AS INTEGER) % 33 = 0
        """
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    store.close()
    return time.perf_counter() - t0
