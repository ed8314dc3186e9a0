"""claude-force 2.2's command functions: ``cmd_list_agents``, ``cmd_list_workflows``, ``cmd_run_agent``.

2.2 code and test suites call these with an ``argparse.Namespace`` (``config``, ``demo``, ``quiet``,
``format``/``json``, ``agent``, ``task``, …) and patch ``claude_force.cli.AgentOrchestrator``. They
print what 2.2 printed — its text layout, or one JSON document with ``--json``/``format="json"``
(2.2 leaked banners into it; here those go to stderr) — and end as 2.2 did: ``cmd_run_agent``
exits 0 or 1 through ``sys.exit``; the list commands return, or exit 1 on an error (2 for a
configuration or usage error, the 2.3 convention). The typer commands in ``cli/`` are the CLI
itself; these functions are a face for callers that import them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

#: 2.2's column widths (``constants.COL_WIDTH_NAME`` / ``COL_WIDTH_PRIORITY``)
COL_WIDTH_NAME = 30
COL_WIDTH_PRIORITY = 10
_PRIORITY = {1: "Critical", 2: "High", 3: "Medium"}
_DEMO = "🎭 DEMO MODE - Simulated responses, no API calls"


def _orchestrator_class() -> Any:
    """``claude_force.cli.AgentOrchestrator`` at call time, so that a test's patch is used."""
    import claude_force.cli as package

    return package.AgentOrchestrator


def _config(args: argparse.Namespace) -> str:
    config = getattr(args, "config", None)
    if config is not None:
        return str(config)
    from ..config import find_config

    return str(find_config())


def _format(args: argparse.Namespace) -> str:
    """``json`` when ``--json`` or ``--format json`` was given (2.2 accepted both), else ``text``."""
    return (
        "json" if getattr(args, "json", False) else str(getattr(args, "format", "text") or "text")
    )


def _open(args: argparse.Namespace, *, announce: bool, api_key: bool = False) -> Any:
    cls = _orchestrator_class()
    kwargs: dict[str, Any] = {"config_path": _config(args)}
    if api_key:
        kwargs["anthropic_api_key"] = getattr(args, "api_key", None)
    if getattr(args, "demo", False):
        kwargs["simulate"] = True
        if announce:
            print(f"\n{_DEMO}\n", file=sys.stderr)
    return cls(**kwargs)


def _close(orchestrator: Any) -> None:
    close = getattr(orchestrator, "close", None)
    if callable(close):
        close()


