"""The timeliness report (issue 14, part 1): figures worked out by hand from back-dated acts.

Wokingham, "Internal and External Controls": a new incident is reported to the line manager
immediately (W5) and recorded within a working day, within the week (W4); a statutory case
reviews its assessment within three weeks (W6, "Assessment Reviews"). Contextual Safeguarding:
an exploitation concern on a child open to social care is discussed with the social worker (W13,
no timescale).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION

from app.domain.reports import _median_of
from tests.api.management import (
    PROBLEM,
    complete,
    march_service,
    open_steps,
    post_event,
    report,
)
from tests.api.support import Factory, db, restrict  # noqa: F401 - db is a fixture
from tests.conftest import BACKEND, Tenant, make_tenant

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
ZERO = {"due": 0, "on_time": 0, "late": 0, "open_overdue": 0, "no_timescale": 0, "waived": 0}


def figures(row: dict[str, Any]) -> dict[str, Any]:
    """A row's counts, rate and median."""
    keys = (*ZERO, "on_time_rate", "median_days_late")
    return {k: row[k] for k in keys}


async def test_timeliness_whole_service_by_hand(wokingham: Tenant) -> None:
    """A chair sees the whole service: 4 due, 1 on time, 2 late, 1 overdue; rate 1/4; median
    of 1.458 and 1.5 days late = 1.48."""
    await march_service(wokingham)
    r = await report(wokingham, **MARCH)
    assert r.status_code == 200, r.text
    body = r.json()["data"]
    assert body["scope"] == "service"
    [total] = body["rows"]
    assert figures(total) == {"due": 4, "on_time": 1, "late": 2, "open_overdue": 1,
                              "no_timescale": 1, "waived": 1, "on_time_rate": 0.25,
                              "median_days_late": 1.48}
    assert (total["rule"], total["team"], total["month"]) == (None, None, None)
    [ageing] = body["ageing"]
    assert (ageing["days_0_7"], ageing["days_8_28"], ageing["days_29_90"],
            ageing["days_over_90"]) == (0, 0, 0, 1)


async def test_timeliness_by_rule_by_hand(wokingham: Tenant) -> None:
    """Per rule: W4 half on time (median 1.5 days late), W5 late 1.46 days and one waived, W6
    overdue, W13 without timescale."""
    await march_service(wokingham)
    r = await report(wokingham, **MARCH, group_by="rule")
    rows = {row["rule"]: row for row in r.json()["data"]["rows"]}
    assert sorted(rows) == ["W13", "W4", "W5", "W6"]
    assert figures(rows["W4"]) == {**ZERO, "due": 2, "on_time": 1, "late": 1,
                                   "on_time_rate": 0.5, "median_days_late": 1.5}
    assert figures(rows["W5"]) == {**ZERO, "due": 1, "late": 1, "waived": 1,
                                   "on_time_rate": 0.0, "median_days_late": 1.46}
    assert figures(rows["W6"]) == {**ZERO, "due": 1, "open_overdue": 1,
                                   "on_time_rate": 0.0, "median_days_late": None}
    assert figures(rows["W13"]) == {**ZERO, "no_timescale": 1, "on_time_rate": None,
                                    "median_days_late": None}
    assert rows["W4"]["code"] == "record_incident"
    assert rows["W4"]["pack"] == "wokingham-pyjs-2024"
    assert [a["rule"] for a in r.json()["data"]["ageing"]] == ["W6"]


async def test_timeliness_by_team_and_month_by_hand(wokingham: Tenant) -> None:
    """Per team and London month: line_manager-1 1 of 3 on time; line_manager-2 none of 1."""
    await march_service(wokingham)
    r = await report(wokingham, **MARCH, group_by=["team", "month"])
    rows = {(row["team"], row["month"]): row for row in r.json()["data"]["rows"]}
    assert sorted(rows) == [("line_manager-1", "2026-03"), ("line_manager-2", "2026-03")]
    assert figures(rows[("line_manager-1", "2026-03")]) == {
        "due": 3, "on_time": 1, "late": 1, "open_overdue": 1, "no_timescale": 1, "waived": 0,
        "on_time_rate": 0.3333, "median_days_late": 1.46}
    assert figures(rows[("line_manager-2", "2026-03")]) == {
        **ZERO, "due": 1, "late": 1, "waived": 1, "on_time_rate": 0.0, "median_days_late": 1.5}


async def test_timeliness_period_is_london_dates(wokingham: Tenant) -> None:
    """W6 due 31 March 10:00 UTC is in March; a period ending 30 March leaves it out, and a
    January period holds only the W1 steps raised when the cases opened (no timescale)."""
    await march_service(wokingham)
    r = await report(wokingham, **{"from": "2026-03-01", "to": "2026-03-30"})
    assert figures(r.json()["data"]["rows"][0])["open_overdue"] == 0
    r = await report(wokingham, **{"from": "2026-01-01", "to": "2026-01-31"}, group_by="rule")
    rows = r.json()["data"]["rows"]
    assert [(row["rule"], row["no_timescale"], row["due"]) for row in rows] == [("W1", 2, 0)]


