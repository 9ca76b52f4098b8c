"""Engine semantics: idempotency, supersession, panels, recurrence, purity, determinism."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from app.workflows.engine import evaluate
from tests.workflows.support import (
    CASE_ID,
    CHRISTMAS_EVE,
    EVENT_ID,
    FRI_BEFORE_BANK_HOLIDAY,
    MARP_REVIEW,
    SOMERSET,
    WOKINGHAM,
    calendar,
    case,
    codes,
    created,
    end_of,
    event,
    intents,
    judgement,
    lon,
    open_step,
    packs,
    panel,
    rated,
    run,
    utc,
)

WORKFLOWS = Path(__file__).resolve().parents[2] / "app" / "workflows"


def test_same_high_judgement_twice_keeps_the_one_open_refer_to_panel() -> None:
    """Same high judgement twice keeps the one open refer to panel."""
    first = run(SOMERSET, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY))
    opened = tuple(open_step(i, UUID(int=n)) for n, i in enumerate(first.intents, start=1))
    # Not yet on the register (e.g. the register flag is applied by the same write later).
    again = run(SOMERSET, judgement("rosh", "high", lon(2026, 8, 29, 9)),
                case(ratings=rated(rosh="high"), open_steps=opened))
    refer = intents(again, code="refer_to_panel")
    assert [(i.action, i.step_id) for i in refer] == [("keep", opened[2].id)]
    assert intents(again, "create") == []
    assert {i.action for i in again.intents} == {"keep"}


def test_keep_for_a_case_wide_step_names_the_existing_subject() -> None:
    """Keep for a case wide step names the existing subject."""
    first = created(run(SOMERSET, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY)),
                    "refer_to_panel")
    snapshot = case(ratings=rated(rosh="high"), open_steps=(open_step(first, UUID(int=1)),))
    transfer = run(SOMERSET, event("case_event", CHRISTMAS_EVE, EVENT_ID, type="transfer_in",
                                   incoming_ratings={"rosh": "high"}), snapshot)
    keep = intents(transfer, code="refer_to_panel")
    assert [(k.action, k.step_id, k.subject_id) for k in keep] == [("keep", UUID(int=1), CASE_ID)]


def test_wokingham_rosh_back_to_low_supersedes_the_open_panel_request() -> None:
    """Wokingham rosh back to low supersedes the open panel request."""
    high = run(WOKINGHAM, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY, victims=["public"]))
    request = created(high, "request_high_risk_panel")
    snapshot = case(ratings=rated(rosh="high"), open_steps=(open_step(request, UUID(int=4)),))
    low = run(WOKINGHAM, judgement("rosh", "low", lon(2026, 8, 30, 10)), snapshot)
    superseded = intents(low, "supersede")
    assert [(s.step_id, s.code, s.rule_id) for s in superseded] == [
        (UUID(int=4), "request_high_risk_panel", "W7")]
    assert superseded[0].note
    assert superseded[0].note.startswith("Superseded")
    # An unrelated event while ROSH is still high supersedes nothing.
    other = run(WOKINGHAM, event("case_event", lon(2026, 8, 30, 10), EVENT_ID,
                                 type="custody_entry"), snapshot)
    assert intents(other, "supersede") == []


def test_somerset_panel_steps_are_superseded_when_rosh_and_swb_drop_below_high() -> None:
    """Somerset panel steps are superseded when rosh and swb drop below high."""
    high = run(SOMERSET, judgement("swb", "high", FRI_BEFORE_BANK_HOLIDAY))
    wanted = ("refer_to_panel", "seek_child_and_carer_views", "monthly_manager_review",
              "discuss_with_manager")
    opened = tuple(open_step(created(high, c), UUID(int=n)) for n, c in enumerate(wanted, 1))
    low = run(SOMERSET, judgement("swb", "medium", lon(2026, 8, 29, 9)),
              case(ratings=rated(swb="high"), open_steps=opened))
    assert {i.code for i in intents(low, "supersede")} == {
        "refer_to_panel", "seek_child_and_carer_views", "monthly_manager_review"}
    still_rosh_high = run(SOMERSET, judgement("swb", "medium", lon(2026, 8, 29, 9)),
                          case(ratings=rated(swb="high", rosh="very_high"), open_steps=opened))
    assert intents(still_rosh_high, "supersede") == []


def test_event_raised_panel_request_is_not_superseded_by_a_low_rosh() -> None:
    """Event raised panel request is not superseded by a low rosh."""
    raised = created(run(WOKINGHAM, event("case_event", CHRISTMAS_EVE, EVENT_ID,
                                          type="new_incident", may_raise_to_high=True)),
                     "request_high_risk_panel")
    snapshot = case(ratings=rated(rosh="medium"), open_steps=(open_step(raised, UUID(int=3)),))
    ev = run(WOKINGHAM, judgement("rosh", "low", lon(2026, 12, 29, 9)), snapshot)
    assert intents(ev, "supersede") == []


def test_next_panel_with_and_without_a_scheduled_panel() -> None:
    """Next panel with and without a scheduled panel."""
    hearing = judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY)
    none = created(run(SOMERSET, hearing), "refer_to_panel")
    assert none.due_at is None
    assert none.awaiting_panel_date is True
    assert none.deadline_form == "next-panel"
    assert none.note
    assert "none scheduled" in none.note
    past = panel(lon(2026, 8, 27, 10))
    soon = panel(lon(2026, 9, 10, 10), ident=2)
    dated = created(run(SOMERSET, hearing, panels=[soon, past]), "refer_to_panel")
    assert dated.due_at == utc(2026, 9, 10, 9)
    assert dated.awaiting_panel_date is False


def test_panel_scheduled_dates_the_steps_awaiting_a_panel() -> None:
    """Panel scheduled dates the steps awaiting a panel."""
    high = run(SOMERSET, judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY))
    opened = tuple(open_step(i, UUID(int=n)) for n, i in enumerate(high.intents, 1))
    marp = panel(lon(2026, 9, 17, 14), ident=9)
    ev = run(SOMERSET, event("panel_scheduled", lon(2026, 9, 1, 9), marp.id, role="panel_admin",
                             panel_id=str(marp.id), kind="marp"),
             case(ratings=rated(rosh="high"), on_register=True, open_steps=opened),
             panels=[marp, panel(lon(2026, 9, 20, 10), kind="high_risk_panel", ident=10)])
    updates = intents(ev, "update_due")
    assert {u.code for u in updates} == {"refer_to_panel", "seek_child_and_carer_views"}
    assert {u.due_at for u in updates} == {utc(2026, 9, 17, 13)}
    assert all(u.step_id is not None and not u.awaiting_panel_date for u in updates)
    # A later panel does not move a step already due at an earlier one.
    dated = tuple(
        replace(s, due_at=utc(2026, 9, 10, 9), awaiting_panel_date=False)
        if s.deadline_form == "next-panel" else s
        for s in opened
    )
    later = run(SOMERSET, event("panel_scheduled", lon(2026, 9, 1, 9), marp.id,
                                role="panel_admin"),
                case(ratings=rated(rosh="high"), on_register=True, open_steps=dated),
                panels=[marp])
    assert intents(later, "update_due") == []


def test_panel_scheduled_of_another_kind_changes_nothing() -> None:
    """Panel scheduled of another kind changes nothing."""
    high = run(WOKINGHAM, event("case_event", CHRISTMAS_EVE, EVENT_ID, type="transfer_in",
                                incoming_ratings={"rosh": "high"}))
    # Wokingham's only transfer-in rule is W29's High-Risk Panel request (attack 21b, A21b-9):
    # no step about a panel of another kind.
    assert [(i.rule_id, i.code) for i in intents(high)] == [("W29", "request_high_risk_panel")]
    s_high = run(SOMERSET, judgement("rosh", "high", CHRISTMAS_EVE))
    opened = tuple(open_step(i, UUID(int=n)) for n, i in enumerate(s_high.intents, 1))
    hrp = panel(lon(2027, 1, 5, 10), kind="high_risk_panel")
    ev = run(SOMERSET, event("panel_scheduled", lon(2026, 12, 29, 9), hrp.id, role="chair"),
             case(ratings=rated(rosh="high"), on_register=True, open_steps=opened), panels=[hrp])
    assert intents(ev, "update_due") == []


def test_recurrence_is_one_month_after_the_completing_act_when_done_late() -> None:
    """Recurrence counts from the act that completed the last occurrence (policy-rules.md,
    ``every 1m``, corrected): done late, the next is a month after the late act, never
    already overdue."""
    done: dict[str, Any] = {
        "code": "monthly_manager_review", "rule_id": "S11", "step_id": str(UUID(int=5)),
        "due_at": "2026-03-31T09:00:00+00:00", "completed_by_role": "line_manager",
        "actor": "line_manager",
    }
    # The completed step may still be listed as open in the snapshot: it is not "kept".
    snapshot = case(ratings=rated(swb="high"), on_register=True, open_steps=(
        open_step(created(run(SOMERSET, judgement("swb", "high", lon(2026, 2, 28, 10))),
                          "monthly_manager_review"), UUID(int=5)),))
    ev = run(SOMERSET, event("step_completed", lon(2026, 4, 3, 12), role="line_manager",
                             **done), snapshot)
    nxt = created(ev, "monthly_manager_review")
    # Completed 3 April 12:00 BST (due 31 March): next due 3 May 12:00 BST.
    assert nxt.due_at == utc(2026, 5, 3, 11)
    assert nxt.recurrence == "1m"
    assert intents(ev, "supersede") == []
    assert intents(ev, "keep") == []


def test_violations_mean_no_intents_and_unchanged_state() -> None:
    """Violations mean no intents and unchanged state."""
    registered = case(ratings=rated(rosh="high"), on_register=True,
                      open_steps=(MARP_REVIEW,))  # the MARP has taken the case (M6)
    ev = run(SOMERSET, judgement("rosh", "low", CHRISTMAS_EVE), registered)
    assert ev.violations
    assert ev.intents == ()
    assert ev.on_register_after is True
    assert ev.ratings_after["rosh"] == "high"


def test_every_returned_datetime_is_utc_and_evaluation_is_deterministic() -> None:
    """Every returned datetime is utc and evaluation is deterministic."""
    ev1 = run(WOKINGHAM, event("case_event", THU_2 := lon(2026, 4, 2, 11), EVENT_ID,
                               type="new_incident", may_raise_to_high=True))
    ev2 = run(WOKINGHAM, event("case_event", THU_2, EVENT_ID, type="new_incident",
                               may_raise_to_high=True))
    assert ev1 == ev2
    for intent in ev1.intents:
        assert intent.due_at is None or intent.due_at.tzinfo is not None
        assert intent.due_at is None or intent.due_at.utcoffset() == timedelta(0)


def test_naive_occurred_at_is_refused() -> None:
    """Naive occurred at is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        run(SOMERSET, judgement("rosh", "high", datetime(2026, 8, 28, 15, 30)))