def _fail(args: argparse.Namespace, exc: Exception) -> NoReturn:
    """2.2's error output: one JSON object on stdout in JSON mode, else a line on stderr."""
    from ..errors import ClaudeForceError

    if _format(args) == "json":
        print(json.dumps({"success": False, "error": str(exc)}))
    else:
        print(f"❌ Error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code if isinstance(exc, ClaudeForceError) else 1)


def _listing(args: argparse.Namespace, what: str) -> tuple[Any, bool, str]:
    """``orchestrator.list_<what>()`` for a 2.2 ``list`` command (errors end the command), with
    the command's ``--quiet`` and output format."""
    quiet = bool(getattr(args, "quiet", False))
    output_format = _format(args)
    try:
        orchestrator = _open(args, announce=not quiet and output_format != "json")
        try:
            listed = getattr(orchestrator, f"list_{what}")()
        finally:
            _close(orchestrator)
    except Exception as exc:
        _fail(args, exc)
    return listed, quiet, output_format


def cmd_list_agents(args: argparse.Namespace) -> None:
    """List the agents (2.2's ``list agents``)."""
    agents, quiet, output_format = _listing(args, "agents")
    if output_format == "json":
        print(json.dumps(agents, indent=2, default=str))
        return
    if quiet:
        return
    print("\n📋 Available Agents\n")
    print(f"{'Name':<{COL_WIDTH_NAME}} {'Priority':<{COL_WIDTH_PRIORITY}} Domains")
    print("-" * 80)
    for agent in agents:
        domains = list(agent.get("domains", []))
        shown = ", ".join(domains[:3]) + ("..." if len(domains) > 3 else "")
        label = _PRIORITY.get(agent.get("priority"), "Low")  # type: ignore[arg-type]
        print(f"{agent['name']:<{COL_WIDTH_NAME}} {label:<{COL_WIDTH_PRIORITY}} {shown}")
    print(f"\nTotal: {len(agents)} agents")


def cmd_list_workflows(args: argparse.Namespace) -> None:
    """List the workflows (2.2's ``list workflows``)."""
    workflows, quiet, output_format = _listing(args, "workflows")
    if output_format == "json":
        rows = [
            {"name": n, "agent_count": len(a), "agents": list(a), "flow": " → ".join(a)}
            for n, a in workflows.items()
        ]
        print(json.dumps(rows, indent=2))
        return
    if quiet:
        return
    print("\n🔄 Available Workflows\n")
    for name, agents in workflows.items():
        print(f"  {name}:")
        print(f"    Agents: {len(agents)}")
        print(f"    Flow: {' → '.join(agents)}")
        print()
    print(f"Total: {len(workflows)} workflows")


def _read_task(args: argparse.Namespace) -> str | None:
    from ._tasks import read_text

    task: str | None = getattr(args, "task", None)
    task_file = getattr(args, "task_file", None)
    if task_file:
        return read_text(Path(task_file), "--task-file")
    if not task and not sys.stdin.isatty():
        return sys.stdin.read()
    return task


def cmd_run_agent(args: argparse.Namespace) -> NoReturn:
    """Run one agent (2.2's ``run agent``); exits 0 on success, 1 on a failed run."""
    from ..inputs import check_run

    quiet = bool(getattr(args, "quiet", False))
    as_json = _format(args) == "json"  # 2.2 printed text then metadata for --json; now JSON only
    try:
        task = _read_task(args)
        if not task:
            print(
                "❌ Error: No task provided. Use --task, --task-file, or pipe input",
                file=sys.stderr,
            )
            sys.exit(1)
        check_run(args.agent, task)
        if not quiet:
            print(f"🚀 Running agent: {args.agent}\n", file=sys.stderr if as_json else sys.stdout)
        result = _run(args, task, quiet=quiet, as_json=as_json)
    except Exception as exc:
        _fail(args, exc)
    output = getattr(args, "output", None)
    if as_json:
        print(
            json.dumps(
                {
                    "success": result.success,
                    "agent": args.agent,
                    "output": result.output,
                    "errors": list(result.errors) if not result.success else [],
                    "metadata": result.metadata,
                },
                indent=2,
                default=str,
            )
        )
    elif not quiet:
        if result.success:
            print("✅ Agent completed successfully\n")
            print(result.output)
            if output:
                print(f"\n📝 Output saved to: {output}")
        else:
            print("❌ Agent execution failed\n", file=sys.stderr)
            for error in result.errors:
                print(f"  {error}", file=sys.stderr)
    if output and result.success and not as_json:
        Path(output).write_text(result.output, encoding="utf-8")
    sys.exit(0 if result.success else 1)


def _run(args: argparse.Namespace, task: str, *, quiet: bool, as_json: bool) -> Any:
    """Run on the orchestrator 2.2 would have used (routing when ``auto_select_model``)."""
    run_kwargs = {
        "agent_name": args.agent,
        "task": task,
        "model": getattr(args, "model", None),
        "max_tokens": getattr(args, "max_tokens", 4096),
        "temperature": getattr(args, "temperature", None),
    }
    if getattr(args, "auto_select_model", False) and not getattr(args, "demo", False):
        from ..hybrid_orchestrator import HybridOrchestrator

        hybrid = HybridOrchestrator(
            config_path=_config(args),
            anthropic_api_key=getattr(args, "api_key", None),
            auto_select_model=True,
            prefer_cheaper=True,
            cost_threshold=getattr(args, "cost_threshold", None),
        )
        try:
            if getattr(args, "estimate_cost", False):
                _show_estimate(hybrid, args, task, quiet=quiet, as_json=as_json)
            return hybrid.run_agent(**run_kwargs, auto_select=True)
        finally:
            _close(hybrid)
    orchestrator = _open(args, announce=not quiet and not as_json, api_key=True)
    try:
        return orchestrator.run_agent(**run_kwargs)
    finally:
        _close(orchestrator)


def _show_estimate(hybrid: Any, args: argparse.Namespace, task: str, *, quiet: bool,
                   as_json: bool) -> None:  # fmt: skip
    estimate = hybrid.estimate_cost(task, args.agent, getattr(args, "model", None))
    if quiet:
        return
    out = sys.stderr if as_json else sys.stdout
    cost = "unknown" if estimate.estimated_cost is None else f"${estimate.estimated_cost:.6f}"
    print("📊 Cost Estimate:\n", file=out)
    print(f"   Model: {estimate.model}", file=out)
    print(
        f"   Estimated tokens: {estimate.estimated_input_tokens:,} input + "
        f"{estimate.estimated_output_tokens:,} output",
        file=out,
    )
    print(f"   Estimated cost: {cost}\n", file=out)
    if not getattr(args, "yes", False):
        proceed = input("Proceed? [Y/n]: ").strip().lower()
        if proceed and proceed != "y":
            print("Cancelled", file=out)
            sys.exit(0)


__all__ = ["cmd_list_agents", "cmd_list_workflows", "cmd_run_agent"]
