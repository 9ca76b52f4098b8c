"""Panels: next-panel deadlines, decisions (S18–S22, W22), the presenter-chair rule, M6."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def judge(client: httpx.AsyncClient, tenant: Tenant, case_id: str, **body: object
                ) -> httpx.Response:
    """Record a judgement as the case holder."""
    return await client.post(f"/v1/cases/{case_id}/judgements", json=body,
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


async def high_case(client: httpx.AsyncClient, tenant: Tenant) -> dict:
    """A Somerset case with ROSH high (on the register)."""
    case = (await tenant.open_case())["data"]
    r = await judge(client, tenant, case["id"], domain="rosh", level="high",
                    occurred_at="2026-06-01T10:00:00+01:00")
    assert r.status_code == 201, r.text
    return case


async def test_S7_next_panel_waits_then_resolves(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """refer_to_panel has no date until a MARP is scheduled, then takes its time."""
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
    """Direct lowering is 409; the panel decision lowers it and S21 deregisters."""
    case = await high_case(client, somerset)
    r = await judge(client, somerset, case["id"], domain="rosh", level="medium")
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/panel-approval-required")
    panel = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case["id"])
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "medium", "actions": [], "minutes": "Risk reduced: stable placement",
              "occurred_at": "2026-06-10T15:00:00+01:00"},
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
    assert review["policy"] == {"pack": "somerset-yjt-2023", "ref": "7.1.6, 7.2.3",
                                "rule": "S20"}
    assert steps["complete_review_stage"]["actor"] == "case_holder"
    assert steps["countersign_assessment"]["assignee_id"] == "line_manager-1"
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
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "x", "actions": []},
        headers=somerset.auth("chair", "chair-1"),
    )
    assert r.status_code == 403, r.text
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "x", "actions": []},
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
