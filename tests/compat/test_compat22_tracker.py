"""``PerformanceTracker``'s 2.2 surface, tested as 2.2's own suite did (unittest style)."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

from claude_force.performance_tracker import PerformanceTracker, get_tracker

MODEL = "claude-sonnet-5-5"


class TestPerformanceTrackerBounds(unittest.TestCase):
    def setUp(self) -> None:
        self.temp_dir = tempfile.mkdtemp()
        self.metrics_dir = str(Path(self.temp_dir) / ".claude" / "metrics")
        self.trackers: list[PerformanceTracker] = []

    def tearDown(self) -> None:
        for t in self.trackers:
            t.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def make(self, **kw: object) -> PerformanceTracker:
        t = PerformanceTracker(metrics_dir=self.metrics_dir, **kw)  # type: ignore[arg-type]
        self.trackers.append(t)
        return t

    def record(self, t: PerformanceTracker, i: int, success: bool = True) -> None:
        t.record_execution("agent", f"Task {i}", success, 100.0, MODEL, 1000, 500)

    def test_respects_max_entries(self) -> None:
        tracker = self.make(max_entries=100)
        for i in range(200):
            self.record(tracker, i)
        summary = tracker.get_summary()
        self.assertEqual(summary["in_memory_count"], 100)
        self.assertEqual(summary["total_executions"], 100)
        self.assertEqual(summary["max_entries"], 100)

    def test_summary_stays_correct_as_the_ring_wraps(self) -> None:
        tracker = self.make(max_entries=3, enable_persistence=False)
        for i in range(3):
            self.record(tracker, i, success=False)
        self.assertEqual(tracker.get_summary()["success_rate"], 0.0)
        for i in range(3, 5):  # two successes push two failures out
            self.record(tracker, i, success=True)
        s = tracker.get_summary()
        self.assertEqual(s["total_executions"], 3)
        self.assertEqual(s["successful_executions"], 2)
        self.assertAlmostEqual(s["success_rate"], 2 / 3, places=5)
        self.assertEqual(s["total_input_tokens"], 3000)
        one = tracker.get_cost_breakdown()["total"] / 3
        self.assertAlmostEqual(s["total_cost"], 3 * one)
        self.assertEqual(tracker.get_agent_stats()["agent"]["executions"], 3)

    def test_ring_buffer_evicts_oldest(self) -> None:
        tracker = self.make(max_entries=3)
        for i in range(1, 5):
            self.record(tracker, i)
        task_hashes = [m.task_hash for m in tracker._cache]
        self.assertEqual(len(task_hashes), 3)
        self.assertNotIn(tracker._task_hash("Task 1"), task_hashes)

    def test_memory_usage_estimate(self) -> None:
        tracker = self.make(max_entries=10000, enable_persistence=False)
        for i in range(1000):
            self.record(tracker, i)
        summary = tracker.get_summary()
        self.assertLess(summary["memory_usage_mb"], 2.0)
        self.assertGreater(summary["memory_usage_mb"], 0.5)

    def test_summary_caching(self) -> None:
        tracker = self.make(max_entries=100)
        self.record(tracker, 1)
        summary1 = tracker.get_summary()
        self.assertIs(summary1, tracker.get_summary())
        self.record(tracker, 2)
        summary3 = tracker.get_summary()
        self.assertIsNot(summary3, summary1)
        self.assertEqual(summary3["total_executions"], 2)

    def test_clear_method(self) -> None:
        tracker = self.make(max_entries=100)
        for i in range(10):
            self.record(tracker, i)
        self.assertEqual(len(tracker._cache), 10)
        tracker.clear()
        self.assertEqual(len(tracker._cache), 0)
        self.assertIsNone(tracker._summary_cache)
        self.assertTrue(tracker._cache_dirty)
        self.assertEqual(tracker.get_summary()["total_executions"], 0)

    def test_disable_persistence(self) -> None:
        tracker = self.make(max_entries=100, enable_persistence=False)
        for i in range(10):
            self.record(tracker, i)
        self.assertEqual(len(tracker._cache), 10)
        assert tracker.metrics_file is not None
        self.assertFalse(tracker.metrics_file.exists())

    def test_persistence_still_works(self) -> None:
        tracker = self.make(max_entries=100, enable_persistence=True)
        for i in range(10):
            self.record(tracker, i)
        assert tracker.metrics_file is not None
        self.assertTrue(tracker.metrics_file.exists())
        lines = tracker.metrics_file.read_text().splitlines()
        self.assertEqual(len(lines), 10)
        self.assertEqual(json.loads(lines[0])["agent_name"], "agent")

    def test_a_new_tracker_reads_the_file_back_into_its_ring(self) -> None:
        first = self.make(max_entries=100)
        for i in range(7):
            self.record(first, i)
        second = self.make(max_entries=5)
        self.assertEqual(second.get_summary()["total_executions"], 5)
        self.assertEqual(
            [m.task_hash for m in second._cache], [m.task_hash for m in list(first._cache)[2:]]
        )

    def test_clear_old_metrics(self) -> None:
        tracker = self.make(max_entries=100)
        for i in range(10):
            self.record(tracker, i)
        tracker.clear_old_metrics(days=1)
        self.assertEqual(len(tracker._cache), 10)
        tracker.clear_old_metrics(days=0)
        self.assertEqual(len(tracker._cache), 0)

    def test_clear_old_metrics_preserves_disk_data(self) -> None:
        tracker = self.make(max_entries=5, enable_persistence=True)
        for i in range(20):
            self.record(tracker, i)
        assert tracker.metrics_file is not None
        self.assertEqual(len(tracker._cache), 5)
        self.assertEqual(len(tracker.metrics_file.read_text().splitlines()), 20)
        tracker.clear_old_metrics(days=1)
        self.assertEqual(len(tracker._cache), 5)
        self.assertEqual(len(tracker.metrics_file.read_text().splitlines()), 20)
        tracker.clear_old_metrics(days=0)
        self.assertEqual(len(tracker._cache), 0)
        self.assertEqual(len(tracker.metrics_file.read_text().splitlines()), 0)

    def test_configuration_options(self) -> None:
        self.assertEqual(self.make(max_entries=50).max_entries, 50)
        self.assertFalse(self.make(enable_persistence=False).enable_persistence)
        default = self.make()
        self.assertEqual(default.max_entries, 10000)
        self.assertTrue(default.enable_persistence)

    def test_max_entries_validation(self) -> None:
        for bad in (0, -10):
            with self.assertRaises(ValueError):
                PerformanceTracker(metrics_dir=self.metrics_dir, max_entries=bad)

    def test_get_tracker_factory(self) -> None:
        t1 = get_tracker(metrics_dir=self.metrics_dir, max_entries=500)
        t2 = get_tracker(metrics_dir=self.metrics_dir, max_entries=100, enable_persistence=False)
        self.trackers += [t1, t2]
        self.assertEqual(t1.max_entries, 500)
        self.assertTrue(t1.enable_persistence)
        self.assertFalse(t2.enable_persistence)

    def test_a_2_2_metrics_file_is_read_and_repriced(self) -> None:
        path = Path(self.metrics_dir) / "executions.jsonl"
        path.parent.mkdir(parents=True)
        line = {  # what 2.2 wrote: a naive local time, a cost 1000x too low
            "timestamp": "2026-11-20T10:00:00",
            "agent_name": "python-expert",
            "task_hash": "0123abcd",
            "success": True,
            "execution_time_ms": 1200.0,
            "model": MODEL,
            "input_tokens": 1_000_000,
            "output_tokens": 0,
            "total_tokens": 1_000_000,
            "estimated_cost": 0.000003,
            "error_type": None,
            "workflow_name": None,
            "workflow_position": None,
        }
        broken = {**line, "execution_id": "x", "estimated_cost": "abc"}
        path.write_text(
            json.dumps(line) + "\n{ not json\n[1]\n" + json.dumps({"timestamp": "x"}) + "\n"
            + json.dumps(broken) + "\n"
        )  # fmt: skip
        tracker = self.make()
        s = tracker.get_summary()
        self.assertEqual(s["total_executions"], 1)
        self.assertAlmostEqual(s["total_cost"], 2.0)  # today's table: $2 per million input


if __name__ == "__main__":
    unittest.main()
