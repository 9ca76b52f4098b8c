"""The engine's side of a back-filled judgement (attack pass 10, A10-30): evaluated on the case
as it found it, keeping only what the history in time order still owes (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from app.workflows.engine import evaluate_backfill
from app.workflows.types import OpenStep
from tests.workflows.support import (
    MARP_REVIEW,
    SOMERSET,
    WOKINGHAM,
    calendar,
    case,
    judgement,
    packs,
    rated,
)

HIGH_AT = datetime(2026, 5, 22, 15, 0, tzinfo=UTC)  # Fri 22 May 2026 16:00 BST


def test_W12_W7_a_high_back_filled_before_a_low_owes_the_plan_not_the_panel() -> None:
    """W7 ("request a High-Risk Panel within two working days of 1. Assessing a child as high
    or very high ROSH") lasts while ROSH is high; W12 (the risk management plan when ROSH is
    medium or above) has no end. A high of Friday 22 May 2026 under a later low: the plan is
    owed, the request lapsed with the low; the low's open steps are neither superseded nor
    re-dated; the register and contact level of that moment are not today's."""
    low_step = OpenStep(id=UUID(int=7), code="inform_child_and_carer", rule_id="W23",
                        subject_id=case().case_id, due_at=None, awaiting_panel_date=False,
                        deadline_form="none", actor="case_holder")
    found = evaluate_backfill(
        judgement("rosh", "high", HIGH_AT, victims=["public"]),
        case(ratings=rated(), open_steps=(low_step,)), packs()[WOKINGHAM], calendar(),
        later=[rated(rosh="low")])
    assert not found.violations
    by_code = {i.code: i for i in found.intents}
    # W30 (fid14a): the child's first judgement starts the monthly line supervision (this
    # snapshot holds none open): due a month after the high, Monday 22 June 2026 16:00 BST.
    assert set(by_code) == {"update_risk_management_plan", "inform_child_and_carer",
                            "monthly_line_supervision"}
    assert (by_code["monthly_line_supervision"].action,
            by_code["monthly_line_supervision"].due_at) == (
        "create", datetime(2026, 6, 22, 15, 0, tzinfo=UTC))
    assert (by_code["update_risk_management_plan"].action,
            by_code["update_risk_management_plan"].rule_id) == ("create", "W12")
    assert by_code["inform_child_and_carer"].action == "keep"  # its reason added, no date
    assert by_code["inform_child_and_carer"].step_id == UUID(int=7)


def test_W7_a_very_high_back_filled_before_a_high_brings_the_request_forward() -> None:
    """W7: very high on Thursday 2 April 2026 (Easter) under a later high whose request is due
    Thursday 16 April: re-dated to the end of Wednesday 8 April, the very high's two working
    days; the high held throughout."""
    open_request = OpenStep(
        id=UUID(int=9), code="request_high_risk_panel", rule_id="W7", subject_id=case().case_id,
        due_at=datetime(2026, 4, 16, 22, 59, 59, tzinfo=UTC), awaiting_panel_date=False,
        deadline_form="+2wd", actor="case_holder")
    found = evaluate_backfill(
        judgement("rosh", "very_high", datetime(2026, 4, 2, 9, 0, tzinfo=UTC),
                  victims=["public"]),
        case(ratings=rated(), open_steps=(open_request,)), packs()[WOKINGHAM], calendar(),
        later=[rated(rosh="high")])
    [request] = [i for i in found.intents if i.code == "request_high_risk_panel"]
    assert (request.action, request.step_id, request.due_at) == (
        "update_due", UUID(int=9), datetime(2026, 4, 8, 22, 59, 59, tzinfo=UTC))
    assert all(i.action != "supersede" for i in found.intents)


def test_M6_a_back_filled_lowering_of_a_registered_high_asks_for_nothing() -> None:
    """M6 (Somerset 4.3): "If the case was relevant to MARP, the case holder will update the
    panel ... to seek agreement from the panel regarding a revised judgment rating". A medium
    dated between a high and a later very high, on a case the MARP has taken (its review
    booked): in time order it would have been refused (409), so as a back-fill it asks for
    nothing (the service keeps it in the history only)."""
    found = evaluate_backfill(
        judgement("rosh", "medium", datetime(2026, 6, 3, 9, 0, tzinfo=UTC)),
        case(ratings=rated(rosh="high"), open_steps=(MARP_REVIEW,)), packs()[SOMERSET],
        calendar(),
        later=[rated(rosh="very_high")])
    assert [v.rule_id for v in found.violations] == ["M6"]
    assert found.intents == ()


def test_W7_a_low_back_filled_under_a_high_lapses_the_open_request_only_when_asked() -> None:
    """W7 (Wokingham, High Risk Panel): "request a High-Risk Panel within two working days of
    1. Assessing a child as high or very high ROSH"; the request lasts while ROSH is high. A low
    dated Wednesday 27 May 2026 between a high (whose request is open) and a later high: with
    ``lapse`` the open request is superseded (in time order it lapsed with the low; the caller
    keeps that only for a step that arose before it, A11-4), without it nothing is."""
    open_request = OpenStep(
        id=UUID(int=11), code="request_high_risk_panel", rule_id="W7",
        subject_id=case().case_id, due_at=datetime(2026, 5, 27, 22, 59, 59, tzinfo=UTC),
        awaiting_panel_date=False, deadline_form="+2wd", actor="case_holder")
    low = judgement("rosh", "low", datetime(2026, 5, 27, 9, 0, tzinfo=UTC))
    snapshot = case(ratings=rated(rosh="high"), open_steps=(open_request,))
    lapsed = evaluate_backfill(low, snapshot, packs()[WOKINGHAM], calendar(),
                               later=[rated(rosh="high")], lapse=True)
    assert [(i.action, i.code, i.step_id) for i in lapsed.intents
            if i.action == "supersede"] == [("supersede", "request_high_risk_panel",
                                             UUID(int=11))]
    kept = evaluate_backfill(low, snapshot, packs()[WOKINGHAM], calendar(),
                             later=[rated(rosh="high")])
    assert all(i.action != "supersede" for i in kept.intents)
