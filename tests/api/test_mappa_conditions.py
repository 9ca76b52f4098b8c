"""The MAPPA level a panel decides takes the path the same level set on the case takes, dated at
the sitting (attack pass 21, A21b-3 to A21b-5), and MAPPA duties bound to a condition end with
it (A21b-2, A21b-6).

Somerset 8.4: "Case holders and their line managers will attend all relevant MAPPA 2 meetings
arranged in respect of children subject to their supervision whilst accommodated or secured.
The YJT seconded probation officer will be made aware of all cases relevant to MAPPA 2 and will
support referral and be directly involved as necessary." Wokingham, Referrals into MAPPA: "The
PYJS case worker and their line manager must attend MAPPA meetings."
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.api.fidelity_support import ok, pin, with_matrix
from tests.api.integrity_support import patch_case, steps_of
from tests.api.support import Factory, db, tick  # noqa: F401  (db: fixture)
from tests.conftest import Tenant

S37_S38 = {("attend_mappa_meetings", "case_holder", "S37"),
           ("manager_attend_mappa_meetings", "line_manager", "S37"),
           ("inform_seconded_probation_officer", "case_holder", "S38")}
W27 = {("attend_mappa_meetings", "case_holder", "W27", "Referrals into MAPPA"),
       ("manager_attend_mappa_meetings", "line_manager", "W27",
        "Referrals into MAPPA, Management oversight"),
       ("update_risk_management_plan", "case_holder", "W27", "Referrals into MAPPA")}


async def _panel(t: Tenant, kind: str, at: str) -> str:
    return (await ok(await t.client.post("/v1/panels", json={
        "kind": kind, "scheduled_for": at, "chair_id": "chair-1"},
        headers=t.auth("chair", "chair-1")), 201))["data"]["id"]  # type: ignore[no-any-return]


async def _decide(t: Tenant, panel_id: str, case_id: str, body: dict[str, Any]
                  ) -> Any:
    item = (await ok(await t.client.post(f"/v1/panels/{panel_id}/items", json={
        "case_id": case_id, "presenter_id": "case_holder-1"},
        headers=t.auth("panel_admin")), 201))["data"]
    return await t.client.post(f"/v1/panels/{panel_id}/items/{item['id']}/decision",
                               json=body, headers=t.auth("chair", "chair-1"))


def agreed_plan(due: str) -> list[dict[str, str]]:
    """The panel's action plan: one action for the case holder (A23b-2)."""
    return [{"description": "MAPPA actions", "owner_id": "case_holder-1", "due_date": due}]


async def _judge(t: Tenant, case_id: str, level: str, at: str) -> None:
    await ok(await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": level, "rationale": "x", "victims": ["public"],
        "occurred_at": at}), headers=t.auth("case_holder")), 201)


def _mappa(steps: list[dict[str, Any]], codes: set[str]) -> set[tuple[str, ...]]:
    """(code, actor, rule, paragraph, due_at) of each reason of the open steps of ``codes`` (a
    case-wide step another rule raised first names this rule among its reasons)."""
    return {(s["code"], s["actor"], r["rule"], r["ref"], s["due_at"])
            for s in steps if s["code"] in codes for r in s["reasons"]}


