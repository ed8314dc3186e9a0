"""``MemoryStore``: relevance, filters, the query cache's precise invalidation (in one process
and across connections), retention, removal, the 2.2 import, and failure modes."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_force.clock import VirtualClock, utcnow
from claude_force.errors import RunError
from claude_force.memory import MemorySettings, MemoryStore, MemoryStoreError, SearchQuery
from claude_force.memory import sqlite_backend as memsql
from claude_force.memory.records import COMMON_MIN_SESSIONS, Hit, count_cap
from claude_force.memory.store import SEARCH_BUDGET


class Clock(VirtualClock):
    """A virtual wall clock, advanced by ``timedelta`` keywords."""

    def __init__(self, start: datetime = datetime(2026, 6, 1, 12, tzinfo=UTC)) -> None:
        super().__init__(start)

    def advance(self, seconds: float = 0.0, **kw: float) -> None:
        super().advance(seconds + timedelta(**kw).total_seconds())


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(path: Path, clock: Clock, **settings_kw: Any) -> MemoryStore:
    settings_kw.setdefault("retention_days", 0)
    return MemoryStore(path, MemorySettings(**settings_kw), clock=clock)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> MemoryStore:
    s = make(tmp_path / "memory.db", clock)
    yield s
    s.close()


def tasks(hits: list[Hit]) -> list[str]:
    return [h.session.task for h in hits]


def add(store: MemoryStore, clock: Clock, agent: str, task: str, **kw: Any) -> str:
    clock.advance(minutes=1)
    kw.setdefault("model", "claude-sonnet-5-5")
    return store.add(
        agent, task, kw.pop("output", f"outcome of {task}"), kw.pop("success", True), **kw
    )


# --- relevance -----------------------------------------------------------------------------------


def test_a_session_on_the_same_topic_ranks_above_a_more_recent_unrelated_one(
    store: MemoryStore, clock: Clock
) -> None:
    add(store, clock, "rev", "Review the OAuth token refresh flow for race conditions")
    for i in range(5):
        add(store, clock, "rev", f"Write release notes for version {i} of the billing module")
    add(store, clock, "rev", "Format the changelog of the module")  # newest, unrelated
    hits = store.search(SearchQuery("race condition in the OAuth token refresh", agent="rev"))
    assert hits[0].session.task.startswith("Review the OAuth token refresh")
    assert hits[0].score > 0


def test_more_matching_terms_rank_higher_and_stemming_matches_word_forms(
    store: MemoryStore, clock: Clock
) -> None:
    add(store, clock, "rev", "Reviewing caches")
    add(store, clock, "rev", "Review cache invalidation in the Redis layer")
    add(store, clock, "rev", "Document the Redis layer")
    for i in range(4):
        add(store, clock, "rev", f"Unrelated chore number {i}")
    hits = store.search(SearchQuery("redis cache invalidation review", agent="rev", limit=3))
    assert tasks(hits)[0] == "Review cache invalidation in the Redis layer"
    assert "Reviewing caches" in tasks(hits)  # review/reviewing, cache/caches: same stems


def test_ties_go_to_the_most_recent(store: MemoryStore, clock: Clock) -> None:
    ids = [add(store, clock, "rev", "Audit the payment webhook") for _ in range(3)]
    hits = store.search(SearchQuery("payment webhook audit", agent="rev"))
    assert [h.session.id for h in hits] == ids[::-1]
    assert len({h.score for h in hits}) == 1


def test_filters_agent_success_age_and_simulated(store: MemoryStore, clock: Clock) -> None:
    add(store, clock, "rev", "old deploy pipeline fix")
    clock.advance(days=10)
    add(store, clock, "rev", "deploy pipeline fix that failed", success=False)
    add(store, clock, "ops", "deploy pipeline fix by ops")
    add(store, clock, "rev", "deploy pipeline fix offline", simulated=True)
    q = "deploy pipeline fix"
    assert tasks(store.search(SearchQuery(q, agent="rev"))) == [
        "deploy pipeline fix offline",
        "old deploy pipeline fix",
    ]
    assert "deploy pipeline fix that failed" in tasks(
        store.search(SearchQuery(q, agent="rev", success_only=False))
    )
    assert tasks(store.search(SearchQuery(q, agent="rev", max_age_days=5))) == [
        "deploy pipeline fix offline"
    ]
    assert tasks(store.search(SearchQuery(q, agent="rev", simulated=False))) == [
        "old deploy pipeline fix"
    ]
    assert len(store.search(SearchQuery(q))) == 3  # all agents, successes
    assert store.search(SearchQuery(q, agent="nobody")) == []
    assert store.search(SearchQuery("zebra", agent="rev")) == []


def test_a_query_without_searchable_words_returns_the_most_recent(
    store: MemoryStore, clock: Clock
) -> None:
    for t in ("first task", "second task", "third task"):
        add(store, clock, "rev", t)
    hits = store.search(SearchQuery("the of a", agent="rev", limit=2))
    assert tasks(hits) == ["third task", "second task"]
    assert all(h.score == 0.0 for h in hits)


def test_the_work_per_query_is_bounded(tmp_path: Path, clock: Clock) -> None:
    """With a small budget, a very common term is dropped for a rare one, and a query of only
    common terms ranks the newest matching sessions."""
    s = MemoryStore(
        tmp_path / "m.db", MemorySettings(retention_days=0), clock=clock, search_budget=3
    )
    for i in range(8):
        add(s, clock, "rev", f"common chore {i}")
    add(s, clock, "rev", "common kafka consumer lag")
    add(s, clock, "rev", "kafka producer retries")
    hits = s.search(SearchQuery("common kafka", agent="rev", limit=10))
    assert sorted(tasks(hits)) == ["common kafka consumer lag", "kafka producer retries"]
    hits = s.search(SearchQuery("common", agent="rev", limit=10))
    # only the newest 3 sessions with "common" are ranked; shorter tasks score higher
    assert tasks(hits) == ["common chore 7", "common chore 6", "common kafka consumer lag"]
    s.close()


def test_a_small_memory_is_ranked_without_counting_each_terms_matches(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the agent's sessions times the query's terms fit the budget, the plan would keep
    every term: the per-term counts are skipped, and the ranking is the same as with them."""
    s = MemoryStore(
        tmp_path / "m.db", MemorySettings(retention_days=0), clock=clock, search_budget=12
    )
    for t in ("kafka consumer lag", "kafka producer retries", "postgres vacuum", "lag alerts"):
        add(s, clock, "rev", t)
    add(s, clock, "other", "kafka everywhere")
    counted: list[tuple[str, ...]] = []
    original = memsql.SessionDB._doc_counts

    def counting(self: memsql.SessionDB, index: str, terms: Any, cap: int, n: int = 0) -> Any:
        counted.append(tuple(terms))
        return original(self, index, terms, cap, n)

    monkeypatch.setattr(memsql.SessionDB, "_doc_counts", counting)
    q = SearchQuery("kafka lag nothing", agent="rev", limit=10)  # 4 sessions x 3 terms = 12
    fast = tasks(s.search(q))
    assert counted == []
    assert fast == ["kafka consumer lag", "lag alerts", "kafka producer retries"]
    # the same query through the counted plan (a budget the sizes do not fit) ranks the same
    db = s._db
    assert isinstance(db, memsql.SessionDB)
    assert tasks(db.search(q, cutoff=None, budget=11)) == fast
    assert counted == [("kafka", "lag", "nothing")]
    # the sizes follow this connection's writes: a fifth session no longer fits 12
    add(s, clock, "rev", "kafka lag again")
    s.clear_query_cache()
    s.search(q)
    assert len(counted) == 2
    s.close()


