"""Agent recommendation: which of the project's agents fit a task, ranked by meaning.

With the embedding model (the ``semantic`` extra) a task is compared with every view of every
agent's profile (see :mod:`.profiles`); an agent's confidence is the cosine similarity of its
best-matching view blended with its next best ones. Without it, BM25 over the same views ranks
by shared words — a clear, labelled fallback (``method == "bm25"``).

The agents' vectors are cached in the project's state directory, one entry per agent keyed by a
fingerprint of its profile text and the model: changing a definition re-embeds that agent only.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..embeddings import Embedder, EmbeddingsUnavailable, load_embedder
from .bm25 import BM25, tokens
from .profiles import AgentProfile, build_profile

if TYPE_CHECKING:
    from ..config import Project

log = logging.getLogger(__name__)

Method = Literal["embeddings", "bm25"]
VECTORS_FILE = "agent_vectors.json"
BEST_WEIGHT = 0.7  # confidence = 0.7 * best view + 0.3 * mean of the next two (see docs/cli.md)
BM25_SCALE = 6.0  # BM25 confidence = 1 - exp(-score / scale): monotone, 0…1, not a probability


@dataclass(frozen=True, slots=True)
class AgentMatch:
    """One recommended agent (the 2.2 ``claude_force.semantic_selector.AgentMatch`` fields first)."""

    agent_name: str
    confidence: float
    reasoning: str
    domains: list[str]
    priority: int
    method: Method = "embeddings"
    evidence: str = ""  # the profile view that matched best
    rank: int = 0
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "agent": self.agent_name,
            "confidence": round(self.confidence, 4),
            "method": self.method,
            "reasoning": self.reasoning,
            "domains": list(self.domains),
            "priority": self.priority,
            "evidence": self.evidence,
        }


def _level(confidence: float) -> str:
    return "strong" if confidence >= 0.55 else "good" if confidence >= 0.4 else "weak"


def _reasoning(task: str, profile: AgentProfile, confidence: float, method: Method) -> str:
    words = set(tokens(task))
    named = [d for d in profile.domains if words.issuperset(tokens(d.replace("-", " ")) or ["\0"])]
    what = "semantic similarity" if method == "embeddings" else "keyword overlap (BM25 fallback)"
    parts = [f"{_level(confidence)} {what} {confidence:.2f}"]
    if named:
        parts.append("task mentions " + ", ".join(named))
    return "; ".join(parts)


def project_profiles(project: Project) -> list[AgentProfile]:
    """The profile of every agent whose definition can be read (others are skipped, logged)."""
    out: list[AgentProfile] = []
    for name, spec in project.settings.agents.items():
        try:
            definition = project.read_agent(name).definition
        except Exception as exc:  # one broken definition must not hide the other agents
            log.warning("agent '%s' left out of recommendations: %s", name, exc)
            definition = ""
        out.append(
            build_profile(
                name,
                definition,
                description=spec.description,
                domains=spec.domains,
                priority=spec.priority,
            )
        )
    return out


class VectorCache:
    """Agents' view vectors on disk, keyed by profile fingerprint (JSON, float32 in base64)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, dict[str, Any]] = {}
        self.loaded = 0  # agents served from the file (for tests and --explain)
        self.computed = 0
        if path is not None and path.is_file():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                agents = raw.get("agents", {}) if isinstance(raw, dict) else {}
                self._data = {k: v for k, v in agents.items() if isinstance(v, dict)}
            except (OSError, ValueError) as exc:
                log.info("ignoring unreadable %s: %s", path, exc)

    def get(self, name: str, fingerprint: str, dim: int) -> list[list[float]] | None:
        import numpy as np

        entry = self._data.get(name)
        if not entry or entry.get("fingerprint") != fingerprint:
            return None
        try:
            flat = np.frombuffer(base64.b64decode(entry["vectors"]), dtype=np.float32)
            rows: list[list[float]] = flat.reshape(-1, dim).tolist()
        except (KeyError, ValueError, TypeError):
            return None
        self.loaded += 1
        return rows

    def put(self, name: str, fingerprint: str, vectors: Any) -> None:
        import numpy as np

        blob = np.ascontiguousarray(vectors, dtype=np.float32).tobytes()
        self._data[name] = {"fingerprint": fingerprint, "vectors": base64.b64encode(blob).decode()}
        self.computed += 1

    def save(self, keep: Sequence[str]) -> None:
        if self.path is None:
            return
        data = {"version": 1, "agents": {k: v for k, v in self._data.items() if k in keep}}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".agent_vectors.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only project still gets recommendations
            log.info("could not write %s: %s", self.path, exc)


