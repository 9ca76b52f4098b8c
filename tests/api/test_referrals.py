"""Referrals: lifecycle as data, the MAPPA quality-assurance gate (W18), panel views (6.2)."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def make_referral(client: httpx.AsyncClient, tenant: Tenant, case_id: str, kind: str,
                        occurred_at: str | None = None, **details: object) -> dict:
    """Create a referral as the case holder (now, or at ``occurred_at``)."""
    body: dict[str, object] = {"kind": kind, "details": details}
    if occurred_at is not None:
        body["occurred_at"] = occurred_at
    r = await client.post(f"/v1/cases/{case_id}/referrals", json=body,
                          headers=tenant.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r.json()


async def act(client: httpx.AsyncClient, tenant: Tenant, referral_id: str, action: str,
              role: str = "case_holder", sub: str | None = None, **body: object
              ) -> httpx.Response:
    """Apply a lifecycle action."""
    return await client.post(f"/v1/referrals/{referral_id}/{action}", json=body,
                             headers=tenant.auth(role, sub))


async def test_W18_mappa_form_cannot_be_sent_before_quality_assurance(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """A MAPPA form: drafted → W18 step for the line manager; send before QA → 409."""
    case = (await wokingham.open_case())["data"]
    created = await make_referral(client, wokingham, case["id"], "mappa_h")
    referral = created["data"]
    qa = [s for s in created["next_steps"] if s["code"] == "quality_assure_mappa_form"]
    assert len(qa) == 1
    assert qa[0]["actor"] == "line_manager"
    assert qa[0]["assignee_id"] == "line_manager-1"
    assert qa[0]["due_at"] is None
    assert qa[0]["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                               "ref": "Referrals into MAPPA",
                               "rule": "W18"}
    assert (await act(client, wokingham, referral["id"], "submit")).status_code == 200
    blocked = await act(client, wokingham, referral["id"], "send")
    assert blocked.status_code == 409, blocked.text
    assert blocked.json()["type"].endswith("/quality-assurance-required")
    assert (await act(client, wokingham, referral["id"], "quality-assure")).status_code == 403
    done = await act(client, wokingham, referral["id"], "quality-assure", "line_manager")
    assert done.status_code == 200, done.text
    assert "quality_assure_mappa_form" not in {s["code"] for s in done.json()["next_steps"]}
    sent = await act(client, wokingham, referral["id"], "send")
    assert sent.status_code == 200
    assert sent.json()["data"]["status"] == "sent"


async def test_illegal_transitions_are_409(client: httpx.AsyncClient, wokingham: Tenant) -> None:
    """Accepting a draft, or sending a withdrawn referral, is refused."""
    case = (await wokingham.open_case())["data"]
    referral = (await make_referral(client, wokingham, case["id"], "marf"))["data"]
    assert referral["allowed_actions"] == ["submit", "withdraw"]
    r = await act(client, wokingham, referral["id"], "accept", "line_manager")
    assert r.status_code == 409
    assert r.json()["type"].endswith("/illegal-transition")
    assert (await act(client, wokingham, referral["id"], "withdraw", note="dup")).status_code == 200
    assert (await act(client, wokingham, referral["id"], "submit")).status_code == 409
    assert (await act(client, wokingham, referral["id"], "fly")).status_code == 422


async def test_transitions_are_published_as_data(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """The lifecycle table is readable: actions, states, roles, hints."""
    r = await client.get("/v1/referrals/transitions", headers=wokingham.auth("case_holder"))
    actions = {t["action"]: t for t in r.json()["data"]}
    assert set(actions) == {"submit", "quality-assure", "send", "accept", "decline", "withdraw"}
    assert actions["quality-assure"]["kinds"] == ["mappa_a", "mappa_h"]
    assert actions["send"]["hint"]


async def test_somerset_panel_referral_needs_views_or_reason(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """6.2: submitting a MARP referral without the views or a reason is 422."""
    case = (await somerset.open_case())["data"]
    referral = (await make_referral(client, somerset, case["id"], "panel"))["data"]
    r = await act(client, somerset, referral["id"], "submit")
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/views-required")
    ok = await act(client, somerset, referral["id"], "submit",
                   details={"views_not_sought_reason": "Contact would increase risk to the child"})
    assert ok.status_code == 200, ok.text


async def test_referral_satisfies_the_step_that_asked_for_it(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A high ROSH asks for refer_to_panel; a draft does not close it, submitting does (3.2.3)."""
    case = (await somerset.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "rosh", "level": "high",
                                "occurred_at": "2026-06-01T10:00:00Z"},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    assert "refer_to_panel" in {s["code"] for s in r.json()["next_steps"]}
    created = await make_referral(client, somerset, case["id"], "panel",
                                  child_views="Wants to stay at home", carer_views="Agrees")
    assert "refer_to_panel" in {s["code"] for s in created["next_steps"]}  # a draft only
    submitted = await act(client, somerset, created["data"]["id"], "submit")
    assert submitted.status_code == 200, submitted.text
    codes = {s["code"] for s in submitted.json()["next_steps"]}
    assert "refer_to_panel" not in codes
    assert "seek_child_and_carer_views" not in codes  # the views are in the form (6.2)
    done = await client.get("/v1/next-steps", params={"case_id": case["id"], "status": "done"},
                            headers=somerset.auth("case_holder"))
    closed = [s for s in done.json()["data"] if s["code"] == "refer_to_panel"]
    assert closed[0]["satisfied_by"] == {"type": "referral", "id": created["data"]["id"]}


