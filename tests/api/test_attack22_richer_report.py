"""Attack 22, A22-9: the case management system (a ``cms`` machine client) reported an event first,
without free-text details; the worker then reported the same event (same type and time) with
them: the answer was 200 "reported again" and the worker's details were kept only in the audit
entry's digest, never on the event record.

Now a later report of an event already recorded that says more than the record adds what it says
to the record (details the record lacks, a transfer date it lacks, the ``may_raise_to_high`` flag
it lacks), audited ``case_event.added_to`` under the reporter with the fields it added; the rules
the event as now reported newly asks for are asked, and the open steps about it that it no longer
asks for are superseded. Nothing on the record is overwritten or blanked: a report leaving a
detail out is no difference, a detail stated differently is another event (A15-10, as before).
The machine client still reads back only what it sent (A21a-5), also of its own event once
someone else has added to it.
"""

from __future__ import annotations

from typing import Any

from tests.api.test_assessments import case_steps
from tests.api.test_events import post_event
from tests.conftest import Tenant

SECRET = {"summary": "Disclosed abuse by uncle Bob Smith at 12 Elm St",
          "named_others": ["Bob Smith"]}


def _cms(t: Tenant) -> dict[str, str]:
    return t.auth("feed", "iyss-connector", scope="cms")


async def _report(t: Tenant, case_id: str, headers: dict[str, str], status: int,
                  **body: Any) -> dict[str, Any]:
    r = await t.client.post(f"/v1/cases/{case_id}/events", json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def _events(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/events", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _audit(t: Tenant, case_id: str, action: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/audit", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return [e for e in r.json()["data"] if e["action"] == action]


def _of(steps: list[dict[str, Any]], code: str, subject: str) -> list[dict[str, Any]]:
    return [s for s in steps if s["code"] == code and s["subject_id"] == subject]


async def test_A22_9_the_workers_details_join_the_event_the_cms_reported_first(
    somerset: Tenant, wokingham: Tenant
) -> None:
    """The worker's details end up on the record, audited as theirs; the CMS reporting the
    event again still reads none of them (A21a-5)."""
    for t in (somerset, wokingham):
        await _workers_details_join(t)


async def _workers_details_join(t: Tenant) -> None:
    case_id = (await t.open_case())["data"]["id"]
    at = "2026-08-27T10:00:00Z"
    first = await _report(t, case_id, _cms(t), 201, type="exploitation_concern", occurred_at=at)
    again = await _report(t, case_id, t.auth("case_holder"), 200, type="exploitation_concern",
                          occurred_at=at, details=SECRET)
    assert again["data"]["id"] == first["data"]["id"]
    assert again["data"]["details"] == SECRET
    [event] = await _events(t, case_id)
    assert (event["id"], event["details"]) == (first["data"]["id"], SECRET)
    [added] = await _audit(t, case_id, "case_event.added_to")
    assert (added["actor"], added["role"], added["entity_id"], added["fields"]) == (
        "case_holder-1", "case_holder", event["id"], ["details.named_others", "details.summary"])
    # The CMS's own event, added to by someone else: it reads back what it sent, nothing more.
    cms = await _report(t, case_id, _cms(t), 200, type="exploitation_concern", occurred_at=at)
    assert cms["data"]["id"] == event["id"]
    assert cms["data"]["details"] == {}
    assert cms["data"]["recorded_by"] is None
    assert "Bob Smith" not in str(cms)


async def test_A22_9_the_cms_reporting_later_never_overwrites_or_blanks_the_workers_details(
    somerset: Tenant,
) -> None:
    """Worker first, CMS later: what the CMS leaves out is no difference, what it adds joins the
    record under its name, what it states differently is another event; the worker's details
    stay as they were."""
    case_id = (await somerset.open_case())["data"]["id"]
    at = "2026-08-27T10:00:00Z"
    first = await post_event(somerset, case_id, type="exploitation_concern", occurred_at=at,
                             details=SECRET)
    await _report(somerset, case_id, _cms(somerset), 200, type="exploitation_concern",
                  occurred_at=at)
    await _report(somerset, case_id, _cms(somerset), 200, type="exploitation_concern",
                  occurred_at=at, details={"source_ref": "IYSS-42"})
    other = await _report(somerset, case_id, _cms(somerset), 201, type="exploitation_concern",
                          occurred_at=at, details={"summary": ""})
    events = {e["id"]: e for e in await _events(somerset, case_id)}
    assert events[first["data"]["id"]]["details"] == {**SECRET, "source_ref": "IYSS-42"}
    assert events[other["data"]["id"]]["details"] == {"summary": ""}
    [added] = await _audit(somerset, case_id, "case_event.added_to")
    assert (added["actor"], added["role"], added["fields"]) == (
        "iyss-connector", "feed", ["details.source_ref"])


async def test_W20_a_release_address_elsewhere_said_by_a_later_report_asks_the_notice(
    wokingham: Tenant,
) -> None:
    """W20: "Where the release address is in a different area to PYJS, the case worker must
    also notify the local Youth Justice Service of the child being released into their area
    and initiate the relevant transfer/care-taking process." The CMS recorded the release;
    the worker's report of the same release says the address is in another area: the notice is
    asked (at once: recorded with the release, A19-12), as if it had been said first."""
    case_id = (await wokingham.open_case(in_custody=True))["data"]["id"]
    at = "2026-05-06T10:00:00Z"
    first = await _report(wokingham, case_id, _cms(wokingham), 201, type="custody_release",
                          occurred_at=at)
    assert not _of(first["next_steps"], "notify_receiving_yjs", case_id)
    again = await _report(wokingham, case_id, wokingham.auth("case_holder"), 200,
                          type="custody_release", occurred_at=at,
                          release_address_other_area=True)
    assert again["data"]["id"] == first["data"]["id"]
    [step] = _of(again["next_steps"], "notify_receiving_yjs", case_id)
    assert (step["actor"], step["assignee_id"], step["due_at"], step["urgent"]) == (
        "case_holder", "case_holder-1", "2026-05-06T10:00:00Z", True)
    assert step["policy"] == {"pack": "wokingham-pyjs-2024", "version": "1.0",
                              "ref": "Referrals into MAPPA", "rule": "W20"}
    [event] = await _events(wokingham, case_id)
    assert event["details"] == {"release_address_other_area": True}
    # Said once more, nothing new: still one notice.
    await _report(wokingham, case_id, wokingham.auth("case_holder"), 200,
                  type="custody_release", occurred_at=at, release_address_other_area=True)
    assert len(_of(await case_steps(wokingham, case_id), "notify_receiving_yjs", case_id)) == 1


async def test_W7_an_incident_flagged_by_a_later_report_asks_the_high_risk_panel(
    wokingham: Tenant,
) -> None:
    """W7: "request a High-Risk Panel within two working days of ... 2. Becoming aware of a
    change of circumstances or new incident which is serious enough to warrant consideration
    for an increase of assessed risk levels to high/very high". The CMS recorded the incident
    unflagged; the worker's report of it flags ``may_raise_to_high``: one event (not a second
    incident with its own steps), flagged, and the request asked, due two working days from
    the event (Thursday 27 August 2026: the late summer bank holiday on Monday 31 August makes
    it Tuesday 1 September, end of day)."""
    case_id = (await wokingham.open_case())["data"]["id"]
    at = "2026-08-27T10:00:00Z"
    first = await _report(wokingham, case_id, _cms(wokingham), 201, type="new_incident",
                          occurred_at=at)
    assert not [s for s in first["next_steps"] if s["code"] == "request_high_risk_panel"]
    again = await _report(wokingham, case_id, wokingham.auth("case_holder"), 200,
                          type="new_incident", occurred_at=at, may_raise_to_high=True)
    [step] = [s for s in again["next_steps"] if s["code"] == "request_high_risk_panel"]
    assert (step["actor"], step["due_at"], step["policy"]["rule"],
            step["policy"]["ref"]) == ("case_holder", "2026-09-01T22:59:59Z", "W7",
                                       "High Risk Panel")
    [event] = await _events(wokingham, case_id)
    assert event["may_raise_to_high"] is True
    # The CMS sending it again unflagged is the same event, still flagged.
    await _report(wokingham, case_id, _cms(wokingham), 200, type="new_incident", occurred_at=at)
    [event] = await _events(wokingham, case_id)
    assert event["may_raise_to_high"] is True


async def test_S23_a_charge_said_not_notifiable_by_a_later_report_is_no_serious_incident(
    somerset: Tenant,
) -> None:
    """S23: "Somerset YJT will complete notification within the expected timeframes for any
    child who is charged with any notifiable offence". The CMS sent the charge unsaid (read as
    notifiable: the CSPPI steps are asked); the worker's report of the same charge says the
    offence is not notifiable: the record says so, and the CSPPI steps about it are superseded
    (as a charge first reported not notifiable never asks them; policy owner to confirm)."""
    case_id = (await somerset.open_case())["data"]["id"]
    at = "2026-08-27T10:00:00Z"
    first = await _report(somerset, case_id, _cms(somerset), 201, type="charged",
                          occurred_at=at)
    event_id = first["data"]["id"]
    assert _of(first["next_steps"], "notify_serious_incident", event_id)
    await _report(somerset, case_id, somerset.auth("case_holder"), 200, type="charged",
                  occurred_at=at, notifiable_offence=False, details={"offence": "theft"})
    steps = await case_steps(somerset, case_id)
    assert not _of(steps, "notify_serious_incident", event_id)
    assert not _of(steps, "inform_service_manager", event_id)
    gone = _of(await case_steps(somerset, case_id, "superseded"), "notify_serious_incident",
               event_id)
    assert [s["policy"]["rule"] for s in gone] == ["S23"]
    [event] = await _events(somerset, case_id)
    assert event["details"] == {"notifiable_offence": False, "offence": "theft"}


async def test_S25_a_transfer_date_said_by_one_report_only_is_one_transfer_in(
    somerset: Tenant,
) -> None:
    """A transfer in reported with its date by one channel and without it by the other is one
    transfer (not two, each with its own steps), whichever came first; the date joins the
    record when the later report gives it."""
    for dated_first in (True, False):
        case_id = (await somerset.open_case())["data"]["id"]
        at = "2026-08-27T10:00:00Z"
        dated = {"transfer_date": "2026-08-26"}
        first = await _report(somerset, case_id, _cms(somerset), 201, type="transfer_in",
                              occurred_at=at, **(dated if dated_first else {}))
        before = sorted(s["code"] for s in await case_steps(somerset, case_id))
        again = await _report(somerset, case_id, somerset.auth("case_holder"), 200,
                              type="transfer_in", occurred_at=at,
                              **({} if dated_first else dated))
        assert again["data"]["id"] == first["data"]["id"]
        [event] = await _events(somerset, case_id)
        assert event["transfer_date"] == "2026-08-26"
        assert sorted(s["code"] for s in await case_steps(somerset, case_id)) == before


async def test_W20_S23_the_preview_of_a_richer_report_answers_what_the_write_does(
    somerset: Tenant, wokingham: Tenant,
) -> None:
    """The preview of a report of an event already recorded shows what it adds asks (W20's
    notice, "notify the local Youth Justice Service of the child being released into their
    area") and what it no longer asks (S23, "any child who is charged with any notifiable
    offence": the CSPPI steps superseded), not nothing (A20-10 with A22-9)."""
    case_id = (await wokingham.open_case(in_custody=True))["data"]["id"]
    at = "2026-05-06T10:00:00Z"
    await _report(wokingham, case_id, _cms(wokingham), 201, type="custody_release",
                  occurred_at=at)
    r = await wokingham.client.post("/v1/workflow/preview", headers=wokingham.auth("case_holder"),
                                    json={"case_id": case_id, "trigger": "case_event",
                                          "occurred_at": at,
                                          "data": {"type": "custody_release",
                                                   "release_address_other_area": True}})
    assert r.status_code == 200, r.text
    assert [(s["action"], s["code"], s["rule"], s["actor"], s["due_at"], s["policy"]["ref"])
            for s in r.json()["data"]["steps"]] == [
        ("create", "notify_receiving_yjs", "W20", "case_holder", "2026-05-06T10:00:00Z",
         "Referrals into MAPPA")]
    case_id = (await somerset.open_case())["data"]["id"]
    first = await _report(somerset, case_id, _cms(somerset), 201, type="charged", occurred_at=at)
    r = await somerset.client.post("/v1/workflow/preview", headers=somerset.auth("case_holder"),
                                   json={"case_id": case_id, "trigger": "case_event",
                                         "occurred_at": at,
                                         "data": {"type": "charged",
                                                  "notifiable_offence": False}})
    assert r.status_code == 200, r.text
    assert sorted((s["action"], s["code"], s["rule"], s["subject_id"])
                  for s in r.json()["data"]["steps"]) == [
        ("supersede", "inform_service_manager", "S23", first["data"]["id"]),
        ("supersede", "notify_serious_incident", "S23", first["data"]["id"])]
