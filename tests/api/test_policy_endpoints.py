"""Policy packs as data and the workflow preview (a dry run that writes nothing)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.integrity_support import assert_problem, heard_by_marp
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"
FRI_BH = "2026-08-28T15:30:00+01:00"  # Friday before the late-summer bank holiday


async def preview(t: Tenant, body: dict[str, Any], role: str = "case_holder",
                  sub: str | None = None) -> httpx.Response:
    """POST /v1/workflow/preview."""
    return await t.client.post("/v1/workflow/preview", json=body, headers=t.auth(role, sub))


async def state(t: Tenant, case_id: str) -> dict[str, Any]:
    """Everything a write could change: the case, its steps (any status), judgements, audit."""
    headers = t.auth("line_manager")
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=headers)).json()["data"]
    steps = {}
    for status in ("open", "done", "superseded"):
        r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status},
                               headers=headers)
        steps[status] = sorted((s["id"], s["code"], s["due_at"]) for s in r.json()["data"])
    judgements = (await t.client.get(f"/v1/cases/{case_id}/judgements",
                                     headers=headers)).json()["data"]
    audit = await t.client.get(f"/v1/cases/{case_id}/audit", params={"limit": 200}, headers=headers)
    assert audit.status_code == 200, audit.text
    return {"ratings": case["ratings"], "on_register": case["on_register"],
            "contact_level": case["contact_level"], "open_steps": len(case["open_steps"]),
            "steps": steps, "judgements": [j["id"] for j in judgements],
            "audit": audit.json()["data"]}


# --- packs -------------------------------------------------------------------------------------

async def test_list_policy_packs(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """GET /v1/policy-packs lists both packs with their rules, ids and refs."""
    r = await client.get("/v1/policy-packs", headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    packs = {p["id"]: p for p in r.json()["data"]}
    assert {SOMERSET, WOKINGHAM} <= packs.keys()
    for pack in packs.values():
        assert pack["rules"]
        for rule in pack["rules"]:
            assert rule["id"]
            assert rule["ref"]
            assert rule["code"]


async def test_read_somerset_pack_rule_by_rule(client: httpx.AsyncClient,
                                               somerset: Tenant) -> None:
    """GET /v1/policy-packs/{id}: every Somerset rule id, each with its paragraph."""
    r = await client.get(f"/v1/policy-packs/{SOMERSET}", headers=somerset.auth("chair"))
    assert r.status_code == 200, r.text
    pack = r.json()["data"]
    assert pack["id"] == SOMERSET
    assert pack["panel_kind"] == "marp"
    rule_ids = {rule["id"] for rule in pack["rules"]}
    expected = {f"S{n}" for n in range(1, 29)} - {"S21"}  # S21 is the register's de-registration
    assert expected <= rule_ids
    assert pack["register"]["deregistered_by"] == "S21"
    # A rule with several lines (S7: the case on the register rising to very high) is read by
    # its first line.
    by_code = {(rule["id"], rule["code"]): rule for rule in reversed(pack["rules"])}
    s5 = by_code[("S5", "discuss_with_manager")]
    assert s5["ref"] == "3.1"
    assert s5["actor"] == "line_manager"
    assert s5["deadline"] == "+24h"
    assert by_code[("S7", "refer_to_panel")]["ref"] == "3.2.3, 3.2.4"
    assert by_code[("S11", "monthly_manager_review")]["deadline"] == "every 1m"
    checks = {c["id"]: c for c in pack["checks"]}
    assert {"M6", "M7"} <= checks.keys()
    assert checks["M6"]["ref"] == "7.2.1, 4.3"
    assert checks["M6"]["status"] == 409
    assert pack["matrix"]["rule_id"] == "M1"
    assert pack["matrix"]["ref"] == "2.3"


async def test_read_wokingham_pack_rule_by_rule(client: httpx.AsyncClient,
                                                wokingham: Tenant) -> None:
    """GET /v1/policy-packs/{id}: Wokingham's rules, checks M2-M7, matrix and contact bands."""
    r = await client.get(f"/v1/policy-packs/{WOKINGHAM}", headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    pack = r.json()["data"]
    assert pack["panel_kind"] == "high_risk_panel"
    rule_ids = {rule["id"] for rule in pack["rules"]}
    assert {f"W{n}" for n in range(1, 24)} - {"W11"} <= rule_ids
    assert pack["contact"]["rule_id"] == "W11"
    assert pack["contact"]["ref"] == "Frequency of contact"
    assert [b["level"] for b in pack["contact"]["bands"]] == [
        "three_times_weekly", "twice_weekly", "weekly", "fortnightly"]
    assert {c["id"] for c in pack["checks"]} >= {"M2", "M3", "M4", "M5", "M7"}
    assert "M6" not in {c["id"] for c in pack["checks"]}
    w7 = [rule for rule in pack["rules"] if rule["id"] == "W7"]
    assert w7
    assert {rule["ref"] for rule in w7} == {"High Risk Panel"}
    assert {rule["deadline"] for rule in w7} == {"+2wd"}


async def test_unknown_pack_is_404_problem(client: httpx.AsyncClient, somerset: Tenant) -> None:
    """An unknown pack id is a 404 problem."""
    r = await client.get("/v1/policy-packs/lancashire-2025", headers=somerset.auth("chair"))
    assert_problem(r, 404)


async def test_packs_need_a_token(client: httpx.AsyncClient) -> None:
    """The packs are not public: no token, 401."""
    r = await client.get("/v1/policy-packs")
    assert_problem(r, 401)


# --- preview -----------------------------------------------------------------------------------

async def test_preview_judgement_returns_steps_and_writes_nothing(somerset: Tenant) -> None:
    """Preview of ROSH high: valid, the steps with their deadlines, and nothing is written."""
    case = (await somerset.open_case())["data"]
    before = await state(somerset, case["id"])
    r = await preview(somerset, {"case_id": case["id"], "judgement": {
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "occurred_at": FRI_BH}})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["valid"] is True
    assert data["violations"] == []
    assert data["matrix_level"] == "high"
    assert data["ratings_after"] == {"rosh": "high", "swb": None, "lor": None}
    assert data["on_register_after"] is True
    assert data["register_change"] == "registered"
    steps = {(s["code"], s["action"]): s for s in data["steps"]}
    discuss = steps[("discuss_with_manager", "create")]
    assert discuss["rule"] == "S5"
    assert discuss["actor"] == "line_manager"
    assert discuss["assignee_id"] == "line_manager-1"
    assert discuss["due_at"] == "2026-08-29T14:30:00Z"
    assert discuss["urgent"] is False
    assert discuss["policy"] == {"pack": SOMERSET, "version": "1", "ref": "3.1", "rule": "S5"}
    refer = steps[("refer_to_panel", "create")]
    assert refer["rule"] == "S7"
    assert refer["due_at"] is None
    assert refer["awaiting_panel_date"] is True
    review = steps[("monthly_manager_review", "create")]
    assert review["due_at"] == "2026-09-28T14:30:00Z"
    assert {"countersign_risk_plan", "seek_child_and_carer_views", "inform_child_and_carer",
            "update_intervention_plan"} <= {code for code, _ in steps}
    assert await state(somerset, case["id"]) == before


async def test_preview_shows_kept_steps_without_duplicating(somerset: Tenant) -> None:
    """Preview on a case already high: the open refer_to_panel is kept (not re-created)."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements",
                                   json={"domain": "rosh", "level": "high", "occurred_at": FRI_BH},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    before = await state(somerset, case["id"])
    r = await preview(somerset, {"case_id": case["id"], "judgement": {
        "domain": "swb", "level": "high", "occurred_at": FRI_BH}})
    assert r.status_code == 200, r.text
    actions = {(s["code"], s["action"]) for s in r.json()["data"]["steps"]}
    assert ("refer_to_panel", "create") not in actions
    assert await state(somerset, case["id"]) == before


async def test_preview_violation_shows_the_rule(wokingham: Tenant) -> None:
    """A violating preview: valid false, the rule and its problem, no steps; nothing written."""
    case = (await wokingham.open_case())["data"]
    before = await state(wokingham, case["id"])
    r = await preview(wokingham, {"case_id": case["id"], "judgement": {
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "occurred_at": FRI_BH}})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["valid"] is False
    assert [v["rule"] for v in data["violations"]] == ["M5"]
    violation = data["violations"][0]
    assert violation["status"] == 422
    assert violation["type"].endswith("/victims-required")
    assert "body.victims" in [e["loc"] for e in violation["errors"]]
    assert data["steps"] == []
    assert data["ratings_after"] == {"rosh": None, "swb": None, "lor": None}
    assert await state(wokingham, case["id"]) == before


async def test_preview_M6_violation_on_registered_case(somerset: Tenant) -> None:
    """Preview of lowering a Somerset case the MARP has taken: valid false with M6 (409)."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements",
                                   json={"domain": "rosh", "level": "very_high",
                                         "occurred_at": FRI_BH},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    await heard_by_marp(somerset, case["id"], sits="2026-09-03T14:00:00+01:00",
                        review_date="2026-10-01", rosh_level="very_high")
    before = await state(somerset, case["id"])
    r = await preview(somerset, {"case_id": case["id"], "judgement": {
        "domain": "rosh", "level": "medium"}}, role="line_manager")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["valid"] is False
    assert [v["rule"] for v in data["violations"]] == ["M6"]
    assert data["violations"][0]["status"] == 409
    assert data["violations"][0]["type"].endswith("/panel-approval-required")
    assert data["on_register_after"] is True
    assert await state(somerset, case["id"]) == before


async def test_preview_contact_level_for_wokingham(wokingham: Tenant) -> None:
    """Preview answers the W11 contact level the judgement would set, and writes nothing."""
    case = (await wokingham.open_case())["data"]
    r = await preview(wokingham, {"case_id": case["id"], "judgement": {
        "domain": "lor", "level": "high", "occurred_at": FRI_BH}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["contact_level"] == "twice_weekly"
    got = (await wokingham.client.get(f"/v1/cases/{case['id']}",
                                      headers=wokingham.auth("case_holder"))).json()["data"]
    assert got["contact_level"] is None
    assert got["ratings"]["lor"] is None


async def test_preview_by_another_case_holder_is_404(somerset: Tenant) -> None:
    """Preview on a case the caller does not hold is 404 (not even its existence leaks)."""
    case = (await somerset.open_case())["data"]
    r = await preview(somerset, {"case_id": case["id"], "judgement": {
        "domain": "rosh", "level": "high"}}, sub="case_holder-2")
    assert_problem(r, 404)


async def test_preview_of_another_services_case_is_404(somerset: Tenant,
                                                       wokingham: Tenant) -> None:
    """Preview on another service's case is 404, whatever the role."""
    case = (await wokingham.open_case())["data"]
    for role in ("case_holder", "chair", "duty_manager"):
        r = await preview(somerset, {"case_id": case["id"], "judgement": {
            "domain": "rosh", "level": "high"}}, role=role)
        assert_problem(r, 404)


async def test_preview_needs_judgement_or_trigger(somerset: Tenant) -> None:
    """Preview takes a judgement or a trigger, not neither."""
    case = (await somerset.open_case())["data"]
    assert_problem(await preview(somerset, {"case_id": case["id"]}), 422)
