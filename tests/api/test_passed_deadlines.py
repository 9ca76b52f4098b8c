"""Re-dating a step never erases lateness that has already happened (attack pass 9, A9-11).

Wokingham "Referrals into MAPPA": "Category 2 referrals (i.e. for children in custody), the
referral into MAPPA must be completed six months prior to their release into the community."
A category 2 child in custody, expected release Monday 1 March 2027, case opened Monday 3 August
2026: the MAPPA H notification (W16) is due by the end of Tuesday 1 September 2026 (London,
BST: 22:59:59Z). Once that has passed, neither the child's release (a case event), nor a case
change of custody or release date, moves it later or takes its date away: it stays overdue, in
the overdue list and the timeliness report, until the form is sent. Before it has passed, a
later release date does move it (the clocks go back on Sunday 25 October 2026).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import the_step
from tests.conftest import Tenant

WOKINGHAM = {"pack": "wokingham-pyjs-2024", "version": "1.0"}
REF = "Referrals into MAPPA"
FIRST_DUE = "2026-09-01T22:59:59Z"


async def _case(t: Tenant) -> tuple[str, dict[str, Any]]:
    """The category 2 child in custody; the case id and its open W16 step."""
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00", mappa_category=2,
                              in_custody=True, expected_release_date="2027-03-01"))["data"]
    step = await _notification(t, case["id"])
    assert (step["actor"], step["assignee_id"], step["due_at"]) == (
        "case_holder", "case_holder-1", FIRST_DUE)
    assert step["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W16"}
    return str(case["id"]), step


async def _notification(t: Tenant, case_id: str) -> dict[str, Any]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return the_step(r.json()["data"], "mappa_h_notification")


async def _patch(t: Tenant, case_id: str, body: dict[str, Any]) -> None:
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    r = await t.client.patch(url, json=body,
                             headers={**t.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text


async def test_W16_release_after_the_deadline_keeps_it_overdue(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W16: the child released on Friday 13 November 2026 (recorded Monday 16 November), two
    and a half months after the form was due: the step keeps its due date (no "no timescale"),
    is overdue, and the timeliness report counts it open and overdue."""
    pin(monkeypatch, 2026, 11, 16, 9, 0)
    case_id, step = await _case(wokingham)
    r = await wokingham.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "custody_release", "occurred_at": "2026-11-13T10:00:00+00:00"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    kept = await _notification(wokingham, case_id)
    assert (kept["id"], kept["due_at"], kept["overdue"]) == (step["id"], FIRST_DUE, True)
    assert kept["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W16"}
    # A release makes the notification due at once (A20-15), which never moves a passed
    # date later: the date stands as it was, with no "no timescale" re-date to explain.
    assert "no timescale" not in (kept["note"] or "")
    r = await wokingham.client.get("/v1/next-steps", params={"overdue": "true", "limit": 200},
                                   headers=wokingham.auth("line_manager"))
    assert step["id"] in {s["id"] for s in r.json()["data"]}
    r = await wokingham.client.get("/v1/reports/timeliness", params={
        "from": "2026-08-01", "to": "2026-12-31", "group_by": "rule"},
        headers=wokingham.auth("chair"))
    assert r.status_code == 200, r.text
    [row] = [row for row in r.json()["data"]["rows"] if row["rule"] == "W16"]
    assert (row["due"], row["open_overdue"], row["no_timescale"]) == (1, 1, 0)


