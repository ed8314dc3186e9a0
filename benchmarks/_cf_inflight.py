"""claude-force's side of the 1,000-in-flight benchmark, in its own process (like the bare SDK's).

``python benchmarks/_cf_inflight.py PROJECT AGENT COUNT``: an orchestrator on the project's
defaults (cache, memory, metrics, resilience on), COUNT executions at once, no cache hits
(distinct tasks). Prints throughput and peak RSS as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from _rss import peak_rss_mb, without_packages

without_packages()


async def main() -> None:
    from claude_force import AsyncAgentOrchestrator

    project, agent, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    waits: list[float] = []

    def on_event(event: object) -> None:
        if type(event).__name__ == "RateLimitWait":  # the client-side limits (from headers)
            waits.append(float(getattr(event, "wait_s", 0.0)))

    async with AsyncAgentOrchestrator(
        project / ".claude" / "claude.json", max_concurrent=count
    ) as orch:
        orch.engine.bus.subscribe(on_event)
        t0 = time.perf_counter()
        results = await orch.execute_many([(agent, f"task {i}") for i in range(count)])
        wall = time.perf_counter() - t0
    ok = sum(r.success for r in results)
    errors = sorted({r.error_type or "" for r in results if not r.success})
    print(
        json.dumps(
            {
                "ok": ok,
                "wall_s": wall,
                "throughput": ok / wall,
                "errors": errors,
                "rate_limit_waits": len(waits),
                "rate_limit_wait_s": round(sum(waits), 1),
                "peak_rss_mb": peak_rss_mb(),
                "aiohttp": "aiohttp" in sys.modules,  # the SDK imports it when it is installed
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
