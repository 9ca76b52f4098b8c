"""Panels: next-panel deadlines, decisions (S18–S22, W22), the presenter-chair rule, M6."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.core import clock
from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import heard_by_marp
from tests.conftest import Tenant


async def judge(client: httpx.AsyncClient, tenant: Tenant, case_id: str, **body: object
                ) -> httpx.Response:
    """Record a judgement as the case holder."""
    return await client.post(f"/v1/cases/{case_id}/judgements",
                             json=with_matrix(tenant.pack, dict(body)),
                             headers=tenant.auth("case_holder"))


async def schedule(client: httpx.AsyncClient, tenant: Tenant, when: str,
                   kind: str = "marp") -> dict:
    """Schedule a panel as the panel administrator."""
    r = await client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                              "chair_id": "chair-1"},
                          headers=tenant.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def add_item(client: httpx.AsyncClient, tenant: Tenant, panel_id: str, case_id: str,
                   presenter: str = "case_holder-1") -> dict:
    """Put the case on the agenda."""
    r = await client.post(f"/v1/panels/{panel_id}/items",
                          json={"case_id": case_id, "presenter_id": presenter},
                          headers=tenant.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def refer_to_panel(client: httpx.AsyncClient, tenant: Tenant, case_id: str) -> dict:
    """Make (create and submit) a panel referral: the way a case not on the register comes
    onto a panel's agenda."""
    views = {"child_views": "Wants to be heard", "carer_views": "Supportive"}
    r = await client.post(f"/v1/cases/{case_id}/referrals", json={"kind": "panel",
                                                                   "details": views},
                          headers=tenant.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]
    r = await client.post(f"/v1/referrals/{referral['id']}/submit",
                          headers=tenant.auth("case_holder"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def high_case(client: httpx.AsyncClient, tenant: Tenant) -> dict:
    """A Somerset case with ROSH high (on the register)."""
    case = (await tenant.open_case())["data"]
    r = await judge(client, tenant, case["id"], domain="rosh", level="high",
                    occurred_at="2026-06-01T10:00:00+01:00")
    assert r.status_code == 201, r.text
    return case


async def test_S7_next_panel_waits_then_resolves(
    client: httpx.AsyncClient, somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """refer_to_panel has no date until a MARP is scheduled, then takes its time (recorded on
    1 June 2026, before that MARP sits: tests/api/test_fidelity_a.py for a MARP gone by)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    case = await high_case(client, somerset)
    steps = (await client.get("/v1/next-steps", params={"case_id": case["id"]},
                              headers=somerset.auth("case_holder"))).json()["data"]
    refer = next(s for s in steps if s["code"] == "refer_to_panel")
    assert refer["due_at"] is None
    assert refer["awaiting_panel_date"] is True
    await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    steps = (await client.get("/v1/next-steps", params={"case_id": case["id"]},
                              headers=somerset.auth("case_holder"))).json()["data"]
    refer = next(s for s in steps if s["code"] == "refer_to_panel")
    assert refer["due_at"] == "2026-06-10T13:00:00Z"
    assert refer["awaiting_panel_date"] is False


async def test_M6_lowering_a_registered_case_needs_the_panel(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """M6 (7.2.1): "recommendation that the risk level is reduced must be approved by the
    panel" once the MARP has the case (4.3 "If the case was relevant to MARP, the case holder
    will update the panel in line with the previously agreed review date"): after the MARP of
    3 June booked its review, direct lowering is 409; the review panel's decision lowers it
    and S21 deregisters."""
    case = await high_case(client, somerset)
    await heard_by_marp(somerset, case["id"], sits="2026-06-03T14:00:00+01:00",
                        review_date="2026-06-10", rosh_level="high")
    r = await judge(client, somerset, case["id"], domain="rosh", level="medium",
                    occurred_at="2026-06-05T10:00:00+01:00")
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/panel-approval-required")
    panel = await schedule(client, somerset, "2026-07-08T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "medium", "actions": [], "minutes": "Risk reduced: stable placement",
              "occurred_at": "2026-07-08T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["on_register"] is False
    assert got["data"]["ratings"]["rosh"]["level"] == "medium"
    codes = {s["code"] for s in got["data"]["open_steps"]}
    assert "refer_to_panel" not in codes
    assert "monthly_manager_review" not in codes


async def test_S20_decision_keeping_high_needs_review_date(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """422 without a review date; with one, attend_panel_review is due at its end."""
    case = await high_case(client, somerset)
    panel = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"])
    url = f"/v1/panels/{panel['id']}/items/{item['id']}/decision"
    body = {"rosh_level": "high", "minutes": "Remains high", "actions": [],
            "occurred_at": "2026-06-10T15:00:00+01:00"}
    r = await client.post(url, json=body, headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/review-date-required")
    body |= {"review_date": "2026-07-08", "actions": [
        {"description": "Safety plan with school", "owner_id": "case_holder-1",
         "due_date": "2026-06-24"}]}
    r = await client.post(url, json=body, headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    steps = {s["code"]: s for s in r.json()["next_steps"]}
    review = steps["attend_panel_review"]
    assert review["due_at"] == "2026-07-08T22:59:59Z"
    assert review["policy"] == {"pack": "somerset-yjt-2023", "version": "1", "ref": "7.1.6, 7.2.3",
                                "rule": "S20"}
    assert steps["complete_review_stage"]["actor"] == "case_holder"
    # 7.1.3: the countersignature opens with the Review Stage it signs, not at the decision.
    assert "countersign_assessment" not in steps
    action = steps["panel_action"]
    assert action["assignee_id"] == "case_holder-1"
    assert action["due_at"] == "2026-06-24T22:59:59Z"
    admin = await client.get("/v1/next-steps", params={"actor": "panel_admin"},
                             headers=somerset.auth("panel_admin"))
    contact = [s for s in admin.json()["data"] if s["code"] == "record_panel_contact"]
    assert contact
    assert contact[0]["policy"]["ref"] == "7.1.4"


async def test_presenting_chair_cannot_decide(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """7.1.5: the chair who presents the item cannot record its decision (403)."""
    case = await high_case(client, somerset)
    panel = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"], presenter="chair-1")
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "x", "actions": [],
              "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"),
    )
    assert r.status_code == 403, r.text
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "x", "actions": [],
              "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-2"),
    )
    assert r.status_code == 200, r.text


async def test_register_readable_by_panel_admin_not_case_holder(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The register lists high cases for panel admins and chairs."""
    case = await high_case(client, somerset)
    r = await client.get("/v1/register", headers=somerset.auth("panel_admin"))
    assert r.status_code == 200
    assert [c["id"] for c in r.json()["data"]] == [case["id"]]
    assert (await client.get("/v1/register", headers=somerset.auth("case_holder"))).status_code \
        == 403
    panels = await client.get("/v1/panels", params={"upcoming": "false"},
                              headers=somerset.auth("panel_admin"))
    assert panels.status_code == 200


def step_named(steps: list[dict], code: str) -> dict:
    """The one step with this code."""
    found = [s for s in steps if s["code"] == code]
    assert len(found) == 1, (code, [s["code"] for s in steps])
    return found[0]


async def open_steps(client: httpx.AsyncClient, tenant: Tenant, case_id: str,
                     status: str = "open") -> list[dict]:
    """The case's steps with a status, as the line manager sees them."""
    r = await client.get("/v1/next-steps", params={"case_id": case_id, "status": status},
                         headers=tenant.auth("line_manager"))
    return r.json()["data"]


async def test_W8_panel_request_asks_the_chair_to_hold_the_panel_within_a_week(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A High-Risk Panel referral: the chair holds it within a week; the decision closes it."""
    case = (await wokingham.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/referrals",
                          json={"kind": "panel", "occurred_at": "2026-08-28T14:00:00+01:00"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    # W8 asks the chair to hold the panel once the referral is submitted, not when drafted.
    assert "hold_high_risk_panel" not in {s["code"] for s in r.json()["next_steps"]}
    r = await client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                          json={"occurred_at": "2026-08-28T15:30:00+01:00"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    hold = step_named(r.json()["next_steps"], "hold_high_risk_panel")
    assert hold["actor"] == "chair"
    assert hold["assignee_id"] is None
    assert hold["due_at"] == "2026-09-04T14:30:00Z"
    assert hold["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                              "ref": "High Risk Panel, Management oversight", "rule": "W8"}
    panel = await schedule(client, wokingham, "2026-09-03T10:00:00+01:00", "high_risk_panel")
    item = await add_item(client, wokingham, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "medium", "minutes": "Plan agreed",
              "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                           "due_date": "2026-09-10"}],
              "occurred_at": "2026-09-03T11:00:00+01:00"},
        headers=wokingham.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    done = step_named(await open_steps(client, wokingham, case["id"], "done"),
                      "hold_high_risk_panel")
    assert done["satisfied_by"] == {"type": "panel_item", "id": item["id"]}


async def test_W22_high_risk_panel_decision_minutes_and_plan(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """After the panel the case worker uploads the minutes and updates the risk plan."""
    case = (await wokingham.open_case())["data"]
    panel = await schedule(client, wokingham, "2026-09-03T10:00:00+01:00", "high_risk_panel")
    await refer_to_panel(client, wokingham, case["id"])
    item = await add_item(client, wokingham, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-10-01", "minutes": "Remains high",
              "actions": [{"description": "Joint visit with police", "owner_id": "pc-17",
                           "due_date": "2026-09-10"}],
              "occurred_at": "2026-09-03T11:00:00+01:00"},
        headers=wokingham.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    steps = r.json()["next_steps"]
    minutes = step_named(steps, "upload_panel_minutes")
    assert minutes["actor"] == "case_holder"
    assert minutes["assignee_id"] == "case_holder-1"
    assert minutes["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                                 "ref": "High Risk Panel",
                                 "rule": "W22"}
    action = step_named(steps, "panel_action")
    assert action["assignee_id"] == "pc-17"
    assert action["due_at"] == "2026-09-10T22:59:59Z"


async def test_S22_panel_decides_mappa_level_2(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """A MARP decision of MAPPA level 2 for a very high ROSH case → mappa_a_referral."""
    case = (await somerset.open_case(mappa_category=2))["data"]
    r = await judge(client, somerset, case["id"], domain="rosh", level="very_high",
                    occurred_at="2026-06-01T10:00:00+01:00")
    assert r.status_code == 201, r.text
    panel = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "very_high", "mappa_level": 2, "review_date": "2026-07-08",
              "minutes": "Refer to MAPPA level 2", "actions": [],
              "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    referral = step_named(r.json()["next_steps"], "mappa_a_referral")
    assert referral["actor"] == "case_holder"
    assert referral["assignee_id"] == "case_holder-1"
    assert referral["due_at"] is None
    assert referral["policy"] == {"pack": "somerset-yjt-2023", "version": "1",
                                  "ref": "7.1.9, 8.3.3",
                                  "rule": "S22"}
    got = (await client.get(f"/v1/cases/{case['id']}", headers=somerset.auth("chair"))).json()
    assert got["data"]["mappa_level"] == 2


async def test_S17_mappa_category_1_via_the_mappa_feed(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A MAPPA feed message setting category 1 re-runs the rules: MARP referral and form H."""
    await somerset.open_case(external_ref={"system": "IYSS", "id": "M-1"})
    r = await client.post(
        "/v1/feeds/mappa/referrals",
        json={"case_external_ref": {"system": "IYSS", "id": "M-1"}, "kind": "mappa_h",
              "received_at": "2026-06-05T10:15:00+01:00", "details": {"mappa_category": 1}},
        headers={**somerset.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "mappa-000001"},
    )
    assert r.status_code == 201, r.text
    steps = r.json()["next_steps"]
    refer = step_named(steps, "refer_to_panel")
    assert refer["actor"] == "case_holder"
    assert refer["assignee_id"] == "case_holder-1"
    assert refer["awaiting_panel_date"] is True
    assert refer["policy"] == {"pack": "somerset-yjt-2023", "version": "1",
                               "ref": "7", "rule": "S17"}
    # 7: "the MAPPAs co-ordinator is notified of our involvement in managing case through
    # completion of MAPPAs form H by case holder": a message from MAPPA is not that notification.
    notify = step_named(steps, "mappa_h_notification")
    assert (notify["status"], notify["actor"]) == ("open", "case_holder")


async def test_panel_decision_closes_the_review_it_booked(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """S20: the review booked by one decision is satisfied by the next decision on the case."""
    case = await high_case(client, somerset)
    first = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, first["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{first['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "Review in July",
              "actions": [], "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"),
    )
    review = step_named(r.json()["next_steps"], "attend_panel_review")
    second = await schedule(client, somerset, "2026-07-08T14:00:00+01:00")
    item2 = await add_item(client, somerset, second["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{second['id']}/items/{item2['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-08-05", "minutes": "Still high",
              "actions": [], "occurred_at": "2026-07-08T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    reviews = [s for s in r.json()["next_steps"] if s["code"] == "attend_panel_review"]
    assert [s["due_at"] for s in reviews] == ["2026-08-05T22:59:59Z"]
    done = {s["id"] for s in await open_steps(client, somerset, case["id"], "done")}
    assert review["id"] in done


async def test_decision_that_cannot_stand_is_422_and_stores_nothing(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A review before the panel, an action due before it, MAPPA level without category."""
    case = (await wokingham.open_case())["data"]
    panel = await schedule(client, wokingham, "2026-10-14T10:00:00+01:00", "high_risk_panel")
    await refer_to_panel(client, wokingham, case["id"])
    item = await add_item(client, wokingham, panel["id"], case["id"])
    url = f"/v1/panels/{panel['id']}/items/{item['id']}/decision"
    body = {"rosh_level": "high", "minutes": "x", "occurred_at": "2026-10-14T11:00:00+01:00",
            "review_date": "2026-10-01", "mappa_level": 1,
            "actions": [{"description": "Visit", "owner_id": "cw", "due_date": "2026-10-13"}]}
    r = await client.post(url, json=body, headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 422, r.text
    locs = {e["loc"] for e in r.json()["errors"]}
    assert locs == {"body.review_date", "body.actions.0.due_date", "body.mappa_level"}
    got = (await client.get(f"/v1/cases/{case['id']}", headers=wokingham.auth("chair"))).json()
    assert got["data"]["ratings"]["rosh"] is None
    assert got["data"]["mappa_level"] is None


async def test_panel_kind_must_be_the_services(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """Wokingham runs the High-Risk Panel, not a MARP."""
    r = await client.post("/v1/panels", json={"kind": "marp", "chair_id": "chair-1",
                                              "scheduled_for": "2026-10-14T10:00:00+01:00"},
                          headers=wokingham.auth("panel_admin"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/wrong-panel-kind")


async def test_panel_decision_closes_referral_steps_left_open(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A case brought to the MARP without a referral: refer_to_panel and the MAPPA level close;
    the child's views (6.2, "before the initial panel") lapse at the sitting, overtaken, not done
    (attack 7 F8; attack 24b, A24b-4)."""
    case = (await somerset.open_case(mappa_category=2))["data"]
    await judge(client, somerset, case["id"], domain="rosh", level="very_high",
                occurred_at="2026-10-01T10:00:00+01:00")
    panel = await schedule(client, somerset, "2026-10-14T10:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "very_high", "mappa_level": 2, "review_date": "2026-11-11",
              "minutes": "MAPPA 2", "actions": [], "occurred_at": "2026-10-14T11:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"),
    )
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["next_steps"]}
    assert not codes & {"refer_to_panel", "identify_mappa_level", "seek_child_and_carer_views"}