def test_the_size_bound_is_recounted_after_another_connections_write(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    a = MemoryStore(path, MemorySettings(retention_days=0), clock=clock, search_budget=8)
    b = MemoryStore(path, MemorySettings(retention_days=0), clock=clock, search_budget=8)
    for t in ("kafka consumer lag", "kafka producer retries", "postgres vacuum", "lag alerts"):
        add(a, clock, "rev", t)
    q = SearchQuery("kafka lag", agent="rev", limit=10)  # 4 x 2 = 8: no counts needed
    counted: list[object] = []
    original = memsql.SessionDB._doc_counts

    def counting(self: memsql.SessionDB, index: str, terms: Any, cap: int, n: int = 0) -> Any:
        counted.append(terms)
        return original(self, index, terms, cap, n)

    monkeypatch.setattr(memsql.SessionDB, "_doc_counts", counting)
    assert len(a.search(q)) == 3 and counted == []
    add(b, clock, "rev", "kafka lag from another process")  # 5 x 2 > 8
    hits = a.search(q)
    assert "kafka lag from another process" in tasks(hits)
    assert len(counted) == 1
    a.close()
    b.close()


def test_words_in_half_the_sessions_or_more_are_not_searched_on(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From COMMON_MIN_SESSIONS sessions on, a task that shares only common words (BM25 idf
    clamped to 1e-6) gets no context; the per-term counts stop at half the sessions."""
    s = make(tmp_path / "m.db", clock)
    n = COMMON_MIN_SESSIONS + 10
    for i in range(n):
        add(s, clock, "rev", f"Check function f{i} of module m{i % 9} for bugs.")
    caps: list[int] = []
    original = memsql.SessionDB._doc_counts

    def counting(self: memsql.SessionDB, index: str, terms: Any, cap: int, n: int = 0) -> Any:
        caps.append(cap)
        out = original(self, index, terms, cap, n)
        assert all(df <= cap for _, df in out)
        return out

    monkeypatch.setattr(memsql.SessionDB, "_doc_counts", counting)
    task = "Check function f999 of module m77 for bugs."  # check, function, module, bugs: all
    assert s.context_with_ids("rev", task) == ("", ())
    assert s.search(SearchQuery(task, agent="rev", limit=10, informative_only=True)) == []
    assert caps == [count_cap(n, SEARCH_BUDGET)] == [n // 2]
    # "m3" is in 3 of the 30 sessions: those are found (and only those), best first
    q = SearchQuery("Check function module m3 bugs.", agent="rev", limit=10, informative_only=True)
    assert sorted(tasks(s.search(q))) == sorted(
        f"Check function f{i} of module m3 for bugs." for i in range(n) if i % 9 == 3
    )
    # a search asked for by name searches on every word, as before (the newest first)
    every = s.search(SearchQuery(task, agent="rev", limit=10))
    assert tasks(every)[:2] == [
        f"Check function f{n - 1} of module m{(n - 1) % 9} for bugs.",
        f"Check function f{n - 2} of module m{(n - 2) % 9} for bugs.",
    ]
    assert len(every) == 10 and len(caps) == 2  # a small memory for the old plan: no counts
    # another agent's sessions do not count: its own index has a single session
    add(s, clock, "other", "Check function f1 of module m1 for bugs.")
    assert len(s.context_with_ids("other", task)[1]) == 1
    s.close()


def test_a_small_memory_still_shows_sessions_sharing_common_words(
    tmp_path: Path, clock: Clock
) -> None:
    s = make(tmp_path / "m.db", clock)
    for i in range(COMMON_MIN_SESSIONS - 1):
        add(s, clock, "rev", f"Check function f{i} for bugs.")
    text, ids = s.context_with_ids("rev", "Check function f999 for bugs.")
    assert len(ids) == 3 and "f18" in text  # the newest, as before the rule
    add(s, clock, "rev", "Check function f19 for bugs.")  # now COMMON_MIN_SESSIONS
    s.clear_query_cache()
    assert s.context_with_ids("rev", "Check function f999 for bugs.") == ("", ())
    s.close()


def test_informative_terms_rank_as_bm25_over_every_term_ranks_them(
    tmp_path: Path, clock: Clock
) -> None:
    """Dropping common terms changes a score only by their clamped (1e-6 scale) share: the
    order of the sessions matching an informative term is BM25's over the whole query."""
    s = make(tmp_path / "m.db", clock)
    rare = ["kafka lag", "kafka kafka retries", "lag alerts in kafka consumers", "postgres lag"]
    for i in range(40):
        extra = rare[i // 10] if i % 10 == 0 else f"chore c{i}"
        add(s, clock, "rev", f"review the service {extra}" + " review" * (i % 3))
    q = SearchQuery("review service kafka lag", agent="rev", limit=10, informative_only=True)
    hits = s.search(q)
    db = s._db
    assert isinstance(db, memsql.SessionDB)
    index = db._index_of("rev")
    every = db.conn.execute(
        f"SELECT s.task, {index}.rank FROM {index} JOIN memory_sessions AS s "
        f"ON s.id = {index}.rowid WHERE {index} MATCH ? ORDER BY {index}.rank LIMIT 4",
        ['"review" OR "service" OR "kafka" OR "lag"'],
    ).fetchall()
    assert tasks(hits) == [t for t, _ in every]  # same sessions, same order
    for hit, (_, rank) in zip(hits, every, strict=True):
        assert hit.score == pytest.approx(-rank, abs=1e-5) and hit.score > 0.1
    s.close()


COUNTED = ["alpha", "beta", "gamma", "delta"]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.sampled_from(COUNTED), min_size=1, max_size=3)),
        st.tuples(st.just("add elsewhere"), st.lists(st.sampled_from(COUNTED), min_size=1)),
        st.tuples(st.sampled_from(["prune", "prune elsewhere"]), st.integers(0, 4)),
        st.tuples(st.just("count"), st.integers(1, 12)),
    ),
    min_size=1,
    max_size=25,
)