async def test_line_manager_sees_only_their_team(wokingham: Tenant) -> None:
    """A line manager's report counts only the cases they manage (restricted ones included)."""
    await march_service(wokingham)
    r = await report(wokingham, "line_manager", "line_manager-2", **MARCH)
    body = r.json()["data"]
    assert body["scope"] == "team:line_manager-2"
    assert figures(body["rows"][0]) == {**ZERO, "due": 1, "late": 1, "waived": 1,
                                        "on_time_rate": 0.0, "median_days_late": 1.5}
    r = await report(wokingham, "line_manager", "line_manager-9", **MARCH, group_by="team")
    assert r.json()["data"]["rows"] == []
    duty = await report(wokingham, "duty_manager", **MARCH)
    assert duty.json()["data"]["rows"][0]["due"] == 4


async def test_another_service_sees_none_of_it(client: Any, settings: Any,
                                               wokingham: Tenant) -> None:
    """A chair of another service gets its own (empty) figures, never these."""
    await march_service(wokingham)
    other = await make_tenant(client, settings, "wokingham-pyjs-2024")
    r = await report(other, **MARCH)
    assert figures(r.json()["data"]["rows"][0]) == {**ZERO, "on_time_rate": None,
                                                    "median_days_late": None}
    assert r.json()["data"]["ageing"] == []


