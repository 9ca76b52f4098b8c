"""A back-dated act that does a recurring step completes the occurrence open at its date, and
the chain is planned again: typing order makes no difference (attack 26b, ATTACK26B-5).

Wokingham PYJS 2024 (MAPPA): "For MAPPA Level 1 children, High Risk Panels should be held
monthly" (W19, ``every 1m``). Catalogue, ``every 1m``: "the next is due one month after the act
that completed it (its occurred_at)".

Two High-Risk Panels sat on Fri 28 August and Tue 29 September 2026. Typed in that order the
August review was on time and the September one late; typed the other way round (the August
minutes typed up late), the September decision completed the occurrence due 31 August and the
August decision completed nothing: the record and the timeliness report said the August review
was a month late. Now the August decision, typed second, completes the occurrence open on 28
August and the next one (due 28 September) is the one the September decision did.
"""

from __future__ import annotations

from typing import Any

import httpx

from app.core.config import Settings
from tests.api.integrity_support import steps_of
from tests.api.test_panels import schedule
from tests.conftest import Tenant, make_tenant

SITTINGS = {"A": "2026-08-28T10:00:00+01:00", "B": "2026-09-29T10:00:00+01:00"}
DECIDED = {"A": "2026-08-28T12:00:00+01:00", "B": "2026-09-29T12:00:00+01:00"}


async def _typed(order: str, client: httpx.AsyncClient, settings: Settings
                 ) -> tuple[Tenant, list[tuple[Any, ...]], list[Any], dict[str, Any]]:
    """A MAPPA category 1 level 1 case opened Fri 31 July 2026 (W19 due 31 August); panels A and
    B with the case on each agenda; their decisions typed in ``order``. The done W19
    occurrences (raised, due, completed, by), the open one's due date and the W19 report row."""
    t = await make_tenant(client, settings, "wokingham-pyjs-2024")
    case_id = (await t.open_case(opened_at="2026-07-31T10:00:00+01:00", mappa_category=1,
                                 mappa_level=1))["data"]["id"]
    items = {}
    for key, when in SITTINGS.items():
        panel = await schedule(t.client, t, when, "high_risk_panel")
        r = await t.client.post(f"/v1/panels/{panel['id']}/items",
                                json={"case_id": case_id, "presenter_id": "case_holder-1"},
                                headers=t.auth("panel_admin"))
        assert r.status_code == 201, r.text
        items[key] = (panel["id"], r.json()["data"]["id"])
    for key in order:
        panel_id, item_id = items[key]
        r = await t.client.post(f"/v1/panels/{panel_id}/items/{item_id}/decision", json={
            "rosh_level": "medium", "minutes": "m", "occurred_at": DECIDED[key],
            "actions": [{"description": "a", "owner_id": "case_holder-1",
                         "due_date": "2026-10-30"}]}, headers=t.auth("chair", "chair-1"))
        assert r.status_code == 200, r.text
    done = sorted((s["raised_at"], s["due_at"], s["completed_at"], s["completed_by"])
                  for s in await steps_of(t, case_id, "done")
                  if s["code"] == "high_risk_panel_review")
    open_ = [s["due_at"] for s in await steps_of(t, case_id)
             if s["code"] == "high_risk_panel_review"]
    r = await t.client.get("/v1/reports/timeliness", params={
        "from": "2026-07-01", "to": "2026-10-31", "group_by": "rule"},
        headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    (row,) = [row for row in r.json()["data"]["rows"] if row["rule"] == "W19"]
    return t, done, open_, row


def _report(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["due"], row["on_time"], row["late"], row["open_overdue"],
            row["median_days_late"])


async def test_W19_the_same_two_panels_typed_in_either_order_give_one_record(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Typed A then B: occurrence due 31 Aug done 28 Aug (on time), the next due 28 Sep done 29
    Sep (late), the open one due 29 Oct 12:00 (GMT by then). Typed B then A: the same
    occurrences, dates and completers, the same open due date, and the same report row (1 on
    time, 1 late)."""
    _, done_ab, open_ab, row_ab = await _typed("AB", client, settings)
    _, done_ba, open_ba, row_ba = await _typed("BA", client, settings)
    assert [(due, completed) for _, due, completed, _ in done_ab] == [
        ("2026-08-31T09:00:00Z", "2026-08-28T11:00:00Z"),
        ("2026-09-28T11:00:00Z", "2026-09-29T11:00:00Z")]
    assert done_ba == done_ab
    assert open_ba == open_ab == ["2026-10-29T12:00:00Z"]
    assert _report(row_ab)[1:3] == (1, 1)
    assert _report(row_ba) == _report(row_ab)


async def _s11_typed(order: str, client: httpx.AsyncClient, settings: Settings
                     ) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """Somerset: ROSH high on Sat 31 January 2026 (S11 due 28 February); the line manager's
    monthly reviews of Fri 27 February and Tue 31 March typed in ``order`` (each on the open
    occurrence, dated). The done occurrences (raised, due, completed, by) and the open due."""
    from tests.api.integrity_support import complete, judge

    t = await make_tenant(client, settings, "somerset-yjt-2023")
    case_id = (await t.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]["id"]
    await judge(t, case_id, "rosh", "high", "2026-01-31T10:00:00Z")
    dates = {"A": "2026-02-27T10:00:00Z", "B": "2026-03-31T11:00:00+01:00"}
    for key in order:
        (step,) = [s for s in await steps_of(t, case_id) if s["code"] == "monthly_manager_review"]
        r = await complete(t, step["id"], "line_manager", occurred_at=dates[key])
        assert r.status_code == 200, r.text
        assert r.json()["data"]["completed_at"] == \
            {"A": "2026-02-27T10:00:00Z", "B": "2026-03-31T10:00:00Z"}[key]
    done = sorted((s["raised_at"], s["due_at"], s["completed_at"], s["completed_by"])
                  for s in await steps_of(t, case_id, "done")
                  if s["code"] == "monthly_manager_review")
    open_ = [s["due_at"] for s in await steps_of(t, case_id)
             if s["code"] == "monthly_manager_review"]
    return done, open_


async def test_S11_two_monthly_reviews_typed_in_either_order_give_one_record(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Somerset 4.5 (S11): line managers "review all cases where there is a High or Very High
    ROSH ... at least monthly". The twin, completed by hand: the 27 February review typed after
    the 31 March one was 422 (dated before the open occurrence arose). Now it does the
    occurrence open on 27 February (due 28 Feb, on time), the next (due 27 Mar) is the one the
    31 March review did (late), and the open one is due 30 April, as typed in time order."""
    done_ab, open_ab = await _s11_typed("AB", client, settings)
    done_ba, open_ba = await _s11_typed("BA", client, settings)
    assert [(due, completed) for _, due, completed, _ in done_ab] == [
        ("2026-02-28T10:00:00Z", "2026-02-27T10:00:00Z"),
        ("2026-03-27T10:00:00Z", "2026-03-31T10:00:00Z")]
    assert done_ba == done_ab
    assert open_ba == open_ab == ["2026-04-30T10:00:00Z"]
