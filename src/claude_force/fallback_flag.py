"""Whether this process fell back to the simulated model without being asked to.

Kept apart from :mod:`claude_force.providers.select` (which sets it) so that the command line
can read and reset it without importing the providers (``claude-force --help`` stays fast).
"""

from __future__ import annotations

FALLBACK_EXIT = 3
"""The command line's exit status for a run answered by an unintended simulated fallback."""

_fell_back = False


def mark() -> None:
    global _fell_back
    _fell_back = True


def fell_back() -> bool:
    """Whether a provider was chosen by an *unintended* fallback to the simulated model (no key,
    ``provider.simulate`` neither ``"auto"`` nor ``true``) since the last :func:`reset`."""
    return _fell_back


def reset() -> None:
    global _fell_back
    _fell_back = False