@pytest.mark.parametrize("role", ["case_holder", "panel_admin", "feed"])
async def test_report_refused_to_other_roles(wokingham: Tenant, role: str) -> None:
    """Case holders, panel administrators and feeds may not read the report (403)."""
    r = await report(wokingham, role, **MARCH)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("params", [
    {"from": "2026-03-31", "to": "2026-03-01"},
    {"from": "2026-03-01"},
    {"from": "2026-03-01", "to": "2026-13-01"},
    {**MARCH, "group_by": "case"},
    {"from": "2010-01-01", "to": "2026-03-01"},
    {"from": "9999-12-31", "to": "9999-12-31"},
    {"from": "0001-01-01", "to": "0001-01-31"},
    {"from": "2199-12-01", "to": "2200-01-01"},
])
async def test_report_bad_query_is_422(wokingham: Tenant, params: dict[str, Any]) -> None:
    """A reversed, missing or malformed period, an unknown grouping, over 120 months, dates
    outside 1900-2199 (attack pass 10, A10-28: the last day of year 9999 overflowed into a
    500): 422."""
    r = await report(wokingham, **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_report_needs_a_token(wokingham: Tenant) -> None:
    """No token: 401."""
    r = await wokingham.client.get("/v1/reports/timeliness", params=MARCH)
    assert r.status_code == 401


async def test_restricted_cases_count_only_for_those_let_in(client: Any,
                                                           wokingham: Tenant) -> None:
    """A case the chair is shut out of is 404 everywhere for them (api-v1, `PATCH
    /v1/cases/{id}` `access`: "restricted case: 404 everywhere for staff without access"), so
    it is in none of their report's rows; another chair, and its line manager, still count it;
    no row names a case."""
    await march_service(wokingham)
    cases = (await wokingham.client.get("/v1/cases", headers=wokingham.auth("chair"))).json()
    for case in cases["data"]:
        r = await restrict(client, wokingham, case["id"], {"excluded_staff": ["chair-1"]},
                           wokingham.auth("line_manager", case["line_manager_id"]))
        assert r.status_code == 200, r.text
    assert (await wokingham.client.get("/v1/cases", headers=wokingham.auth("chair"))
            ).json()["data"] == []
    shut_out = (await report(wokingham, **MARCH, group_by="rule")).json()["data"]
    assert (shut_out["rows"], shut_out["ageing"]) == ([], [])
    [whole] = (await report(wokingham, **MARCH)).json()["data"]["rows"]
    assert figures(whole) == {**ZERO, "on_time_rate": None, "median_days_late": None}
    let_in = (await report(wokingham, "chair", "chair-2", **MARCH, group_by="rule")
              ).json()["data"]
    assert sum(row["due"] for row in let_in["rows"]) == 4
    assert sum(row["late"] for row in let_in["rows"]) == 2
    for row in let_in["rows"] + let_in["ageing"]:
        assert not {"case_id", "case", "child"} & row.keys()
    mine = (await report(wokingham, "line_manager", "line_manager-2", **MARCH)).json()["data"]
    assert mine["rows"][0]["late"] == 1


async def test_restricted_case_not_pointed_at_by_team_and_rule(client: Any,
                                                               somerset: Tenant) -> None:
    """Attack pass 30, ATTACK30B-1: a duty manager shut out of one case of a team, who sees the
    team's other cases, must not learn from the report's rows by team and rule that the
    restricted child was charged (Somerset 12, S23: "the case holder must inform the service
    manager immediately" of a child charged with a serious offence): the restricted case's
    steps are in none of their rows, while a duty manager it lets in sees them."""
    seen = (await somerset.open_case(opened_at="2026-01-05T10:00:00Z"))["data"]
    hidden = (await somerset.open_case(opened_at="2026-01-05T10:00:00Z"))["data"]
    r = await restrict(client, somerset, hidden["id"], {"excluded_staff": ["duty_manager-1"]},
                       somerset.auth("line_manager", hidden["line_manager_id"]))
    assert r.status_code == 200, r.text
    await post_event(somerset, hidden["id"], type="charged", occurred_at="2026-03-10T11:00:00Z")
    params = {**MARCH, "group_by": ["team", "rule"]}
    for sub, sees in (("duty_manager-1", False), ("duty_manager-2", True)):
        body = (await report(somerset, "duty_manager", sub, **params)).json()["data"]
        rules = {row["rule"] for row in body["rows"]}
        assert ("S23" in rules) is sees, (sub, body["rows"])
    assert seen["line_manager_id"] == hidden["line_manager_id"]


@pytest.mark.parametrize(
    ("incident", "done", "on_time"),
    [
        # Tuesday 14:00 BST, reported at 18:00: the same working day, on time.
        ("2026-06-09T13:00:00Z", "2026-06-09T17:00:00Z", 1),
        # Reported at 00:30 BST the next morning: after the end of that working day, late.
        ("2026-06-09T13:00:00Z", "2026-06-09T23:30:00Z", 0),
        # Known on Saturday 29 August; Monday 31 is the late-summer bank holiday: reporting on
        # Tuesday 1 September is within "that working day".
        ("2026-08-29T10:00:00Z", "2026-09-01T15:00:00Z", 1),
        ("2026-08-29T10:00:00Z", "2026-09-02T08:00:00Z", 0),
    ],
)
async def test_W5_immediately_is_late_only_after_that_working_day(
    wokingham: Tenant, incident: str, done: str, on_time: int
) -> None:
    """Wokingham, Internal and External Controls (W5): the incident is reported to the line
    manager immediately; per the rules catalogue, "immediately" is late only after the end of
    that working day (23:59:59 Europe/London)."""
    case = (await wokingham.open_case(opened_at="2026-01-05T10:00:00Z"))["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at=incident)
    step = (await open_steps(wokingham, case["id"]))["report_to_line_manager"]
    assert (step["due_at"], step["urgent"]) == (incident.replace("+00:00", "Z"), True)
    await complete(wokingham, step, done)
    r = await report(wokingham, **{"from": "2026-01-01", "to": "2026-12-31"}, group_by="rule")
    row = next(r for r in r.json()["data"]["rows"] if r["rule"] == "W5")
    assert (row["due"], row["on_time"], row["late"]) == (1, on_time, 1 - on_time)


async def test_month_is_the_london_month_of_due_at(wokingham: Tenant) -> None:
    """An incident at 23:30 UTC on 31 March 2026 (00:30 BST on 1 April): its W5 step is due
    then, so it belongs to April, in April's period and not March's."""
    case = (await wokingham.open_case(opened_at="2026-01-05T10:00:00Z"))["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-03-31T23:30:00Z")
    r = await report(wokingham, **{"from": "2026-03-01", "to": "2026-04-30"},
                     group_by=["rule", "month"])
    w5 = [(row["month"], row["due"]) for row in r.json()["data"]["rows"] if row["rule"] == "W5"]
    assert w5 == [("2026-04", 1)]
    march = await report(wokingham, **MARCH, group_by="rule")
    assert [row["rule"] for row in march.json()["data"]["rows"]] == []


MEDIAN = sa.text("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d)"
                 " FROM unnest(CAST(:days AS float8[])) AS d").bindparams(
    sa.bindparam("days", type_=ARRAY(DOUBLE_PRECISION)))


@pytest.mark.skipif(BACKEND != "postgres", reason="compares with PostgreSQL's percentile_cont")
async def test_the_median_is_postgresqls_percentile_cont(db: Factory) -> None:  # noqa: F811
    """On PostgreSQL the median days late is computed from the late steps' days (so that the
    counting statement can hash its groups): it must be ``percentile_cont(0.5)`` to the last
    bit, for odd and even counts, ties, and values whose midpoint rounds."""
    rng = random.Random(15)
    samples = [[1.48], [1.5, 1.46], [0.1, 0.2, 0.3, 0.7], [2.0, 2.0, 2.0, 5.0],
               [1e-9, 3.0000000000000004], [1 / 3, 2 / 3, 1.0, 7.25, 0.5]]
    samples += [[rng.uniform(0, 400) for _ in range(n)] for n in (2, 3, 10, 11, 1000, 1001)]
    async with db() as session:
        for days in samples:
            pg = (await session.exec(MEDIAN, params={"days": days})).scalar_one()  # type: ignore[call-overload]
            assert _median_of(days) == pg, days
    assert _median_of([]) is None
