"""A third authority as one file: the fictional ``example-yjs`` pack served end to end over HTTP.

Its own event type, referral kind, weekly panel with attendance rules, typed case facts, a score
threshold and the child's age, all validated on write against the service's pack (422 listing the
allowed values) and published by ``GET /v1/policy-packs/{id}``; no engine change. The rules quote
``app/workflows/packs/sources/example-yjs-risk-policy-2025.txt``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, make_tenant

EXAMPLE = "example-yjs"
# Friday 28 August 2026, 15:30 BST, before the late-summer bank holiday (Monday 31 August).
FRIDAY = "2026-08-28T15:30:00+01:00"


@pytest.fixture
async def example(client: httpx.AsyncClient, settings: Any) -> Tenant:
    """A fresh service under the example pack."""
    return await make_tenant(client, settings, EXAMPLE)


def step(steps: list[dict[str, Any]], code: str) -> dict[str, Any]:
    """The one step with this code."""
    found = [s for s in steps if s["code"] == code]
    assert len(found) == 1, [s["code"] for s in steps]
    return found[0]


def codes(steps: list[dict[str, Any]]) -> set[str]:
    """The codes of the steps."""
    return {s["code"] for s in steps}


async def event(t: Tenant, case_id: str, **body: Any) -> httpx.Response:
    """Record a case event as the case holder."""
    return await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                               headers=t.auth("case_holder"))


async def patch(t: Tenant, case_id: str, body: dict[str, Any]) -> httpx.Response:
    """Change a case as its line manager (fetching the ETag first)."""
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    return await t.client.patch(url, json=body,
                                headers={**t.auth("line_manager"), "If-Match": etag})


async def test_policy_pack_publishes_its_vocabulary(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """GET /v1/policy-packs/{id}: core and pack words, so integrators can build forms."""
    r = await client.get(f"/v1/policy-packs/{EXAMPLE}", headers=example.auth("case_holder"))
    assert r.status_code == 200, r.text
    vocab = r.json()["data"]["vocabulary"]
    assert "parent_carer_risk" in vocab["event_types"]
    assert "new_incident" in vocab["event_types"]
    kinds = {k["id"]: k for k in vocab["referral_kinds"]}
    assert kinds["mental_health_assessment"]["closes"] == ["refer_mental_health_assessment"]
    assert "mappa_h" in kinds
    panel = vocab["panel_kinds"][0]
    assert (panel["id"], panel["cadence"], panel["required_attendance"]) == (
        "risk_panel", "weekly on Thursday", ["chair", "case_holder"])
    facts = {f["id"]: f for f in vocab["facts"]}
    assert facts["offence_category"]["type"] == "list"
    assert vocab["scores"] == [{"id": "serious_harm_indicators", "min": 0, "max": 4,
                                "title": "AssetPlus: Indicators of serious harm (section score)"}]
    assert r.json()["data"]["warnings"] == []


async def test_X5_parent_carer_risk_is_the_packs_own_event_type(
    client: httpx.AsyncClient, example: Tenant, somerset: Tenant
) -> None:
    """4.2 "Where a parent or carer poses a risk to the child, the case manager makes a referral
    to children's social care within one working day and discusses the concern with their line
    manager the same day." Other services' packs do not know the word (422 listing theirs)."""
    case = (await example.open_case())["data"]
    r = await event(example, case["id"], type="parent_carer_risk", occurred_at=FRIDAY)
    assert r.status_code == 201, r.text
    referral = step(r.json()["next_steps"], "child_protection_referral")
    assert (referral["actor"], referral["due_at"], referral["policy"]["ref"]) == (
        "case_holder", "2026-09-01T22:59:59Z", "4.2")
    assert referral["policy"]["pack"] == EXAMPLE
    talk = step(r.json()["next_steps"], "discuss_with_manager")
    assert (talk["due_at"], talk["urgent"]) == ("2026-08-28T14:30:00Z", True)
    other = (await somerset.open_case())["data"]
    refused = await event(somerset, other["id"], type="parent_carer_risk", occurred_at=FRIDAY)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"][0]["loc"] == "body.type"
    assert "new_incident" in problem["allowed"]
    assert "parent_carer_risk" not in problem["allowed"]


