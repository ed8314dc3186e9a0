"""The sync API and the command line apply the 2.2 input checks too (unittest style)."""

from __future__ import annotations

import unittest
from unittest import mock

import pytest
from typer.testing import CliRunner

from claude_force.cli.app import app
from claude_force.orchestrator import AgentOrchestrator


@pytest.mark.usefixtures("project22")
class TestSyncInputChecks(unittest.TestCase):
    def test_invalid_agent_name_raises_before_anything_runs(self) -> None:
        with AgentOrchestrator(simulate=True) as orch:
            with mock.patch.object(orch.core, "load_agent_definition") as load:
                for name in ("../../etc/passwd", "agent; rm -rf /", "agent' OR '1'='1"):
                    with self.assertRaisesRegex(ValueError, "^Invalid agent name"):
                        orch.run_agent(name, "t")
            load.assert_not_called()

    def test_task_too_large(self) -> None:
        with (
            AgentOrchestrator(simulate=True) as orch,
            self.assertRaisesRegex(ValueError, "^Task too large"),
        ):
            orch.run_agent("python-expert", "x" * 100_001)

    def test_valid_input_still_runs(self) -> None:
        with AgentOrchestrator(simulate=True) as orch:
            result = orch.run_agent("python-expert", "Explain decorators")
        self.assertTrue(result.success)
        self.assertTrue(result.metadata["simulated"])


@pytest.mark.usefixtures("project22")
class TestCliInputChecks(unittest.TestCase):
    def run_cli(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    def test_run_agent_with_an_invalid_name_exits_2(self) -> None:
        code, out, err = self.run_cli("run", "agent", "../../etc/passwd", "--task", "t")
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertIn("error: Invalid agent name", err)

    def test_execute_with_a_task_too_large_exits_2(self) -> None:
        code, _, err = self.run_cli("--demo", "execute", "python-expert", "x" * 100_001)
        self.assertEqual(code, 2)
        self.assertIn("error: Task too large", err)


if __name__ == "__main__":
    unittest.main()
