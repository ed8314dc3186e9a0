"""A loopback stand-in for the Messages API in its own process, for whole-process benchmarks.

``python benchmarks/_standin.py [--latency S] [--faults SPEC] [--output-tokens-per-minute N]`` starts the project's emulator
(simulated answers, labelled as such) on 127.0.0.1, prints its base URL on one line and serves
until its stdin closes. A system prompt that contains ``emulator-latency: S`` is answered after
S seconds (so each step of a benchmark DAG can have its own duration); other requests after
``--latency`` seconds. Its own process: the benchmarked client never shares a GIL with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from random import Random
from typing import Any

from claude_force.providers.simulated import LatencyModel
from claude_force.testing import Emulator, RateLimits

_DELAY: ContextVar[float | None] = ContextVar("standin_delay", default=None)
_MARK = re.compile(r"emulator-latency:\s*([0-9.]+)")


@dataclass(frozen=True, slots=True)
class StepLatency(LatencyModel):
    """The delay named in the request's system prompt, else a fixed one."""

    fixed_s: float = 0.0

    def delay(self, output_tokens: int, rng: Random) -> float:
        hinted = _DELAY.get()
        return self.fixed_s if hinted is None else hinted


class StandIn(Emulator):
    def _message(self, record: Any) -> Any:
        try:
            body = record.body if isinstance(record.body, dict) else json.loads(record.body or "{}")
            system = json.dumps(body.get("system", ""))
            m = _MARK.search(system)
            _DELAY.set(float(m.group(1)) if m else None)
        except ValueError:
            _DELAY.set(None)
        return super()._message(record)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--faults", default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--output-tokens-per-minute",
        type=int,
        default=RateLimits().output_tokens,
        help="the output-token limit the stand-in advertises and enforces",
    )
    args = ap.parse_args()
    emu = StandIn(
        latency=StepLatency(fixed_s=args.latency),
        faults=args.faults,
        seed=args.seed,
        limits=RateLimits(output_tokens=args.output_tokens_per_minute),
    )
    await emu.start()
    print(emu.base_url, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    counts = {"requests": emu.requests_total, "outcomes": dict(emu.outcomes)}
    print(json.dumps(counts), flush=True)
    await emu.stop()


if __name__ == "__main__":
    asyncio.run(main())
