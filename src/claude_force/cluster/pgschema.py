"""Automatic, versioned schema of claude-force's own tables in PostgreSQL.

Each component (workers, metrics, memory) has an ordered list of migrations; the version applied
is kept in ``claude_force.schema_versions``. Applying runs under a transaction-level advisory
lock, so workers starting at the same moment do not race (``CREATE … IF NOT EXISTS`` alone is
not safe under concurrency in PostgreSQL), and a database newer than the code is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..errors import ConfigurationError

_LOCK = 0x63_66_5F_73_63  # "cf_sc"

_BASE = """
CREATE SCHEMA IF NOT EXISTS claude_force;
CREATE TABLE IF NOT EXISTS claude_force.schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def _apply(cur: psycopg.Cursor[Any], component: str, migrations: Sequence[str]) -> int:
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
    cur.execute(_BASE)
    cur.execute(
        "SELECT version FROM claude_force.schema_versions WHERE component = %s", (component,)
    )
    row = cur.fetchone()
    current = int(row[0]) if row else 0
    if current > len(migrations):
        raise ConfigurationError(
            f"the cluster database has {component} schema version {current}, newer than this "
            f"claude-force ({len(migrations)})",
            key="cluster.database_url",
            hint="upgrade claude-force on this machine to the version the other workers run",
        )
    for sql in migrations[current:]:
        cur.execute(sql)  # type: ignore[arg-type]  # our own constant DDL
    cur.execute(
        "INSERT INTO claude_force.schema_versions (component, version) VALUES (%s, %s) "
        "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
        (component, len(migrations)),
    )
    return len(migrations)


def migrate(conninfo: str, component: str, migrations: Sequence[str]) -> int:
    """Bring ``component``'s tables to the newest version; returns that version."""
    with psycopg.connect(conninfo, connect_timeout=10) as conn, conn.cursor() as cur:
        return _apply(cur, component, migrations)
