"""Agent memory's pure parts: redaction, query terms, the match plan, the LRU query cache, and
the context builder."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_force.memory.context import (
    HEADER,
    approx_tokens,
    build_context,
    select,
    task_digest,
)
from claude_force.memory.qcache import ENTRY_OVERHEAD, QueryCache
from claude_force.memory.records import (
    COMMON_MIN_SESSIONS,
    MAX_QUERY_TERMS,
    Hit,
    MatchPlan,
    SearchQuery,
    Session,
    count_cap,
    is_common,
    match_expression,
    plan_match,
    query_terms,
)
from claude_force.memory.redact import _PATTERNS, KINDS, Redacted, marker, redact, redact_value
from claude_force.memory.store import bound_summary

# --- redaction -----------------------------------------------------------------------------------

# Fake credentials, assembled at run time so that no scanner mistakes this file for a leak.
A40 = "A1b2C3d4E5f6G7h8I9j0" * 2
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nabc123def456\n"
CASES: list[tuple[str, str, str]] = [
    ("anthropic-key", "use key {s} now", "sk-" + "ant-api03-" + A40),
    ("openai-key", "OPENAI={s}", "sk-" + "proj-" + A40),
    ("stripe-key", "stripe {s}", "sk_" + "live_" + A40[:24]),
    ("aws-access-key", "id {s} here", "AKIA" + "IOSFODNN7EXAMPLE"),
    ("aws-secret-key", "aws_secret_access_key = {s}", A40),
    ("github-token", "token {s}", "ghp_" + A40[:36]),
    ("gitlab-token", "glpat {s}", "glpat-" + A40[:20]),
    ("slack-token", "slack {s}", "xoxb-" + "123456789012-" + A40[:24]),
    ("slack-webhook", "post to {s}", "https://hooks.slack.com/services/T000/B000/" + A40[:24]),
    ("google-api-key", "maps {s}", "AIza" + A40[:35]),
    ("jwt", "cookie {s}", "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + A40[:30]),
    ("bearer-token", "Authorization: Bearer {s}", A40[:32]),
    ("authorization", "authorization: Basic {s}", "dXNlcjpwYXNzd29yZA=="),
    ("url-password", "connect to postgres://admin:{s}@db.internal/app", "hunter2hunter2"),
    ("secret-assignment", 'password = "{s}"', "correct-horse-battery"),
    (
        "private-key",
        "key:\n{s}\nend",
        "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "-----END RSA PRIVATE KEY-----",
    ),
]


def test_every_kind_has_a_case() -> None:
    assert {k for k, _, _ in CASES} == set(KINDS)


@pytest.mark.parametrize(("kind", "template", "secret"), CASES, ids=[c[0] for c in CASES])
def test_each_credential_pattern_is_redacted(kind: str, template: str, secret: str) -> None:
    text = template.format(s=secret)
    out = redact(text)
    assert secret not in out.text
    assert marker(kind) in out.text
    assert out.counts == {kind: 1}
    assert out.total == 1


def test_names_stay_and_only_values_go() -> None:
    out = redact("curl -H 'Authorization: Bearer " + A40 + "' https://user:pa55word1@x.io/p")
    assert "Authorization: Bearer [REDACTED:bearer-token]" in out.text
    assert "https://user:[REDACTED:url-password]@x.io/p" in out.text


def test_a_truncated_private_key_is_redacted_to_the_end() -> None:
    text = "here:\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY + "(output cut)"
    out = redact(text)
    assert out.text == "here:\n" + marker("private-key")


def test_specific_formats_win_over_generic_assignments() -> None:
    out = redact("api_key=" + "sk-" + "ant-" + A40)
    assert out.counts == {"anthropic-key": 1}
    assert out.text == "api_key=" + marker("anthropic-key")


@pytest.mark.parametrize(
    "text",
    [
        "Review the authentication module for SQL injection.",
        "The password field must be at least 12 characters.",
        "Rotate the API key monthly; the token lifetime is 1h.",
        "See https://example.com/docs and ssh://git@github.com/org/repo.",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text).text == text
    assert redact(text).total == 0


def _redact_without_triggers(text: str) -> Redacted:
    """The reference: every pattern runs on every text (no trigger pre-check)."""
    counts: Counter[str] = Counter()
    for kind, pattern, group in _PATTERNS:

        def sub(m: re.Match[str], kind: str = kind, group: int = group) -> str:
            if m.group(group).startswith("[REDACTED:"):
                return m.group(0)
            counts[kind] += 1
            start, end = m.span(group)
            whole, base = m.group(0), m.start()
            return whole[: start - base] + marker(kind) + whole[end - base :]

        text = pattern.sub(sub, text)
    return Redacted(text, dict(counts))


# pieces of secrets, of their names and of ordinary text, in any case and order; with the four
# characters a case-insensitive pattern reads as an ASCII letter (İ ı ſ K)
_PIECES = st.sampled_from(
    [
        *(c[2] for c in CASES),
        *(c[1].replace("{s}", "") for c in CASES),
        "sk-",
        "ant-",
        "proj-",
        "AKIA",
        "aws_secret_key",
        "ghp_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "hooks.slack.com/services/",
        "AIza",
        "eyJ",
        ".",
        "Bearer ",
        "bearer\t",
        "Authorization: Basic ",
        "://",
        "u:",
        "@",
        "password",
        "PASSWD",
        "pwd",
        "api-key",
        "client_secret",
        "auth_token",
        "private_key",
        "=",
        ": ",
        '"',
        "'",
        " ",
        "\n",
        "-----BEGIN ",
        "PRIVATE KEY",
        "-----",
        "-----END ",
        A40,
        A40[:12],
        "[REDACTED:jwt]",
        "\u0130",
        "\u0131",
        "\u017f",
        "\u212a",
        "pa\u017f\u017fword",
        "author\u0130zation",
        "aw\u017f_secret_key",
        "pa\u017f\u017fwd: hunter2hunter2",
        "ABCDEFGHIJKLMNOP",
        "0123456789",
        "_",
        "/",
        "+",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=14).map("".join))
def test_the_trigger_pre_check_never_skips_a_match(text: str) -> None:
    """A pattern is skipped only when its trigger does not occur; the result is the same as
    running every pattern on every text (the pre-check is a pure shortcut)."""
    assert redact(text) == _redact_without_triggers(text)


@pytest.mark.parametrize(
    "text",
    [
        "pa\u017f\u017fword = correct-horse-battery",
        "author\u0130zation: Basic dXNlcjpwYXNzd29yZA==",
        "aw\u017f_secret_access_key = " + A40,
        "PA\u0130D-no; pa\u017f\u017fwd: hunter2hunter2",
    ],
)
def test_case_folded_lookalikes_are_redacted(text: str) -> None:
    out = redact(text)
    assert out.total == 1
    assert "hunter2" not in out.text and "correct-horse" not in out.text
    assert A40 not in out.text and "dXNlcjpw" not in out.text


def test_the_fold_is_skipped_exactly_for_text_it_would_not_change() -> None:
    """``str.translate`` (slow: a lookup per character) runs only on text holding a character
    the fold changes; the shortcut's list is exactly the fold's."""
    from claude_force.memory.redact import _FOLD, _FOLDED, _folds

    assert {chr(c) for c in _FOLD} == set(_FOLDED)
    assert not _folds("[SIMULATED RESPONSE \u2014 generated offline] \u201cquoted\u201d caf\u00e9")
    for c in _FOLDED:
        assert _folds(f"x{c}y")
    text = "caf\u00e9 \u2014 password: hunter2hunter2"
    assert redact(text).text == "caf\u00e9 \u2014 password: [REDACTED:secret-assignment]"


def test_prose_that_names_secrets_does_not_run_the_assignment_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "secret", "key" and "token" are everyday words: without a name followed by ``:`` or
    ``=`` the costly assignment pattern is not run."""
    import claude_force.memory.redact as module

    ran: list[str] = []

    class Spy:
        def __init__(self, kind: str, pattern: re.Pattern[str]) -> None:
            self.kind, self.pattern = kind, pattern

        def sub(self, repl: Any, text: str) -> str:
            ran.append(self.kind)
            return self.pattern.sub(repl, text)

    spied = tuple((k, Spy(k, p), g) for k, p, g in module._PATTERNS)
    monkeypatch.setattr(module, "_PATTERNS", spied)
    assert redact("Secrets could reach logs: rotate the key and the tokens.").total == 0
    assert "secret-assignment" not in ran
    out = redact("the Secret_Key \t= hunter2hunter2")
    assert out.counts == {"secret-assignment": 1} and ran[-1] == "secret-assignment"


