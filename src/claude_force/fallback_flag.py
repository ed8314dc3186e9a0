"""Whether this process fell back to the simulated model without being asked to.

Kept apart from :mod:`claude_force.providers.select` (which sets it) so that the command line
can read and reset it without importing the providers (``claude-force --help`` stays fast).
"""

from __future__ import annotations

FALLBACK_EXIT = 3
"""The command line's exit status for a run answered by an unintended simulated fallback."""

_chosen = False
_ran = False


def chosen() -> None:
    """The simulated model was chosen by an unintended fallback (no key, not asked for)."""
    global _chosen
    _chosen = True


def ran() -> None:
    """A run finished on the simulated model (the command line's bus subscriber says so)."""
    global _ran
    _ran = True


def mark() -> None:
    """Both at once (a batch submitted to the simulated backend by fallback)."""
    chosen()
    ran()


def fell_back() -> bool:
    """Whether runs were answered by an *unintended* fallback to the simulated model (no key,
    ``provider.simulate`` neither ``"auto"`` nor ``true``) since the last :func:`reset`;
    choosing the provider alone (``list``, ``info``, ``health``) does not count."""
    return _chosen and _ran


def reset() -> None:
    global _chosen, _ran
    _chosen = _ran = False
