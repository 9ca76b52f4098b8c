"""A reopening keeps the review date a panel booked (attack 32c, ATTACK32C-6).

A reinstated review due on the date the MARP booked was moved on by the time the case was
closed, to a date no panel agreed.

2026 dates (GMT): ROSH high Tuesday 20 October; MARPs on Wednesday 28 October and Thursday 3
December; the case closes on Monday 2 November.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import patch_case, steps_of
from tests.api.test_attack32c_reopening import _marps, _post
from tests.conftest import Tenant

NEXT_MARP = "2026-12-03T10:00:00Z"


async def _reviewed_then_closed(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """ROSH high on Tuesday 20 October; the MARP of Wednesday 28 October keeps it High and
    books the review for Wednesday 25 November; a MARP is booked for Thursday 3 December; the
    order ends on Monday 2 November."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    panel_id = (await _marps(t, ("2026-10-28T10:00:00Z", NEXT_MARP)))[0]
    case_id = str((await t.open_case(opened_at="2026-10-01T09:00:00+01:00",
                                     intervention="prevention"))["data"]["id"])
    await _post(t, f"/v1/cases/{case_id}/judgements", with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-10-20T10:00:00+01:00",
        "victims": ["peer"]}))
    r = await t.client.post(f"/v1/panels/{panel_id}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin", "panel_admin-1"))
    assert r.status_code == 201, r.text
    r = await t.client.post(
        f"/v1/panels/{panel_id}/items/{r.json()['data']['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-11-25", "minutes": "Remains high",
              "actions": [], "occurred_at": "2026-10-28T11:00:00Z"},
        headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    r = await patch_case(t, case_id, {"closed_at": "2026-11-02T10:00:00Z",
                                      "closure_reason": "Order completed"})
    assert r.status_code == 200, r.text
    return case_id


async def _review_after_reopening(t: Tenant, monkeypatch: pytest.MonkeyPatch,
                                  *when: int) -> dict[str, Any]:
    case_id = await _reviewed_then_closed(t, monkeypatch)
    pin(monkeypatch, *when)
    r = await patch_case(t, case_id, {"closed_at": None, "reopen_reason": "New order"})
    assert r.status_code == 200, r.text
    return next(s for s in await steps_of(t, case_id) if s["code"] == "attend_panel_review")


async def test_S20_a_reopening_keeps_the_review_date_the_marp_booked(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.6): "Unless the child's risk status has reduced to medium or low, the panel
    will agree and then book a provisional review date". Closed on 2 November, reopened on
    Monday 9 November: the review is still due on the booked Wednesday 25 November, not a week
    later by the time the case was closed (attack 32c, ATTACK32C-6: 2 December)."""
    review = await _review_after_reopening(somerset, monkeypatch, 2026, 11, 9, 10, 0)
    assert (review["due_at"], review["awaiting_panel_date"]) == ("2026-11-25T23:59:59Z", False)


async def test_S20_a_review_date_passed_while_closed_is_due_at_the_next_marp(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S20 (7.1.6), 7.2.3: "Where cases continue to be classified as High or Very high, the
    case will remain relevant to ongoing MARP oversight". The booked 25 November passed while
    the case was closed (no MARP acts on a closed case); reopened on Monday 30 November, the
    review is due at the next MARP, Thursday 3 December."""
    review = await _review_after_reopening(somerset, monkeypatch, 2026, 11, 30, 10, 0)
    assert (review["due_at"], review["overdue"]) == (NEXT_MARP, False)
