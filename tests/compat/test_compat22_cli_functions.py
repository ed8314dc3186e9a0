"""The 2.2 command functions, called with an ``argparse.Namespace`` (unittest style)."""

from __future__ import annotations

import json
import unittest
from argparse import Namespace
from io import StringIO
from pathlib import Path
from unittest.mock import Mock, patch

import pytest

from claude_force.cli import cmd_list_agents, cmd_list_workflows, cmd_run_agent

AGENTS = [{"name": "reviewer", "priority": 1, "domains": ["review", "security", "style", "x"]}]


def run_args(**overrides: object) -> Namespace:
    base: dict[str, object] = {
        "config": None,
        "demo": False,
        "quiet": False,
        "format": "text",
        "json": False,
        "agent": "reviewer",
        "task": "Review utils.py",
        "task_file": None,
        "output": None,
        "model": None,
        "max_tokens": 4096,
        "temperature": None,
        "auto_select_model": False,
        "api_key": None,
    }
    base.update(overrides)
    return Namespace(**base)


def fake_result(success: bool, output: str = "", errors: list[str] | None = None) -> Mock:
    result = Mock()
    result.success, result.output, result.errors = success, output, errors or []
    result.metadata = {"model": "claude-sonnet-5-5"}
    return result


@patch("claude_force.cli.AgentOrchestrator")
class TestListFunctionsWithAPatchedOrchestrator(unittest.TestCase):
    def call(self, fn: object, args: Namespace) -> str:
        with patch("sys.stdout", new_callable=StringIO) as out:
            fn(args)  # type: ignore[operator]
        return out.getvalue()

    def test_quiet_prints_nothing(self, orch_class: Mock) -> None:
        orch_class.return_value.list_agents.return_value = AGENTS
        orch_class.return_value.list_workflows.return_value = {"w": ["a", "b"]}
        quiet = Namespace(config=None, demo=False, quiet=True, format="text", json=False)
        self.assertEqual(self.call(cmd_list_agents, quiet), "")
        self.assertEqual(self.call(cmd_list_workflows, quiet), "")

    def test_format_json_and_the_old_json_flag_print_one_document(self, orch_class: Mock) -> None:
        orch_class.return_value.list_agents.return_value = AGENTS
        for args in (
            Namespace(config=None, demo=False, quiet=False, format="json", json=False),
            Namespace(config=None, demo=False, quiet=False, format="text", json=True),
        ):
            self.assertEqual(json.loads(self.call(cmd_list_agents, args)), AGENTS)

    def test_workflows_json_has_the_2_2_shape(self, orch_class: Mock) -> None:
        orch_class.return_value.list_workflows.return_value = {"w": ["a", "b"]}
        args = Namespace(config=None, demo=False, quiet=False, format="json", json=False)
        self.assertEqual(
            json.loads(self.call(cmd_list_workflows, args)),
            [{"name": "w", "agent_count": 2, "agents": ["a", "b"], "flow": "a → b"}],
        )

    def test_text_is_the_2_2_table(self, orch_class: Mock) -> None:
        orch_class.return_value.list_agents.return_value = AGENTS
        text = self.call(cmd_list_agents, Namespace(config="x", demo=False, quiet=False))
        self.assertIn("📋 Available Agents", text)
        self.assertIn("reviewer" + " " * 23 + "Critical", text)
        self.assertIn("review, security, style...", text)
        self.assertIn("Total: 1 agents", text)
        orch_class.assert_called_with(config_path="x")

    def test_an_error_is_one_json_object_and_exit_1(self, orch_class: Mock) -> None:
        orch_class.side_effect = RuntimeError("boom")
        args = Namespace(config=None, demo=False, quiet=False, format="json", json=False)
        with (
            patch("sys.stdout", new_callable=StringIO) as out,
            self.assertRaises(SystemExit) as exit_info,
        ):
            cmd_list_agents(args)
        self.assertEqual(exit_info.exception.code, 1)
        self.assertEqual(json.loads(out.getvalue()), {"success": False, "error": "boom"})


