"""After a recorded death, acts about the living child dated after it are refused (A19-17).

Somerset 12: "Somerset YJT will complete notification within the expected timeframes for any
child who is charged with any notifiable offence or dies whilst relevant to our service";
"Case holders / team leaders will immediately inform operational/ YJT Manager of the
charge/death. The operational or YJT manager will be responsible for completing and submitting
the notification to the YJB." Wokingham: "Management reporting of serious incidents in line with
YJB guidance". What the policies ask after a death (the manager informed, the notification, the
closure) is still accepted; a judgement, a charge, an incident, an assessment, a panel agenda
item or a change of circumstances dated after the death is 409 ``after-final-event`` naming
the death's date (to a machine client, without it).

Dates: the child dies on Saturday 29 August 2026 at 10:00 BST (09:00Z); Monday 31 August 2026
is the Summer bank holiday.
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import with_matrix
from tests.conftest import Tenant

DIED = "2026-08-29T10:00:00+01:00"
DIED_Z = "2026-08-29T09:00:00Z"
BANK_HOLIDAY = "2026-08-31T11:00:00+01:00"


async def _post(t: Tenant, url: str, body: dict[str, Any], role: str = "case_holder",
                status: int = 201, **kw: Any) -> Any:
    r = await t.client.post(url, json=body, headers=t.auth(role, **kw))
    assert r.status_code == status, r.text
    return r.json()


async def _died(t: Tenant) -> str:
    case = (await t.open_case())["data"]
    await _post(t, f"/v1/cases/{case['id']}/events", {"type": "death", "occurred_at": DIED})
    return str(case["id"])


def _refused(problem: dict[str, Any], *, dated: bool = True) -> None:
    assert problem["type"].endswith("/after-final-event"), problem
    assert problem["final_event"]["type"] == "death"
    assert (DIED_Z in problem["detail"]) is dated
    assert ("occurred_at" in problem["final_event"]) is dated


async def test_S23_after_death_a_judgement_and_an_agenda_item_are_refused(
    somerset: Tenant,
) -> None:
    """S23 (12), 9, 7.1 (A19-17): a very high ROSH dated on the bank holiday after the death
    is refused (the deceased child is not put on the MARP administrator's list), as is putting
    the child on a MARP sitting after the death, a new assessment and a change of social care
    status; a judgement dated before the death (typed in afterwards) is history and accepted."""
    case_id = await _died(somerset)
    body = with_matrix(somerset.pack, {"domain": "rosh", "level": "very_high",
                                       "occurred_at": BANK_HOLIDAY, "victims": ["peer"]})
    _refused(await _post(somerset, f"/v1/cases/{case_id}/judgements", body, status=409))
    r = await somerset.client.get("/v1/register", headers=somerset.auth("chair"))
    assert case_id not in {c["id"] for c in r.json()["data"]}
    panel = (await _post(somerset, "/v1/panels", {
        "kind": "marp", "scheduled_for": "2026-09-10T13:00:00+01:00", "chair_id": "chair-1"},
        role="panel_admin"))["data"]
    _refused(await _post(somerset, f"/v1/panels/{panel['id']}/items",
                         {"case_id": case_id, "presenter_id": "case_holder-1"},
                         role="panel_admin", status=409))
    _refused(await _post(somerset, f"/v1/cases/{case_id}/assessments", {
        "type": "asset_plus", "stage": "review", "occurred_at": BANK_HOLIDAY}, status=409))
    url = f"/v1/cases/{case_id}"
    etag = (await somerset.client.get(url, headers=somerset.auth("line_manager"))
            ).headers["etag"]
    r = await somerset.client.patch(url, json={"csc_status": "cp", "occurred_at": BANK_HOLIDAY},
                                    headers={**somerset.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 409, r.text
    _refused(r.json())
    before = with_matrix(somerset.pack, {"domain": "rosh", "level": "medium",
                                         "occurred_at": "2026-08-28T10:00:00+01:00",
                                         "victims": ["peer"]})
    await _post(somerset, f"/v1/cases/{case_id}/judgements", before)


async def test_S23_after_death_the_notification_the_steps_and_the_closure_are_accepted(
    somerset: Tenant,
) -> None:
    """S23 (12): "The operational or YJT manager will be responsible for completing and
    submitting the notification to the YJB": after the death the serious incident referral is
    made, the manager is informed (the step completed) and the case closes."""
    case_id = await _died(somerset)
    referral = (await _post(somerset, f"/v1/cases/{case_id}/referrals", {
        "kind": "serious_incident", "occurred_at": BANK_HOLIDAY}, role="line_manager"))["data"]
    await _post(somerset, f"/v1/referrals/{referral['id']}/submit",
                {"occurred_at": BANK_HOLIDAY}, role="line_manager", status=200)
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case_id},
                                  headers=somerset.auth("case_holder"))
    inform = [s for s in r.json()["data"] if s["code"] == "inform_service_manager"]
    await _post(somerset, f"/v1/next-steps/{inform[0]['id']}/complete",
                {"occurred_at": BANK_HOLIDAY}, status=200)
    url = f"/v1/cases/{case_id}"
    etag = (await somerset.client.get(url, headers=somerset.auth("line_manager"))
            ).headers["etag"]
    r = await somerset.client.patch(url, json={"closed_at": "2026-09-01T10:00:00+01:00",
                                               "closure_reason": "The child died"},
                                    headers={**somerset.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text


async def test_W24_after_death_a_charge_raises_no_second_notification(
    wokingham: Tenant,
) -> None:
    """W24, W4, W5 (A19-17): "Management reporting of serious incidents in line with YJB
    guidance": the death is notified once; a charge, a new incident or an SWB judgement dated
    after it is refused, so no second notification, record or report is asked for. The case
    management system (a machine client) is told the rule without the death's date."""
    case_id = await _died(wokingham)
    url = f"/v1/cases/{case_id}/events"
    _refused(await _post(wokingham, url, {"type": "charged", "occurred_at": BANK_HOLIDAY},
                         status=409))
    _refused(await _post(wokingham, url, {"type": "new_incident", "occurred_at": BANK_HOLIDAY},
                         status=409))
    _refused(await _post(wokingham, f"/v1/cases/{case_id}/judgements", {
        "domain": "swb", "level": "high", "occurred_at": BANK_HOLIDAY}, status=409))
    _refused(await _post(wokingham, url, {"type": "new_incident", "occurred_at": BANK_HOLIDAY},
                         role="feed", sub="iyss-connector", scope="cms", status=409),
             dated=False)
    r = await wokingham.client.get("/v1/next-steps", params={"case_id": case_id},
                                   headers=wokingham.auth("line_manager"))
    assert sorted(s["code"] for s in r.json()["data"]) == [
        "notify_serious_incident", "record_incident", "report_to_line_manager"]


async def test_S23_after_death_the_case_is_not_reopened(somerset: Tenant) -> None:
    """S23 (12): "Somerset YJT will complete notification within the expected timeframes for
    any child who is charged with any notifiable offence or dies whilst relevant to our
    service". What is owed after a death is the manager informed and the notification; a new
    order cannot be made on a dead child. The case closed after the death and reopened dated
    after it ("new court order") is 409 ``after-final-event`` as any other act about the living
    child, and stays closed (attack 32c, ATTACK32C-9: 200, open again in the caseload while
    every act on it was refused)."""
    case_id = await _died(somerset)
    url = f"/v1/cases/{case_id}"
    etag = (await somerset.client.get(url, headers=somerset.auth("line_manager"))
            ).headers["etag"]
    r = await somerset.client.patch(url, json={"closed_at": "2026-09-01T10:00:00+01:00",
                                               "closure_reason": "The child died"},
                                    headers={**somerset.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text
    r = await somerset.client.patch(url, json={
        "closed_at": None, "reopen_reason": "new court order",
        "occurred_at": "2026-09-14T10:00:00+01:00"},
        headers={**somerset.auth("line_manager"), "If-Match": r.headers["etag"]})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    _refused(r.json())
    r = await somerset.client.get(url, headers=somerset.auth("line_manager"))
    assert r.json()["data"]["closed_at"] is not None
