"""Project configuration: ``claude.json`` + environment → validated, typed settings.

Names load lazily: the read-only commands use :mod:`.snapshot` (standard library only) and must
not import the loader (pydantic) when the validated-settings snapshot matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .loader import ENV_OVERRIDES, ConfigWarning, find_config
    from .project import AgentDocs, Project, load_project
    from .schema import AgentSettings, ProjectSettings

__all__ = [
    "ENV_OVERRIDES",
    "AgentDocs",
    "AgentSettings",
    "ConfigWarning",
    "Project",
    "ProjectSettings",
    "find_config",
    "load_project",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ENV_OVERRIDES": ".loader",
        "ConfigWarning": ".loader",
        "find_config": ".loader",
        "AgentDocs": ".project",
        "Project": ".project",
        "load_project": ".project",
        "AgentSettings": ".schema",
        "ProjectSettings": ".schema",
    },
    __all__,
)
