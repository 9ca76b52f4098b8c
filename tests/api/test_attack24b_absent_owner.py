"""Who owns a step while its owner is on recorded leave follows the seed (attack 24b: A24b-11,
A24b-14, A24b-10, A24b-8).

2026 dates: BST until Sunday 25 October; Tuesday 1 December 2026 is a working day.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import away, cancel_leave, pin, steps_of, taken_by_marp
from tests.api.integrity_support import patch_case
from tests.api.test_assessments import case_steps
from tests.conftest import Tenant


async def _mine(t: Tenant, role: str, sub: str, code: str) -> list[str]:
    """The ids of the ``code`` steps in the caller's own queue (``assignee=me``)."""
    r = await t.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                           headers=t.auth(role, sub))
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["data"] if s["code"] == code]


async def test_S20_leave_recorded_over_the_MARP_review_gives_the_review_to_the_line_manager(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.1): "The case holder will attend MARP to discuss the case. If not available, the
    line manager will present the case." The MARP of Wednesday 25 November 2026 keeps SWB high
    and books its review for Wednesday 16 December; on Tuesday 1 December the case holder's
    leave is recorded for Monday 14 to Friday 18 December, over the review: the review is the
    line manager's (in their queue), not left in the absent case holder's (A24b-11)."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case = (await somerset.open_case(opened_at="2026-11-02T09:00:00+00:00"))["data"]
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "swb", "level": "high", "occurred_at": "2026-11-02T09:30:00+00:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    pin(monkeypatch, 2026, 11, 25, 12, 0)
    await taken_by_marp(somerset, case["id"], "swb", "high", at="2026-11-25T10:00:00+00:00",
                        decided="2026-11-25T11:00:00+00:00", review="2026-12-16")
    [review] = steps_of(await case_steps(somerset, case["id"]), "attend_panel_review")
    assert (review["actor"], review["assignee_id"]) == ("case_holder", "case_holder-1")
    pin(monkeypatch, 2026, 12, 1, 10, 0)
    await away(somerset, "case_holder-1", "2026-12-14", "2026-12-18")
    [review] = steps_of(await case_steps(somerset, case["id"]), "attend_panel_review")
    assert (review["actor"], review["assignee_id"]) == ("line_manager", "line_manager-1")
    assert await _mine(somerset, "line_manager", "line_manager-1",
                       "attend_panel_review") == [review["id"]]
    assert await _mine(somerset, "case_holder", "case_holder-1", "attend_panel_review") == []


async def _wokingham_case_with_worker_away(t: Tenant, monkeypatch: pytest.MonkeyPatch
                                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Wokingham prevention case held by case_holder-1, whose annual leave from Monday 30
    November to Friday 11 December 2026 a duty manager records; the clock on Tuesday 1
    December 2026, 10:00."""
    pin(monkeypatch, 2026, 11, 27, 10, 0)
    absence = (await away(t, "case_holder-1", "2026-11-30", "2026-12-11"))["data"]
    case = (await t.open_case(opened_at="2026-11-02T09:00:00+00:00"))["data"]
    pin(monkeypatch, 2026, 12, 1, 10, 0)
    return case, absence


async def test_W21_a_risk_to_staff_known_while_the_case_worker_is_on_leave_is_the_line_managers(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W21 (Risk to staff): "If a child represents a risk to any member of the PYJS or any
    member of the professional network, this should be recorded as a "Risk to Staff" within the
    "Life Events" tab of IYSS ... Duty Officers and any member of the team who are seeing
    children on behalf of their allocated case worker should always check IYSS and the Risk to
    Staff spreadsheet before meeting with a child. Where new concerns arise ... there should be
    a discussion with the line manager and if the concerns are agreed, the above process should
    be followed". The case worker is on leave from Monday 30 November to Friday 11 December
    2026; the line manager records a threat to a duty officer on Tuesday 1 December 09:30: the
    recording (due by the end of Wednesday 2 December) is the line manager's, in their queue,
    not the absent case worker's (A24b-14). The leave cancelled, it is the case worker's again."""
    case, absence = await _wokingham_case_with_worker_away(wokingham, monkeypatch)
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "risk_to_staff", "occurred_at": "2026-12-01T09:30:00Z",
              "details": {"summary": "threatened a duty officer"}},
        headers=wokingham.auth("line_manager"))
    assert r.status_code == 201, r.text
    [record] = steps_of(r.json()["next_steps"], "record_risk_to_staff")
    assert (record["actor"], record["assignee_id"], record["due_at"]) == (
        "line_manager", "line_manager-1", "2026-12-02T23:59:59Z")
    assert "case_holder-1) is on recorded leave" in record["note"]
    assert await _mine(wokingham, "line_manager", "line_manager-1",
                       "record_risk_to_staff") == [record["id"]]
    assert await _mine(wokingham, "case_holder", "case_holder-1", "record_risk_to_staff") == []
    await cancel_leave(wokingham, absence)
    [back] = steps_of(await case_steps(wokingham, case["id"]), "record_risk_to_staff")
    assert (back["id"], back["actor"], back["assignee_id"]) == (
        record["id"], "case_holder", "case_holder-1")