def test_redact_value_walks_json_like_values() -> None:
    counts: Counter[str] = Counter()
    value = {"a": ["x", "Bearer " + A40], "b": {"c": "password: " + A40}, "n": 3, "t": ("ok",)}
    out = redact_value(value, counts)
    assert out == {
        "a": ["x", "Bearer [REDACTED:bearer-token]"],
        "b": {"c": "password: [REDACTED:secret-assignment]"},
        "n": 3,
        "t": ["ok"],
    }
    assert counts == {"bearer-token": 1, "secret-assignment": 1}


# --- query terms and the match plan --------------------------------------------------------------


def test_query_terms_are_a_normal_form() -> None:
    a = query_terms("Review the Authentication module — for SQL-injection!")
    b = query_terms("sql injection: review authentication MODULE, module")
    assert a == b == ("authentication", "injection", "module", "review", "sql")
    assert query_terms("the a of to x 1") == ()
    assert query_terms("snake_case ümlaut 42") == ("42", "case", "snake", "ümlaut")


def test_query_terms_are_capped() -> None:
    many = " ".join(f"word{i}" for i in range(100))
    terms = query_terms(many)
    assert len(terms) == MAX_QUERY_TERMS
    assert set(terms) == {f"word{i}" for i in range(MAX_QUERY_TERMS)}  # the first ones


