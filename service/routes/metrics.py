"""Support metrics API: every figure as JSON (for the dashboard) and as CSV (one row per figure).

The figures come from `kb.metrics`, the same functions the weekly report and the notebook use.
Dates are local days of the desk's calendar; `to` is inclusive. Without dates the range is the
last 28 days up to now. Only people with the `metrics.read` permission see metrics; for anyone
else the endpoints do not exist (404).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kb.calendar import BusinessCalendar
from kb.errors import NotFound
from kb.metrics import compute_all, csv_text
from kb.metrics_data import MetricFilter
from kb.visibility import Viewer
from service.deps import RuntimeDep, ViewerDep

router = APIRouter(prefix="/api/v1", tags=["metrics"])
DEFAULT_DAYS = 28
Name = Annotated[str | None, Query(max_length=100)]


EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


def metric_filter(calendar: BusinessCalendar, now: datetime, start: date | None, end: date | None,
                  **fields: str | None) -> MetricFilter:
    """The filter for local days [start, end] (inclusive); the last 28 days up to `now` by default."""
    zone = calendar.zone
    upper = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone) if end else now
    lower = datetime.combine(start, time(0), tzinfo=zone) if start else upper - timedelta(days=DEFAULT_DAYS)
    return MetricFilter(start=lower, end=upper, **fields)


def _allowed(viewer: Viewer) -> None:
    if not viewer.can("metrics.read"):
        raise NotFound("no such page")


def _figures(runtime: Any, viewer: Viewer, params: dict[str, Any]) -> dict[str, Any]:
    _allowed(viewer)
    calendar = runtime.rules.calendar
    flt = metric_filter(calendar, datetime.now(UTC), **params)
    return runtime.database.read(lambda db: compute_all(db, flt, calendar))


def _params(start: date | None, end: date | None, team: str | None, engineer: str | None, product: str | None,
            category: str | None, priority: str | None, channel: str | None) -> dict[str, Any]:
    return {"start": start, "end": end, "team": team, "engineer": engineer, "product": product,
            "category": category, "priority": priority, "channel": channel}


@router.get("/metrics")
def metrics_json(
    runtime: RuntimeDep, viewer: ViewerDep,
    start: Annotated[date | None, Query(alias="from", ge=EARLIEST, le=LATEST, description="First local day (YYYY-MM-DD).")] = None,
    end: Annotated[date | None, Query(alias="to", ge=EARLIEST, le=LATEST, description="Last local day, inclusive (YYYY-MM-DD).")] = None,
    team: Name = None, engineer: Name = None, product: Name = None, category: Name = None,
    priority: Name = None, channel: Name = None,
) -> dict[str, Any]:
    """Every support metric for a range and filter: times, SLA, rates, satisfaction, backlog, waiting
    by delay reason, deflection, per-engineer figures, fault statistics and notable tickets."""
    return _figures(runtime, viewer, _params(start, end, team, engineer, product, category, priority, channel))


@router.get("/metrics.csv", responses={200: {"content": {"text/csv": {}}}})
def metrics_csv(
    runtime: RuntimeDep, viewer: ViewerDep,
    start: Annotated[date | None, Query(alias="from", ge=EARLIEST, le=LATEST, description="First local day (YYYY-MM-DD).")] = None,
    end: Annotated[date | None, Query(alias="to", ge=EARLIEST, le=LATEST, description="Last local day, inclusive (YYYY-MM-DD).")] = None,
    team: Name = None, engineer: Name = None, product: Name = None, category: Name = None,
    priority: Name = None, channel: Name = None,
) -> Response:
    """The same figures as CSV: columns metric, figure, value; the filter comes first."""
    results = _figures(runtime, viewer, _params(start, end, team, engineer, product, category, priority, channel))
    name = f"casewise-metrics-{results['filter']['start'][:10]}-{results['filter']['end'][:10]}.csv"
    return Response(csv_text(results), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
