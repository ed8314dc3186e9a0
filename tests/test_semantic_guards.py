"""The semantic cache's false-hit guard (pure) and its nearest-neighbour index."""

from __future__ import annotations

import numpy as np
import pytest

from claude_force.cache.semantic import PartitionIndex, check, facts
from claude_force.cache.semantic import index as index_module


@pytest.mark.parametrize(
    ("new", "cached", "reason"),
    [
        ("Fix the bug in parser.py", "Fix the bug in lexer.py", "identifiers"),
        ("Explain the getUserById function", "Explain the get_user function", "identifiers"),
        ("Bump the version to 2.3.1", "Bump the version to 2.3.2", "numbers"),
        ("Write 10 tests", "Write 12 tests", "numbers"),
        ("Alert when errors exceed 5 percent", "Alert when errors exceed 5 seconds", "numbers"),
        ("Use recursion for the walk", "Do not use recursion for the walk", "negation"),
        ("Write the parser in Python", "Write the parser in Go", "languages, platforms"),
        ("Translate the guide into French", "Translate the guide into German", "human languages"),
        (
            "Écris une fonction qui trie une liste",
            "Write a function that sorts a list",
            "written in",
        ),
        ("Sort the records ascending", "Sort the records descending", "opposite"),
        ("Merge the monthly partitions", "Partition the table monthly", "opposite"),
        (
            "Use threads instead of asyncio in the download script",
            "Use asyncio instead of threads in the download script",
            "swapped roles",
        ),
        # the same roles read from different constructions: what one wants, the other gives up
        (
            "Replace the cron jobs with a task queue",
            "Use cron jobs instead of a task queue",
            "swapped roles",
        ),
        (
            "Copy the settings from staging to production",
            "Copy the settings from production to staging",
            "swapped roles",
        ),
        ("Drop the ORM in favour of raw queries", "Use the ORM instead of raw queries", "swapped"),
        ("Turn the callbacks into promises", "Use callbacks rather than promises", "swapped"),
        (
            "Which index speeds up the query on the customers table?",
            "Which index speeds up the query on the orders table?",
            "different subject",
        ),
        (
            "Write tests for the parser module",
            "Write tests for the parser module covering unicode input, empty files, huge files and"
            " malformed headers",
            "more than the other",
        ),
    ],
)
def test_near_misses_are_refused_with_a_reason(new: str, cached: str, reason: str) -> None:
    assert reason in (check(new, cached) or "")


@pytest.mark.parametrize(
    ("new", "cached"),
    [
        ("Write ten tests for the parser", "Write 10 tests for the parser"),
        ("Rename a column on a 200M-row table", "Rename a column on a 200 million row table"),
        ("Speed up the loop over 1,000,000 rows", "Speed up the loop over a million rows"),
        ("Create pytest tests for the invoice total", "Write pytest tests for the invoice total"),
        (
            "Check the login endpoint for SQL injection",
            "Audit the login endpoint for SQL injection",
        ),
        ("Go through this diff for unclear names", "Check this diff for unclear names"),
        # one request in several constructions: the wanted side is read, not the word order
        ("Replace the cron jobs with a task queue", "Use a task queue instead of cron jobs"),
        ("Turn the callbacks into promises", "Use promises instead of callbacks"),
        ("Drop the ORM in favor of raw queries", "Use raw queries rather than the ORM"),
        ("Move the logs from local disk to object storage", "Move the logs into object storage"),
        (
            "Alert when the error rate exceeds 5% for ten minutes",
            "Alert when the error rate exceeds 5 percent for 10 minutes",
        ),
    ],
)
def test_paraphrases_pass(new: str, cached: str) -> None:
    assert check(new, cached) is None


def test_synonyms_pass_the_subject_rule_only_with_a_similarity() -> None:
    new, cached = (
        "Review the PR for the billing flaws",
        "Review the PR for the billing vulnerabilities",
    )
    assert "different subject" in (check(new, cached) or "")
    assert check(new, cached, lambda a, b: [[0.9] * len(b) for _ in a]) is None
    assert check(new, cached, lambda a, b: [[0.1] * len(b) for _ in a]) is not None


