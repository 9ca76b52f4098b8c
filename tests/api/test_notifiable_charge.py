"""A charge raises the CSPPI serious incident notification only for a notifiable offence (A19-20).

Somerset 12: "Somerset YJT will complete notification within the expected timeframes for any
child who is charged with any notifiable offence or dies whilst relevant to our service".
Wokingham (Management oversight): "Management reporting of serious incidents in line with YJB
guidance". The ``charged`` event's ``notifiable_offence`` says which; unsaid is notifiable (the
protective reading). A charge that is not notifiable is still a change of circumstances
(Somerset S14 4.2, Wokingham W4-W6).

Dates: Friday 28 August 2026 (BST); Monday 31 August 2026 is the Summer bank holiday.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import with_matrix
from tests.conftest import Tenant

CHARGED = "2026-08-28T11:00:00+01:00"
CSPPI = {"inform_service_manager", "notify_serious_incident"}


async def _charged(t: Tenant, case_id: str, **extra: Any) -> list[dict[str, Any]]:
    r = await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "charged", "occurred_at": CHARGED, **extra}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    event_id = r.json()["data"]["id"]
    return [s for s in r.json()["next_steps"] if s["subject_id"] == event_id]


async def _medium(t: Tenant, case_id: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "medium", "occurred_at": "2026-08-03T10:00:00+01:00",
        "victims": ["public"]}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def test_S23_a_charge_not_notifiable_is_a_change_of_circumstances(
    somerset: Tenant,
) -> None:
    """S23 (12) "charged with any notifiable offence"; S14 (4.2): a non-notifiable charge on
    Friday 28 August 2026 asks no CSPPI steps, only the review of the assessment by the next
    working day (Tuesday 1 September, after the bank holiday); a charge that does not say,
    and one that says notifiable, ask both CSPPI steps."""
    case = (await somerset.open_case())["data"]
    await _medium(somerset, case["id"])
    steps = await _charged(somerset, case["id"], notifiable_offence=False,
                           details={"offence": "criminal damage under 5000"})
    assert not CSPPI & {s["code"] for s in steps}
    review = [s for s in steps if s["code"] == "review_assessment"]
    assert [(s["due_at"], s["policy"]["rule"]) for s in review] == [
        ("2026-09-01T22:59:59Z", "S14")]
    for extra in ({}, {"notifiable_offence": True}):
        again = await _charged(somerset, case["id"], **extra,
                               details={"offence": f"robbery {len(extra)}"})
        assert CSPPI <= {s["code"] for s in again}


async def test_W24_a_charge_not_notifiable_is_a_new_incident_only(wokingham: Tenant) -> None:
    """W24 "serious incidents in line with YJB guidance"; W4, W5: a shoplifting charge said not
    notifiable on Friday 28 August 2026 is recorded that day (the week's last working day),
    reported to the line manager at once, and asks no serious incident notification; unsaid,
    the notification is asked for. notifiable_offence on another event type is 422."""
    case = (await wokingham.open_case())["data"]
    steps = await _charged(wokingham, case["id"], notifiable_offence=False,
                           details={"offence": "shoplifting"})
    assert {s["code"] for s in steps} >= {"record_incident", "report_to_line_manager"}
    assert "notify_serious_incident" not in {s["code"] for s in steps}
    record = next(s for s in steps if s["code"] == "record_incident")
    assert record["due_at"] == "2026-08-28T22:59:59Z"
    unsaid = await _charged(wokingham, case["id"], details={"offence": "robbery"})
    assert "notify_serious_incident" in {s["code"] for s in unsaid}
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/events", json={
        "type": "new_incident", "occurred_at": CHARGED, "notifiable_offence": True},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == "body.notifiable_offence"


@pytest.mark.parametrize("notifiable", [False, True])
async def test_S23_preview_reads_the_flag_as_the_write_does(
    somerset: Tenant, notifiable: bool,
) -> None:
    """S23 (12): the preview of a charge asks the CSPPI steps exactly when the write would."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post("/v1/workflow/preview", json={
        "case_id": case["id"], "trigger": "case_event", "occurred_at": CHARGED,
        "data": {"type": "charged", "notifiable_offence": notifiable}},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    codes = {s["code"] for s in r.json()["data"]["steps"]}
    assert (CSPPI <= codes) is notifiable