def test_match_expression_quotes_every_term() -> None:
    assert match_expression(["and", "or", "near"]) == '"and" OR "or" OR "near"'


def test_plan_is_exact_within_the_budget() -> None:
    plan = plan_match([("b", 3), ("a", 5), ("zero", 0)], budget=100)
    assert plan == MatchPlan(("a", "b"), windowed=False)


def test_plan_drops_the_most_common_terms_first() -> None:
    plan = plan_match([("common", 90), ("rare", 4), ("mid", 30)], budget=50)
    assert plan == MatchPlan(("mid", "rare"), windowed=False)


def test_plan_keeps_the_rarest_term_and_windows_when_it_alone_is_too_common() -> None:
    plan = plan_match([("x", 900), ("y", 700)], budget=50)
    assert plan == MatchPlan(("y",), windowed=True)
    assert plan_match([("x", 0)], budget=50).empty


def fts5_idf(df: int, sessions: int) -> float:
    """FTS5's bm25 idf of a term in ``df`` of ``sessions`` rows (fts5_aux.c, clamp included)."""
    idf = math.log((sessions - df + 0.5) / (df + 0.5))
    return idf if idf > 0 else 1e-6


@given(sessions=st.integers(0, 10_000), df=st.integers(0, 10_000))
def test_a_term_is_common_exactly_when_bm25_clamps_its_idf(sessions: int, df: int) -> None:
    df = min(df, sessions)
    if sessions < COMMON_MIN_SESSIONS:
        assert not is_common(df, sessions)  # a small memory: the rule is off
    else:
        assert is_common(df, sessions) == (fts5_idf(df, sessions) == 1e-6)


def test_common_terms_are_not_searched_on() -> None:
    n = COMMON_MIN_SESSIONS * 5  # 100 sessions
    counts = [("check", 100), ("function", 50), ("module", 49), ("races", 3)]
    assert plan_match(counts, budget=4000, sessions=n) == MatchPlan(("module", "races"))
    # only common terms: nothing is searched (no context), not the newest of them
    assert plan_match([("check", 100), ("bugs", 50)], budget=4000, sessions=n).empty
    # below the minimum the very same counts are all searched, as before the rule
    small = [("check", 19), ("bugs", 10)]
    assert plan_match(small, budget=4000, sessions=19) == MatchPlan(("bugs", "check"))
    assert plan_match(small, budget=4000) == plan_match(small, budget=4000, sessions=19)


def test_the_count_cap_is_half_the_sessions_or_one_past_the_budget() -> None:
    assert count_cap(COMMON_MIN_SESSIONS - 1, budget=4000) == 4001  # the rule is off
    assert count_cap(330, budget=4000) == 165
    assert count_cap(331, budget=4000) == 166
    assert count_cap(4000, budget=4000) == 2000
    assert count_cap(100_000, budget=4000) == 4001


term_counts = st.dictionaries(
    st.sampled_from([f"t{i}" for i in range(12)]), st.integers(0, 5000), max_size=12
)