def test_case_changed_works_whether_the_snapshot_is_before_or_after_the_change() -> None:
    """Case changed works whether the snapshot is before or after the change."""
    change = event("case_changed", CHRISTMAS_EVE, changes={"mappa_category": [None, 1]})
    before = run(WOKINGHAM, change, case())
    after = run(WOKINGHAM, change, case(mappa_category=1))
    assert codes(before) == codes(after) == {"mappa_h_notification"}


def test_unrelated_case_change_and_unknown_trigger_data_are_harmless() -> None:
    """Unrelated case change and unknown trigger data are harmless."""
    ev = run(SOMERSET, event("case_changed", CHRISTMAS_EVE,
                             changes={"case_holder_id": ["a", "b"]}))
    assert ev.intents == ()
    assert ev.violations == ()
    returned = run(SOMERSET, event("assessment_returned", CHRISTMAS_EVE, EVENT_ID,
                                   type="asset_plus", stage="start", unknown_key="ignored"))
    assert [(i.code, i.rule_id, i.subject_id) for i in returned.intents] == [
        ("resubmit_assessment", "S4", EVENT_ID)]


def test_workflows_package_is_pure() -> None:
    """Workflows package is pure."""
    forbidden = ("app.domain", "app.routers", "app.core", "fastapi", "sqlalchemy", "sqlmodel",
                 "httpx")
    for path in WORKFLOWS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(forbidden), f"{path}: imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(forbidden), f"{path}: imports {alias.name}"
            if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today"):
                pytest.fail(f"{path}:{node.lineno}: reads the clock ({node.attr})")


def test_evaluate_accepts_explicit_arguments_as_the_db_side_calls_it() -> None:
    """Evaluate accepts explicit arguments as the db side calls it."""
    ev = evaluate(judgement("rosh", "high", CHRISTMAS_EVE), case(), packs()[SOMERSET],
                  calendar(), panels=())
    assert ev.on_register_after is True
    assert created(ev, "discuss_with_manager").due_at == utc(2026, 12, 25, 9, 15)
    assert end_of(date(2026, 12, 24), bst=False) == utc(2026, 12, 24, 23, 59, 59)