async def test_S37_S38_marp_deciding_mappa_level_2_raises_what_the_same_level_set_on_the_case_does(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S37, S38 (8.4): "Case holders and their line managers will attend all relevant MAPPA 2
    meetings arranged in respect of children subject to their supervision whilst accommodated
    or secured. The YJT seconded probation officer will be made aware of all cases relevant to
    MAPPA 2 and will support referral and be directly involved as necessary."

    A category 3 child in custody, ROSH very high on Monday 7 June 2027; the MARP of Thursday
    10 June 2027 (10:00 BST) decides MAPPA level 2 at 11:00 BST (typed up on 1 July): the case
    holder and the line manager owe attendance (S37) and the case holder tells the seconded
    probation officer (S38), none with a timescale, as a PATCH of the same level asks (8.3's
    MARP is the usual way a case becomes MAPPA 2). A child in the community: S38 only."""
    t = somerset
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    found = {}
    for custody in (True, False):
        case_id = (await t.open_case(opened_at="2027-06-01T09:00:00Z", mappa_category=3,
                                     in_custody=custody, expected_release_date="2027-12-15"
                                     if custody else None))["data"]["id"]
        await _judge(t, case_id, "very_high", "2027-06-07T10:00:00+01:00")
        panel = await _panel(t, "marp", "2027-06-10T10:00:00+01:00")
        r = await _decide(t, panel, case_id, {
            "rosh_level": "very_high", "actions": agreed_plan("2027-07-08"),
            "review_date": "2027-07-08",
            "mappa_level": 2, "minutes": "Agreed MAPPA 2 referral",
            "occurred_at": "2027-06-10T11:00:00+01:00"})
        answer = await ok(r)
        assert "mappa_a_referral" in {s["code"] for s in answer["next_steps"]}
        found[custody] = _mappa(await steps_of(t, case_id), {c for c, *_ in S37_S38})
    assert found[True] == {(c, a, r, "8.4", None) for c, a, r in S37_S38}
    assert found[False] == {("inform_seconded_probation_officer", "case_holder", "S38", "8.4",
                             None)}


async def test_W27_high_risk_panel_deciding_mappa_level_2_raises_the_meeting_duties(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W27 (Referrals into MAPPA): "The PYJS case worker and their line manager must attend
    MAPPA meetings. Attendance to MAPPA must be recorded on IYSS and any actions completed
    promptly. In addition, MAPPA risk management decisions must be included within the child's
    risk management plan."

    A category 3 child judged ROSH high on Friday 4 June 2027; the High-Risk Panel of Wednesday
    9 June (14:00 BST) decides MAPPA level 2 at 15:00 BST: the case worker and the line manager
    owe attendance (no timescale), as the same level set by PATCH asks."""
    t = wokingham
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    case_id = (await t.open_case(opened_at="2027-06-01T09:00:00Z",
                                 mappa_category=3))["data"]["id"]
    await _judge(t, case_id, "high", "2027-06-04T16:00:00+01:00")
    panel = await _panel(t, "high_risk_panel", "2027-06-09T14:00:00+01:00")
    await ok(await _decide(t, panel, case_id, {
        "rosh_level": "high", "actions": agreed_plan("2027-07-09"), "review_date": "2027-07-09",
        "mappa_level": 2,
        "minutes": "MAPPA 2", "occurred_at": "2027-06-09T15:00:00+01:00"}))
    steps = await steps_of(t, case_id)
    assert _mappa(steps, {"attend_mappa_meetings", "manager_attend_mappa_meetings"}) == {
        (*row, None) for row in W27 if row[0] != "update_risk_management_plan"}
    # The plan is one case-wide step: the one the high (W12) and this sitting (W22) already
    # ask to update is kept open (a second line of the same act adds no reason to a kept step).
    [plan] = [s for s in steps if s["code"] == "update_risk_management_plan"]
    assert (plan["actor"], plan["due_at"]) == ("case_holder", None)


async def test_W19_a_later_panels_level_typed_after_an_earlier_panels_is_accepted(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W19 (Referrals into MAPPA): "For MAPPA Level 1 children, risk management will be led by
    the PYJS, and senior management oversight provided through the High-Risk Panel. For MAPPA
    Level 1 children, High Risk Panels should be held monthly."

    Panel A (Wednesday 9 June 2027, 14:00 BST) decides MAPPA level 2; panel B (Wednesday
    30 June, 14:00 BST) level 1; both typed up on 1 July, A first. A's level is dated at its
    sitting (the field history), so B knew it: B's decision is accepted, the case is level 1
    and the chair owes the monthly High-Risk Panel review a month after B's decision (Friday
    30 July, 15:00 BST). Typed the other way round, A's older level is still refused."""
    t = wokingham
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    case_id = (await t.open_case(opened_at="2027-06-01T09:00:00Z",
                                 mappa_category=3))["data"]["id"]
    await _judge(t, case_id, "high", "2027-06-04T16:00:00+01:00")
    a = await _panel(t, "high_risk_panel", "2027-06-09T14:00:00+01:00")
    await ok(await _decide(t, a, case_id, {
        "rosh_level": "high", "actions": agreed_plan("2027-07-09"), "review_date": "2027-07-09",
        "mappa_level": 2,
        "minutes": "MAPPA 2", "occurred_at": "2027-06-09T15:00:00+01:00"}))
    b = await _panel(t, "high_risk_panel", "2027-06-30T14:00:00+01:00")
    await ok(await _decide(t, b, case_id, {
        "rosh_level": "high", "actions": agreed_plan("2027-07-30"), "review_date": "2027-07-30",
        "mappa_level": 1,
        "minutes": "MAPPA declined level 2; level 1",
        "occurred_at": "2027-06-30T15:00:00+01:00"}))
    case = (await ok(await t.client.get(f"/v1/cases/{case_id}",
                                        headers=t.auth("line_manager"))))["data"]
    assert case["mappa_level"] == 1
    [review] = [s for s in await steps_of(t, case_id) if s["code"] == "high_risk_panel_review"]
    assert (review["actor"], review["due_at"], review["policy"]["rule"],
            review["policy"]["ref"]) == ("chair", "2027-07-30T14:00:00Z", "W19",
                                         "Referrals into MAPPA")


async def test_W17_mappa_a_referral_and_its_escalation_end_when_the_level_drops_to_1(
        wokingham: Tenant, db: Factory, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """W17 (Referrals into MAPPA): "For children that are expected to be managed at level 2/3,
    the PYJS should make the referral using the MAPPA A form."

    A category 2 child in custody since Monday 3 May 2027 whose level is set to 2 that day:
    the A form is due six months before the release of 31 March 2028; the release brought
    forward to 15 October 2027 makes it due at once (urgent), overdue after the end of Tuesday
    4 May and escalated on Wednesday 5 May at 10:00 BST. The level lowered to 1 at 11:00 BST
    that day: the referral is no longer owed: missed (it was late), its escalation superseded
    (the H form, W16, stays); set to 2 again on Thursday
    6 May at 11:00 BST: the referral is owed again, at once."""
    t = wokingham
    pin(monkeypatch, 2027, 5, 3, 11, 0)
    case_id = (await t.open_case(opened_at="2027-05-03T09:00:00Z", in_custody=True,
                                 expected_release_date="2028-03-31"))["data"]["id"]
    await ok(await patch_case(t, case_id, {"mappa_category": 2, "mappa_level": 2}))
    [referral] = [s for s in await steps_of(t, case_id) if s["code"] == "mappa_a_referral"]
    assert (referral["actor"], referral["due_at"], referral["policy"]["rule"],
            referral["policy"]["ref"]) == ("case_holder", "2027-09-30T22:59:59Z", "W17",
                                           "Referrals into MAPPA")
    await ok(await patch_case(t, case_id, {"expected_release_date": "2027-10-15"}))
    [referral] = [s for s in await steps_of(t, case_id) if s["code"] == "mappa_a_referral"]
    assert (referral["due_at"], referral["urgent"]) == ("2027-05-03T11:00:00Z", True)
    assert referral["overdue_at"] == "2027-05-04T22:59:59Z"
    pin(monkeypatch, 2027, 5, 5, 9, 0)
    await tick(db, t, datetime.fromisoformat("2027-05-05T09:00:00Z"))
    [chase] = [s for s in await steps_of(t, case_id) if s["code"] == "escalate_overdue_step"
               and s["subject_id"] == referral["id"]]
    pin(monkeypatch, 2027, 5, 5, 10, 0)
    await ok(await patch_case(t, case_id, {"mappa_level": 1}))
    open_now = await steps_of(t, case_id)
    assert not {s["id"] for s in open_now} & {referral["id"], chase["id"]}
    assert "mappa_h_notification" in {s["code"] for s in open_now}
    # The referral was overdue (since the end of 4 May): missed, not superseded; its chase is
    # superseded (ATTACK34B-7).
    superseded = {s["id"]: s for s in await steps_of(t, case_id, "superseded")}
    assert chase["id"] in superseded
    missed = {s["id"]: s for s in await steps_of(t, case_id, "missed")}
    assert list(missed) == [referral["id"]]
    pin(monkeypatch, 2027, 5, 6, 10, 0)
    await ok(await patch_case(t, case_id, {"mappa_level": 2}))
    [again] = [s for s in await steps_of(t, case_id) if s["code"] == "mappa_a_referral"]
    assert (again["actor"], again["due_at"], again["urgent"], again["policy"]["rule"],
            again["policy"]["ref"]) == ("case_holder", "2027-05-06T10:00:00Z", True, "W17",
                                        "Referrals into MAPPA")


async def test_S37_mappa_meetings_end_with_a_release_typed_after_the_level(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S37 (8.4): "Case holders and their line managers will attend all relevant MAPPA 2
    meetings arranged in respect of children subject to their supervision whilst accommodated
    or secured."

    A child in custody since Monday 3 May 2027 (not in care) set to MAPPA level 2 on Thursday
    1 July 2027: both attendance steps (S37) and the seconded probation officer's (S38). The
    release of Friday 4 June 2027, 11:00 BST, typed in afterwards: the child is neither
    accommodated nor secured, so both S37 steps are superseded (S38, "all cases relevant to
    MAPPA 2", stays); back in custody on Monday 5 July 2027, 09:00 BST: owed again."""
    t = somerset
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    case_id = (await t.open_case(opened_at="2027-05-03T09:00:00Z", in_custody=True,
                                 expected_release_date="2027-12-15"))["data"]["id"]
    await ok(await patch_case(t, case_id, {"mappa_category": 3, "mappa_level": 2}))
    attend = {c for c, _, r in S37_S38 if r == "S37"}
    before = [s for s in await steps_of(t, case_id) if s["code"] in attend]
    assert _mappa(before, attend) == {(c, a, r, "8.4", None) for c, a, r in S37_S38
                                      if r == "S37"}
    await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "custody_release", "occurred_at": "2027-06-04T11:00:00+01:00"},
        headers=t.auth("line_manager")), 201)
    open_now = await steps_of(t, case_id)
    assert not attend & {s["code"] for s in open_now}
    assert _mappa(open_now, {"inform_seconded_probation_officer"}) == {
        ("inform_seconded_probation_officer", "case_holder", "S38", "8.4", None)}
    superseded = {s["id"] for s in await steps_of(t, case_id, "superseded")}
    assert {s["id"] for s in before} <= superseded
    pin(monkeypatch, 2027, 7, 5, 8, 0)
    await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "custody_entry", "occurred_at": "2027-07-05T09:00:00+01:00"},
        headers=t.auth("line_manager")), 201)
    assert _mappa(await steps_of(t, case_id), attend) == {
        (c, a, r, "8.4", None) for c, a, r in S37_S38 if r == "S37"}