async def test_W16_custody_or_release_date_changed_after_the_deadline_keep_it(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W16: on Monday 16 November 2026 the release date moves to Wednesday 1 September 2027
    (six months before: 1 March 2027), then the child is recorded as out of custody: the passed
    1 September 2026 deadline stays through both case changes."""
    pin(monkeypatch, 2026, 11, 16, 9, 0)
    case_id, step = await _case(wokingham)
    await _patch(wokingham, case_id, {"expected_release_date": "2027-09-01"})
    later = await _notification(wokingham, case_id)
    assert (later["id"], later["due_at"], later["overdue"]) == (step["id"], FIRST_DUE, True)
    await _patch(wokingham, case_id, {"in_custody": False})
    out = await _notification(wokingham, case_id)
    assert (out["id"], out["due_at"], out["overdue"]) == (step["id"], FIRST_DUE, True)
    assert out["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W16"}


async def test_W16_a_later_release_date_before_the_deadline_still_moves_it(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W16: on Thursday 20 August 2026, before the 1 September deadline has passed, the release
    date moves to Friday 30 April 2027: the form is due six months before, by the end of Friday
    30 October 2026, after the clocks went back (GMT: 23:59:59Z)."""
    pin(monkeypatch, 2026, 8, 20, 9, 0)
    case_id, step = await _case(wokingham)
    await _patch(wokingham, case_id, {"expected_release_date": "2027-04-30"})
    moved = await _notification(wokingham, case_id)
    assert (moved["id"], moved["due_at"], moved["overdue"]) == (
        step["id"], "2026-10-30T23:59:59Z", False)
    assert moved["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W16"}
    assert "Deadline kept" not in (moved["note"] or "")


async def test_S7_marp_moved_before_it_was_due_takes_the_referral_with_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3) control: moved on Monday 24 August 2026, before 27 August, the MARP takes the
    waiting referral to Thursday 10 September 10:00 BST (09:00Z), not overdue."""
    pin(monkeypatch, 2026, 8, 21, 14, 0)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-08-21T14:30:00+01:00"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await somerset.client.post("/v1/panels", json={
        "kind": "marp", "scheduled_for": "2026-08-27T10:00:00+01:00", "chair_id": "chair-1"},
        headers=somerset.auth("panel_admin"))
    assert r.status_code == 201, r.text
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    r = await somerset.client.post(f"/v1/panels/{r.json()['data']['id']}/reschedule",
                                   json={"scheduled_for": "2026-09-10T10:00:00+01:00"},
                                   headers=somerset.auth("panel_admin"))
    assert r.status_code == 200, r.text
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"]},
                                  headers=somerset.auth("line_manager"))
    step = the_step(r.json()["data"], "refer_to_panel")
    assert (step["due_at"], step["overdue"]) == ("2026-09-10T09:00:00Z", False)
    assert step["policy"]["rule"] == "S7"
    assert "Deadline kept" not in (step["note"] or "")


async def test_W16_due_at_once_moves_with_a_corrected_release_date(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W16: "Category 2 referrals (i.e. for children in custody), the referral into MAPPA must
    be completed six months prior to their release into the community." On Tuesday 20 April
    2027 a category 2 child is recorded in custody with release on Thursday 1 July 2027: the
    six-month point (Friday 1 January 2027) has passed, so the notification is due at once,
    urgent, saying when it passed. The release date corrected to Monday 31 January 2028 minutes
    later puts it at six months before the new date, the end of Saturday 31 July 2027 (BST):
    the deadline is defined by the release date, and the corrected record says it was never due
    yet; the "due at once" stood for the old date's passed point, not for a deadline missed
    (attack 32c, ATTACK32C-10, reversing ATTACK30B-13's keep)."""
    pin(monkeypatch, 2027, 4, 20, 9, 24)
    case = (await wokingham.open_case(opened_at="2027-04-01T09:00:00+01:00",
                                      mappa_category=2))["data"]
    await _patch(wokingham, case["id"], {"in_custody": True,
                                         "expected_release_date": "2027-07-01"})
    now = await _notification(wokingham, case["id"])
    assert (now["due_at"], now["urgent"]) == ("2027-04-20T09:24:00Z", True)
    assert "passed on Friday 1 January 2027: due at once" in now["note"]
    pin(monkeypatch, 2027, 4, 20, 9, 30)
    await _patch(wokingham, case["id"], {"expected_release_date": "2028-01-31"})
    moved = await _notification(wokingham, case["id"])
    assert (moved["id"], moved["due_at"], moved["urgent"], moved["overdue"]) == (
        now["id"], "2027-07-31T22:59:59Z", False, False)
    assert "due at once" not in (moved["note"] or "")
    assert "Deadline kept" not in (moved["note"] or "")


async def _due_at_once_then_corrected(t: Tenant, monkeypatch: pytest.MonkeyPatch, code: str,
                                      **opened: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A category 2 child recorded in custody on Wednesday 2 June 2027 with release on Wednesday
    1 September 2027 (six months before: 1 March 2027, passed), the date corrected on Thursday
    3 June (after the end of the working day the step was due at once) to Friday 31 March
    2028: the open ``code`` step before and after the correction."""
    pin(monkeypatch, 2027, 6, 2, 9, 0)
    case = (await t.open_case(opened_at="2027-05-04T09:00:00+01:00", mappa_category=2,
                              **opened))["data"]
    await _patch(t, case["id"], {"in_custody": True, "expected_release_date": "2027-09-01"})
    r = await t.client.get("/v1/next-steps", params={"case_id": case["id"]},
                           headers=t.auth("line_manager"))
    before = the_step(r.json()["data"], code)
    pin(monkeypatch, 2027, 6, 3, 10, 0)
    await _patch(t, case["id"], {"expected_release_date": "2028-03-31"})
    r = await t.client.get("/v1/next-steps", params={"case_id": case["id"]},
                           headers=t.auth("line_manager"))
    return before, the_step(r.json()["data"], code)


async def test_W16_due_at_once_corrected_the_next_day_moves_to_the_new_point(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W16: "the referral into MAPPA must be completed six months prior to their release into
    the community." Due at once on Wednesday 2 June 2027 (release 1 September 2027), the release
    date corrected the next day to Friday 31 March 2028: due six months before it, the end of
    Thursday 30 September 2027 (BST), not kept at 2 June as a passed deadline: the step's
    date stood for the old release date's passed point (attack 32c, ATTACK32C-10)."""
    before, after = await _due_at_once_then_corrected(wokingham, monkeypatch,
                                                      "mappa_h_notification")
    assert (before["due_at"], before["urgent"]) == ("2027-06-02T09:00:00Z", True)
    assert (after["id"], after["due_at"], after["urgent"], after["overdue"]) == (
        before["id"], "2027-09-30T22:59:59Z", False, False)
    assert after["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W16"}
    assert "Deadline kept" not in (after["note"] or "")


async def test_W17_due_at_once_corrected_the_next_day_moves_to_the_new_point(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W17 (the MAPPA A referral, level 2 expected): "Category 2 referrals (i.e. for children
    in custody), the referral into MAPPA must be completed six months prior to their release
    into the community." The same correction of the release date re-dates the referral due at
    once to the end of Thursday 30 September 2027 (attack 32c, ATTACK32C-10)."""
    before, after = await _due_at_once_then_corrected(wokingham, monkeypatch,
                                                      "mappa_a_referral", mappa_level=2)
    assert (before["due_at"], before["urgent"]) == ("2027-06-02T09:00:00Z", True)
    assert (after["id"], after["due_at"], after["urgent"], after["overdue"]) == (
        before["id"], "2027-09-30T22:59:59Z", False, False)
    assert after["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W17"}
