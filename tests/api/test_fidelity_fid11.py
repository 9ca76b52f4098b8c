"""Secure estate through the API (fid11): 14.3.1's steps (S43) end when the child leaves custody,
whether the release is recorded by the ``custody_release`` event or by ``PATCH in_custody:
false``; 14.4.1's event (S44) asks the case holder to tell a manager at once."""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import ok, pin
from tests.api.integrity_support import patch_case, steps_of
from tests.conftest import Tenant

S43_CODES = {"inform_manager_of_secure_setting_doubt", "escalate_to_secure_setting"}


@pytest.mark.parametrize("release", ["event", "patch"])
async def test_S43_secure_setting_doubt_ends_with_the_release(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, release: str) -> None:
    """S43 (14.3.1): "If a case holder is in any doubt that the secure setting will be making
    appropriate responses to identified risks/concerns, they will inform their line manager,
    operational manager or the YJT manager who will escalate the concerns with the appropriate
    managers in the secure setting."

    A child in custody since Monday 1 March 2027. On Maundy Thursday, 25 March 2027, 15:00 GMT,
    the case holder records a doubt (inform a manager, no timescale); on Good Friday, 10:00 GMT,
    a line manager records another (escalate, no timescale). Released on Tuesday 30 March 2027,
    11:00 BST (after Easter Monday), by the custody_release event or by PATCH in_custody false,
    before either was done: the secure setting no longer holds the child, so both are
    superseded with the reason."""
    t = somerset
    pin(monkeypatch, 2027, 3, 1, 9, 30)
    case_id = (await t.open_case(opened_at="2027-03-01T09:00:00Z", in_custody=True,
                                 expected_release_date="2027-12-15"))["data"]["id"]
    # Two doubts (the same one twice would be the event reported again, 200).
    for role, at in (("case_holder", "2027-03-25T15:00:00Z"),
                     ("line_manager", "2027-03-26T10:00:00Z")):
        pin(monkeypatch, 2027, 3, int(at[8:10]), int(at[11:13]), 30)
        await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": "secure_setting_doubt", "occurred_at": at}, headers=t.auth(role)), 201)
    opened = {s["code"]: s for s in await steps_of(t, case_id) if s["code"] in S43_CODES}
    assert {c: (s["actor"], s["due_at"], s["policy"]["rule"], s["policy"]["ref"])
            for c, s in opened.items()} == {
        "inform_manager_of_secure_setting_doubt": ("case_holder", None, "S43", "14.3.1"),
        "escalate_to_secure_setting": ("line_manager", None, "S43", "14.3.1")}
    pin(monkeypatch, 2027, 3, 30, 10, 30)
    if release == "event":
        await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": "custody_release", "occurred_at": "2027-03-30T11:00:00+01:00"},
            headers=t.auth("line_manager")), 201)
    else:
        await ok(await patch_case(t, case_id, {"in_custody": False}))
    assert not S43_CODES & {s["code"] for s in await steps_of(t, case_id)}
    superseded = {s["id"]: s for s in await steps_of(t, case_id, "superseded")}
    for step in opened.values():
        assert "no longer holds" in superseded[step["id"]]["note"]


async def test_S44_unsecured_recommended_responses_are_told_to_a_manager_at_once(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S44 (14.4.1): "If the case holder is unable to secure the recommended responses they will
    communicate immediately with their line manager, duty manager or the YJT manager who will
    clearly set out a course of action and the roles and responsibilities contained within it."

    Recorded by the case holder on Tuesday 30 March 2027 at 11:00 BST: tell a manager
    immediately (due 10:00 UTC that instant, urgent); another recorded by a duty manager at
    14:00 BST: the course of action is that duty manager's (the manager who knows, attack 24b,
    A24b-8), no timescale."""
    t = somerset
    pin(monkeypatch, 2027, 3, 30, 10, 30)
    case_id = (await t.open_case(opened_at="2027-03-01T09:00:00Z"))["data"]["id"]
    await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "recommended_responses_unsecured", "occurred_at": "2027-03-30T11:00:00+01:00"},
        headers=t.auth("case_holder")), 201)
    [tell] = [s for s in await steps_of(t, case_id)
              if s["code"] == "inform_manager_of_unsecured_responses"]
    assert (tell["actor"], tell["due_at"], tell["urgent"], tell["policy"]["rule"],
            tell["policy"]["ref"]) == ("case_holder", "2027-03-30T10:00:00Z", True, "S44",
                                       "14.4.1")
    pin(monkeypatch, 2027, 3, 30, 13, 30)
    await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "recommended_responses_unsecured", "occurred_at": "2027-03-30T14:00:00+01:00"},
        headers=t.auth("duty_manager")), 201)
    [course] = [s for s in await steps_of(t, case_id) if s["code"] == "set_out_course_of_action"]
    assert (course["actor"], course["assignee_id"], course["due_at"], course["policy"]["rule"],
            course["policy"]["ref"]) == ("duty_manager", "duty_manager-1", None, "S44", "14.4.1")
