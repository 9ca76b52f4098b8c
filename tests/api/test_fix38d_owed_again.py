"""A ``next-panel`` step owed again by a later act is due from that act (ATTACK37-6; fix38d).

An agenda item withdrawn before the panel heard the case, or a panel referral withdrawn, re-opens
what the item or the referral had done (Somerset S7's referral to the next MARP, S8's views). The
re-opened step kept the done one's deadline and counted its next panel from the judgement that
first asked for it: with the judgement dated at (or before) a MARP that had sat a week before
the withdrawal, the new referral step was due at that past sitting, which the case was never
listed at, overdue from its creation. It is now due at the next MARP of the kind at or after the
act that re-opened it (never the sitting the case was withdrawn from). Open steps the act did not
re-open (S8, S10 due at the past sitting and overdue) keep the deadline that had passed.

Dates (2026): MARPs on Tuesdays 25 August, 8 and 15 September 10:00 BST (09:00Z); ROSH very high
on Tuesday 25 August 10:00 BST, at the first; the clock on Tuesday 1 September 22:45Z.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.act_order_support import book_sitting, withdraw_item
from tests.api.fidelity_support import pin
from tests.api.integrity_support import book_panel, judge_rosh, refer_to_marp, steps_of, the_step
from tests.conftest import Tenant

PACK = "somerset-yjt-2023"
PAST_UTC, P_UTC, Q_UTC = "2026-08-25T09:00:00Z", "2026-09-08T09:00:00Z", "2026-09-15T09:00:00Z"


async def _very_high_after_a_past_marp(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tuesday 1 September 2026 22:45Z: the MARPs of 25 August (sat), 8 and 15 September
    booked; ROSH very high dated 25 August 10:00 BST (at the first MARP, which the case was
    never listed at): S7, S8 and S10 are due at that MARP, already overdue. The case."""
    pin(monkeypatch, 2026, 9, 1, 22, 45)
    case_id = str((await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    for when in ("2026-08-25T10:00:00+01:00", "2026-09-15T10:00:00+01:00"):
        await book_panel(t, when)
    await judge_rosh(t, case_id, "very_high", "2026-08-25T10:00:00+01:00")
    steps = await steps_of(t, case_id)
    assert {c: _line(the_step(steps, c))[4:] for c in ("refer_to_panel", "identify_mappa_level")} \
        == {"refer_to_panel": (PAST_UTC, True), "identify_mappa_level": (PAST_UTC, True)}
    return case_id


def _line(step: dict[str, Any]) -> tuple[Any, ...]:
    """(rule, actor, reference, pack, due_at, overdue)."""
    return (step["policy"]["rule"], step["actor"], step["policy"]["ref"], step["policy"]["pack"],
            step["due_at"], step["overdue"])


@pytest.mark.parametrize("withdrawn", ["2026-09-01T22:45:00Z", "2026-09-08T09:00:08Z"],
                         ids=["before-the-sitting", "after-the-sitting"])
async def test_S7_a_referral_owed_again_by_a_withdrawal_is_due_at_the_next_MARP_after_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, withdrawn: str) -> None:
    """S7 (Somerset 3.2.4): "The case holder will refer the case to the next YJT MARP by
    contacting the appropriate administrator and completion of section 1 of the MARP referral
    form." Judged very high at the MARP of 25 August (never listed there), the case is put on
    the agenda of the MARP of 8 September (S7 done, late) and taken off it undecided
    ("deferred"), on 1 September or 8 seconds after that MARP's time: the referral owed again
    is due at the MARP of 15 September, the next after the withdrawal other than the one the
    case left, not overdue (before: the withdrawal on 1 September gave it 25 August, a sitting
    a week before the withdrawal, overdue from its creation). S8's views (6.2 "before the
    initial panel") and S10's MAPPA level (3.2.4 "identified and agreed via these processes"),
    open and late since 25 August, keep that deadline: the withdrawal erases no lateness."""
    t = somerset
    case_id = await _very_high_after_a_past_marp(t, monkeypatch)
    sitting = await book_sitting(t, case_id, "marp", "2026-09-08T10:00:00+01:00")
    assert "refer_to_panel" not in {s["code"] for s in await steps_of(t, case_id)}
    if withdrawn != "2026-09-01T22:45:00Z":
        pin(monkeypatch, 2026, 9, 8, 9, 0, 8)
    r = await withdraw_item(t, sitting, "deferred")
    assert r.status_code == 200, r.text
    steps = await steps_of(t, case_id)
    assert _line(the_step(steps, "refer_to_panel")) == (
        "S7", "case_holder", "3.2.3, 3.2.4", PACK, Q_UTC, False)
    for code, rule in (("seek_child_and_carer_views", "S8"), ("identify_mappa_level", "S10")):
        line = _line(the_step(steps, code))
        assert (line[0], line[4], line[5]) == (rule, PAST_UTC, True), (code, line)


async def test_S7_S8_steps_owed_again_by_a_withdrawn_referral_are_due_at_the_next_MARP(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.4): "The case holder will refer the case to the next YJT MARP ... completion of
    section 1 of the MARP referral form"; S8 (6.2): "Child and parent/carer views will be
    sought before the initial panel and be included in the MARP referral form." Judged very
    high at the MARP of 25 August, the case holder submits the referral with the views on
    1 September (both done, late) and withdraws it the same evening: both are owed again, due
    at the next MARP after the withdrawal (8 September), not overdue (before: at the MARP of
    25 August, overdue from their creation); a MARP then booked for 4 September takes them;
    the past one never does again."""
    t = somerset
    case_id = await _very_high_after_a_past_marp(t, monkeypatch)
    await book_panel(t, "2026-09-08T10:00:00+01:00")
    referral = (await refer_to_marp(t, case_id, "2026-09-01T20:00:00+01:00"))["data"]["id"]
    r = await t.client.post(f"/v1/referrals/{referral}/withdraw",
                            json={"note": "Sent in error.",
                                  "occurred_at": "2026-09-01T23:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    steps = await steps_of(t, case_id)
    assert _line(the_step(steps, "refer_to_panel")) == (
        "S7", "case_holder", "3.2.3, 3.2.4", PACK, P_UTC, False)
    assert _line(the_step(steps, "seek_child_and_carer_views")) == (
        "S8", "case_holder", "6.2", PACK, P_UTC, False)
    await book_panel(t, "2026-09-04T10:00:00+01:00")
    steps = await steps_of(t, case_id)
    assert {c: the_step(steps, c)["due_at"]
            for c in ("refer_to_panel", "seek_child_and_carer_views")} == {
        "refer_to_panel": "2026-09-04T09:00:00Z",
        "seek_child_and_carer_views": "2026-09-04T09:00:00Z"}
