"""``claude_force.response_cache`` names of 2.2 (unittest style, as 2.2's own suite)."""

from __future__ import annotations

import tempfile
import time
import unittest
from dataclasses import asdict, fields, replace
from pathlib import Path

from claude_force.response_cache import CacheEntry, ResponseCache


class TestCacheEntry(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.cache = ResponseCache(
            cache_dir=Path(self._tmp.name) / "cache", cache_secret="test_secret_0123456789"
        )

    def tearDown(self) -> None:
        self.cache.close()
        self._tmp.cleanup()

    def entry(self, **changes: object) -> CacheEntry:
        base = CacheEntry(
            key="test_key",
            agent_name="agent",
            task="task",
            model="model",
            response="response",
            input_tokens=100,
            output_tokens=50,
            estimated_cost=0.001,
            timestamp=time.time(),
            hit_count=0,
            signature="",
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def test_fields_of_2_2(self) -> None:
        self.assertEqual(
            [f.name for f in fields(CacheEntry)],
            [
                "key", "agent_name", "task", "model", "response", "input_tokens",
                "output_tokens", "estimated_cost", "timestamp", "hit_count", "signature",
            ],
        )  # fmt: skip

    def test_cache_missing_signature(self) -> None:
        self.assertIs(self.cache._verify_signature(self.entry()), False)

    def test_wrong_signature(self) -> None:
        self.assertIs(self.cache._verify_signature(self.entry(signature="0" * 64)), False)
        self.assertIs(self.cache._verify_signature(self.entry(signature="não-ascii")), False)

    def test_signed_entry_verifies_and_tampering_is_detected(self) -> None:
        entry = self.entry()
        entry.signature = self.cache._compute_signature(asdict(entry))
        self.assertTrue(self.cache._verify_signature(entry))
        entry.hit_count += 5  # a counter, not signed
        self.assertTrue(self.cache._verify_signature(entry))
        entry.response = "tampered"
        self.assertFalse(self.cache._verify_signature(entry))

    def test_another_secret_does_not_verify(self) -> None:
        entry = self.entry()
        entry.signature = self.cache._compute_signature(asdict(entry))
        other = ResponseCache(
            cache_dir=Path(self._tmp.name) / "other", cache_secret="another_secret_0123456"
        )
        try:
            self.assertFalse(other._verify_signature(entry))
        finally:
            other.close()


if __name__ == "__main__":
    unittest.main()