@given(counts=term_counts, sessions=st.integers(0, 5000), budget=st.integers(1, 5000))
@settings(max_examples=300)
def test_the_plan_only_drops_common_terms_and_counting_to_the_cap_changes_nothing(
    counts: dict[str, int], sessions: int, budget: int
) -> None:
    true = [(t, min(df, sessions)) for t, df in counts.items()]
    plan = plan_match(true, budget, sessions)
    # no common term is searched; without the common terms the plan is the rule-free one
    assert not any(is_common(df, sessions) for t, df in true if t in plan.terms)
    informative = [(t, df) for t, df in true if not is_common(df, sessions)]
    assert plan == plan_match(informative, budget)
    # counts stopped at the cap give the same plan while the cap can prove commonness
    cap = count_cap(sessions, budget)
    capped = [(t, min(df, cap)) for t, df in true]
    if sessions < COMMON_MIN_SESSIONS or 2 * cap >= sessions:
        assert plan_match(capped, budget, sessions) == plan
    else:  # a memory over twice the budget: a capped count proves nothing; kept as before
        assert plan_match(capped, budget, sessions) == plan_match(capped, budget)


def test_search_query_validation_and_key() -> None:
    with pytest.raises(ValueError, match="limit"):
        SearchQuery("x", limit=0)
    with pytest.raises(ValueError, match="max_age_days"):
        SearchQuery("x", max_age_days=-1)
    a = SearchQuery("Fix  the cache", agent="a")
    b = SearchQuery("cache fix", agent="a")
    assert a.cache_key() == b.cache_key()
    assert a.cache_key() != SearchQuery("cache fix", agent="b").cache_key()
    assert a.cache_key() != SearchQuery("cache fix", agent="a", success_only=False).cache_key()


# --- the query cache -----------------------------------------------------------------------------


def test_lru_bound_on_entries() -> None:
    cache: QueryCache[str] = QueryCache(max_entries=2, max_bytes=10**6)
    for k in ("k1", "k2"):
        assert cache.put(k, "a", cache.token("a"), k, 10)
    assert cache.get("k1", "a") == "k1"  # k1 is now the most recently used
    cache.put("k3", "a", cache.token("a"), "k3", 10)
    assert cache.get("k2", "a") is None  # the least recently used went
    assert cache.get("k1", "a") == "k1" and cache.get("k3", "a") == "k3"
    assert cache.stats().evictions == 1


def test_bound_on_bytes_and_oversized_values() -> None:
    cache: QueryCache[str] = QueryCache(max_entries=100, max_bytes=3 * (ENTRY_OVERHEAD + 100))
    for i in range(5):
        cache.put(i, None, cache.token(None), "v", 100)
    assert len(cache) == 3 and cache.nbytes == 3 * (ENTRY_OVERHEAD + 100)
    assert not cache.put("big", None, cache.token(None), "v", 10**6)
    assert "big" not in [k for k in range(5)] and cache.get("big", None) is None


def test_a_write_for_one_agent_invalidates_only_its_queries_and_all_agent_queries() -> None:
    cache: QueryCache[str] = QueryCache(100, 10**6)
    for scope in ("a", "b", None):
        cache.put(("q", scope), scope, cache.token(scope), f"r-{scope}", 10)
    assert cache.invalidate("a") == 2
    assert cache.get(("q", "a"), "a") is None
    assert cache.get(("q", None), None) is None
    assert cache.get(("q", "b"), "b") == "r-b"
    s = cache.stats()
    assert (s.hits, s.misses, s.invalidations) == (1, 2, 2)


def test_a_result_computed_across_a_write_is_refused() -> None:
    cache: QueryCache[str] = QueryCache(100, 10**6)
    token = cache.token("a")  # read before the query runs
    cache.invalidate("a")  # a write lands while it runs
    assert not cache.put("q", "a", token, "stale", 10)
    assert cache.get("q", "a") is None
    assert cache.stats().stale_puts == 1
    other = cache.token("b")
    cache.invalidate("a")
    assert cache.put("q", "b", other, "fine", 10)  # b's generation did not move


def test_invalidate_all_clear_usable_and_disabled() -> None:
    cache: QueryCache[int] = QueryCache(100, 10**6)
    cache.put("x", "a", cache.token("a"), 1, 1)
    cache.put("y", "a", cache.token("a"), 2, 1)
    assert cache.get("x", "a", usable=lambda v: v > 5) is None  # rejected: a miss, and dropped
    assert len(cache) == 1
    assert cache.get("y", "b") is None  # another scope never answers
    assert cache.invalidate_all() == 1 and len(cache) == 0 and cache.nbytes == 0
    cache.put("z", "a", cache.token("a"), 3, 1)
    cache.clear()
    assert len(cache) == 0 and cache.stats().invalidations == 1
    off: QueryCache[int] = QueryCache(0, 10**6)
    assert not off.enabled and not off.put("x", None, off.token(None), 1, 1)
    with pytest.raises(ValueError):
        QueryCache(-1, 1)
    assert QueryCache(1, 1).stats().hit_rate == 0.0


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.integers(0, 12),
            st.sampled_from(["a", "b", None]),
            st.integers(0, 400),
        ),
        st.tuples(st.just("get"), st.integers(0, 12), st.sampled_from(["a", "b", None])),
        st.tuples(st.just("invalidate"), st.sampled_from(["a", "b"])),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops, max_entries=st.integers(1, 6), max_bytes=st.integers(0, 2000))
