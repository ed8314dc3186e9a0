"""Project configuration: ``claude.json`` + environment → validated, typed settings."""

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
