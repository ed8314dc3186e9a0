"""Offline sentence embeddings, shared by agent recommendation and the semantic cache.

Optional: they need the ``semantic`` extra (numpy, tokenizers, safetensors) and the model
package; :func:`embeddings_available` says why not, and callers fall back (BM25 for
recommendation; the semantic cache simply stays off).
"""

from .model import (
    DISABLE_ENV,
    INSTALL_HINT,
    MODEL_NAME,
    Embedder,
    EmbeddingsUnavailable,
    embeddings_available,
    load_embedder,
    model_dir,
)

__all__ = [
    "DISABLE_ENV",
    "INSTALL_HINT",
    "MODEL_NAME",
    "Embedder",
    "EmbeddingsUnavailable",
    "embeddings_available",
    "load_embedder",
    "model_dir",
]
