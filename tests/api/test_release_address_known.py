"""Wokingham W20: the receiving YJS notified with the pre-release referral (attack 32c).

"Category 2 referrals (i.e. for children in custody), the referral into MAPPA must be completed
six months prior to their release into the community. The referral must be made to the MAPPA
area where the child will be residing ... Where the release address is in a different area to
PYJS, the case worker must also notify the local Youth Justice Service of the child being
released into their area and initiate the relevant transfer/care-taking process."
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import the_step
from tests.conftest import Tenant

WOKINGHAM = {"pack": "wokingham-pyjs-2024", "version": "1.0"}
REF = "Referrals into MAPPA"


async def _patch(t: Tenant, case_id: str, body: dict[str, Any]) -> None:
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    r = await t.client.patch(url, json=body,
                             headers={**t.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 200, r.text


async def _notice(t: Tenant, case_id: str) -> dict[str, Any]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return the_step(r.json()["data"], "notify_receiving_yjs")


async def test_W20_release_address_known_before_release_is_due_with_the_mappa_referral(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W20: "Where the release address is in a different area to PYJS, the case worker must
    also notify the local Youth Justice Service of the child being released into their area":
    "also", with the category 2 referral "six months prior to their release". A category 2
    child in custody from Tuesday 13 April 2027, release expected Sunday 31 October 2027; the
    release address recorded as in another area (the case fact) on Wednesday 14 April: the
    notice is raised then, due with the MAPPA H form, by the end of Friday 30 April 2027 (BST:
    22:59:59Z), not at the release (attack 32c, ATTACK32C-8)."""
    pin(monkeypatch, 2027, 4, 14, 9, 0)
    case = (await wokingham.open_case(opened_at="2027-04-13T09:00:00+01:00", mappa_category=2,
                                      in_custody=True,
                                      expected_release_date="2027-10-31"))["data"]
    await _patch(wokingham, case["id"], {"facts": {"release_address_other_area": True}})
    step = await _notice(wokingham, case["id"])
    assert (step["actor"], step["assignee_id"], step["due_at"], step["urgent"]) == (
        "case_holder", "case_holder-1", "2027-04-30T22:59:59Z", False)
    assert step["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W20"}


async def test_W20_release_address_known_for_a_child_outside_mappa_is_due_before_release(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W20: "notify the local Youth Justice Service of the child being released into their
    area": a child in custody not MAPPA category 2 (no referral to go with), release expected
    Sunday 31 October 2027, the address in another area recorded on Wednesday 14 April 2027:
    due before the release, at the start of 31 October (BST until 02:00 that day:
    23:00:00Z on the 30th)."""
    pin(monkeypatch, 2027, 4, 14, 9, 0)
    case = (await wokingham.open_case(opened_at="2027-04-13T09:00:00+01:00", in_custody=True,
                                      expected_release_date="2027-10-31"))["data"]
    await _patch(wokingham, case["id"], {"facts": {"release_address_other_area": True}})
    step = await _notice(wokingham, case["id"])
    assert (step["due_at"], step["urgent"]) == ("2027-10-30T23:00:00Z", False)
    assert step["policy"] == {**WOKINGHAM, "ref": REF, "rule": "W20"}


async def test_W20_release_address_known_only_at_the_release_is_due_at_once(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W20 control: the address in another area first known with the release (Friday 29
    October 2027, the ``custody_release`` event's flag): the notice is raised then, due at
    once, urgent, as before."""
    pin(monkeypatch, 2027, 10, 29, 12, 0)
    case = (await wokingham.open_case(opened_at="2027-04-13T09:00:00+01:00", mappa_category=2,
                                      in_custody=True,
                                      expected_release_date="2027-10-31"))["data"]
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/events", json={
        "type": "custody_release", "occurred_at": "2027-10-29T10:00:00+01:00",
        "release_address_other_area": True}, headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    step = await _notice(wokingham, case["id"])
    assert (step["due_at"], step["urgent"]) == ("2027-10-29T09:00:00Z", True)


async def test_W20_before_release_due_at_once_moves_with_a_corrected_release_date(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W20 with ATTACK32C-10: "notify the local Youth Justice Service of the child being
    released into their area". A child in custody (not MAPPA) whose release date was typed as
    Wednesday 14 April 2027, the day the address in another area is recorded: the release day
    has begun, so the notice is due at once; corrected the next day to Thursday 14 October
    2027, it is due before the new release day (its start, BST: 23:00:00Z on the 13th), not
    kept as a passed deadline: the corrected record says it was never due yet."""
    pin(monkeypatch, 2027, 4, 14, 9, 0)
    case = (await wokingham.open_case(opened_at="2027-04-13T09:00:00+01:00", in_custody=True,
                                      expected_release_date="2027-04-14"))["data"]
    await _patch(wokingham, case["id"], {"facts": {"release_address_other_area": True}})
    now = await _notice(wokingham, case["id"])
    assert (now["due_at"], now["urgent"]) == ("2027-04-14T09:00:00Z", True)
    pin(monkeypatch, 2027, 4, 15, 9, 0)
    await _patch(wokingham, case["id"], {"expected_release_date": "2027-10-14"})
    moved = await _notice(wokingham, case["id"])
    assert (moved["id"], moved["due_at"], moved["urgent"], moved["overdue"]) == (
        now["id"], "2027-10-13T23:00:00Z", False, False)
