"""``PendingSessions``: could a search find a session not written yet? (the store's tokenizer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_force.memory import MemorySettings, MemoryStore
from claude_force.memory import stems as stems_mod
from claude_force.memory.pending import PendingSessions, WaitingSessions
from claude_force.memory.records import query_terms
from claude_force.memory.stems import Stems


def test_matching_follows_the_stores_tokenizer() -> None:
    pending = PendingSessions()
    assert not pending and not pending.may_match("a", ("kafka",))
    pending.add("a", "Tuning the migrations, generalization v2")
    assert pending
    assert pending.may_match("a", ("tunes",))  # the Porter stemmer: tuning ~ tunes
    assert pending.may_match("a", ("migration",))
    assert pending.may_match("a", ("generalize",))  # generalization ~ generalize: "gener"
    assert pending.may_match("a", ("v2",))
    assert pending.may_match(None, ("tuned",))  # any agent
    assert not pending.may_match("b", ("tuned",))  # another agent's session
    assert not pending.may_match("a", ("postgres", "vacuum", "2"))
    assert not pending.may_match("a", ())
    assert pending.may_match("a", ("café",))  # not split here: it may match
    # a stored task may hold redaction marks where this one holds a secret
    assert pending.may_match("a", ("redacted",)) and pending.may_match("a", ("keys",))
    pending.add("a", "Rotate the postgres credentials")  # added after a question: counted
    assert pending.may_match("a", ("postgres",))
    pending.add("c", "Réviser la base")  # not ASCII: may match anything of agent c
    assert pending.may_match("c", ("kafka",)) and pending.may_match(None, ("kafka",))
    pending.clear()
    assert not pending and not pending.may_match("a", ("postgres",))
    pending.add("b", "Vacuum")
    assert pending.may_match("b", ("vacuumed",)) and not pending.may_match("b", ("postgres",))


def test_the_waiting_sessions_a_search_may_find_are_taken_alone_in_order() -> None:
    waiting: WaitingSessions[str] = WaitingSessions()
    waiting.add("a", "Tune the postgres indexes", "s1")
    waiting.add("a", "Plan the kafka rollout", "s2")
    waiting.add("b", "Tune the kafka consumers", "s3")
    waiting.add("a", "Tuning postgres vacuum", "s4")
    waiting.add("a", "Réviser la base", "s5")  # not split here: it may hold anything
    assert waiting.take_matching("a", ("tunes",), at_most=2) is None  # three may: none taken
    assert len(waiting) == 5
    assert waiting.take_matching("a", ("tunes",), at_most=3) == ["s1", "s4", "s5"]
    assert len(waiting) == 2  # the others wait on, in their order
    assert not waiting.may_match("a", ("postgres",)) and waiting.may_match("a", ("kafka",))
    assert waiting.take_matching(None, ("kafka",), at_most=8) == ["s2", "s3"]  # any agent
    assert not waiting and waiting.take_matching("a", ("kafka",), at_most=8) == []
    # a word of the redaction marks, or a term not split here: every session of the agent
    for term in ("redacted", "café"):
        waiting.add("a", "Plan the kafka rollout", "s6")
        waiting.add("b", "Vacuum", "s7")
        assert waiting.take_matching("a", (term,), at_most=8) == ["s6"]
        assert waiting.take() == ["s7"]


def test_stems_are_sqlites_and_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    stems = Stems()
    assert stems.of(["running", "runs", "42", "cafe"]) == {"run", "42", "cafe"}
    asked: list[list[str]] = []
    real = stems._ask

    def ask(words: list[str], *, remember: bool = True) -> set[str]:
        asked.append(list(words))
        return real(words, remember=remember)

    monkeypatch.setattr(stems, "_ask", ask)
    assert stems.of(["running", "relational"]) == {"run", "relat"}
    assert asked == [["relational"]]  # "running" was known
    assert stems.of_term("tuning") == stems.of(["tunes"])  # one stem
    assert stems.of_term("café") == {"cafe"}  # any script: asked of SQLite, not remembered
    monkeypatch.setattr(stems_mod, "STEMS_REMEMBERED", 3)
    stems.of(["alpha", "beta"])  # over the bound: the memo starts again
    assert len(stems._known) <= 3


def test_a_bounded_search_refuses_when_a_waiting_session_may_match(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    store.open()
    for i in range(25):  # enough for the common-word rule
        store.add("rev", f"Review module {i} of the service", "ok", True)
    pending = PendingSessions()
    pending.add("rev", "Review the kafka consumer")
    asked: list[tuple[str, ...]] = []

    def unwritten(agent: str | None, terms: object) -> bool:
        asked.append(tuple(terms))  # type: ignore[arg-type]
        return pending.may_match(agent, tuple(terms))  # type: ignore[arg-type]

    # "kafka" is in no stored session: the plan leaves it out, the check does not
    assert store.context_now("rev", "kafka lag", unwritten=unwritten) is None
    assert any("kafka" in t for t in asked)
    # "review" and "service" are common (every session): a waiting session sharing only them
    # cannot be found; the unique module number is searched and matches no waiting session
    now = store.context_now("rev", "Review module 7 of the service", unwritten=unwritten)
    assert now is not None
    assert query_terms("Review module 7 of the service")  # (words to search on)
    # a waiting session of an agent that has none stored yet
    pending.add("new", "Draft the kafka runbook")
    assert store.context_now("new", "kafka runbook", unwritten=unwritten) is None
    assert store.context_now("new", "postgres", unwritten=unwritten) == ("", ())
    store.close()


def test_a_lookup_asks_again_after_writing_a_word_that_was_common_before(
    tmp_path: Path,
) -> None:
    """ "alpha" is in half of 20 stored sessions: common, not searched. The waiting session on
    "beta" may match, and is written; with it, "alpha" is no longer common, and the session
    still waiting on "alpha" may now be found: the lookup writes it too before it answers."""
    store = MemoryStore(tmp_path / "m.db", MemorySettings(retention_days=0))
    store.open()
    for i in range(20):
        store.add("rev", f"{'alpha' if i % 2 else 'gamma'} task {i}", "ok", True)
    waiting: WaitingSessions[str] = WaitingSessions()
    waiting.add("rev", "alpha only", "alpha only")
    waiting.add("rev", "beta only", "beta only")
    rounds: list[tuple[str, ...]] = []

    def write_waiting(agent: str | None, terms: object) -> bool:
        rounds.append(tuple(terms))  # type: ignore[arg-type]
        taken = waiting.take_matching(agent, tuple(terms), at_most=8)  # type: ignore[arg-type]
        if not taken:
            return False
        return store.add_now([store.prepare("rev", task, "ok", True) for task in taken])

    found = store.context_now(
        "rev", "alpha beta", unwritten=waiting.may_match, write_waiting=write_waiting
    )
    assert found is not None and not waiting  # both written, in two rounds
    assert len(rounds) == 2 and "alpha" not in rounds[0] and "alpha" in rounds[1]
    assert store.stats("rev").sessions == 22
    store.close()
