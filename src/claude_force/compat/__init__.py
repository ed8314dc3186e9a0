"""The claude-force 2.2 faces: adapters over :class:`claude_force.engine.AgentEngine`.

``AgentOrchestrator``, ``AsyncAgentOrchestrator``, ``HybridOrchestrator``, ``ResponseCache``,
``PerformanceTracker``, ``AgentMemory`` and the hooks 2.2 test suites patch live here. The 2.2
import paths (``claude_force.orchestrator``, ``claude_force.async_orchestrator`` …) re-export
them. Nothing below this package imports it: the engine never calls back up.
"""
