"""Helpers for tests that use the embedding model, and a small fake embedder that counts calls."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from claude_force.embeddings import embeddings_available, load_embedder
from claude_force.embeddings.model import Embedder
from conftest import REQUIRE_SERVICES


def real_embedder() -> Embedder:
    """The installed model; CI (CLAUDE_FORCE_REQUIRE_SERVICES=1) fails without it, others skip."""
    why = embeddings_available()
    if why is not None:
        message = f"the embedding model is not available: {why}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (make dev installs it)")
        pytest.skip(message)
    return load_embedder()


class FakeEmbedder:
    """Bag-of-words vectors (each word hashed to one of 64 axes): shared words, similar vectors."""

    name = "fake-bow"
    dimension = 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm:
                out[i] /= norm
        return out

    @property
    def embedded(self) -> int:
        return sum(len(c) for c in self.calls)
