"""Query batches packed for BERT transformers: the matrix products read only real tokens.

A busy server encodes the queries waiting as one batch (service/suggest_batch.py). Padded, every
text of a batch is multiplied up to the longest one's length; split into groups of similar length
(`indexer.embedder.length_groups`), each group pays a model call (about 5 ms for
multilingual-e5-small). Packed, the tokens of all texts form one sequence for the linear layers,
layer norms and activations, which work token by token; only attention, which must not look
across texts, runs per text (padded, keys masked). Attention is written out (two matrix products
and a softmax): at these sizes torch's fused CPU attention kernel took about 0.7 ms a layer for 6
short texts, over a quarter of the whole encode.

Measured through Embedder.encode_queries on the bench queries (bfloat16, one thread, 60 random
batches, three rounds, against the padded graph in length groups): multilingual-e5-small, 6
Chinese queries a batch, 26.7-26.9 ms against 35.1-37.2 ms; all-minilm-l6-v2, 4 English ones,
7.9-9.3 against 10.9-12.5 ms. A text alone takes about as long as before (p50: e5 7.8-8.1 against
8.3-9.1 ms, MiniLM 3.4-4.0 against 3.3-3.9). Vectors within cosine 0.99998 of the eager model's,
and a text's vector in a batch within 0.99998 of its vector alone. The packing itself (positions,
the gather and scatter indices, the key mask) runs inside the graph, so a call is one step for the
interpreter, which the graph lets go of: a query encoded on a helper thread does not wait for the
lock between a dozen small steps (side by side with packing in Python first, the same speed: 28.0-30.2
against 27.8-30.3 ms a batch).

The graph is traced with TorchScript like indexer/traced.py's and used only after it matched the
eager model on the probe texts alone and together; any other architecture, or any mismatch, keeps
the padded path.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import torch

from indexer.traced import PROBES, agrees_with_model, transformer_of

# The position id each covered architecture starts a text at. Only BERT's layout is covered (both
# built-in torch models are BertModel); RoBERTa-style models (first position: padding id + 1) have
# the same layers but no model here to check them against, so they keep the padded path.
_FIRST_POSITION = {"bert": 0}
_MASKED = -1e30  # added to the attention logits of padding keys
ATTENTION_BUDGET = 1 << 24  # attention logits one call may hold (64 MB in float32)


class PackedEncoder:
    """A BERT transformer run on packed tokens (a frozen TorchScript graph), then the model's
    other modules (pooling, normalisation, ...) as they are."""

    packs = True  # a whole batch in one call: no length groups

    def __init__(self, graph: Any, heads: int, rest: tuple[Any, ...]) -> None:
        self._graph, self._heads, self._rest = graph, heads, rest

    def __call__(self, features: dict[str, Any]) -> Any:
        """The sentence embeddings of preprocessed (padded) texts; call under the same inference and
        autocast context as the eager model.

        Attention holds a texts x heads x length x length array of logits: a batch that would need
        more than ATTENTION_BUDGET of them is encoded in parts (16 texts of 512 tokens would take
        200 MB at once; a busy server's batch of short queries is far below it)."""
        texts, length = features["attention_mask"].shape
        per_call = max(1, ATTENTION_BUDGET // (self._heads * length * length))
        if texts <= per_call:
            return self._encode(features)
        return torch.cat([self._encode(_rows(features, start, start + per_call)) for start in range(0, texts, per_call)])

    def _encode(self, features: dict[str, Any]) -> Any:
        features = dict(features)
        features["token_embeddings"] = self._graph(features["input_ids"], features["attention_mask"])
        for module in self._rest:
            features = module(features)
        return features["sentence_embedding"]


def _rows(features: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """Texts start..end of preprocessed features (the per-text tensors sliced; the rest, such as the
    modality or the prompt's length, kept)."""
    return {name: value[start:end] if isinstance(value, torch.Tensor) else value for name, value in features.items()}


class _PackedBert(torch.nn.Module):
    """A BERT-style encoder (BertModel) over packed tokens, with its own weights."""

    def __init__(self, bert: torch.nn.Module, first_position: int) -> None:
        super().__init__()
        self.first_position = first_position
        self.embeddings = bert.embeddings
        self.layers = bert.encoder.layer
        self.heads = bert.config.num_attention_heads
        self.scale = (bert.config.hidden_size // self.heads) ** -0.5
        self.qkv = torch.nn.ModuleList(_fused_qkv(layer.attention.self) for layer in self.layers)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last hidden state of a padded batch (padding rows zero). Packing happens in the graph,
        so a call is one step for the interpreter, which the graph lets go of while it runs."""
        mask = attention_mask.bool()
        flat = mask.flatten()
        scatter = flat.nonzero().squeeze(1)  # where each real token sits in the padded batch
        # where each padded slot's row comes from: its token's packed row, or the zero row past the last
        gather = torch.where(flat, flat.cumsum(0) - 1, flat.sum()).view_as(mask)
        positions = (mask.cumsum(1) - 1 + self.first_position)[mask]
        keys = mask.logical_not().float()[:, None, None, :] * _MASKED
        embeddings = self.embeddings
        x = embeddings.LayerNorm(embeddings.word_embeddings(input_ids[mask])
                                 + embeddings.position_embeddings(positions)
                                 + embeddings.token_type_embeddings.weight[0])
        for layer, qkv in zip(self.layers, self.qkv, strict=True):
            attention = layer.attention.output
            x = attention.LayerNorm(attention.dense(self._attend(qkv(x), gather, scatter, keys)) + x)
            x = layer.output.LayerNorm(layer.output.dense(layer.intermediate(x)) + x)
        return torch.cat([x, x.new_zeros(1, x.shape[-1])])[gather]

    def _attend(self, qkv: torch.Tensor, gather: torch.Tensor, scatter: torch.Tensor,
                keys: torch.Tensor) -> torch.Tensor:
        """Each text's self-attention: packed (tokens, 3 x hidden) in, packed (tokens, hidden) out."""
        padded = torch.cat([qkv, qkv.new_zeros(1, qkv.shape[-1])])[gather]  # (texts, length, 3 x hidden)
        q, k, v = padded.unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4).unbind(0)
        logits = torch.matmul(q, k.transpose(-1, -2)) * self.scale + keys
        out = torch.matmul(torch.softmax(logits, dim=-1, dtype=torch.float32).to(v.dtype), v)
        return out.transpose(1, 2).flatten(2).flatten(0, 1)[scatter]


def _fused_qkv(attention: torch.nn.Module) -> torch.nn.Linear:
    """One linear layer computing query, key and value (one matrix product instead of three)."""
    parts = (attention.query, attention.key, attention.value)
    fused = torch.nn.Linear(parts[0].in_features, sum(part.out_features for part in parts),
                            dtype=parts[0].weight.dtype)
    with torch.no_grad():
        fused.weight.copy_(torch.cat([part.weight for part in parts]))
        fused.bias.copy_(torch.cat([part.bias for part in parts]))
    return fused


def trace_packed_encoder(model: Any, prompt: str | None, context: Callable[[], Any]) -> PackedEncoder | None:
    """A PackedEncoder for a sentence-transformers model whose transformer is a BERT (see
    _FIRST_POSITION), or None (another architecture, a failed trace, or a graph that does not match
    the eager model on PROBES). `context` makes the inference (and autocast) context."""
    first = transformer_of(model)
    config = getattr(getattr(first, "model", None), "config", None)
    if config is None or config.model_type not in _FIRST_POSITION:
        return None
    first_position = _FIRST_POSITION[config.model_type]
    example = model.preprocess([PROBES[0], PROBES[-1]], prompt=prompt)
    quiet = logging.getLogger("transformers")
    level = quiet.level
    try:
        quiet.setLevel(logging.ERROR)
        with warnings.catch_warnings(), context():
            warnings.simplefilter("ignore")  # the tracer warns about shapes read as Python values
            inputs = (example["input_ids"], example["attention_mask"])
            graph = torch.jit.freeze(torch.jit.trace(_PackedBert(first.model, first_position).eval(), inputs,
                                                     check_trace=False))
            packed = PackedEncoder(graph, config.num_attention_heads, tuple(list(model.children())[1:]))
            agree = agrees_with_model(packed, model, prompt)
    except Exception:  # noqa: BLE001 - a variant the packed layers do not follow keeps the padded path
        return None
    finally:
        quiet.setLevel(level)
    return packed if agree else None