def test_bounds_always_hold(
    ops: list[tuple[object, ...]], max_entries: int, max_bytes: int
) -> None:
    cache: QueryCache[int] = QueryCache(max_entries, max_bytes)
    for op in ops:
        if op[0] == "put":
            _, key, scope, size = op
            cache.put((key, scope), scope, cache.token(scope), size, size)  # type: ignore[arg-type]
        elif op[0] == "get":
            _, key, scope = op
            value = cache.get((key, scope), scope)  # type: ignore[arg-type]
            assert value is None or isinstance(value, int)
        else:
            cache.invalidate(op[1])  # type: ignore[arg-type]
        assert len(cache) <= max_entries
        assert cache.nbytes <= max_bytes
        assert cache.nbytes == sum(e.nbytes for e in cache._entries.values())
        assert sum(len(k) for k in cache._by_scope.values()) == len(cache)


# --- context -------------------------------------------------------------------------------------

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def session(task: str, summary: str = "It went well.", i: int = 0, **kw: object) -> Session:
    return Session(
        id=f"s{i}",
        agent="rev",
        task=task,
        summary=summary,
        success=True,
        model="claude-sonnet-5-5",
        created_at=T0 + timedelta(days=i),
        **kw,  # type: ignore[arg-type]
    )


def test_context_lists_sessions_best_first_with_absolute_dates() -> None:
    text = build_context(
        [session("Review auth", "Found two issues.", 1), session("Review login", i=2)], 2000
    )
    assert text.startswith(HEADER)
    assert "## 1. 2026-05-02 · claude-sonnet-5-5" in text
    assert "Task: Review auth" in text and "Outcome: Found two issues." in text
    assert text.index("Review auth") < text.index("Review login")
    assert build_context([], 2000) == "" and build_context([session("x")], 0) == ""


def test_context_shows_the_workflow() -> None:
    assert "· workflow ship" in build_context([session("x", workflow="ship")], 500)


def test_context_truncates_the_last_outcome_or_leaves_it_out() -> None:
    long = "word " * 2000
    text = build_context([session("Review auth", long)], 300)
    assert approx_tokens(text) <= 300 and text.endswith("[…]")
    assert build_context([session("Review auth", long)], approx_tokens(HEADER) + 20) == ""


@settings(max_examples=100, deadline=None)
@given(
    summaries=st.lists(st.text(min_size=0, max_size=3000), min_size=1, max_size=6),
    budget=st.integers(1, 3000),
)
def test_context_never_exceeds_its_budget(summaries: list[str], budget: int) -> None:
    sessions = [session(f"task {i} " * (i + 1), s, i) for i, s in enumerate(summaries)]
    text = build_context(sessions, budget)
    assert approx_tokens(text) <= budget
    assert text == build_context(sessions, budget)  # deterministic


def test_select_skips_the_current_task_and_repeats() -> None:
    hits = [
        Hit(session("Review  AUTH module", i=1), 3.0),  # the task being run, spelled differently
        Hit(session("Fix login", i=2), 2.0),
        Hit(session("fix LOGIN", i=3), 1.5),  # a repeat of the previous one
        Hit(session("Add tests", i=4), 1.0),
        Hit(session("Write docs", i=5), 0.5),
    ]
    chosen = select(hits, "review auth module", 2)
    assert [s.task for s in chosen] == ["Fix login", "Add tests"]
    assert task_digest("A  b") == task_digest("a b")


def test_bound_summary_keeps_the_beginning_and_the_end() -> None:
    text = "BEGIN " + "middle " * 1000 + "END"
    out = bound_summary(text, 300)
    assert len(out) <= 300
    assert out.startswith("BEGIN") and out.endswith("END") and "[…]" in out
    assert bound_summary("  short  ", 300) == "short"


def test_the_public_names_of_the_package() -> None:
    import claude_force.memory as memory

    for name in memory.__all__:
        assert getattr(memory, name) is not None
    assert sorted(memory.__all__) == dir(memory)
    with pytest.raises(AttributeError):
        memory.nothing_here  # noqa: B018