async def test_misspelt_event_type_is_refused_with_the_allowed_values(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """A write's words are checked against the service's pack: 422, never a silent no-op."""
    case = (await example.open_case())["data"]
    r = await event(example, case["id"], type="new_incidnet", occurred_at=FRIDAY)
    assert r.status_code == 422
    assert r.json()["errors"][0]["msg"].startswith("must be one of: change_of_circumstances, ")


async def test_X6_child_age_on_the_day_of_the_charge(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """4.3 "Where a child under the age of 14 is charged with an offence, the team manager is
    informed within one working day": 13 the day before the 14th birthday, not on it."""
    young = (await example.open_case(child={"given_name": "Ali", "family_name": "Khan",
                                            "date_of_birth": "2012-08-29"}))["data"]
    r = await event(example, young["id"], type="charged", occurred_at=FRIDAY)
    assert r.status_code == 201, r.text
    inform = step(r.json()["next_steps"], "inform_team_manager")
    assert (inform["actor"], inform["due_at"], inform["policy"]["ref"]) == (
        "chair", "2026-09-01T22:59:59Z", "4.3")
    fourteen = (await example.open_case(child={"given_name": "Bo", "family_name": "Lee",
                                               "date_of_birth": "2012-08-28"}))["data"]
    r = await event(example, fourteen["id"], type="charged", occurred_at=FRIDAY)
    assert r.status_code == 201, r.text
    assert "inform_team_manager" not in codes(r.json()["next_steps"])


async def test_X7_typed_list_fact_set_through_patch(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """4.4 "Where the current offence is a sexual or hate-motivated offence, the case manager
    consults the police public protection unit within two working days of it becoming known."
    """
    case = (await example.open_case())["data"]
    r = await patch(example, case["id"], {"facts": {"offence_category": ["robbery"]},
                                          "occurred_at": FRIDAY})
    assert r.status_code == 200, r.text
    assert "consult_public_protection_unit" not in codes(r.json()["next_steps"])
    r = await patch(example, case["id"], {"facts": {"offence_category": ["robbery", "sexual"]},
                                          "occurred_at": FRIDAY})
    assert r.status_code == 200, r.text
    consult = step(r.json()["next_steps"], "consult_public_protection_unit")
    assert (consult["actor"], consult["due_at"], consult["policy"]["ref"]) == (
        "case_holder", "2026-09-02T22:59:59Z", "4.4")
    # A list fact is stored once per value, in the order the pack declares its values.
    assert r.json()["data"]["facts"] == {"offence_category": ["sexual", "robbery"]}


async def test_facts_are_validated_against_the_pack(
    client: httpx.AsyncClient, example: Tenant, wokingham: Tenant
) -> None:
    """Unknown facts, values outside the declared ones and wrong types are 422 naming them (an
    unknown one by its place among the facts sent, never its text: attack pass 9, N8)."""
    case = (await example.open_case())["data"]
    r = await patch(example, case["id"], {"facts": {"offence_category": ["arson"],
                                                    "previous_custodial_sentences": 31,
                                                    "dangerousness": True}})
    assert r.status_code == 422
    errors = {e["loc"]: e["msg"] for e in r.json()["errors"]}
    assert errors == {
        "body.facts.offence_category":
            "must be a list of sexual, robbery, other_violence, hate_motivated, other",
        "body.facts.previous_custodial_sentences": "must be between 0 and 30",
        "body.facts": "key 3 of this object is not a case fact of this service's policy "
                      "(allowed: dangerousness_criteria_met, offence_category, "
                      "previous_custodial_sentences)",
    }
    other = (await wokingham.open_case())["data"]
    r = await patch(wokingham, other["id"], {"facts": {"offence_category": ["sexual"]}})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {"loc": "body.facts", "msg": (
        "key 1 of this object is not a case fact of this service's policy "
        "(allowed: release_address_other_area, harmful_sexual_behaviour)")}


async def test_X8_X3_dangerousness_fact_refers_to_panel_and_registers(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """5.1 "A child is referred to the next Risk Panel when ... the court finds the dangerousness
    criteria met"; 3.1 the register holds "children for whom the court found the dangerousness
    criteria met". Unsetting the fact (null) takes the case off the register. Set on Friday
    28 August 2026 with no panel booked, the referral is due by the end of the next Thursday
    the panel "meets weekly on", 3 September (BST), until a panel is booked."""
    case = (await example.open_case())["data"]
    r = await patch(example, case["id"], {"facts": {"dangerousness_criteria_met": True},
                                          "occurred_at": FRIDAY})
    assert r.status_code == 200, r.text
    refer = step(r.json()["next_steps"], "refer_to_risk_panel")
    assert (refer["due_at"], refer["awaiting_panel_date"], refer["policy"]["ref"]) == (
        "2026-09-03T22:59:59Z", True, "5.1")
    assert r.json()["data"]["on_register"] is True
    r = await patch(example, case["id"], {"facts": {"dangerousness_criteria_met": None}})
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["on_register"], r.json()["data"]["facts"]) == (False, {})


async def test_X8_assessment_score_threshold(client: httpx.AsyncClient, example: Tenant) -> None:
    """5.1 "... or an AssetPlus assessment scores 2 or more in the Indicators of serious harm
    section"; scores outside the declared range or undeclared are 422."""
    case = (await example.open_case())["data"]
    auth = example.auth("case_holder")
    draft = await client.post(f"/v1/cases/{case['id']}/assessments", headers=auth,
                              json={"type": "asset_plus", "stage": "start",
                                    "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert draft.status_code == 201, draft.text
    url = f"/v1/assessments/{draft.json()['data']['id']}/submit"
    bad = await client.post(url, headers=auth, json={"scores": {"serious_harm_indicators": 5,
                                                                "harm": 1}})
    assert bad.status_code == 422
    assert {e["loc"]: e["msg"] for e in bad.json()["errors"]} == {
        "body.scores.serious_harm_indicators": "must be a whole number from 0 to 4",
        "body.scores": "key 2 of this object is not a score of this service's policy "
                       "(allowed: serious_harm_indicators)",
    }
    # A score is a whole number as a fact is: 4.0 (which JSON Schema's "integer" admits) and
    # true are refused, as an integer fact's 30.0 is, nothing stored (ATTACK35A-10).
    for sent, said in (
            (4.0, "Input should be a valid integer (at key 1 of this object)"),
            (2.0, "Input should be a valid integer (at key 1 of this object)"),
            (True, "does not satisfy the contract's 'type': \"integer\" (at key 1 of this "
                   "object)")):
        odd = await client.post(url, headers=auth,
                                json={"scores": {"serious_harm_indicators": sent}})
        assert odd.status_code == 422, (sent, odd.text)
        assert odd.json()["errors"] == [{"loc": "body.scores", "msg": said}], odd.json()
        assert str(sent) not in odd.text
        assert "true" not in odd.text
    r = await client.post(url, headers=auth, json={"scores": {"serious_harm_indicators": 2},
                                                    "occurred_at": FRIDAY})
    assert r.status_code == 200, r.text
    assert step(r.json()["next_steps"], "refer_to_risk_panel")["policy"]["ref"] == "5.1"
    countersign = step(r.json()["next_steps"], "countersign_assessment")
    assert (countersign["actor"], countersign["due_at"]) == ("line_manager",
                                                             "2026-09-07T22:59:59Z")
    assert r.json()["data"]["scores"] == {"serious_harm_indicators": 2}


async def test_X13_packs_own_referral_kind_closes_its_step(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """6.1 "Where SWB is judged high or very high, the case manager refers the child for a
    mental health assessment within 5 working days": sending a ``mental_health_assessment``
    referral (the pack's kind) is that act; a kind the pack lacks is 422."""
    case = (await example.open_case())["data"]
    auth = example.auth("case_holder")
    r = await client.post(f"/v1/cases/{case['id']}/judgements", headers=auth,
                          json={"domain": "swb", "level": "high", "occurred_at": FRIDAY})
    assert r.status_code == 201, r.text
    refer = step(r.json()["next_steps"], "refer_mental_health_assessment")
    assert (refer["actor"], refer["due_at"], refer["policy"]["ref"]) == (
        "case_holder", "2026-09-07T22:59:59Z", "6.1")
    typo = await client.post(f"/v1/cases/{case['id']}/referrals", headers=auth,
                             json={"kind": "mental_health"})
    assert typo.status_code == 422
    assert "mental_health_assessment" in typo.json()["allowed"]
    made = await client.post(f"/v1/cases/{case['id']}/referrals", headers=auth,
                             json={"kind": "mental_health_assessment"})
    assert made.status_code == 201, made.text
    rid = made.json()["data"]["id"]
    assert made.json()["data"]["allowed_actions"] == ["submit", "withdraw"]
    assert (await client.post(f"/v1/referrals/{rid}/submit", headers=auth)).status_code == 200
    sent = await client.post(f"/v1/referrals/{rid}/send", headers=auth)
    assert sent.status_code == 200, sent.text
    assert "refer_mental_health_assessment" not in codes(sent.json()["next_steps"])


async def test_X11_weekly_panel_with_attendance_rules(
    client: httpx.AsyncClient, example: Tenant
) -> None:
    """5.3 "The case manager and the chair must attend ... The manager presenting a case does
    not chair the panel's decision on it"; 5.4 "Where the CAMHS practitioner did not attend and
    SWB is high or very high, the case manager shares the minutes and the action plan with CAMHS
    within two working days"."""
    case = (await example.open_case())["data"]
    holder = example.auth("case_holder")
    r = await client.post(f"/v1/cases/{case['id']}/judgements", headers=holder,
                          json={"domain": "swb", "level": "high",
                                "occurred_at": "2026-08-24T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    admin = example.auth("panel_admin")
    wrong = await client.post("/v1/panels", headers=admin, json={
        "kind": "marp", "scheduled_for": "2026-08-27T14:00:00+01:00", "chair_id": "chair-1"})
    assert wrong.status_code == 422
    assert wrong.json()["allowed"] == ["risk_panel"]
    panel = await client.post("/v1/panels", headers=admin, json={
        "kind": "risk_panel", "scheduled_for": "2026-08-27T14:00:00+01:00", "chair_id": "chair-1"})
    assert panel.status_code == 201, panel.text
    pid = panel.json()["data"]["id"]
    item = await client.post(f"/v1/panels/{pid}/items", headers=admin,
                             json={"case_id": case["id"], "presenter_id": "chair-2"})
    assert item.status_code == 201, item.text
    url = f"/v1/panels/{pid}/items/{item.json()['data']['id']}/decision"
    body = {"swb_level": "high", "review_date": "2026-09-24", "minutes": "Discussed.",
            "occurred_at": FRIDAY}
    presenter = await client.post(url, headers=example.auth("chair", "chair-2"),
                                  json={**body, "attendees": ["chair", "case_holder"]})
    assert presenter.status_code == 403
    short = await client.post(url, headers=example.auth("chair"),
                              json={**body, "attendees": ["chair", "teacher"]})
    assert short.status_code == 422
    assert {e["loc"] for e in short.json()["errors"]} == {"body.attendees.1", "body.attendees"}
    r = await client.post(url, headers=example.auth("chair"),
                          json={**body, "attendees": ["chair", "case_holder", "police_officer"]})
    assert r.status_code == 200, r.text
    share = step(r.json()["next_steps"], "share_minutes_with_camhs")
    assert (share["actor"], share["due_at"], share["policy"]["ref"]) == (
        "case_holder", "2026-09-02T22:59:59Z", "5.4")
    review = step(r.json()["next_steps"], "attend_risk_panel_review")
    assert review["policy"]["ref"] == "5.3"


async def test_facts_from_the_attackers_side(
    client: httpx.AsyncClient, example: Tenant, settings: Any
) -> None:
    """Facts follow the case's access rules: another service's case is 404, a role that may
    not change the case is 403, another case holder's case is 404; nothing is written."""
    case = (await example.open_case())["data"]
    url = f"/v1/cases/{case['id']}"
    etag = (await client.get(url, headers=example.auth("line_manager"))).headers["etag"]
    body = {"facts": {"dangerousness_criteria_met": True}}
    other = await make_tenant(client, settings, EXAMPLE)
    r = await client.patch(url, json=body, headers={**other.auth("line_manager"),
                                                    "If-Match": etag})
    assert r.status_code == 404
    r = await client.patch(url, json=body, headers={**example.auth("panel_admin"),
                                                    "If-Match": etag})
    assert r.status_code == 403
    r = await client.patch(url, json=body, headers={**example.auth("case_holder", "cw-other"),
                                                    "If-Match": etag})
    assert r.status_code == 404
    after = (await client.get(url, headers=example.auth("line_manager"))).json()["data"]
    assert (after["facts"], after["on_register"]) == ({}, False)


@pytest.mark.parametrize("facts", [
    {"offence_category": [{"nested": 1}]},
    {"offence_category": "sexual"},
    {"dangerousness_criteria_met": "yes"},
    {"previous_custodial_sentences": 2.5},
    {"previous_custodial_sentences": True},
    {"x" * 40: 1},
])
async def test_malformed_facts_are_422_never_500(
    client: httpx.AsyncClient, example: Tenant, facts: dict[str, Any]
) -> None:
    """Wrong shapes and types are refused as problems naming the field."""
    case = (await example.open_case())["data"]
    r = await patch(example, case["id"], {"facts": facts})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_which_acts_reach_past_closure_is_the_packs(
    client: httpx.AsyncClient, example: Tenant, somerset: Tenant
) -> None:
    """Somerset 12 (S23): "any child who is charged with any notifiable offence or dies whilst
    relevant to our service (up to 20 days following the end of supervision)": a charge may be
    recorded on a closed Somerset case; the example pack declares no such thing (409), while
    its serious incident notification, like Somerset's, reaches past closure."""
    close = {"closed_at": "2026-09-10T16:00:00+01:00", "closure_reason": "Order completed",
             "occurred_at": "2026-09-10T16:00:00+01:00"}
    charged = {"type": "charged", "occurred_at": "2026-09-14T10:00:00+01:00"}
    for tenant, status in ((somerset, 201), (example, 409)):
        case = (await tenant.open_case())["data"]
        r = await patch(tenant, case["id"], close)
        assert r.status_code == 200, r.text
        r = await event(tenant, case["id"], **charged)
        assert r.status_code == status, r.text
        notify = await client.post(f"/v1/cases/{case['id']}/referrals",
                                   headers=tenant.auth("case_holder"),
                                   json={"kind": "serious_incident",
                                         "occurred_at": "2026-09-14T11:00:00+01:00"})
        assert notify.status_code == 201, notify.text
