"""Which steps only a panel's decision does, and when they count as overdue (attack pass 19,
A19-1): late only after the end of the London day they are due on."""

from __future__ import annotations

from datetime import UTC, datetime

from app.workflows.calendar import WorkingCalendar
from app.workflows.deadlines import overdue_at_for
from app.workflows.packs import load_packs

CAL = WorkingCalendar()


def _sitting_codes(pack_id: str) -> set[str]:
    pack = load_packs()[pack_id]
    return {code for code in pack.step_codes() if pack.done_at_sitting(code)}


def test_S10_and_W8_done_only_by_a_panel_decision_and_nothing_owed_before_the_panel() -> None:
    """S10 (3.2.4) "the MAPPA level will be identified and agreed via these processes"; W8
    "held within a week"; the referral and the views (S7, S8: "sought before the initial
    panel") are owed before the sitting and keep its start as their deadline."""
    # S48 (7.1.1, fid14a): attending the initial MARP, done by the decision naming the presenter.
    assert _sitting_codes("somerset-yjt-2023") == {
        "identify_mappa_level", "record_panel_decision", "attend_panel_review",
        "attend_initial_marp"}
    assert _sitting_codes("wokingham-pyjs-2024") == {
        "hold_high_risk_panel", "high_risk_panel_review", "record_panel_decision",
        "attend_panel_review"}


def test_S10_overdue_at_the_end_of_the_sitting_day_across_the_clock_change() -> None:
    """S10 (3.2.4): a MARP on Sunday 28 March 2027 at 14:00 BST (the clocks went forward at
    01:00 GMT that morning): overdue after
    23:59:59 BST; on Sunday 31 October (GMT again) after 23:59:59Z; never a working-day move."""
    at = datetime(2027, 3, 28, 13, 0, tzinfo=UTC)
    assert overdue_at_for(at, False, CAL, sitting=True) == datetime(
        2027, 3, 28, 22, 59, 59, tzinfo=UTC)
    assert overdue_at_for(at, False, CAL) == at
    autumn = datetime(2027, 10, 31, 14, 0, tzinfo=UTC)
    assert overdue_at_for(autumn, False, CAL, sitting=True) == datetime(
        2027, 10, 31, 23, 59, 59, tzinfo=UTC)