def test_facts_normalise_what_they_compare() -> None:
    f = facts(
        "Refactor src/app/main.py (the run_app() helper) per RFC 7231 at https://x.org/a; not in Python 3.11!"
    )
    assert {"src/app/main.py", "run_app", "https://x.org/a"} <= f.identifiers
    assert {"7231", "3.11"} <= f.numbers
    assert f.negated and f.tech == {"python"} and f.written_in == "en"
    assert facts("How should we react now?").tech == frozenset()  # "react" the verb
    assert facts("Rewrite it with React").tech == {"react"}
    assert facts("Используйте список").written_in == "cyrillic"
    assert facts("").written_in == ""


def _unit(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_index_add_search_remove_and_growth() -> None:
    rng = np.random.default_rng(1)
    vecs = _unit(rng, 200)
    idx = PartitionIndex(64, capacity=4)
    for i, v in enumerate(vecs):
        idx.add(f"k{i}", f"task {i}", v, 100.0 + i)
    assert len(idx) == 200 and "k7" in idx
    best = idx.search(vecs[7], k=3)
    assert (
        best[0].key == "k7"
        and best[0].task == "task 7"
        and best[0].similarity == pytest.approx(1.0)
    )
    assert best[0].expires_at == 107.0 and best[0].similarity >= best[1].similarity
    idx.remove("k7")
    idx.remove("missing")
    assert "k7" not in idx and idx.search(vecs[7], k=1)[0].key != "k7"
    assert idx.search(vecs[199], k=1)[0].key == "k199"  # the row moved into k7's slot
    idx.add("k199", "again", vecs[0], 1.0)  # re-adding a key replaces it
    assert len(idx) == 199 and idx.search(vecs[0], k=2)[0].task in {"task 0", "again"}
    assert PartitionIndex(64).search(vecs[0]) == [] and PartitionIndex(64).exact(vecs[0]) is None


def test_prefilter_finds_the_nearest_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "PREFILTER_MIN", 50)
    monkeypatch.setattr(index_module, "CANDIDATES", 16)
    rng = np.random.default_rng(2)
    vecs = _unit(rng, 500)
    idx = PartitionIndex(64)
    for i, v in enumerate(vecs):
        idx.add(f"k{i}", "", v, 0.0)
    for i in (3, 250, 499):
        near = vecs[i] + 0.05 * _unit(rng, 1)[0]
        near /= np.linalg.norm(near)
        assert idx.search(near, k=1)[0].key == f"k{i}" == idx.exact(near)
    assert 16 <= len(idx.candidates(near)) < 4 * 16  # the cut-off keeps ties, not the world


def test_index_extends_in_one_piece_and_the_last_duplicate_wins() -> None:
    rng = np.random.default_rng(3)
    vecs = _unit(rng, 10)
    idx = PartitionIndex(64, capacity=2)
    idx.add("k0", "old", vecs[9], 1.0)
    keys = ["k0", "k1", "k2", "k1"]
    idx.extend(keys, ["t0", "t1", "t2", "t1 again"], vecs[:4], [5.0, 6.0, 7.0, 8.0])
    assert len(idx) == 3 and {"k0", "k1", "k2"} == {k for k in keys if k in idx}
    top = idx.search(vecs[0], k=1)[0]
    assert (top.key, top.task, top.expires_at) == ("k0", "t0", 5.0)  # the batch replaced "old"
    assert idx.search(vecs[3], k=1)[0].task == "t1 again" and idx.exact(vecs[9]) != "k0"
    idx.extend([], [], vecs[:0], [])
    assert len(idx) == 3


def test_near_duplicates_at_the_cut_off_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "PREFILTER_MIN", 10)
    monkeypatch.setattr(index_module, "CANDIDATES", 8)
    rng = np.random.default_rng(4)
    same = np.repeat(_unit(rng, 1), 100, axis=0)  # 100 entries at Hamming distance 0
    idx = PartitionIndex(64)
    idx.extend([f"k{i}" for i in range(100)], [""] * 100, same, [0.0] * 100)
    assert len(idx.candidates(same[0])) == 8
    assert idx.search(same[0], k=2)[0].similarity == pytest.approx(1.0)