async def test_S27_the_custody_entry_handover_ends_with_the_release(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S27 (14.3, 14.4): "When children are transferred to a secure setting, case holders will
    communicate with the relevant establishment by telephone and confirm by e-mail to ensure
    that the relevant documentation has been received, read and that appropriate measures are
    in place to ensure the child and others are safe." / "When children are transferred into
    the community from a secure setting, case holders will communicate with the secure
    establishment by telephone and confirm by e-mail that all relevant documentation has been
    received, read and appropriate responses to the identified risks/concerns are in
    place/being made."

    A case opened in custody on Monday 3 May 2027 owes 14.3's handover; released on Friday
    4 June 2027, 11:00 BST, before it was done: it is superseded (the setting no longer holds
    the child) and 14.4's is the one open, no timescale."""
    t = somerset
    pin(monkeypatch, 2027, 6, 4, 10, 30)
    case_id = (await t.open_case(opened_at="2027-05-03T09:00:00Z", in_custody=True,
                                 expected_release_date="2027-12-15"))["data"]["id"]
    [entry] = [s for s in await steps_of(t, case_id) if s["code"] == "secure_estate_handover"]
    assert (entry["actor"], entry["due_at"], entry["policy"]["rule"],
            entry["policy"]["ref"]) == ("case_holder", None, "S27", "14.3")
    await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "custody_release", "occurred_at": "2027-06-04T11:00:00+01:00"},
        headers=t.auth("line_manager")), 201)
    handovers = [(s["actor"], s["due_at"], s["policy"]["rule"], s["policy"]["ref"])
                 for s in await steps_of(t, case_id) if s["code"] == "secure_estate_handover"]
    assert handovers == [("case_holder", None, "S27", "14.4")]
    assert entry["id"] in {s["id"] for s in await steps_of(t, case_id, "superseded")}


