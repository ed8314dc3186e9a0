#!/usr/bin/env python
"""Run claude-force's benchmarks: ``python benchmarks/run_benchmarks.py --report``.

Discovers ``benchmarks/bench_*.py``; each returns figures with their targets. ``--report`` prints
a table and writes ``benchmarks/results/latest.json`` and ``latest.md`` — only for a full
run: with ``--quick`` (smaller samples) or ``-k NAME`` (the modules whose name contains NAME)
it writes ``partial.json``/``partial.md`` instead, so the committed full results are never
overwritten. Exit code 1 if a target fails.

Each module runs in a process of its own (``--same-process``: all in this one, as before), as
pyperf and asv run theirs: what one module imports, starts and leaves on the heap does not
weigh on the next one's figures (issue #10, eighth pass: the ``whole`` module's overhead row,
run after the 17 modules before it in one process — 8,300 modules imported, 430,000 objects
tracked by the garbage collector, LiteLLM's, LangGraph's and the embedding model's among them —
measured +0.51 and +0.56 ms where a process of its own measured +0.37 and +0.36 ms).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Result  # noqa: E402


def discover(pattern: str | None) -> list[Path]:
    files = sorted(HERE.glob("bench_*.py"))
    return [f for f in files if pattern is None or pattern in f.stem]


def load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # registered before it runs, as an import would: typing.get_type_hints (LangGraph's state
    # schema in bench_peers) resolves a module's string annotations through sys.modules
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_module(path: Path, quick: bool) -> tuple[str, list[Result]]:
    """Load and run one module here; a module that raises is one failed row."""
    title = path.stem
    try:
        module = load(path)
        title = getattr(module, "TITLE", path.stem)
        print(f"… {title}", file=sys.stderr, flush=True)
        return title, list(module.run(quick))  # type: ignore[attr-defined]
    except Exception as exc:  # a broken module is a failed row; the other modules still run
        traceback.print_exc()
        return title, [Result(f"{path.stem} did not run", 0, "", "runs", False, f"{exc!r}"[:300])]


def run_isolated(path: Path, quick: bool) -> tuple[str, list[Result]]:
    """:func:`run_module` in a child process (its output goes to this one's terminal)."""
    fd, name = tempfile.mkstemp(prefix=f"{path.stem}-", suffix=".json")
    os.close(fd)
    out = Path(name)
    try:
        argv = [sys.executable, str(Path(__file__).resolve()), "--module", str(path), "--out", name]
        code = subprocess.run([*argv, *(["--quick"] if quick else [])], check=False).returncode
        text = out.read_text(encoding="utf-8")
        if code != 0 or not text:
            why = f"its process exited with code {code} before reporting"
            return path.stem, [Result(f"{path.stem} did not run", 0, "", "runs", False, why)]
        got = json.loads(text)
        return str(got["title"]), [Result(**r) for r in got["results"]]
    finally:
        out.unlink(missing_ok=True)


def main(argv: list[str] | None = None, results_dir: Path | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--report", action="store_true", help="print a table and write results/")
    ap.add_argument("--quick", action="store_true", help="smaller samples (CI smoke run)")
    ap.add_argument("-k", dest="pattern", help="only modules whose name contains this")
    ap.add_argument("--same-process", action="store_true", help="run every module in this process")
    ap.add_argument("--module", type=Path, help=argparse.SUPPRESS)  # a child: this one module
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)  # … its results written here
    args = ap.parse_args(argv)

    if args.module is not None:
        title, found = run_module(args.module, args.quick)
        payload = {"title": title, "results": [r.__dict__ for r in found]}
        args.out.write_text(json.dumps(payload) + "\n", encoding="utf-8")
        return 0

    sections: list[tuple[str, list[Result], float]] = []
    for path in discover(args.pattern):
        t0 = time.perf_counter()
        title, found = (run_module if args.same_process else run_isolated)(path, args.quick)
        sections.append((title, found, time.perf_counter() - t0))

    failed = [r for _, rs, _ in sections for r in rs if r.passed is False]
    lines = [
        f"# claude-force benchmarks — {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()},"
        f" {platform.system()}; quick={args.quick}",
        "",
    ]
    for title, rows, secs in sections:
        lines += [
            f"## {title}  ({secs:.1f}s)",
            "",
            "| figure | value | target | verdict | detail |",
            "|---|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(r.row()) + " |" for r in rows]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.report:
        out = results_dir or HERE / "results"
        out.mkdir(exist_ok=True)
        # A partial (-k) or quick run never overwrites the committed full results.
        stem = "latest" if not (args.quick or args.pattern) else "partial"
        (out / f"{stem}.md").write_text(text + "\n", encoding="utf-8")
        payload = {
            "generated_at": datetime.now(UTC).isoformat(),
            "quick": args.quick,
            "pattern": args.pattern,
            "sections": [
                {"title": t, "seconds": s, "results": [r.__dict__ for r in rs]}
                for t, rs, s in sections
            ],
        }
        (out / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out / stem}.md and .json", file=sys.stderr)
    if failed:
        print(
            f"{len(failed)} target(s) missed: " + ", ".join(r.name for r in failed), file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