async def test_withdrawn_referral_gives_the_step_back(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A submitted panel referral later withdrawn: refer_to_panel is open again, same deadline."""
    case = (await somerset.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "swb", "level": "high",
                                "occurred_at": "2026-06-01T10:00:00Z"},
                          headers=somerset.auth("case_holder"))
    before = next(s for s in r.json()["next_steps"] if s["code"] == "refer_to_panel")
    referral = (await make_referral(client, somerset, case["id"], "panel",
                                    views_not_sought_reason="Would raise the risk"))["data"]
    assert (await act(client, somerset, referral["id"], "submit")).status_code == 200
    withdrawn = await act(client, somerset, referral["id"], "withdraw", note="Sent in error")
    assert withdrawn.status_code == 200, withdrawn.text
    again = next(s for s in withdrawn.json()["next_steps"] if s["code"] == "refer_to_panel")
    assert again["id"] != before["id"]
    assert again["status"] == "open"
    assert again["policy"] == before["policy"]
    assert again["awaiting_panel_date"] is True
    assert "withdrawn" in again["note"]


async def test_mappa_form_send_is_not_offered_before_quality_assurance(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """allowed_actions only lists what would succeed: no send before quality assurance."""
    case = (await wokingham.open_case())["data"]
    referral = (await make_referral(client, wokingham, case["id"], "mappa_a"))["data"]
    submitted = (await act(client, wokingham, referral["id"], "submit")).json()["data"]
    assert "send" not in submitted["allowed_actions"]
    assured = await act(client, wokingham, referral["id"], "quality-assure", "line_manager")
    assert "send" in assured.json()["data"]["allowed_actions"]


async def test_another_holder_cannot_touch_a_referral(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """Another case holder's referral is 404."""
    case = (await wokingham.open_case())["data"]
    referral = (await make_referral(client, wokingham, case["id"], "nrm"))["data"]
    r = await act(client, wokingham, referral["id"], "submit", "case_holder", "case_holder-2")
    assert r.status_code == 404


async def test_W8_withdrawn_referral_after_a_request_leaves_no_hold_open(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """High ROSH asks for a panel (W7); the submitted referral asks the chair to hold it (W8);
    withdrawn, the request is open again and the chair's hold is superseded."""
    case = (await wokingham.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          json={"domain": "rosh", "level": "high", "victims": ["a peer"],
                                "impact": "major", "likelihood": "likely",
                                "occurred_at": "2026-09-01T10:00:00+01:00"},
                          headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = (await make_referral(client, wokingham, case["id"], "panel",
                                    occurred_at="2026-09-02T08:00:00+01:00"))["data"]
    submitted = await act(client, wokingham, referral["id"], "submit",
                          occurred_at="2026-09-02T09:00:00+01:00")
    codes = {s["code"]: s for s in submitted.json()["next_steps"]}
    assert "request_high_risk_panel" not in codes
    assert codes["hold_high_risk_panel"]["due_at"] == "2026-09-09T08:00:00Z"  # +1w from submit
    withdrawn = await act(client, wokingham, referral["id"], "withdraw", note="wrong child")
    codes = {s["code"] for s in withdrawn.json()["next_steps"]}
    assert "request_high_risk_panel" in codes
    assert "hold_high_risk_panel" not in codes


async def test_W26_the_marf_sent_is_the_child_protection_referral(
    client: httpx.AsyncClient, wokingham: Tenant
) -> None:
    """W26 (Assessment of Safety and Well-being (SWB) concerns): "VERY HIGH: ... Immediate
    actions are needed to protect the young person, which will include (or have already
    included) a referral to statutory child protection services"; Management of Safety and
    Well-being concerns: children not open to social care are referred by "a MARF referral
    highlighting the identified concerns". Attack pass 14, A14-23: the MARF sent left W26's
    urgent referral open, to be escalated at the end of the day. Sent, it does both W9's
    MARF and W26's referral."""
    case = (await wokingham.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements", headers=wokingham.auth(
        "case_holder"), json={"domain": "swb", "level": "very_high",
                              "occurred_at": "2026-11-27T10:00:00Z"})
    assert r.status_code == 201, r.text
    owed = {s["code"]: s for s in r.json()["next_steps"]}
    assert (owed["child_protection_referral"]["policy"]["rule"],
            owed["child_protection_referral"]["urgent"]) == ("W26", True)
    referral = (await make_referral(client, wokingham, case["id"], "marf"))["data"]
    assert (await act(client, wokingham, referral["id"], "submit")).status_code == 200
    sent = await act(client, wokingham, referral["id"], "send")
    assert sent.status_code == 200, sent.text
    r = await client.get("/v1/next-steps", params={"case_id": case["id"], "status": "done"},
                         headers=wokingham.auth("case_holder"))
    done = {s["code"]: s for s in r.json()["data"]}
    for code in ("child_protection_referral", "marf_referral"):
        assert done[code]["id"] == owed[code]["id"], code
        assert done[code]["satisfied_by"] == {"type": "referral", "id": referral["id"]}, code