@given(steps=steps)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_kept_term_counts_always_equal_a_fresh_count(steps: list[tuple[str, Any]]) -> None:
    """The per-term counts a connection keeps between queries (brought up to date by counting
    only newer sessions) are those a fresh count gives, whatever the writes in between: this
    connection's, another's (seen through ``changed_elsewhere``), or deletes."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        path = Path(tmp) / "m.db"
        mine, other = make(path, clock), make(path, clock)
        db = mine._db
        assert isinstance(db, memsql.SessionDB)
        for _ in range(3):
            add(mine, clock, "rev", "alpha beta")
        for op, arg in steps:
            if op == "add":
                add(mine, clock, "rev", " ".join(arg))
            elif op == "add elsewhere":
                add(other, clock, "rev", " ".join(arg))
            elif op.startswith("prune"):  # the sessions older than ``arg`` minutes
                (mine if op == "prune" else other).prune(days=arg / 60 / 24)
            else:
                db.changed_elsewhere()  # as the store does before every query
                index = db._index_of("rev")
                assert index is not None
                got = db._doc_counts(index, COUNTED, arg)
                fresh = [
                    (
                        w,
                        min(
                            arg,
                            len(
                                db.conn.execute(
                                    f"SELECT rowid FROM {index} WHERE {index} MATCH ?", [w]
                                ).fetchall()
                            ),
                        ),
                    )
                    for w in COUNTED
                ]
                assert got == fresh
        mine.close()
        other.close()


def test_kept_term_counts_are_bounded_and_used_again(tmp_path: Path, clock: Clock) -> None:
    s = make(tmp_path / "m.db", clock)
    for i in range(40):
        add(s, clock, "rev", f"Check function f{i} for bugs.")
    db = s._db
    assert isinstance(db, memsql.SessionDB)
    s.search(SearchQuery("check bugs", agent="rev", informative_only=True))
    index = db._index_of("rev")
    assert index is not None
    kept = db._counts[index]
    assert kept["check"] == memsql._Count(20, kept["check"].upto, exact=False)  # stopped at 20
    add(s, clock, "rev", "Check function f40 for bugs.")
    s.search(SearchQuery("check bugs", agent="rev", informative_only=True))
    assert kept["check"].n == 21  # one newer session counted, not 41
    db._doc_counts(index, [f"w{i}" for i in range(memsql.COUNTED_TERMS + 5)], 10)
    assert len(kept) == memsql.COUNTED_TERMS and "check" not in kept  # the oldest went first
    s.close()


# --- the query cache -----------------------------------------------------------------------------


def test_a_write_makes_that_agents_next_query_miss_and_others_still_hit(
    store: MemoryStore, clock: Clock
) -> None:
    add(store, clock, "a", "tune the postgres index")
    add(store, clock, "b", "tune the postgres index for b")
    qa = SearchQuery("postgres index", agent="a")
    qb = SearchQuery("postgres index", agent="b")
    qall = SearchQuery("postgres index")
    for q in (qa, qb, qall):
        store.search(q)
    s0 = store.cache_stats()
    assert (s0.misses, s0.hits, s0.entries) == (3, 0, 3)
    for q in (qa, qb, qall):
        store.search(q)
    assert store.cache_stats().hits == 3

    add(store, clock, "a", "postgres index bloat")  # a write for agent a
    a_hits = store.search(qa)
    s1 = store.cache_stats()
    assert s1.misses == 4 and "postgres index bloat" in tasks(a_hits)  # a: a miss, fresh
    store.search(qb)
    assert store.cache_stats().hits == 4  # b: still a hit
    assert "postgres index bloat" in tasks(store.search(qall))  # all agents: a miss, fresh
    assert store.cache_stats().misses == 5
    assert store.cache_stats().invalidations == 2
    store.clear_query_cache()
    store.search(qb)
    assert store.cache_stats().misses == 6  # emptied: even b goes to SQLite


def test_the_age_filter_is_rechecked_on_every_hit(store: MemoryStore, clock: Clock) -> None:
    add(store, clock, "rev", "rotate the signing key")
    clock.advance(days=2)
    add(store, clock, "rev", "rotate the signing key again")
    q = SearchQuery("rotate signing key", agent="rev", max_age_days=3)
    assert len(store.search(q)) == 2
    clock.advance(days=2)  # the first session is now 4 days old
    assert tasks(store.search(q)) == ["rotate the signing key again"]
    assert store.cache_stats().hits == 1  # answered from the cache, filtered


def test_a_full_cached_result_that_lost_sessions_to_age_is_recomputed(
    store: MemoryStore, clock: Clock
) -> None:
    add(store, clock, "rev", "flaky scheduler test")  # the best match, and the oldest
    clock.advance(days=1)
    add(store, clock, "rev", "flaky test")
    add(store, clock, "rev", "flaky scheduler")
    q = SearchQuery("flaky scheduler test", agent="rev", max_age_days=3, limit=2)
    assert tasks(store.search(q)) == ["flaky scheduler test", "flaky scheduler"]
    clock.advance(days=2.5)  # the best one is now too old: the third one moves up
    assert tasks(store.search(q)) == ["flaky scheduler", "flaky test"]
    assert store.cache_stats().hits == 0


def test_writes_from_another_connection_invalidate_exactly_their_agents(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "m.db"
    mine, theirs = make(path, clock), make(path, clock)
    add(mine, clock, "a", "shard the queue")
    add(mine, clock, "b", "shard the queue for b")
    qa, qb = SearchQuery("shard queue", agent="a"), SearchQuery("shard queue", agent="b")
    mine.search(qa)
    mine.search(qb)
    add(theirs, clock, "a", "shard the queue by tenant")  # another process writes for a
    assert "shard the queue by tenant" in tasks(mine.search(qa))
    mine.search(qb)
    assert mine.cache_stats().hits == 1  # b's query still came from the cache
    theirs.clear()  # another process clears everything
    assert mine.search(qb) == [] and mine.search(qa) == []
    mine.close()
    theirs.close()


def test_a_write_landing_during_a_query_is_never_served_stale(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "m.db"
    mine, theirs = make(path, clock), make(path, clock)
    add(mine, clock, "a", "cache stampede fix")
    real = mine._db.search

    def search_then_write(*args: Any, **kw: Any) -> list[Hit]:
        result = real(*args, **kw)
        add(theirs, clock, "a", "cache stampede guard")  # commits after the read
        return result

    mine._db.search = search_then_write  # type: ignore[method-assign]
    q = SearchQuery("cache stampede", agent="a")
    assert tasks(mine.search(q)) == ["cache stampede fix"]
    mine._db.search = real  # type: ignore[method-assign]
    assert "cache stampede guard" in tasks(mine.search(q))
    mine.close()
    theirs.close()


AGENTS = ["a", "b", "c"]
WORDS = ["cache", "index", "queue", "retry", "token"]
# A small pool, so that the same query comes back after writes, prunes and clears.
QUERIES = [
    SearchQuery("cache", agent="a"),
    SearchQuery("cache index", agent="a", limit=1),
    SearchQuery("queue retry", agent="b", success_only=False),
    SearchQuery("token", agent="c", max_age_days=1.0, limit=2),
    SearchQuery("cache queue"),
    SearchQuery("index token", max_age_days=3.0, limit=2),
    SearchQuery("", agent="a", limit=2),
    SearchQuery("the", success_only=False, max_age_days=2.0),
]
op = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(AGENTS),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
        st.booleans(),
    ),
    st.tuples(st.just("search"), st.integers(0, 7)),
    st.tuples(st.just("wait"), st.floats(0.1, 2.0)),
    st.tuples(st.just("prune"), st.sampled_from([1.0, 2.0])),
    st.tuples(st.just("clear"), st.sampled_from([*AGENTS, None])),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=30))
def test_a_cached_query_never_returns_what_a_fresh_query_would_not(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[Any, ...]]
) -> None:
    clock = Clock()
    path = tmp_path_factory.mktemp("prop") / "m.db"
    cached = make(path, clock, query_cache_size=8, query_cache_max_mb=0.004)
    fresh = make(path, clock, query_cache_size=0)
    try:
        for o in ops:
            if o[0] == "add":
                _, agent, words, ok = o
                add(cached, clock, agent, " ".join(words), success=ok)
            elif o[0] == "search":
                q = QUERIES[o[1]]
                got = [(h.session.id, round(h.score, 9)) for h in cached.search(q)]
                want = [(h.session.id, round(h.score, 9)) for h in fresh.search(q)]
                assert got == want
            elif o[0] == "wait":
                clock.advance(days=o[1])
            elif o[0] == "prune":
                cached.prune(o[1])
            else:
                cached.clear(o[1])
        stats = cached.cache_stats()
        assert stats.entries <= 8 and stats.bytes <= stats.max_bytes
    finally:
        cached.close()
        fresh.close()


# --- retention and removal -----------------------------------------------------------------------


def test_prune_removes_sessions_older_than_n_days(store: MemoryStore, clock: Clock) -> None:
    add(store, clock, "rev", "ancient grpc timeout")
    clock.advance(days=40)
    add(store, clock, "rev", "recent grpc timeout")
    q = SearchQuery("grpc timeout", agent="rev")
    assert len(store.search(q)) == 2
    assert store.prune(30) == 1
    assert tasks(store.search(q)) == ["recent grpc timeout"]
    assert store.prune(30) == 0
    assert store.prune() == 0  # retention_days 0: keep everything
    with pytest.raises(ValueError):
        store.prune(-1)


def test_retention_runs_at_open_and_daily_on_writes(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "m.db"
    s = make(path, clock)
    add(s, clock, "rev", "kubernetes rollout")
    s.close()
    clock.advance(days=91)
    s = make(path, clock, retention_days=90)
    assert s.stats().sessions == 0  # pruned when opened
    add(s, clock, "rev", "kubernetes rollback")
    clock.advance(days=91)
    add(s, clock, "rev", "kubernetes canary")  # a day has passed: this write prunes
    assert [x.task for x in s.recent()] == ["kubernetes canary"]
    s.close()


def test_clear_one_agent_or_all(store: MemoryStore, clock: Clock) -> None:
    add(store, clock, "a", "redis eviction policy")
    add(store, clock, "b", "redis eviction policy too")
    q = SearchQuery("redis eviction")
    assert len(store.search(q)) == 2
    assert store.clear("a") == 1
    assert tasks(store.search(q)) == ["redis eviction policy too"]
    assert store.clear() == 1
    assert store.search(q) == [] and store.clear() == 0
    add(store, clock, "a", "redis eviction again")  # the indexes still work after a clear
    assert tasks(store.search(SearchQuery("redis eviction", agent="a"))) == ["redis eviction again"]


# --- storage -------------------------------------------------------------------------------------


def test_what_is_stored(store: MemoryStore, clock: Clock) -> None:
    token = "sk-" + "ant-" + "x" * 40
    sid = store.add(
        "rev",
        f"deploy with {token}",
        "Approach first. " + "filler " * 1000 + "Conclusion last.",
        True,
        model="claude-haiku-5-5",
        input_tokens=12,
        output_tokens=34,
        execution_time_ms=56.5,
        workflow="ship",
        metadata={"note": "Bearer " + "y" * 30},
    )
    s = store.get(sid)
    assert s is not None
    assert token not in s.task and "[REDACTED:anthropic-key]" in s.task
    assert s.metadata == {"note": "Bearer [REDACTED:bearer-token]"}
    assert len(s.summary) <= MemorySettings().summary_max_chars
    assert s.summary.startswith("Approach first.") and s.summary.endswith("Conclusion last.")
    assert (s.model, s.input_tokens, s.output_tokens, s.workflow) == (
        "claude-haiku-5-5",
        12,
        34,
        "ship",
    )
    assert s.created_at == utcnow(clock) and s.created_at.tzinfo is not None
    assert store.get("nope") is None
    stats = store.stats()
    assert (stats.sessions, stats.successful, stats.redactions) == (1, 1, 2)
    assert stats.agents == {"rev": 1} and stats.avg_execution_time_ms == 56.5
    d = stats.to_dict()
    assert d["success_rate"] == 1.0 and d["query_cache"]["max_entries"] == 256
    assert json.loads(json.dumps(d)) == d


def test_stats_of_one_agent_and_of_an_empty_memory(store: MemoryStore, clock: Clock) -> None:
    assert store.stats().sessions == 0 and store.stats().success_rate == 0.0
    assert store.stats().to_dict()["oldest"] is None
    add(store, clock, "a", "x task")
    add(store, clock, "b", "y task", success=False)
    assert store.stats("b").to_dict()["agents"] == {"b": 1}
    assert store.stats("b").successful == 0


def test_context_for_an_agent(store: MemoryStore, clock: Clock) -> None:
    add(
        store, clock, "rev", "Review the JWT validation in the gateway", output="Check exp and aud."
    )
    add(store, clock, "rev", "Review the JWT signing keys", success=False)
    text = store.context_for("rev", "Audit JWT validation")
    assert "Review the JWT validation in the gateway" in text and "Check exp and aud." in text
    assert "signing keys" not in text  # failures are not offered as examples
    assert store.context_for("rev", "Review the JWT validation in the gateway") == ""  # itself
    assert store.context_for("other", "Audit JWT validation") == ""
    off = make(store.path, clock, context_token_budget=0)
    assert off.context_for("rev", "Audit JWT validation") == ""
    off.close()


def test_sessions_of_claude_force_2_2_are_imported_once(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "sessions.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, agent_name TEXT, task TEXT, "
            "task_hash TEXT, output TEXT, success INTEGER, execution_time_ms REAL, model TEXT, "
            "input_tokens INTEGER, output_tokens INTEGER, timestamp TEXT, metadata TEXT)"
        )
        rows = [
            (
                "old-1",
                "rev",
                "Review the session cookie flags",
                "h",
                "Set HttpOnly. password=" + "p" * 12,
                1,
                12.0,
                "m",
                1,
                2,
                "2026-05-30T10:00:00",
                '{"k": 1}',
            ),
            ("old-2", "rev", "broken row", "h", "x", 1, 0, "m", 0, 0, "not a time", "{}"),
        ]
        old.executemany("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    s = make(path, clock)
    got = s.get("old-1")
    assert got is not None and got.metadata == {"k": 1} and "[REDACTED:" in got.summary
    assert s.get("old-2") is None  # an unreadable row is skipped
    assert tasks(s.search(SearchQuery("session cookie", agent="rev"))) == [
        "Review the session cookie flags"
    ]
    s.close()
    again = make(path, clock)
    assert again.stats().sessions == 1
    again.close()
    with sqlite3.connect(path) as old:
        assert old.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2  # untouched


def test_a_file_that_is_not_a_database_is_moved_aside_and_memory_starts_fresh(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not sqlite" * 100)
    s = make(path, clock)
    assert s.search(SearchQuery("x")) == []
    s.add("a", "a task", "an answer", True)
    assert s.stats().sessions == 1
    s.close()
    [aside] = tmp_path.glob("m.db.corrupt-*")
    assert aside.read_bytes() == b"this is not sqlite" * 100
    assert "moved aside" in caplog.text and str(path) in caplog.text


def test_a_database_of_another_application_is_refused_and_left_untouched(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "m.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    before = path.read_bytes()
    with pytest.raises(MemoryStoreError, match="not a claude-force agent memory") as info:
        make(path, clock).stats()
    assert isinstance(info.value, RunError)
    assert str(path) in str(info.value) and "memory.path" in (info.value.hint or "")
    assert path.read_bytes() == before


def test_an_unopenable_path_is_an_error(tmp_path: Path, clock: Clock) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(MemoryStoreError, match="cannot open"):
        make(tmp_path / "dir.db", clock).stats()


def test_a_sqlite_without_fts5_is_reported_with_the_fix(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = sqlite3.connect

    class NoFts:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn
            self.in_transaction = False

        def execute(self, sql: str, *args: Any) -> Any:
            if "fts5" in sql:
                raise sqlite3.OperationalError("no such module: fts5")
            return self.conn.execute(sql, *args)

        def close(self) -> None:
            self.conn.close()

    monkeypatch.setattr(memsql.sqlite3, "connect", lambda *a, **k: NoFts(real_connect(*a, **k)))
    with pytest.raises(MemoryStoreError, match="no FTS5") as info:
        make(tmp_path / "m.db", clock).stats()
    assert info.value.hint is not None and '"enabled": false' in info.value.hint


def test_a_failed_write_leaves_no_trace_and_the_next_one_works(
    store: MemoryStore, clock: Clock
) -> None:
    good = store.prepare("newcomer", "index the audit log", "ok", True)
    bad = replace(good, task=None)  # type: ignore[arg-type]  # violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.add_prepared([good, bad])
    assert store.stats().sessions == 0  # the whole batch rolled back
    add(store, clock, "newcomer", "index the audit log")  # the agent's index is made again
    assert tasks(store.search(SearchQuery("audit log", agent="newcomer"))) == [
        "index the audit log"
    ]


def test_a_term_proven_common_is_not_counted_again(tmp_path: Path, clock: Clock) -> None:
    """After a write, a context lookup of the agent's usual shape counts only its other words:
    a kept count that proves a term common stays proof (matches only grow); the context equals
    that of a fresh connection, which counts everything afresh."""
    s = make(tmp_path / "m.db", clock)
    for i in range(40):
        add(s, clock, "rev", f"Check function f{i} for bugs.")
    add(s, clock, "rev", "Rotate key f7 now.")
    s.context_with_ids("rev", "Check function f41 for bugs.")
    add(s, clock, "rev", "Check function f41 for bugs.")
    db = s._db
    assert isinstance(db, memsql.SessionDB)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    got = s.context_with_ids("rev", "Check function f7 for bugs.")
    db.conn.set_trace_callback(None)
    counting = [x for x in statements if "count(*)" in x and "MATCH" in x]
    assert len(counting) == 1 and counting[0].count("MATCH") == 1 and '"f7"' in counting[0]
    assert len(got[1]) == 1 and "Rotate key f7" in got[0]  # (the same task is left out)
    fresh = make(tmp_path / "m.db", clock)
    assert fresh.context_with_ids("rev", "Check function f7 for bugs.") == got
    fresh.close()
    s.close()


def test_a_word_no_session_holds_is_known_without_a_count(tmp_path: Path, clock: Clock) -> None:
    """After this connection's write, the index's terms are kept: a new task's word that no
    session holds counts 0 without a statement (stems compared: "tuned" is held, as "tuning");
    another connection's write forgets them until this one writes again."""
    s = make(tmp_path / "m.db", clock)
    for i in range(30):
        add(s, clock, "rev", f"Check function f{i} for bugs.")
    db = s._db
    assert isinstance(db, memsql.SessionDB)
    index = db._index_of("rev")
    add(s, clock, "rev", "Draft the plan")
    assert index is not None and index not in db._vocab  # no lookup on the loop searched it
    s.context_now("rev", "Check function f0 for bugs.")  # one did now (max_scored)
    add(s, clock, "rev", "Tuning the kafka consumer")
    assert index in db._vocab
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    got = s.context_with_ids("rev", "Check function f999 for bugs.")
    assert got == ("", ()) and not [x for x in statements if '"f999"' in x]
    statements.clear()
    tuned = s.context_with_ids("rev", "Tuned zookeeper quorum")
    counting = [x for x in statements if "count(*)" in x]
    assert any('"tuned"' in x for x in counting)
    assert not any('"zookeeper"' in x or '"quorum"' in x for x in counting)
    assert "Tuning the kafka consumer" in tuned[0]
    db.conn.set_trace_callback(None)
    other = make(tmp_path / "m.db", clock)
    add(other, clock, "rev", "Audit function f999 logs")
    assert "f999" in s.context_with_ids("rev", "Check function f999 for bugs.")[0]
    assert index not in db._vocab  # forgotten: another connection wrote
    add(s, clock, "rev", "Plan the rollout")  # read whole again
    add(s, clock, "rev", "Rolling upgrades, tuned")  # then grown
    grown = set(db._vocab[index][0])
    db._read_vocabulary(index)
    assert grown == db._vocab[index][0]  # the stems added are SQLite's own terms
    add(s, clock, "rev", "Réviser le schéma")  # not split here: dropped until read whole
    assert index not in db._vocab
    other.close()
    s.close()


