"""The offline embedding model: same vectors as sentence-transformers, clear errors when absent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from _embed_helpers import real_embedder
from claude_force.embeddings import (
    DISABLE_ENV,
    EmbeddingsUnavailable,
    embeddings_available,
    load_embedder,
    model_dir,
)
from claude_force.embeddings import model as model_module

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


def test_vectors_match_sentence_transformers() -> None:
    """Reference vectors were computed once by sentence-transformers (PyTorch) on the same model."""
    ref = json.loads(REFERENCE.read_text())
    vectors = real_embedder().embed(ref["sentences"])
    expected = np.asarray(ref["vectors"], dtype=np.float32)
    assert vectors.shape == expected.shape == (len(ref["sentences"]), 384)
    assert np.abs(vectors - expected).max() < 1e-4
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_a_vector() -> None:
    e = real_embedder()
    texts = ["short", "a considerably longer sentence about database index tuning", "mid one"]
    together = e.embed(texts)
    alone = np.vstack([e.embed([t]) for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    assert e.embed([]).shape == (0, e.dimension)
    assert e.name == "all-MiniLM-L6-v2"


def test_paraphrases_are_closer_than_unrelated_tasks() -> None:
    v = real_embedder().embed(
        [
            "Review the login module for SQL injection",
            "Check the login code for SQL injection vulnerabilities",
            "Write a poem about the sea",
        ]
    )
    assert float(v[0] @ v[1]) > 0.7 > 0.2 > float(v[0] @ v[2])


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, "off")
    assert "switched off" in (embeddings_available() or "")
    with pytest.raises(EmbeddingsUnavailable, match="switched off") as info:
        load_embedder()
    assert info.value.exit_code == 2


def test_missing_model_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddingsUnavailable, match="not installed") as info:
        model_dir()
    assert "pip install" in info.value.one_line()
    assert "is not installed" in (embeddings_available() or "")


def test_missing_model_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    init = tmp_path / "pkg" / "__init__.py"
    init.write_text("")

    class Spec:
        origin = str(init)

    monkeypatch.setattr(model_module.importlib.util, "find_spec", lambda name: Spec())
    with pytest.raises(EmbeddingsUnavailable, match="files are missing"):
        model_dir()
    assert "files are missing" in (embeddings_available() or "")


def test_missing_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(EmbeddingsUnavailable, match="tokenizers is missing"):
        model_module.MiniLMEmbedder()
