"""The ``claude-force`` command line (typer + rich); heavy modules load lazily.

The 2.2 command functions (``cmd_list_agents``, ``cmd_list_workflows``, ``cmd_run_agent``) and the
``AgentOrchestrator`` name they use (2.2 test suites patch ``claude_force.cli.AgentOrchestrator``)
are attributes of this package, imported at first access.
"""

from .._lazy import lazy_exports

__all__ = ["AgentOrchestrator", "cmd_list_agents", "cmd_list_workflows", "cmd_run_agent", "main"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AgentOrchestrator": "..orchestrator",
        "cmd_list_agents": ".compat22",
        "cmd_list_workflows": ".compat22",
        "cmd_run_agent": ".compat22",
    },
    __all__,
)


def main() -> None:
    import os

    from . import _gc

    _gc.pause()  # off while the process starts, frozen at exit: see cli/_gc.py
    # The CLI's own settings models need no pydantic plugin, and looking for plugins reads the
    # metadata of every installed distribution (tens of ms per command). An explicit
    # PYDANTIC_DISABLE_PLUGINS is kept; the Python API never sets it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from .app import run

    run()
