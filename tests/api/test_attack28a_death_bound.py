"""Attack pass 28a, ATK28A-4: a death is not dated before acts about the living child already
on record.

The packs (event type ``death``, ``final = true``): "Nothing about the living child happens
after the death (attack pass 19, A19-17)"; docs/integrating.md, "After a recorded death": an
act about the living child dated after it (a judgement, a charge or other event, an
assessment started, a referral other than the serious incident notification, a panel decision,
a change of social care status, MAPPA, custody, release date or facts) is 409
``after-final-event``. A death dated before such an act already recorded was 201, and the
record then held a high ROSH judged four days after the child died and an incident five days
after. It is now 422 ``occurred-before-bound`` naming the latest such act's time (the bound), as
a closure dated before the latest act is; what the policy still asks after a death (oversight,
a reassignment, the serious incident notification) is no such bound. Raced against a
later-dated judgement, exactly one of the two stands, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.domain.cases import CasePatch, CaseUpsert
from app.domain.final_events import ADMINISTRATIVE_FIELDS, IDENTITY_FIELDS
from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import complete, steps_of
from tests.conftest import Tenant

EARLY = "2026-08-21T10:00:00+01:00"  # the death as mistyped in the repro
JUDGED = "2026-08-25T10:00:00+01:00"
INCIDENT = "2026-08-26T10:00:00+01:00"
INCIDENT_Z = "2026-08-26T09:00:00Z"
BOUND_NAME = "the latest act about the living child recorded on the case"


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder") -> Any:
    return await t.client.post(url, json=body, headers=t.auth(role))


def _death(at: str) -> dict[str, Any]:
    return {"type": "death", "occurred_at": at, "details": {}}


async def _events(t: Tenant, case_id: str) -> list[str]:
    r = await t.client.get(f"/v1/cases/{case_id}/events", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()["data"]]


async def test_S23_a_death_dated_before_a_judgement_and_an_incident_is_422(
        somerset: Tenant) -> None:
    """The repro: a high ROSH judged 25 August and an incident on 26 August are on record; a
    death dated 21 August is 422 ``occurred-before-bound`` naming the incident's time (the
    latest act about the living child) and is not recorded, so the same judgement sent again
    is still accepted; the death dated at the incident's instant (an act at the death's own
    instant is history) or after it is 201."""
    case_id = (await somerset.open_case())["data"]["id"]
    judged = with_matrix(somerset.pack, {"domain": "rosh", "level": "high",
                                         "occurred_at": JUDGED, "victims": ["peer"]})
    r = await _post(somerset, f"/v1/cases/{case_id}/judgements", judged)
    assert r.status_code == 201, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events",
                    {"type": "new_incident", "occurred_at": INCIDENT})
    assert r.status_code == 201, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert problem["bound"] == {"field": "occurred_at", "name": BOUND_NAME,
                                "value": INCIDENT_Z}
    assert problem["errors"] == [{"loc": "body.occurred_at",
                                  "msg": f"must not be before {BOUND_NAME} ({INCIDENT_Z})"}]
    assert "death" not in await _events(somerset, case_id)
    r = await _post(somerset, f"/v1/cases/{case_id}/judgements",
                    {**judged, "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert r.status_code == 201, r.text  # no death stands in its way
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(INCIDENT))
    assert r.status_code == 422, r.text  # the judgement of 27 August is now the bound
    assert r.json()["bound"]["value"] == "2026-08-27T09:00:00Z"
    r = await _post(somerset, f"/v1/cases/{case_id}/events",
                    _death("2026-08-27T10:00:00+01:00"))
    assert r.status_code == 201, r.text


def _living_acts() -> dict[str, Callable[[Tenant, str], Awaitable[Any]]]:
    """Each act about the living child the death refuses after it, recorded on 25 August."""
    async def charged(t: Tenant, case_id: str) -> Any:
        return await _post(t, f"/v1/cases/{case_id}/events",
                           {"type": "charged", "occurred_at": JUDGED})

    async def assessment(t: Tenant, case_id: str) -> Any:
        return await _post(t, f"/v1/cases/{case_id}/assessments",
                           {"type": "asset_plus", "stage": "review", "occurred_at": JUDGED})

    async def referral(t: Tenant, case_id: str) -> Any:
        return await _post(t, f"/v1/cases/{case_id}/referrals",
                           {"kind": "child_protection", "occurred_at": JUDGED})

    async def circumstances(t: Tenant, case_id: str) -> Any:
        url = f"/v1/cases/{case_id}"
        manager = t.auth("line_manager")
        etag = (await t.client.get(url, headers=manager)).headers["etag"]
        return await t.client.patch(url, json={"csc_status": "cp", "occurred_at": JUDGED},
                                    headers={**manager, "If-Match": etag})

    return {"charged": charged, "assessment": assessment, "referral": referral,
            "circumstances": circumstances}


@pytest.mark.parametrize("act", sorted(_living_acts()))
async def test_S23_each_act_about_the_living_child_bounds_the_death(
        somerset: Tenant, act: str) -> None:
    """A charge, an assessment started, a child protection referral made, a change of social
    care status: each is an act the death refuses after it, so a death dated before it is 422
    naming its time; dated at it, 201."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await _living_acts()[act](somerset, case_id)
    assert r.status_code == (200 if act == "circumstances" else 201), r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY))
    assert r.status_code == 422, r.text
    assert r.json()["bound"]["value"] == "2026-08-25T09:00:00Z"
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(JUDGED))
    assert r.status_code == 201, r.text