@patch("sys.stdin.isatty", return_value=True)
@patch("claude_force.cli.AgentOrchestrator")
class TestRunAgentFunction(unittest.TestCase):
    def call(self, args: Namespace) -> tuple[int, str, str]:
        with (
            patch("sys.stdout", new_callable=StringIO) as out,
            patch("sys.stderr", new_callable=StringIO) as err,
            self.assertRaises(SystemExit) as exit_info,
        ):
            cmd_run_agent(args)
        return int(exit_info.exception.code or 0), out.getvalue(), err.getvalue()

    def test_json_success(self, orch_class: Mock, _tty: Mock) -> None:
        orch_class.return_value.run_agent.return_value = fake_result(True, "All good")
        code, out, _ = self.call(run_args(format="json"))
        data = json.loads(out)  # one document: the banner went to stderr
        self.assertEqual(code, 0)
        self.assertEqual(
            (data["success"], data["agent"], data["output"], data["errors"]),
            (True, "reviewer", "All good", []),
        )
        kwargs = orch_class.return_value.run_agent.call_args.kwargs
        self.assertEqual((kwargs["agent_name"], kwargs["task"]), ("reviewer", "Review utils.py"))

    def test_json_failure_exits_1(self, orch_class: Mock, _tty: Mock) -> None:
        orch_class.return_value.run_agent.return_value = fake_result(False, errors=["Bad"])
        code, out, _ = self.call(run_args(format="json", quiet=True))
        self.assertEqual(code, 1)
        self.assertEqual(json.loads(out)["errors"], ["Bad"])

    def test_text_output_and_output_file(self, orch_class: Mock, _tty: Mock) -> None:
        orch_class.return_value.run_agent.return_value = fake_result(True, "Result text")
        out_file = Path(self.id().replace(".", "_") + ".txt")
        try:
            code, out, _ = self.call(run_args(output=str(out_file)))
            self.assertEqual(code, 0)
            self.assertIn("🚀 Running agent: reviewer", out)
            self.assertIn("✅ Agent completed successfully", out)
            self.assertIn("Result text", out)
            self.assertEqual(out_file.read_text(), "Result text")
        finally:
            out_file.unlink(missing_ok=True)

    def test_failure_text_goes_to_stderr(self, orch_class: Mock, _tty: Mock) -> None:
        orch_class.return_value.run_agent.return_value = fake_result(False, errors=["Oops"])
        code, _, err = self.call(run_args())
        self.assertEqual(code, 1)
        self.assertIn("❌ Agent execution failed", err)
        self.assertIn("  Oops", err)

    def test_input_checks_exit_2_before_the_orchestrator_is_made(
        self, orch_class: Mock, _tty: Mock
    ) -> None:
        code, out, _ = self.call(run_args(agent="../../etc/passwd", format="json"))
        self.assertEqual(code, 2)
        self.assertTrue(json.loads(out)["error"].startswith("Invalid agent name"))
        code, _, err = self.call(run_args(task="x" * 100_001))
        self.assertEqual(code, 2)
        self.assertIn("Task too large", err)
        orch_class.assert_not_called()

    def test_no_task(self, orch_class: Mock, _tty: Mock) -> None:
        code, _, err = self.call(run_args(task=None))
        self.assertEqual(code, 1)
        self.assertIn("No task provided", err)


@pytest.mark.usefixtures("project22")
class TestRunAgentFunctionOnARealProject(unittest.TestCase):
    def test_demo_runs_the_simulated_model(self) -> None:
        with (
            patch("sys.stdout", new_callable=StringIO) as out,
            patch("sys.stdin.isatty", return_value=True),
            self.assertRaises(SystemExit) as exit_info,
        ):
            cmd_run_agent(run_args(agent="python-expert", demo=True, format="json"))
        self.assertEqual(exit_info.exception.code, 0)
        data = json.loads(out.getvalue())
        self.assertTrue(data["success"] and data["metadata"]["simulated"])

    def test_auto_select_model_routes_and_shows_the_estimate(self) -> None:
        args = run_args(
            agent="python-expert",
            task="Fix typo in README",
            format="json",
            auto_select_model=True,
            estimate_cost=True,
            yes=True,
            cost_threshold=None,
        )
        with (
            patch("sys.stdout", new_callable=StringIO) as out,
            patch("sys.stderr", new_callable=StringIO) as err,
            patch("sys.stdin.isatty", return_value=True),
            self.assertRaises(SystemExit) as exit_info,
        ):
            cmd_run_agent(args)
        self.assertEqual(exit_info.exception.code, 0)
        data = json.loads(out.getvalue())  # the estimate went to stderr
        self.assertEqual(data["metadata"]["routing"]["complexity"], "simple")
        self.assertIn("📊 Cost Estimate:", err.getvalue())

    def test_list_agents_reads_the_project(self) -> None:
        with patch("sys.stdout", new_callable=StringIO) as out:
            cmd_list_agents(Namespace(config=None, demo=False, quiet=False, json=True))
        names = [a["name"] for a in json.loads(out.getvalue())]
        self.assertEqual(names, ["code-reviewer", "python-expert", "document-writer-expert"])


if __name__ == "__main__":
    unittest.main()