class AgentRecommender:
    """Ranks a project's agents for a task; offline, deterministic for a given model."""

    def __init__(
        self,
        profiles: Sequence[AgentProfile],
        *,
        embedder: Embedder | None = None,
        use_embeddings: bool = True,
        cache_path: Path | None = None,
    ) -> None:
        self.profiles = list(profiles)
        self.fallback_reason: str | None = None
        self._embedder = embedder
        if embedder is None and use_embeddings:
            try:
                self._embedder = load_embedder()
            except EmbeddingsUnavailable as exc:
                self.fallback_reason = str(exc)
        elif embedder is None:
            self.fallback_reason = "embeddings not requested"
        self.cache = VectorCache(cache_path)
        self._vectors: Any = None  # (views, dim) matrix
        self._owner: list[int] = []  # view row -> profile index
        self._bm25: BM25 | None = None

    @classmethod
    def for_project(
        cls, project: Project, *, embedder: Embedder | None = None, use_embeddings: bool = True
    ) -> AgentRecommender:
        return cls(
            project_profiles(project),
            embedder=embedder,
            use_embeddings=use_embeddings,
            cache_path=project.state_dir / VECTORS_FILE,
        )

    @property
    def method(self) -> Method:
        return "embeddings" if self._embedder is not None else "bm25"

    # --- indexes ----------------------------------------------------------------------------------

    def _embedding_index(self, embedder: Embedder) -> Any:
        import numpy as np

        if self._vectors is not None:
            return self._vectors
        rows: list[Any] = []
        owner: list[int] = []
        for i, profile in enumerate(self.profiles):
            fp = profile.fingerprint(embedder.name)
            cached = self.cache.get(profile.name, fp, embedder.dimension)
            if cached is None or len(cached) != len(profile.views):
                vectors = embedder.embed(list(profile.views))
                self.cache.put(profile.name, fp, vectors)
                cached = vectors.tolist()
            rows.extend(cached)
            owner.extend([i] * len(cached))
        if self.cache.computed:
            self.cache.save([p.name for p in self.profiles])
        self._vectors = np.asarray(rows, dtype=np.float32).reshape(-1, embedder.dimension)
        self._owner = owner
        return self._vectors

    def _embedding_scores(self, task: str, embedder: Embedder) -> list[tuple[float, str]]:
        import numpy as np

        matrix = self._embedding_index(embedder)
        query = embedder.embed([task])[0]
        sims = matrix @ query if len(matrix) else np.zeros(0, dtype=np.float32)
        per_agent: list[list[tuple[float, str]]] = [[] for _ in self.profiles]
        for row, agent in enumerate(self._owner):
            per_agent[agent].append((float(sims[row]), ""))
        out: list[tuple[float, str]] = []
        for i, profile in enumerate(self.profiles):
            pairs = sorted(
                ((s, profile.views[j]) for j, (s, _) in enumerate(per_agent[i])), reverse=True
            )
            if not pairs:
                out.append((0.0, ""))
                continue
            best = pairs[0][0]
            rest = [s for s, _ in pairs[1:3]] or [best]
            score = BEST_WEIGHT * best + (1.0 - BEST_WEIGHT) * (sum(rest) / len(rest))
            out.append((max(0.0, min(1.0, score)), pairs[0][1]))
        return out

    def _bm25_scores(self, task: str) -> list[tuple[float, str]]:
        if self._bm25 is None:
            self._bm25 = BM25([p.document for p in self.profiles])
        raw = self._bm25.scores(task)
        return [(1.0 - math.exp(-s / BM25_SCALE), "") for s in raw]

    # --- ranking ----------------------------------------------------------------------------------

    def rank(self, task: str) -> list[AgentMatch]:
        """Every agent, best first (confidence, then priority, then name)."""
        if not task.strip():
            raise ValueError("task is empty: describe what you want done")
        method = self.method
        if self._embedder is not None:
            scored = self._embedding_scores(task, self._embedder)
        else:
            scored = self._bm25_scores(task)
        order = sorted(
            range(len(self.profiles)),
            key=lambda i: (
                -round(scored[i][0], 6),
                self.profiles[i].priority,
                self.profiles[i].name,
            ),
        )
        out: list[AgentMatch] = []
        for rank, i in enumerate(order, start=1):
            profile = self.profiles[i]
            confidence, evidence = scored[i]
            out.append(
                AgentMatch(
                    agent_name=profile.name,
                    confidence=confidence,
                    reasoning=_reasoning(task, profile, confidence, method),
                    domains=list(profile.domains),
                    priority=profile.priority,
                    method=method,
                    evidence=evidence,
                    rank=rank,
                )
            )
        return out

    def recommend(self, task: str, top_k: int = 3, min_confidence: float = 0.3) -> list[AgentMatch]:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
        return [m for m in self.rank(task) if m.confidence >= min_confidence][:top_k]