@pytest.mark.parametrize("route", ["event", "patch"])
async def test_S37_mappa_meetings_owed_again_on_a_custody_entry_after_a_release(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    """S37 (8.4): "Case holders and their line managers will attend all relevant MAPPA 2
    meetings arranged in respect of children subject to their supervision whilst accommodated
    or secured."

    A child in custody (not in care) set to MAPPA level 2 on Thursday 1 July 2027, 09:00 BST:
    both attendance steps. Released on Wednesday 30 June 2027, 11:00 BST, and back in custody
    at 13:00 BST the same day, both typed in afterwards (attack 22, A22-4; the entry by the
    custody_entry event, or by PATCH in_custody dated then): in time order the child was
    secured when the level was set, so both S37 steps are open again."""
    t = somerset
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    case_id = (await t.open_case(opened_at="2027-05-03T09:00:00Z", in_custody=True,
                                 expected_release_date="2027-12-15"))["data"]["id"]
    await ok(await patch_case(t, case_id, {"mappa_category": 3, "mappa_level": 2}))
    attend = {c for c, _, r in S37_S38 if r == "S37"}
    owed = {(c, a, r, "8.4", None) for c, a, r in S37_S38 if r == "S37"}
    assert _mappa(await steps_of(t, case_id), attend) == owed
    pin(monkeypatch, 2027, 7, 1, 9, 0)
    await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "custody_release", "occurred_at": "2027-06-30T11:00:00+01:00"},
        headers=t.auth("case_holder")), 201)
    assert not attend & {s["code"] for s in await steps_of(t, case_id)}
    if route == "event":
        await ok(await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": "custody_entry", "occurred_at": "2027-06-30T13:00:00+01:00"},
            headers=t.auth("case_holder")), 201)
    else:
        await ok(await patch_case(t, case_id, {
            "in_custody": True, "occurred_at": "2027-06-30T13:00:00+01:00"}))
    assert _mappa(await steps_of(t, case_id), attend) == owed