async def test_W4_a_new_incident_known_while_the_case_worker_is_on_leave_is_the_line_managers(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "Where there is a change of circumstances, context
    or a new incident of concern becomes known to the PYJS worker, this must be recorded on the
    IYSS case management system within one working day and immediately be reported to the line
    manager." The case worker is on leave from Monday 30 November to Friday 11 December 2026;
    the line manager records a new incident on Tuesday 1 December 09:40: the IYSS record (due by
    the end of Wednesday 2 December) is the line manager's, not left with the absent worker
    until Monday 14 December (A24b-14)."""
    case, _ = await _wokingham_case_with_worker_away(wokingham, monkeypatch)
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "new_incident", "occurred_at": "2026-12-01T09:40:00Z"},
        headers=wokingham.auth("line_manager"))
    assert r.status_code == 201, r.text
    [record] = steps_of(r.json()["next_steps"], "record_incident")
    assert (record["actor"], record["assignee_id"], record["due_at"]) == (
        "line_manager", "line_manager-1", "2026-12-02T23:59:59Z")
    assert await _mine(wokingham, "line_manager", "line_manager-1",
                       "record_incident") == [record["id"]]
    assert await _mine(wokingham, "case_holder", "case_holder-1", "record_incident") == []


async def test_W7_the_panel_request_comes_back_to_the_case_worker_when_their_leave_has_ended(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as
    high or very high ROSH". The case worker is away on Friday 4 December 2026 only; ROSH high
    on Thursday 3 December: the request, due Monday 7 December, is the line manager's while the
    case worker is away before it is due. On Monday 7 December the leave is over (no one
    changed it: days passed): the request is the case worker's again, in their queue, as a
    line manager's stood-in step comes back to them (A23b-5's stand-in, kept true over time)."""
    pin(monkeypatch, 2026, 12, 1, 10, 0)
    await away(wokingham, "case_holder-1", "2026-12-04", "2026-12-04")
    case = (await wokingham.open_case(opened_at="2026-11-02T09:00:00+00:00"))["data"]
    pin(monkeypatch, 2026, 12, 3, 10, 0)
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "rosh", "level": "high", "victims": ["peer"], "impact": "major",
              "likelihood": "likely", "occurred_at": "2026-12-03T09:30:00Z"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    [request] = steps_of(r.json()["next_steps"], "request_high_risk_panel")
    assert (request["actor"], request["assignee_id"], request["due_at"]) == (
        "line_manager", "line_manager-1", "2026-12-07T23:59:59Z")
    pin(monkeypatch, 2026, 12, 7, 9, 0)
    assert await _mine(wokingham, "case_holder", "case_holder-1",
                       "request_high_risk_panel") == [request["id"]]
    assert await _mine(wokingham, "line_manager", "line_manager-1",
                       "request_high_risk_panel") == []


async def test_W4_a_reopening_moves_the_record_to_the_last_working_day_before_the_leave(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week." A new incident known on Monday 2 November 2026 09:00 is due by the end of
    Tuesday 3 November; the case is closed at 10:05 that Monday and reopened on Tuesday 1
    December, its clock moved on by the 21 working days it was closed: Wednesday 2 December,
    the first day of the case worker's recorded leave (Wednesday 2 to Friday 4 December, three
    working days). Moved, it is due on Tuesday 1 December, their last working day before the
    leave, and stays theirs (A24b-10). The leave then cancelled, it is counted again from the
    moved point: due Wednesday 2 December (not Tuesday 3 November, as if the case had never
    been closed)."""
    pin(monkeypatch, 2026, 11, 2, 9, 30)
    case = (await wokingham.open_case(intervention="prevention",
                                      opened_at="2026-10-01T09:00:00+01:00"))["data"]
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "new_incident", "occurred_at": "2026-11-02T09:00:00Z"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    [record] = steps_of(r.json()["next_steps"], "record_incident")
    assert record["due_at"] == "2026-11-03T23:59:59Z"
    pin(monkeypatch, 2026, 11, 2, 10, 5)
    r = await patch_case(wokingham, case["id"], {"closed_at": "2026-11-02T10:05:00Z",
                                                 "closure_reason": "intervention ended"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 12, 1, 10, 0)
    absence = (await away(wokingham, "case_holder-1", "2026-12-02", "2026-12-04"))["data"]
    r = await patch_case(wokingham, case["id"], {"closed_at": None,
                                                 "reopen_reason": "new concerns"})
    assert r.status_code == 200, r.text
    [back] = steps_of(await case_steps(wokingham, case["id"]), "record_incident")
    assert (back["id"], back["actor"], back["assignee_id"], back["due_at"]) == (
        record["id"], "case_holder", "case_holder-1", "2026-12-01T23:59:59Z")
    assert "last working day before case_holder-1's absence" in back["note"]
    await cancel_leave(wokingham, absence)
    [back] = steps_of(await case_steps(wokingham, case["id"]), "record_incident")
    assert (back["id"], back["assignee_id"], back["due_at"]) == (
        record["id"], "case_holder-1", "2026-12-02T23:59:59Z")


async def test_S44_the_duty_manager_told_sets_out_the_course_of_action(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S44 (14.4.1): "If the case holder is unable to secure the recommended responses they will
    communicate immediately with their line manager, duty manager or the YJT manager who will
    clearly set out a course of action and the roles and responsibilities contained within it."
    Tuesday 1 December 2026: the case holder records it at 10:00 and tells the duty manager,
    who marks the telling done: the course of action is that duty manager's (in their queue, not
    the line manager's). A duty manager recording it themselves at 11:00 sets it out too; the
    YJT manager (chair) the one told, it is the YJT managers' (A24b-8)."""
    pin(monkeypatch, 2026, 12, 1, 9, 30)
    case = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    r = await somerset.client.post(
        f"/v1/cases/{case['id']}/events",
        json={"type": "recommended_responses_unsecured", "occurred_at": "2026-12-01T09:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [tell] = steps_of(r.json()["next_steps"], "inform_manager_of_unsecured_responses")
    pin(monkeypatch, 2026, 12, 1, 10, 0)
    r = await somerset.client.post(f"/v1/next-steps/{tell['id']}/complete",
                                   json={"note": "Told the duty manager by phone"},
                                   headers=somerset.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 200, r.text
    [course] = steps_of(await case_steps(somerset, case["id"]), "set_out_course_of_action")
    assert (course["actor"], course["assignee_id"]) == ("duty_manager", "duty_manager-3")
    assert await _mine(somerset, "duty_manager", "duty_manager-3",
                       "set_out_course_of_action") == [course["id"]]
    assert await _mine(somerset, "line_manager", "line_manager-1",
                       "set_out_course_of_action") == []
    second = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    pin(monkeypatch, 2026, 12, 1, 11, 0)
    r = await somerset.client.post(
        f"/v1/cases/{second['id']}/events",
        json={"type": "recommended_responses_unsecured", "occurred_at": "2026-12-01T11:00:00Z"},
        headers=somerset.auth("duty_manager", "duty_manager-4"))
    assert r.status_code == 201, r.text
    [course] = steps_of(r.json()["next_steps"], "set_out_course_of_action")
    assert (course["actor"], course["assignee_id"]) == ("duty_manager", "duty_manager-4")
    third = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    r = await somerset.client.post(
        f"/v1/cases/{third['id']}/events",
        json={"type": "recommended_responses_unsecured", "occurred_at": "2026-12-01T11:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    [tell] = steps_of(r.json()["next_steps"], "inform_manager_of_unsecured_responses")
    r = await somerset.client.post(f"/v1/next-steps/{tell['id']}/complete",
                                   json={"note": "Told the YJT manager"},
                                   headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    [course] = steps_of(await case_steps(somerset, third["id"]), "set_out_course_of_action")
    assert (course["actor"], course["assignee_id"]) == ("chair", None)
    assert await _mine(somerset, "line_manager", "line_manager-1",
                       "set_out_course_of_action") == []


async def test_W22_leave_recorded_over_the_panel_review_gives_it_to_the_line_manager(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W22 (High Risk Panel), Somerset S20's twin: "the following professionals must be invited:
    the PYJS case worker and their line manager" and "At the end of the Panel, a specific
    action plan and risk classification should be agreed, including when should the child be
    discussed again at the panel". The panel of Wednesday 25 November 2026 keeps ROSH high and
    will discuss the child again on Wednesday 16 December; the case worker's leave from Monday
    14 to Friday 18 December recorded on Tuesday 1 December: bringing the child back is the line
    manager's (invited to the panel too), not left with the absent case worker."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    case = (await wokingham.open_case(opened_at="2026-11-02T09:00:00+00:00"))["data"]
    r = await wokingham.client.post(
        f"/v1/cases/{case['id']}/judgements",
        json={"domain": "rosh", "level": "high", "victims": ["peer"], "impact": "major",
              "likelihood": "likely", "occurred_at": "2026-11-02T09:30:00Z"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    pin(monkeypatch, 2026, 11, 25, 12, 0)
    r = await wokingham.client.post(
        "/v1/panels", json={"kind": "high_risk_panel", "chair_id": "chair-1",
                            "scheduled_for": "2026-11-25T10:00:00+00:00"},
        headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]
    r = await wokingham.client.post(f"/v1/panels/{panel['id']}/items",
                                    json={"case_id": case["id"], "presenter_id": "case_holder-1"},
                                    headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 201, r.text
    r = await wokingham.client.post(
        f"/v1/panels/{panel['id']}/items/{r.json()['data']['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-12-16", "minutes": "Remains high",
              "occurred_at": "2026-11-25T11:00:00+00:00",
              "actions": [{"description": "Review the plan", "owner_id": "case_holder-1",
                           "due_date": "2026-12-09"}]},
        headers=wokingham.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    [review] = steps_of(await case_steps(wokingham, case["id"]), "attend_panel_review")
    assert (review["actor"], review["assignee_id"]) == ("case_holder", "case_holder-1")
    pin(monkeypatch, 2026, 12, 1, 10, 0)
    await away(wokingham, "case_holder-1", "2026-12-14", "2026-12-18")
    [review] = steps_of(await case_steps(wokingham, case["id"]), "attend_panel_review")
    assert (review["actor"], review["assignee_id"]) == ("line_manager", "line_manager-1")
    assert await _mine(wokingham, "line_manager", "line_manager-1",
                       "attend_panel_review") == [review["id"]]
    assert await _mine(wokingham, "case_holder", "case_holder-1", "attend_panel_review") == []