def test_a_capped_count_and_the_newer_sessions_reach_the_cap_without_a_recount(
    tmp_path: Path, clock: Clock
) -> None:
    """A count stopped at its cap plus the newer sessions' matches is a lower bound that serves
    once it reaches the (grown) cap: the term is not counted afresh after every other write."""
    s = make(tmp_path / "m.db", clock)
    for i in range(40):
        add(s, clock, "rev", f"Check function f{i} for bugs.")
    db = s._db
    assert isinstance(db, memsql.SessionDB)
    q = SearchQuery("check zebra", agent="rev", informative_only=True)
    s.search(q)
    index = db._index_of("rev")
    assert index is not None
    before = db._counts[index]["check"]
    assert (before.n, before.exact) == (20, False)
    for i in range(40, 43):
        add(s, clock, "rev", f"Check function f{i} for bugs.")
    counted: list[str] = []
    db.conn.set_trace_callback(counted.append)
    s.search(SearchQuery("check yak", agent="rev", informative_only=True))
    db.conn.set_trace_callback(None)
    after = db._counts[index]["check"]
    assert after.n == 23 and after.upto > before.upto  # 20 kept + 3 newer, cap 22 reached
    assert not any("rowid FROM" in x and '"check"' in x and "rowid >" not in x for x in counted)
    s.close()


def test_a_task_of_stop_words_only_gets_no_context(store: MemoryStore, clock: Clock) -> None:
    """No word of "do it again" says what the task is about: no context (as for a task of
    common words only), and the database is not asked; a search by name still lists the newest."""
    for t in ("first task", "second task"):
        add(store, clock, "rev", t)
    assert store.context_with_ids("rev", "do it again") == ("", ())
    assert store.search(SearchQuery("do it again", agent="rev", informative_only=True)) == []
    assert store.cache_stats().misses == 0  # answered without a query
    assert tasks(store.search(SearchQuery("do it again", agent="rev"))) == [
        "second task",
        "first task",
    ]
