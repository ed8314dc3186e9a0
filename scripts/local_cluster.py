#!/usr/bin/env python
"""Start a local claude-force cluster for a demo: the server and three workers, against this
machine's PostgreSQL and Redis, on the SIMULATED model (no API key, no network beyond 127.0.0.1).

    python scripts/local_cluster.py                     # sample project in a temporary folder
    python scripts/local_cluster.py --project DIR --workers 3 --port 8000

It creates the database (``--database``, default ``claude_force_demo``) if it is missing, writes
a project whose ``cluster`` section points at it, starts ``claude-force serve`` and N
``claude-force worker`` processes (ids ``demo-worker-1`` …), submits a few runs, shows
``claude-force runs list``, and keeps everything running until Ctrl+C — then stops every process
it started (SIGTERM, then SIGKILL after 10 s). ``--once`` stops right after the demo runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path


def ensure_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def make_project(dest: Path, database_url: str, redis_url: str) -> Path:
    src = Path(str(resources.files("claude_force").joinpath("sample_project")))
    shutil.copytree(src, dest / ".claude")
    config = dest / ".claude" / "claude.json"
    data = json.loads(config.read_text())
    data["cluster"] = {"database_url": database_url, "redis_url": redis_url}
    data["cache"] = {**data.get("cache", {}), "backend": "redis", "redis_url": redis_url}
    config.write_text(json.dumps(data, indent=2))
    return config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--project", type=Path, help="an existing project folder (has .claude/)")
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="claude_force_demo")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--once", action="store_true", help="stop after the demo runs")
    args = ap.parse_args(argv)

    url = ensure_database(args.admin_url, args.database)
    tmp = None
    if args.project is None:
        tmp = Path(tempfile.mkdtemp(prefix="claude-force-cluster-"))
        config = make_project(tmp, url, args.redis_url)
    else:
        config = args.project / ".claude" / "claude.json"
    env = {**os.environ, "CLAUDE_FORCE_CONFIG": str(config), "CLAUDE_FORCE_DATABASE_URL": url}
    env["CLAUDE_FORCE_REDIS_URL"] = args.redis_url
    cf = [sys.executable, "-m", "claude_force"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen([*cf, "--simulate", "serve", "--port", str(args.port)], env=env)
        )
        for i in range(1, args.workers + 1):
            procs.append(
                subprocess.Popen(
                    [
                        *cf,
                        "--simulate",
                        "worker",
                        "--id",
                        f"demo-worker-{i}",
                        "--concurrency",
                        str(args.concurrency),
                    ],
                    env=env,
                )
            )
        time.sleep(8)  # workers launch DBOS (connect, migrate) before they dequeue
        tasks = [f"Review module {n}.py for error handling" for n in ("a", "b", "c", "d", "e")]
        subprocess.run([*cf, "execute", "code-reviewer", *tasks, "--quiet"], env=env, check=False)
        subprocess.run(
            [
                *cf,
                "run-workflow",
                "code-quality-check",
                "--task",
                "Review the payment module",
                "--quiet",
            ],
            env=env,
            check=False,
        )
        subprocess.run([*cf, "runs", "list", "--limit", "10"], env=env, check=False)
        print(f"dashboard: http://127.0.0.1:{args.port}/   (Ctrl+C stops the cluster)", flush=True)
        if not args.once:
            signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops too
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
