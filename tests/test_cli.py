"""The `casewise` command line as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.server import free_port

pytestmark = pytest.mark.slow
CASEWISE = [sys.executable, "-m", "service.cli"]


def run(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CASEWISE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    result = subprocess.run([*CASEWISE, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"casewise {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    for command in ("init", "demo", "import-articles", "import-tickets", "index", "verify", "search",
                    "serve", "eval", "CASEWISE_EMBEDDING_MODEL"):
        assert command in result.stdout


def test_readme_configuration_table_lists_every_setting() -> None:
    from service.settings import Settings

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in Settings.model_fields if f"| `CASEWISE_{name.upper()}` |" not in table]
    assert missing == []


def test_import_index_search_verify(tmp_path: Path) -> None:
    run(tmp_path, "init")
    assert "5 imported" in run(tmp_path, "import-tickets", str(FIXTURES / "tickets.jsonl")).stdout
    assert "3 created" in run(tmp_path, "import-articles", str(FIXTURES / "articles")).stdout
    assert run(tmp_path, "verify", check=False).returncode == 1  # outbox not indexed yet
    assert "10 ticket vectors" in run(tmp_path, "index").stdout
    report = json.loads(run(tmp_path, "verify", "--json").stdout)
    assert report["healthy"] and report["missing"] == {
        "ticket": 0, "article": 0, "ticket:dense_en": 0, "article:dense_en": 0, "ticket:dense_zh": 0,
        "article:dense_zh": 0}
    found = run(tmp_path, "search", "打印机连不上 WiFi").stdout
    assert found.index("打印机无法连接无线网络") < found.index("Articles")
    assert "printer-wifi" in found


def test_bad_input_exits_2_with_a_message_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("title,body\nx,y\n", encoding="utf-8")
    result = run(tmp_path, "import-tickets", str(bad), check=False)
    assert result.returncode == 2 and "missing column(s) description, resolution" in result.stderr
    assert "Traceback" not in result.stderr
    assert run(tmp_path, "import-tickets", str(tmp_path / "nope.jsonl"), check=False).returncode == 2
    bad_md = tmp_path / "kb"
    bad_md.mkdir()
    (bad_md / "x.md").write_bytes(b"# T\n\xff\n")
    result = run(tmp_path, "import-articles", str(bad_md), check=False)
    assert result.returncode == 2 and "not valid UTF-8" in result.stderr


def test_a_setting_out_of_range_is_named_and_nothing_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CASEWISE_FEEDBACK_WEIGHT", "2")
    result = run(tmp_path, "init", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "CASEWISE_FEEDBACK_WEIGHT='2': Input should be less than or equal to 1" in result.stderr
    assert not (tmp_path / "casewise.db").exists()


def _many_tickets(path: Path, count: int) -> None:
    topics = ["打印机卡纸 E-1023", "VPN 掉线 error 812", "Outlook 密码框", "ERP 报销单审批卡住", "蓝屏 0x0000007B"]
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            record = {"id": f"bulk-{n}", "title": f"{topics[n % 5]} 第{n}次",
                      "description": f"客户 {n} 反馈：{topics[n % 5]}，影响 {n % 7} 台设备。",
                      "resolution": f"按知识库步骤处理 {n}"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("server did not come up")


def test_kill_9_during_indexing_then_restart_leaves_verify_healthy(tmp_path: Path) -> None:
    bulk = tmp_path / "bulk.jsonl"
    _many_tickets(bulk, 4000)
    run(tmp_path, "import-tickets", str(bulk))
    env = {**os.environ, "CASEWISE_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    for delay in (6.0, 9.0):  # kill while the server is still catching up on start
        port = free_port()
        server = subprocess.Popen([*CASEWISE, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        server.send_signal(signal.SIGKILL)
        server.wait()
        assert json.loads(run(tmp_path, "verify", "--json", check=False).stdout)["integrity_check"] == "ok"
    port = free_port()
    server = subprocess.Popen([*CASEWISE, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}", server)
        assert health["vectors"]["ticket"] == 8000 and health["pending_outbox"] == 0
    finally:
        server.terminate()
        server.wait(timeout=60)
    report = json.loads(run(tmp_path, "verify", "--json").stdout)
    assert report["healthy"], report