async def test_S23_what_the_policy_asks_after_a_death_does_not_bound_it(
        somerset: Tenant) -> None:
    """Oversight, a reassignment and the serious incident notification are accepted after a
    death (Somerset 12: the manager informed, the notification to the YJB), so they are no
    bound: a death dated before them is 201."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await _post(somerset, f"/v1/cases/{case_id}/oversight",
                    {"note": "Reviewed", "occurred_at": JUDGED}, role="line_manager")
    assert r.status_code == 201, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/referrals",
                    {"kind": "serious_incident", "occurred_at": JUDGED}, role="line_manager")
    assert r.status_code == 201, r.text
    url = f"/v1/cases/{case_id}"
    manager = somerset.auth("line_manager")
    etag = (await somerset.client.get(url, headers=manager)).headers["etag"]
    r = await somerset.client.patch(url, json={"case_holder_id": "case_holder-2",
                                               "occurred_at": INCIDENT},
                                    headers={**manager, "If-Match": etag})
    assert r.status_code == 200, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY), role="line_manager")
    assert r.status_code == 201, r.text


def test_circumstances_are_the_case_fields_a_death_refuses() -> None:
    """The case fields whose change bounds a death are those a PATCH or an upsert may not
    change after it: every field of their bodies but the administrative ones, the child's
    identity (``child``, an upsert's), the case's opening and its reference."""
    from app.domain.acts import CIRCUMSTANCES  # here: the module lacked it before ATK28A-4

    fields = set(CasePatch.model_fields) | set(CaseUpsert.model_fields)
    assert fields - ADMINISTRATIVE_FIELDS - IDENTITY_FIELDS - {
        "child", "opened_at", "external_ref"} == CIRCUMSTANCES


async def test_S23_preview_of_a_death_before_a_judgement_is_422_as_the_write(
        somerset: Tenant) -> None:
    """The preview of the same death answers as the write does (attack 20, A20-1's kind)."""
    case_id = (await somerset.open_case())["data"]["id"]
    judged = with_matrix(somerset.pack, {"domain": "rosh", "level": "high",
                                         "occurred_at": JUDGED, "victims": ["peer"]})
    assert (await _post(somerset, f"/v1/cases/{case_id}/judgements", judged)).status_code == 201
    r = await _post(somerset, "/v1/workflow/preview", {
        "case_id": case_id, "trigger": "case_event", "occurred_at": EARLY,
        "data": {"type": "death", "details": {}}})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/occurred-before-bound")
    assert r.json()["bound"]["value"] == "2026-08-25T09:00:00Z"


ROUNDS = 5


async def test_race_a_death_and_a_later_judgement_exactly_one_stands(
        somerset: Tenant) -> None:
    """A death dated 21 August and a judgement dated 25 August sent at once: exactly one is
    recorded. The judgement second is 409 ``after-final-event``; the death second is 422
    ``occurred-before-bound`` naming the judgement. Never both (a judgement after the death)."""
    for n in range(ROUNDS):
        case_id = (await somerset.open_case())["data"]["id"]
        judged = with_matrix(somerset.pack, {"domain": "rosh", "level": "high",
                                             "occurred_at": JUDGED, "victims": ["peer"]})
        sends = [_post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY)),
                 _post(somerset, f"/v1/cases/{case_id}/judgements", judged)]
        # Sent in either order (SQLite takes them in the order sent).
        answers = await asyncio.gather(*(sends if n % 2 else sends[::-1]))
        death, judgement = answers if n % 2 else answers[::-1]
        outcome = {(death.status_code, judgement.status_code)}
        assert outcome <= {(201, 409), (422, 201)}, (death.text, judgement.text)
        loser = judgement if death.status_code == 201 else death
        assert loser.json()["type"].endswith(
            "/after-final-event" if death.status_code == 201 else "/occurred-before-bound")
        r = await somerset.client.get(f"/v1/cases/{case_id}/judgements",
                                      headers=somerset.auth("line_manager"))
        assert len(r.json()["data"]) == (0 if death.status_code == 201 else 1)
        assert ("death" in await _events(somerset, case_id)) is (death.status_code == 201)


