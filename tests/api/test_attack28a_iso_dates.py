"""Attack pass 28a, ATK28A-1: every date a request carries is an ISO date, ``YYYY-MM-DD``.

The contract (openapi.json) declares ``starts_on``, ``ends_on``, ``expected_release_date``,
``transfer_date``, ``review_date``, ``due_date``, ``date_of_birth`` and the report's ``from`` and
``to`` ``format: date`` (RFC 3339 ``full-date``); docs/integrating.md: "dates
(`date_of_birth`, `review_date`) are ISO dates". pydantic's lax date parser also took a
date-time at midnight whatever its offset (``2027-03-04T00:00:00+05:00``, which is 3 March in
London, was stored as 4 March), a count of seconds and ``"20270304"``; a pack fact of type
``date`` took what Python's ``date.fromisoformat`` takes (``20270304``, ``2027-W09-4``). Each
is 422 problem+json now, through one type (:data:`app.workflows.calendar.IsoDate`).
"""

from __future__ import annotations

import types
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.core.config import Settings
from app.domain.preview import TRIGGER_DATA
from app.main import create_app
from tests.api.fidelity_support import pin
from tests.conftest import Tenant

NOT_DATES: list[Any] = [
    "2027-03-04T00:00:00+05:00", "2027-03-04T00:00:00Z", "2027-03-04T00:00:00.000+00:00",
    "2027-03-04 00:00", "2027-03-04t00:00:00z", "20270304", "2027-W09-4", "1799971200",
    1799971200, 1799971200.0, "２０２７-03-04", " 2027-03-04", "2027-03-04\n", "2027-02-30",
]


def _date_leaves(tp: Any, meta: list[Any], path: str, seen: set[type]) -> list[tuple[str, Any]]:
    """Every ``date`` (not date-time) the annotation ``tp`` holds, each as the type pydantic
    validates it by (the annotation with its metadata) and where it sits."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *more = get_args(tp)
        return _date_leaves(inner, [*meta, *more], path, seen)
    if tp is date:
        return [(path, Annotated[(date, *meta)] if meta else date)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return []
        seen.add(tp)
        return [leaf for name, field in tp.model_fields.items()
                for leaf in _date_leaves(field.annotation, list(field.metadata),
                                         f"{path}.{name}", seen)]
    if origin in (Union, types.UnionType):
        return [leaf for arg in get_args(tp) for leaf in _date_leaves(arg, meta, path, seen)]
    return [leaf for arg in get_args(tp) if arg is not Ellipsis
            for leaf in _date_leaves(arg, [], f"{path}[]", seen)]


def _params(dependant: Dependant) -> list[Any]:
    """The request parameters (body, query, path, header) of a dependant and its dependencies."""
    return [*dependant.body_params, *dependant.query_params, *dependant.path_params,
            *dependant.header_params,
            *(p for sub in dependant.dependencies for p in _params(sub))]


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The API routes among ``routes``, those of included routers too."""
    found: list[APIRoute] = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            found += _api_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def request_dates(app: Any) -> list[tuple[str, Any]]:
    """Every date a request may carry: the routes' bodies, query, path and header parameters,
    and the preview's data for each trigger (validated by the trigger's own model)."""
    leaves: list[tuple[str, Any]] = []
    for route in _api_routes(app.routes):
        for param in _params(route.dependant):
            leaves += _date_leaves(param.field_info.annotation, list(param.field_info.metadata),
                                   f"{route.path} {param.name}", set())
    for trigger, model in TRIGGER_DATA.items():
        leaves += _date_leaves(model, [], f"preview {trigger}", set())
    return leaves


def test_every_request_date_takes_an_iso_date_only(settings: Settings) -> None:
    """ATK28A-1's kind, walked over the whole API: each ``format: date`` a request carries takes
    ``2027-03-04`` and refuses a date-time (at midnight, with any offset), a count of seconds,
    the basic and week forms, other digits, spaces and a day the calendar lacks."""
    leaves = request_dates(create_app(settings))
    names = {path.rsplit(".", 1)[-1].split(" ")[-1] for path, _ in leaves}
    # The contract's dates, all reached (a walk that found none would pass).
    assert {"starts_on", "ends_on", "expected_release_date", "transfer_date", "review_date",
            "due_date", "date_of_birth", "date_from", "date_to"} <= names, names
    for path, annotation in leaves:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        assert adapter.validate_python("2027-03-04") == date(2027, 3, 4), path
        for value in (*NOT_DATES, datetime(2027, 3, 4)):
            try:
                adapter.validate_python(value)
            except ValidationError:
                continue
            pytest.fail(f"{path} took {value!r}")


async def test_absence_dated_by_a_date_time_is_422_and_not_recorded(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repro: ``starts_on`` 2027-03-04T00:00:00+05:00 (3 March in London) was 201 and
    stored as 4 March; now 422 problem+json naming ``body.starts_on``, and nothing is
    recorded. The same absence with ISO dates is 201."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    url = "/v1/staff/case_holder-1/absences"
    manager = somerset.auth("duty_manager")
    for starts, ends in (("2027-03-04T00:00:00+05:00", "2027-03-05"),
                         ("2027-01-04T00:00:00Z", "2027-01-05T00:00:00.000+00:00")):
        r = await somerset.client.post(url, json={"starts_on": starts, "ends_on": ends},
                                       headers=manager)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "body.starts_on" in {e["loc"] for e in r.json()["errors"]}
    r = await somerset.client.post(url, json={"starts_on": "2027-02-30", "ends_on": "2027-03-05"},
                                   headers=manager)
    assert r.status_code == 422, r.text  # no such day, and not echoed (attack pass N8)
    assert "2027-02-30" not in r.text
    r = await somerset.client.get(url, headers=manager)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == []
    r = await somerset.client.post(url, json={"starts_on": "2027-03-04", "ends_on": "2027-03-05"},
                                   headers=manager)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["starts_on"] == "2027-03-04"


async def test_case_dates_and_report_query_take_iso_dates_only(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A child's date of birth and a release date sent as date-times are 422 (no case opened);
    the report's ``from`` as a date-time is 422 ``query.from``."""
    body: dict[str, Any] = {
        "child": {"given_name": "Sam", "family_name": "Taylor",
                  "date_of_birth": "2010-05-01T00:00:00+01:00"},
        "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
        "intervention": "court_order", "csc_status": "none",
        "opened_at": "2026-03-02T09:00:00Z"}
    manager = somerset.auth("line_manager")
    r = await client.post("/v1/cases", json=body, headers=manager)
    assert r.status_code == 422, r.text
    assert "body.child.date_of_birth" in {e["loc"] for e in r.json()["errors"]}
    body["child"]["date_of_birth"] = "2010-05-01"
    r = await client.post("/v1/cases", json={**body, "expected_release_date": 1799971200},
                          headers=manager)
    assert r.status_code == 422, r.text
    assert "body.expected_release_date" in {e["loc"] for e in r.json()["errors"]}
    r = await client.get("/v1/cases", headers=manager)
    assert r.json()["data"] == []
    r = await client.get("/v1/reports/timeliness",
                         params={"from": "2026-01-01T00:00:00Z", "to": "2026-12-31"},
                         headers=somerset.auth("chair"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "query.from" in {e["loc"] for e in r.json()["errors"]}
