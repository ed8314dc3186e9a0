"""Agent recommendation (``claude-force recommend``, the 2.2 ``SemanticAgentSelector``)."""

from .bm25 import BM25
from .profiles import AgentProfile, build_profile
from .selector import AgentMatch, AgentRecommender, Method, project_profiles

__all__ = [
    "BM25",
    "AgentMatch",
    "AgentProfile",
    "AgentRecommender",
    "Method",
    "build_profile",
    "project_profiles",
]
