"""The metrics API over a real server on the demo history: JSON, CSV, filters, errors and access."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from kb.demo_history import play_demo_history
from kb.metrics import compute_all
from kb.metrics_data import MetricFilter
from service.app import create_app
from service.routes import metrics
from service.runtime import desk_rules, open_database, open_runtime
from service.settings import Settings
from tests.conftest import make_account
from tests.server import running_server

pytestmark = pytest.mark.slow
SH = ZoneInfo("Asia/Shanghai")
W47 = {"from": "2026-11-16", "to": "2026-11-22"}
HEADERS: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[tuple[str, object]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), sync_interval_seconds=0.1,
                        english_embedding_model="", chinese_embedding_model="")
    database = open_database(settings)
    play_demo_history(database, desk_rules(settings))
    HEADERS["manager"] = make_account(database, "boss", "manager")
    HEADERS["agent"] = make_account(database, "agent1", "agent", teams=("l1-desk",))
    HEADERS["requester"] = make_account(database, "cust", "requester")
    database.close()
    runtime = open_runtime(settings, embedder_factory=lambda _: embedder, english_factory=lambda _: None)
    app = create_app(settings, runtime)
    if not any(getattr(route, "path", "") == "/api/v1/metrics" for route in app.routes):
        app.include_router(metrics.router)  # until service/app.py registers it
    with running_server(app) as url:
        yield url, runtime
    runtime.close()


def get(url: str, path: str, who: str = "manager", **params: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, headers=HEADERS.get(who, {}), timeout=60)


def test_json_holds_every_metric_and_equals_the_kb_functions(server) -> None:
    url, runtime = server
    response = get(url, "/api/v1/metrics", **W47)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"volume", "first_response_time", "resolution_time", "sla_compliance", "sla_breaches",
                         "first_contact_resolution", "resolution_rate", "reopen_rate", "escalation_rate",
                         "satisfaction", "followups", "backlog", "waiting_time", "deflection", "engineers",
                         "faults", "notable"}
    flt = MetricFilter(datetime(2026, 11, 16, tzinfo=SH), datetime(2026, 11, 23, tzinfo=SH))
    direct = runtime.database.read(lambda db: compute_all(db, flt, runtime.rules.calendar))
    assert body == json.loads(json.dumps(direct))
    assert body["volume"]["created"] == 29 and body["backlog"]["open"] == 32


def test_csv_has_one_row_per_figure_with_the_same_values(server) -> None:
    url, _ = server
    response = get(url, "/api/v1/metrics.csv", **W47)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["metric", "figure", "value"]
    values = {(m, f): v for m, f, v in rows[1:]}
    assert len(values) == len(rows) - 1
    body = get(url, "/api/v1/metrics", **W47).json()
    assert values[("first_response_time", "business_minutes.median")] == \
        str(body["first_response_time"]["business_minutes"]["median"])
    assert values[("waiting_time", "customer.waits")] == str(body["waiting_time"]["customer"]["waits"])
    assert values[("filter", "start")] == body["filter"]["start"]


def test_filters_narrow_the_tickets(server) -> None:
    url, _ = server
    everything = get(url, "/api/v1/metrics", **W47).json()
    erp = get(url, "/api/v1/metrics", team="l2-erp", **W47).json()
    assert [r["engineer"] for r in erp["engineers"]] == ["liu.yang"]
    assert erp["volume"]["created"] < everything["volume"]["created"]
    printers = get(url, "/api/v1/metrics", product="printer", priority="normal", channel="phone", **W47).json()
    assert printers["volume"]["created"] <= everything["volume"]["by_channel"].get("phone", 0)
    one = get(url, "/api/v1/metrics", engineer="li.wei", **W47).json()
    assert [r["engineer"] for r in one["engineers"]] == ["li.wei"]


def test_default_range_is_the_last_four_weeks(server) -> None:
    url, _ = server
    body = get(url, "/api/v1/metrics").json()
    start, end = (datetime.fromisoformat(body["filter"][k]) for k in ("start", "end"))
    assert (end - start).days == 28


@pytest.mark.parametrize(("params", "message"), [
    ({"priority": "asap"}, "priority is 'asap'; allowed: urgent, high, normal, low"),
    ({"channel": "fax"}, "channel is 'fax'"),
    ({"team": "nope"}, "team 'nope' does not exist; known:"),
    ({"engineer": "ghost"}, "engineer 'ghost' does not exist"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "the range is empty"),
])
def test_invalid_filters_are_422_with_a_clear_message(server, params: dict, message: str) -> None:
    for path in ("/api/v1/metrics", "/api/v1/metrics.csv"):
        response = get(server[0], path, **params)
        assert response.status_code == 422 and message in response.json()["detail"], response.text


def test_malformed_dates_are_422(server) -> None:
    response = get(server[0], "/api/v1/metrics", **{"from": "2026-13-01"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query.from"


def test_only_people_who_may_read_metrics_see_them(server) -> None:
    url, _ = server
    for who in ("requester", "agent"):
        assert get(url, "/api/v1/metrics", who).status_code == 404
        assert get(url, "/api/v1/metrics.csv", who).status_code == 404
    assert get(url, "/api/v1/metrics", "nobody").status_code == 401
