"""``claude_force.response_cache.ResponseCache``: the 2.2 API, as a migrating user calls it."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from claude_force.cache.errors import CacheBackendError, CacheConfigurationError
from claude_force.response_cache import ResponseCache


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    c = ResponseCache(cache_dir=tmp_path / "cache", ttl_hours=1, max_size_mb=1)
    yield c  # type: ignore[misc]
    c.close()


def test_set_get_and_the_returned_fields(cache: ResponseCache) -> None:
    assert cache.get("python-expert", "task", "claude-sonnet-5-5") is None
    cache.set("python-expert", "task", "claude-sonnet-5-5", "the answer", 120, 80, 0.0123)
    hit = cache.get("python-expert", "task", "claude-sonnet-5-5")
    assert hit is not None
    assert hit["response"] == "the answer"
    assert (hit["input_tokens"], hit["output_tokens"]) == (120, 80)
    assert hit["estimated_cost"] == pytest.approx(0.0123)
    assert hit["cached"] is True and hit["hit_count"] == 1
    assert hit["cache_age_seconds"] >= 0
    assert cache.get("python-expert", "task", "claude-sonnet-5-5")["hit_count"] == 2  # type: ignore[index]
    # agent, task and model are all part of the key
    assert cache.get("code-reviewer", "task", "claude-sonnet-5-5") is None
    assert cache.get("python-expert", "task2", "claude-sonnet-5-5") is None
    assert cache.get("python-expert", "task", "claude-opus-5-5") is None
    stats = cache.get_stats()
    assert (stats["hits"], stats["misses"], stats["entries"]) == (2, 4, 1)
    assert stats["hit_rate"] == "33.3%"  # a percentage string, as in 2.2
    assert stats["cost_saved_usd"] == "0.0246"  # two hits of the caller's estimated cost
    for name in ("evictions", "integrity_failures", "size_mb", "ttl_hours", "max_size_mb"):
        assert name in stats
    assert (stats["ttl_hours"], stats["max_size_mb"], stats["enabled"]) == (1, 1, True)
    assert cache.stats["hits"] == 2 and cache.size() == 1


def test_delete_clear_and_size(cache: ResponseCache) -> None:
    cache.set("a", "t1", "m", "r1", 1, 1, 0.0)
    cache.set("a", "t2", "m", "r2", 1, 1, 0.0)
    assert cache.size() == 2
    key = cache._cache_key("a", "t1", "m")
    assert cache.delete(key) is True and cache.delete(key) is False
    assert cache.size() == 1
    cache.clear()
    assert cache.size() == 0 and cache.get("a", "t2", "m") is None
    assert cache.prune() == 0


def test_statistics_and_entries_survive_a_restart(tmp_path: Path) -> None:
    with ResponseCache(cache_dir=tmp_path / "c") as first:
        first.set("a", "t", "m", "r", 1, 1, 0.5)
        assert first.get("a", "t", "m") is not None
    with ResponseCache(cache_dir=tmp_path / "c") as second:
        assert second.get("a", "t", "m") is not None
        assert second.get_stats()["hits"] == 2
    key_file = tmp_path / "c" / "cache.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_size_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    with ResponseCache(cache_dir=tmp_path / "c", max_size_mb=0.01) as c:  # ~10 KiB
        for i in range(8):
            c.set("a", f"t{i}", "m", "x" * 2000, 1, 1, 0.0)
            c.get("a", "t0", "m")  # keep t0 fresh
        s = c.get_stats()
        assert s["bytes"] <= 0.01 * 1024 * 1024 and s["evictions"] > 0
        assert c.get("a", "t0", "m") is not None and c.get("a", "t1", "m") is None


def test_disabled_and_excluded_agents(tmp_path: Path) -> None:
    with ResponseCache(cache_dir=tmp_path / "c", enabled=False) as off:
        off.set("a", "t", "m", "r", 1, 1, 0.0)
        assert off.get("a", "t", "m") is None
        assert off.get_stats()["enabled"] is False
    with ResponseCache(cache_dir=tmp_path / "d", exclude_agents=["noisy"]) as c:
        c.set("noisy", "t", "m", "r", 1, 1, 0.0)
        assert c.get("noisy", "t", "m") is None and c.size() == 0
        assert c.get_stats()["misses"] == 0


def test_a_secret_can_be_given_and_entries_of_another_secret_are_rejected(tmp_path: Path) -> None:
    with ResponseCache(cache_dir=tmp_path / "c", cache_secret="a" * 32) as a:
        a.set("x", "t", "m", "r", 1, 1, 0.0)
    with ResponseCache(cache_dir=tmp_path / "c", cache_secret="b" * 32) as b:
        assert b.get("x", "t", "m") is None
        assert b.get_stats()["integrity_failures"] == 1
    assert not (tmp_path / "c" / "cache.key").exists()  # given secrets are never written
    with pytest.raises(CacheConfigurationError, match="cache_secret"):
        ResponseCache(cache_dir=tmp_path / "c", cache_secret="short")


def test_verify_integrity_false_skips_the_signature_check(tmp_path: Path) -> None:
    with ResponseCache(cache_dir=tmp_path / "c", cache_secret="a" * 32) as a:
        a.set("x", "t", "m", "r", 1, 1, 0.0)
    with ResponseCache(
        cache_dir=tmp_path / "c", cache_secret="b" * 32, verify_integrity=False
    ) as b:
        hit = b.get("x", "t", "m")
        assert hit is not None and hit["response"] == "r"


def test_directories_outside_the_allowed_places_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Allowed places are the project, ~/.claude and the temp dir: point the last two somewhere
    # known so that the check does not depend on where the checkout lives (CI clones into /tmp).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    outside = Path(__file__).resolve().parent / "not-allowed"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CacheConfigurationError, match="cache_dir") as info:
        ResponseCache(cache_dir=outside)
    assert isinstance(info.value, ValueError)  # 2.2 raised ValueError
    assert not outside.exists()
    ok = ResponseCache(cache_dir=Path(tempfile.gettempdir()) / f"cf-compat-{os.getpid()}")
    ok.close()
    with ResponseCache(cache_dir="relative/cache") as rel:  # relative to the CWD (no project)
        assert rel.cache_dir == (tmp_path / "relative" / "cache").resolve()


def test_the_default_directory_is_the_project_state_dir(in_project: Path) -> None:
    with ResponseCache() as c:
        c.set("python-expert", "t", "claude-sonnet-5-5", "r", 1, 1, 0.0)
        assert c.cache_dir == in_project.parent / "state"
        assert repr(c).startswith("ResponseCache(cache_dir=")
    assert (in_project.parent / "state" / "cache.db").is_file()
    # inside the project any folder is allowed, and so is the state dir
    with ResponseCache(cache_dir=in_project.parent.parent / "sub" / "cache") as inside:
        assert inside.size() == 0


def test_without_a_project_the_default_is_a_private_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with ResponseCache() as c:
        c.set("a", "t", "m", "r", 1, 1, 0.0)
        assert c.cache_dir == tmp_path / "tmp" / f"claude-force-{os.getuid()}" / "cache"
        assert not (tmp_path / ".claude").exists()


def test_a_broken_project_is_ignored_for_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "claude.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    with ResponseCache(cache_dir=tmp_path / "c") as c:
        assert c.cache_dir == tmp_path / "c"


def test_response_cache_satisfies_the_2_2_protocol(cache: ResponseCache) -> None:
    from claude_force.base import CacheProtocol

    assert isinstance(cache, CacheProtocol)


def test_a_broken_cache_is_a_miss_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    conn = __import__("sqlite3").connect(folder / "cache.db")
    conn.execute("CREATE TABLE someone_elses (x)")
    conn.commit()
    conn.close()
    with ResponseCache(cache_dir=folder) as c:
        c.set("a", "t", "m", "r", 1, 1, 0.0)  # not stored, not raised
        assert c.get("a", "t", "m") is None
        assert "not a claude-force cache" in caplog.text
        with pytest.raises(CacheBackendError):
            c.get_stats()  # asking for statistics does surface the problem
