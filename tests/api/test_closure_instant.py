"""An act dated at the exact instant of a closure or a reopening is judged one way, whatever
order the acts were typed in (A25-2).

The case is closed from its closure's instant up to its reopening's: ``[closed_at,
reopened_at)``. Somerset 12 reaches "up to 20 days following the end of supervision": at the
instant supervision ends, the case is no longer supervised; a change of the case's fields is in
force from its own instant (``as_of``). A charge dated at the closure instant owed S14's review
of an open case when typed before the reopening and joined the 12-weekly review when typed after
it; an act recorded on the open case at the instant a later closure was dated would be on the
closed case once the closure is in the history. So a closure (and a reopening) is dated after
every act already recorded, and an act at the closure's instant is on the closed case.

2026 dates: BST until Sunday 25 October. Opened Tuesday 1 September 10:00 BST, closed Thursday
3 September 10:00 BST (09:00Z), reopened Thursday 10 September 10:00 BST.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import (
    SOMERSET,
    WOKINGHAM,
    assert_problem,
    closing_asset_plus,
    on_marp_agenda,
    patch_case,
    refer_to_marp,
    steps_of,
)
from tests.conftest import Tenant, make_tenant

OPENED = "2026-09-01T10:00:00+01:00"
CLOSED = "2026-09-03T10:00:00+01:00"
REOPENED = "2026-09-10T10:00:00+01:00"
CLOSE = {"closed_at": CLOSED, "closure_reason": "Order completed"}
REOPEN = {"closed_at": None, "reopen_reason": "New order", "occurred_at": REOPENED}


def open_case_duties(steps: list[dict[str, Any]]) -> set[str]:
    """The duties of an open case a charge raises among ``steps``: Wokingham's W4 record, W5
    report and W7 panel request; Somerset S14's review by the next working day (4.2), which
    re-dates the open 12-weekly review (S3's, due in December after the reopening)."""
    found = {s["policy"]["rule"] for s in steps if s["policy"]["rule"] in {"W4", "W5", "W7"}}
    if any(s["code"] == "review_assessment" and s["due_at"] and s["due_at"] < "2026-09-15"
           for s in steps):
        found.add("S14")
    return found


@pytest.fixture(params=[SOMERSET, WOKINGHAM], ids=["somerset", "wokingham"])
async def tenant(request: pytest.FixtureRequest, client: httpx.AsyncClient,
                 settings: Settings) -> Tenant:
    """A fresh service under each pack in turn."""
    return await make_tenant(client, settings, request.param)


async def _charge(t: Tenant, case_id: str, at: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": "charged", "occurred_at": at,
                                  "may_raise_to_high": True,
                                  "details": {"offence": "robbery"}},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _rated_case(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """A case with a countersigned start AssetPlus (Somerset S3's 12-weekly review open) and
    ROSH medium, closed at ``CLOSED``, the clock on the reopening's day (10:00Z)."""
    pin(monkeypatch, 2026, 9, 10, 10, 0)
    overrides: dict[str, Any] = {"opened_at": OPENED}
    if t.pack != SOMERSET:
        overrides["intervention"] = "prevention"
    case_id = str((await t.open_case(**overrides))["data"]["id"])
    if t.pack == SOMERSET:
        await closing_asset_plus(t, case_id, "2026-09-02T10:00:00+01:00", stage="start")
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json=with_matrix(t.pack, {"domain": "rosh", "level": "medium",
                                                      "victims": ["public"],
                                                      "occurred_at": "2026-09-02T11:00:00+01:00"}))
    assert r.status_code == 201, r.text
    r = await patch_case(t, case_id, CLOSE)
    assert r.status_code == 200, r.text
    return case_id


async def _state(t: Tenant, case_id: str) -> dict[str, Any]:
    """The open steps (code, rule, actor, due), the ratings, the register."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    case = r.json()["data"]
    register = await t.client.get("/v1/register", params={"limit": 200},
                                  headers=t.auth("chair"))
    assert register.status_code == 200, register.text
    return {
        "steps": sorted((s["code"], s["policy"]["rule"], s["actor"], s["due_at"])
                        for s in await steps_of(t, case_id)),
        "ratings": {d: (v or {}).get("level") for d, v in case["ratings"].items()},
        "on_register": case["on_register"],
        "listed": case_id in {c["id"] for c in register.json()["data"]},
    }


async def test_S14_W4_charge_at_the_closure_instant_owes_the_same_whatever_the_typing_order(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S14 (4.2): "Within 24 hours or the next working day" a change is reviewed; S23 (12):
    notification for a child "charged with any notifiable offence ... whilst relevant to our
    service (up to 20 days following the end of supervision)"; W4 (Wokingham): "a new incident
    of concern ... must be recorded on the IYSS case management system within one working day".
    A charge dated at the closure's own instant (supervision ended then) is on the closed case:
    typed before the reopening or after it, the same open steps, ratings and register, none of
    an open case's duties (A25-2: typed before, it owed S14's next-working-day review besides
    the 12-weekly one; typed after, S14 re-dated the 12-weekly one)."""
    t = tenant
    found = []
    for charge_first in (True, False):
        case_id = await _rated_case(t, monkeypatch)
        if charge_first:
            await _charge(t, case_id, CLOSED)
        r = await patch_case(t, case_id, REOPEN)
        assert r.status_code == 200, r.text
        if not charge_first:
            await _charge(t, case_id, CLOSED)
        found.append(await _state(t, case_id))
    assert found[0] == found[1]
    steps = await steps_of(t, case_id)
    assert not open_case_duties(steps)
    assert "notify_serious_incident" in {s["code"] for s in steps}


async def test_S14_W4_a_reopening_comes_after_an_act_recorded_at_its_instant(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S14, W4 as above. A charge recorded on the closed case, dated at the instant a
    reopening is then dated, was judged on the closed case; typed after that reopening it would
    be on the open one (owing S14's review, W4's record): the reopening is 422
    occurred-before-bound naming the charge's instant. Reopened a second later, the charge
    stays on the closed case; one typed after a reopening at its instant is on the open case."""
    t = tenant
    case_id = await _rated_case(t, monkeypatch)
    await _charge(t, case_id, REOPENED)
    body = assert_problem(await patch_case(t, case_id, REOPEN), 422)
    assert body["errors"] == [{"loc": "body.occurred_at", "msg": "must be after the latest act "
                               "recorded on the case (2026-09-10T09:00:00Z)"}]
    r = await patch_case(t, case_id, {**REOPEN, "occurred_at": "2026-09-10T10:00:01+01:00"})
    assert r.status_code == 200, r.text
    assert not open_case_duties(await steps_of(t, case_id))

    other = await _rated_case(t, monkeypatch)
    assert (await patch_case(t, other, REOPEN)).status_code == 200
    await _charge(t, other, REOPENED)
    assert open_case_duties(await steps_of(t, other)) == (
        {"S14"} if t.pack == SOMERSET else {"W4", "W5", "W7"})


async def _judged(t: Tenant, case_id: str, at: str) -> int:
    body: dict[str, Any] = {"domain": "swb", "level": "high", "occurred_at": at,
                            "victims": ["public"]}
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth("case_holder"))
    return r.status_code


async def _incident(t: Tenant, case_id: str, at: str) -> int:
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": "new_incident", "occurred_at": at},
                            headers=t.auth("case_holder"))
    return r.status_code


async def _referred(t: Tenant, case_id: str, at: str) -> int:
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "child_protection", "occurred_at": at},
                            headers=t.auth("case_holder"))
    return r.status_code


@pytest.mark.parametrize("act", [_judged, _incident, _referred],
                         ids=["judgement", "event", "referral"])
async def test_an_act_at_the_closure_instant_is_on_the_closed_case_in_either_order(
        tenant: Tenant, act: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 12 ("following the end of supervision"): the case is closed from its closure's
    instant. A judgement, event or referral of an open case dated at that instant is not
    recorded either way: typed before the closure, the closure dated at its instant is 422
    (the closure comes after the acts recorded); typed after the reopening, the act is 422
    occurred-before-bound (it falls in the closed period). Before A25-2 both were accepted, the
    act on the open case in the first order and in the closed period in the other."""
    t = tenant
    pin(monkeypatch, 2026, 9, 10, 10, 0)
    overrides: dict[str, Any] = {"opened_at": OPENED, "intervention": "prevention"}
    first = str((await t.open_case(**overrides))["data"]["id"])
    assert await act(t, first, CLOSED) == 201
    body = assert_problem(await patch_case(t, first, CLOSE), 422)
    assert body["errors"][0]["loc"] == "body.closed_at"

    second = str((await t.open_case(**overrides))["data"]["id"])
    assert (await patch_case(t, second, CLOSE)).status_code == 200
    assert (await patch_case(t, second, REOPEN)).status_code == 200
    assert await act(t, second, CLOSED) == 422


async def _listed(t: Tenant, case_id: str) -> tuple[str, str]:
    """The case on the agenda of a MARP that sits at 09:00 BST on the closure's day: the
    panel's and the item's ids (referred to it the day before)."""
    await refer_to_marp(t, case_id, "2026-09-02T09:00:00+01:00")
    return await on_marp_agenda(t, case_id, "2026-09-03T09:00:00+01:00")


async def _decided_at_closure(t: Tenant, panel: str, item: str) -> httpx.Response:
    """The MARP's decision, dated at the closure's instant (ROSH high, reviewed a month on)."""
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                               json={"rosh_level": "high", "actions": [], "minutes": "Held",
                                     "review_date": "2026-10-01", "occurred_at": CLOSED},
                               headers=t.auth("chair", "chair-1"))


async def test_S20_a_panel_decision_at_the_closure_instant_is_on_the_closed_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (6.2): the MARP "will review the case" at the date it sets. A MARP that sat before
    the closure and decided at the closure's instant decided on a closed case: typed while the
    case is closed it is 409 case-closed (only a decision made while the case was open is
    recorded after its closure, A15-13), typed after the reopening 422 occurred-before-bound
    (it falls in the closed period). Before A25-2 the first was kept on the closed case without
    a rating and the second rated the reopened case high."""
    pin(monkeypatch, 2026, 9, 2, 10, 0)
    first = str((await somerset.open_case(opened_at=OPENED))["data"]["id"])
    second = str((await somerset.open_case(opened_at=OPENED))["data"]["id"])
    on_first, on_second = await _listed(somerset, first), await _listed(somerset, second)
    pin(monkeypatch, 2026, 9, 10, 10, 0)
    for case_id in (first, second):
        r = await patch_case(somerset, case_id, CLOSE)
        assert r.status_code == 200, r.text
    body = assert_problem(await _decided_at_closure(somerset, *on_first), 409)
    assert body["type"].endswith("/case-closed")
    assert (await patch_case(somerset, second, REOPEN)).status_code == 200
    body = assert_problem(await _decided_at_closure(somerset, *on_second), 422)
    assert body["type"].endswith("/occurred-before-bound")
    assert (await _state(somerset, second))["ratings"]["rosh"] is None


async def test_S20_a_panel_at_the_closure_instant_leaves_no_item_undecidable(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (6.2) and the chair's duty to record the decision: a closure takes the case off the
    agendas of panels that sit on the closed case (A11-16). A MARP scheduled at the closure's
    very instant sits on the closed case (its decision is refused, 409 case-closed), so the
    closure takes the item off its agenda as well (withdrawn with the closure's reason):
    before, the item stayed on the agenda, never to be decided."""
    pin(monkeypatch, 2026, 9, 2, 10, 0)
    case_id = str((await somerset.open_case(opened_at=OPENED))["data"]["id"])
    await refer_to_marp(somerset, case_id, "2026-09-02T09:00:00+01:00")
    panel, item = await on_marp_agenda(somerset, case_id, CLOSED)
    pin(monkeypatch, 2026, 9, 3, 9, 0)
    assert (await patch_case(somerset, case_id, CLOSE)).status_code == 200
    r = await somerset.client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))
    assert r.status_code == 200, r.text
    listed = {i["id"]: i for i in r.json()["data"]["items"]}[item]
    assert listed["withdrawn_at"] == "2026-09-03T09:00:00Z"
    assert listed["withdrawal_reason"] == "the case was closed: Order completed"
