"""Agent memory on the cluster's PostgreSQL: full-text relevance, exactly-once sessions, and the
query cache of one process invalidated by another's writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from _cluster_helpers import pg_database
from claude_force.cluster.pg_memory import PgSessionDB, tsquery_of
from claude_force.memory.records import COMMON_MIN_SESSIONS, SearchQuery
from claude_force.memory.store import MemoryStore

pytestmark = pytest.mark.services


@pytest.fixture
def url() -> Iterator[str]:
    with pg_database("cf_memory") as u:
        yield u


def _store(url: str, tmp_path: Path) -> MemoryStore:
    return MemoryStore(tmp_path / "unused.db", db=PgSessionDB(url))


def test_sessions_are_searched_by_relevance_and_stored_once(url: str, tmp_path: Path) -> None:
    store = _store(url, tmp_path)
    a = store.add("bug", "crash in the payment parser", "fixed the parser", True, session_id="s1")
    store.add("bug", "crash in the payment parser", "again", True, session_id="s1")  # a re-run
    store.add("bug", "slow login page", "cached the session", True, session_id="s2")
    store.add("bug", "parser parser parser crash", "x", False, session_id="s3")
    store.add("doc", "write the parser guide", "done", True)
    hits = store.search(SearchQuery("parser crash", agent="bug", success_only=True, limit=5))
    assert [h.session.id for h in hits] == [a]  # s3 failed; s2 does not match
    every = store.search(SearchQuery("parser", success_only=False, limit=10))
    assert {h.session.agent for h in every} == {"bug", "doc"} and len(every) == 3
    newest = store.search(SearchQuery("", agent="bug", success_only=False, limit=10))
    assert newest[0].session.id == "s3"
    assert store.get("s2") is not None and store.get("nope") is None
    assert [s.id for s in store.recent("bug", limit=2)] == ["s3", "s2"]
    stats = store.stats()
    assert stats.sessions == 4 and stats.location.startswith("postgresql://")
    assert "postgres@" not in stats.location  # no user or password shown
    assert store.context_for("bug", "payment parser crash")  # relevant past success found
    assert store.clear("doc") == 1
    assert store.prune(days=0) == 3
    assert store.clear() == 0
    store.close()


def test_another_process_write_invalidates_the_query_cache(url: str, tmp_path: Path) -> None:
    one, two = _store(url, tmp_path), _store(url, tmp_path)
    q = SearchQuery("flamingo", agent="bug", limit=5)
    assert one.search(q) == []
    assert one.search(q) == []  # cached
    assert one.cache_stats().hits == 1
    two.add("bug", "flamingo in the logs", "found it", True)
    assert [h.session.task for h in one.search(q)] == ["flamingo in the logs"]
    two.clear()
    assert one.search(q) == []
    one.close()
    two.close()


def test_tsquery_terms_are_plain_words() -> None:
    assert tsquery_of(["parser", "crash!", "a&b", "parser"]) == "parser | crash | a | b"
    assert tsquery_of(["&|!"]) == ""


def test_words_in_half_the_sessions_or_more_are_not_searched_on(url: str, tmp_path: Path) -> None:
    """The SQLite backend's rule, on PostgreSQL: from COMMON_MIN_SESSIONS sessions of an agent
    on, a task sharing only common words finds nothing; rare words still find their sessions."""
    store = _store(url, tmp_path)
    task = "Check function f999 of module m77 for bugs."
    for i in range(COMMON_MIN_SESSIONS - 1):
        store.add("rev", f"Check function f{i} of module m{i % 9} for bugs.", "ok", True)
    assert len(store.context_with_ids("rev", task)[1]) == 3  # a small memory: as before
    for i in range(COMMON_MIN_SESSIONS - 1, 30):
        store.add("rev", f"Check function f{i} of module m{i % 9} for bugs.", "ok", True)
    assert store.context_with_ids("rev", task) == ("", ())
    assert store.search(SearchQuery(task, agent="rev", limit=10, informative_only=True)) == []
    assert len(store.search(SearchQuery(task, agent="rev", limit=10))) == 10  # every word
    q = SearchQuery("check module m3 for bugs", agent="rev", limit=10, informative_only=True)
    hits = store.search(q)
    assert sorted(h.session.task for h in hits) == sorted(
        f"Check function f{i} of module m3 for bugs." for i in range(30) if i % 9 == 3
    )
    db = store._db
    assert isinstance(db, PgSessionDB)
    assert db._doc_counts("rev", ["check", "m3", "the"], 7) == [("check", 7), ("m3", 3), ("the", 0)]
    assert db._indexed(None) == 30
    store.add("other", "Check function f1 of module m1 for bugs.", "ok", True)
    assert len(store.context_with_ids("other", task)[1]) == 1
    assert db._indexed(None) == 31  # recounted after a write
    store.close()
