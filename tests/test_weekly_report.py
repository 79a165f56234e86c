"""The weekly report on the demo history: figures equal the metric functions, formats, schedule and CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from kb.db import Database
from kb.demo_history import play_demo_history
from kb.desk import DeskRules
from kb.errors import InvalidInput
from kb.metrics import compute_all, csv_text
from service.report import (
    build_weekly_report,
    last_complete_week,
    parse_week,
    render,
    week_filter,
    write_scheduled_report,
)

SH = ZoneInfo("Asia/Shanghai")
RULES = DeskRules()
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=SH)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(tmp_path_factory.mktemp("report") / "casewise.db")
    play_demo_history(database, RULES)
    yield database
    database.close()


@pytest.fixture(scope="module")
def report(demo: Database):
    return demo.read(lambda db: build_weekly_report(db, RULES.calendar, "2026-W47", NOW))


def test_report_figures_are_the_metric_functions(demo: Database, report) -> None:
    flt = week_filter(parse_week("2026-W47"), RULES.calendar)
    assert report.figures == demo.read(lambda db: compute_all(db, flt, RULES.calendar))
    assert render(report, "csv") == csv_text(report.figures)
    assert report.previous["filter"]["start"] == "2026-11-08T16:00:00+00:00"
    assert [week for week, _, _ in report.weekly_volume][-1] == "2026-W47" and len(report.weekly_volume) == 8


def test_markdown_holds_key_figures_sections_and_notable_tickets(report) -> None:
    text = render(report, "md")
    assert text.startswith("# 每周统计分析 Weekly support report — 2026-W47")
    assert f"| 来单 Tickets received | {report.figures['volume']['created']} |" in text
    for title in ("关键指标", "来单 Arrivals per day", "拖延原因", "工程师绩效", "故障分类", "超时工单", "重开工单",
                  "满意度最低", "最久未结"):
        assert title in text
    assert report.figures["notable"]["breaches"][0]["number"] in text


def test_html_is_self_contained_with_inline_svg_charts(report) -> None:
    page = render(report, "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") >= 8 and "<script" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", "")
    assert "A. 工程师已接单但尚未服务" in page


@pytest.mark.parametrize("text", ["2026-W99", "W47", "2026-47", "2026-W00", ""])
def test_bad_weeks_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="ISO week"):
        parse_week(text)


def test_unknown_format_is_refused(report) -> None:
    with pytest.raises(InvalidInput, match="html, md, csv"):
        render(report, "pdf")


def test_last_complete_week() -> None:
    assert last_complete_week(datetime(2026, 12, 2, 9, 0, tzinfo=SH), RULES.calendar) == "2026-W48"
    assert last_complete_week(datetime(2026, 11, 23, 0, 30, tzinfo=SH), RULES.calendar) == "2026-W47"


def test_scheduled_report_is_written_once(demo: Database, tmp_path: Path) -> None:
    runtime = SimpleNamespace(database=demo, rules=RULES)
    written = write_scheduled_report(runtime, tmp_path / "reports", NOW)
    assert sorted(p.name for p in written) == [f"casewise-weekly-2026-W47.{f}" for f in ("csv", "html", "md")]
    assert "2026-W47" in (tmp_path / "reports" / "casewise-weekly-2026-W47.md").read_text("utf-8")
    assert write_scheduled_report(runtime, tmp_path / "reports", NOW) == []
    assert not list((tmp_path / "reports").glob("*.part"))


@pytest.mark.slow
def test_cli_report(demo: Database, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    demo.backup_to(data / "casewise.db")
    env = {**os.environ, "CASEWISE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}

    def casewise(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "service.cli", "report", *args], capture_output=True,
                              text=True, env=env, timeout=300)

    printed = casewise("--week", "2026-W47", "--format", "md")
    assert printed.returncode == 0 and "Weekly support report — 2026-W47" in printed.stdout
    written = casewise("--week", "2026-W47", "--format", "html", "-o", str(tmp_path / "w47.html"))
    assert written.returncode == 0 and (tmp_path / "w47.html").read_text("utf-8").count("<svg") >= 8
    wrong = casewise("--week", "2026-W47", "--format", "pdf")
    assert wrong.returncode == 2 and "html, md, csv" in wrong.stderr