async def _step(t: Tenant, case_id: str, code: str) -> str:
    """The id of the case's open step of ``code``."""
    return next(s["id"] for s in await steps_of(t, case_id) if s["code"] == code)


async def test_S12_a_death_dated_before_an_explanation_to_the_child_done_is_422(
        somerset: Tenant) -> None:
    """Attack pass 29, ATK29-10: a high ROSH of 15 August raises S12 "Explain the change in
    assessed risk/concern to the child and parent/carer (if safe to do so)"; it is completed
    dated 25 August. The death ends that step ("the child has died: this work with the child
    can no longer be done"): recorded first, the completion dated 25 August is 409. A death
    dated 21 August was 201; it is 422 naming the completion's time, and dated at it, 201."""
    case_id = (await somerset.open_case())["data"]["id"]
    judged = with_matrix(somerset.pack, {"domain": "rosh", "level": "high",
                                         "occurred_at": "2026-08-15T10:00:00+01:00",
                                         "victims": ["peer"]})
    assert (await _post(somerset, f"/v1/cases/{case_id}/judgements", judged)).status_code == 201
    step_id = await _step(somerset, case_id, "inform_child_and_carer")
    r = await complete(somerset, step_id, "case_holder", occurred_at=JUDGED, note="told them")
    assert r.status_code == 200, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/occurred-before-bound")
    assert r.json()["bound"] == {"field": "occurred_at", "name": BOUND_NAME,
                                 "value": "2026-08-25T09:00:00Z"}
    assert "death" not in await _events(somerset, case_id)
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(JUDGED))
    assert r.status_code == 201, r.text


async def test_S23_a_step_the_death_leaves_open_done_after_it_does_not_bound_it(
        somerset: Tenant) -> None:
    """The twin: a charge of 15 August raises S23 "Inform the operational/YJT manager of the
    charge or death", a step the death does not end (the manager is informed after a death
    too); done dated 25 August, it is no act with the living child: a death dated 21 August is
    201, as the completion typed after the death would be accepted."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await _post(somerset, f"/v1/cases/{case_id}/events",
                    {"type": "charged", "occurred_at": "2026-08-15T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    step_id = await _step(somerset, case_id, "inform_service_manager")
    r = await complete(somerset, step_id, "case_holder", occurred_at=JUDGED)
    assert r.status_code == 200, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY))
    assert r.status_code == 201, r.text


async def test_S12_a_waiver_of_a_step_the_death_ends_does_not_bound_it(
        somerset: Tenant) -> None:
    """A waiver is a manager's decision that the duty need not be done, not an act with the
    child (what the packs still accept after a death: "completing or waiving steps"): S12
    waived dated 25 August is no bound, and a death dated 21 August is 201."""
    case_id = (await somerset.open_case())["data"]["id"]
    judged = with_matrix(somerset.pack, {"domain": "rosh", "level": "high",
                                         "occurred_at": "2026-08-15T10:00:00+01:00",
                                         "victims": ["peer"]})
    assert (await _post(somerset, f"/v1/cases/{case_id}/judgements", judged)).status_code == 201
    step_id = await _step(somerset, case_id, "inform_child_and_carer")
    r = await _post(somerset, f"/v1/next-steps/{step_id}/waive",
                    {"reason": "not safe to do so", "occurred_at": JUDGED}, role="line_manager")
    assert r.status_code == 200, r.text
    r = await _post(somerset, f"/v1/cases/{case_id}/events", _death(EARLY))
    assert r.status_code == 201, r.text
