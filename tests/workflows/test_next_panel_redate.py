"""``panel_scheduled`` (a panel booked, moved or cancelled): every open ``next-panel`` step is due
at the next panel of the pack's kind at or after the act that asked for it, among the panels as
they now stand, sooner or later; the moment of the booking plays no part (attack 9, A9-5/A9-6).

Catalogue: ``next-panel`` = "the next scheduled panel of the pack's kind at or after the event";
"every deadline is computed from the triggering event's ``occurred_at``, never from the wall
clock".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID

from app.workflows.engine import Evaluation, next_panel_redates
from app.workflows.types import OpenStep, ScheduledPanel
from tests.workflows.support import (
    calendar,
    case,
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

MARP = "Multi-Agency Risk Panel (MARP)"  # the pack's name for the kind, in notes (A26a-14)

SOMERSET = "somerset-yjt-2023"
EXAMPLE = "example-yjs"


def owed_steps(pack: str, judged: Evaluation) -> tuple[OpenStep, ...]:
    """The steps a judgement created, as the database holds them (with their reasons)."""
    return tuple(replace(open_step(i, UUID(int=n)), reasons=i.reasons)
                 for n, i in enumerate(judged.intents, 1))


def rebooked(pack: str, steps: tuple[OpenStep, ...], panels: list[ScheduledPanel],
             at: tuple[int, ...]) -> dict[str, tuple[object, bool, str | None]]:
    """What a ``panel_scheduled`` at ``at`` (London) does to the steps: code -> (due_at,
    awaiting_panel_date, note) of each update_due."""
    ev = run(pack, event("panel_scheduled", lon(*at), panels[0].id if panels else UUID(int=99),
                         role="panel_admin"),
             case(ratings=rated(rosh="high"), on_register=True, open_steps=steps),
             panels=panels)
    return {i.code: (i.due_at, i.awaiting_panel_date, i.note) for i in intents(ev, "update_due")}


def test_S7_S8_panel_sat_before_the_booking_moment_still_dates_a_step_owed_before_it() -> None:
    """S7, S8 (3.2.3, 6.2) "refer the case to the next YJT MARP": ROSH high judged Thursday
    15 October 2026, steps due at the MARP of Tuesday 17 November; a MARP of Tuesday 20 October
    (10:00 BST) recorded on 3 November is the next at or after the judgement: both steps due
    at 09:00Z on 20 October."""
    marp2 = panel(lon(2026, 11, 17, 10), ident=2)
    judged = run(SOMERSET, judgement("rosh", "high", lon(2026, 10, 15, 10)), panels=[marp2])
    steps = owed_steps(SOMERSET, judged)
    assert {s.code: s.due_at for s in steps if s.deadline_form == "next-panel"} == {
        "refer_to_panel": utc(2026, 11, 17, 10), "seek_child_and_carer_views":
        utc(2026, 11, 17, 10)}
    marp1 = panel(lon(2026, 10, 20, 10), ident=1)
    moved = rebooked(SOMERSET, steps, [marp1, marp2], (2026, 11, 3, 9))
    when = utc(2026, 10, 20, 9)
    note = f"Next {MARP} scheduled for Tuesday 20 October 2026 10:00 (London)"
    assert moved == {code: (when, False, note)
                     for code in ("refer_to_panel", "seek_child_and_carer_views")}


def test_S7_moved_marp_moves_the_step_later() -> None:
    """S7 (3.2.3): judged Tuesday 20 October 2026, due at the MARP of Thursday 22 October; that
    MARP moved to Thursday 12 November leaves the MARP of Thursday 5 November (10:00 GMT) the
    next: the step moves later, to it."""
    first = panel(lon(2026, 10, 22, 10), ident=1)
    second = panel(lon(2026, 11, 5, 10), ident=2)
    judged = run(SOMERSET, judgement("rosh", "high", lon(2026, 10, 20, 10)),
                 panels=[first, second])
    steps = owed_steps(SOMERSET, judged)
    assert {s.due_at for s in steps if s.code == "refer_to_panel"} == {utc(2026, 10, 22, 9)}
    moved = rebooked(SOMERSET, steps, [second, replace(first, scheduled_for=lon(2026, 11, 12, 10))],
                     (2026, 10, 21, 9))
    assert moved["refer_to_panel"][:2] == (utc(2026, 11, 5, 10), False)


def test_X8_cancelled_panel_gives_the_step_back_its_cadence_date() -> None:
    """X8 (example-yjs 5.1) "The Risk Panel meets weekly on Thursday": judged Monday
    30 November 2026, due at the Risk Panel booked for Thursday 10 December; that panel
    cancelled, the step waits again, due by the end of Thursday 3 December (its meeting day)."""
    booked = panel(lon(2026, 12, 10, 14), kind="risk_panel", ident=7)
    judged = run(EXAMPLE, judgement("rosh", "high", lon(2026, 11, 30, 10)), panels=[booked])
    steps = owed_steps(EXAMPLE, judged)
    assert {s.due_at for s in steps if s.code == "refer_to_risk_panel"} == {
        utc(2026, 12, 10, 14)}
    moved = rebooked(EXAMPLE, steps, [], (2026, 12, 1, 9))
    due, awaiting, note = moved["refer_to_risk_panel"]
    assert (due, awaiting) == (end_of(date(2026, 12, 3), bst=False), True)
    assert note is not None
    assert "weekly on Thursday" in note


def test_S7_unchanged_dates_are_left_alone() -> None:
    """S7 (3.2.3): booking a MARP after the one a step is due at changes nothing."""
    first = panel(lon(2026, 10, 22, 10), ident=1)
    judged = run(SOMERSET, judgement("rosh", "high", lon(2026, 10, 20, 10)), panels=[first])
    steps = owed_steps(SOMERSET, judged)
    assert rebooked(SOMERSET, steps, [first, panel(lon(2026, 11, 5, 10), ident=2)],
                    (2026, 10, 21, 9)) == {}


def test_S7_S8_steps_coming_back_are_redated_without_any_rule_running() -> None:
    """S7, S8 (3.2.3, 6.2) "refer the case to the next YJT MARP" (A10-26): the steps a closure set
    aside (or a withdrawn referral gave back) are due at the MARP of Thursday 22 October 2026;
    that MARP was moved to Thursday 12 November meanwhile, the MARP of 5 November stands.
    ``next_panel_redates`` re-dates both to 5 November 10:00Z, update_due only, nothing else."""
    first = panel(lon(2026, 10, 22, 10), ident=1)
    second = panel(lon(2026, 11, 5, 10), ident=2)
    judged = run(SOMERSET, judgement("rosh", "high", lon(2026, 10, 20, 10)),
                 panels=[first, second])
    steps = owed_steps(SOMERSET, judged)
    moved = replace(first, scheduled_for=lon(2026, 11, 12, 10))
    found = next_panel_redates(case(ratings=rated(rosh="high"), on_register=True,
                                    open_steps=steps),
                               packs()[SOMERSET], calendar(), [second, moved],
                               lon(2026, 10, 27, 9))
    when = utc(2026, 11, 5, 10)
    assert {(i.action, i.code, i.due_at, i.awaiting_panel_date, i.rule_id) for i in found} == {
        ("update_due", "refer_to_panel", when, False, "S7"),
        ("update_due", "seek_child_and_carer_views", when, False, "S8")}


def test_S29_putting_the_case_on_the_agenda_asks_the_panels_chair_for_the_decision() -> None:
    """S29 (7.1.2) "Notes will be recorded on the MARP minutes form including any actions and
    the Chair will set the review date if required": ``panel_item_added`` on Monday 2 November
    2026 asks the panel's own chair (``panel_chair_id``) for the decision, about the item,
    undated (the policy gives no timescale) with the note saying so."""
    item = UUID(int=7)
    ev = run(SOMERSET, event("panel_item_added", lon(2026, 11, 2, 10), item, role="panel_admin",
                             panel_id=str(UUID(int=1)), panel_kind="marp",
                             panel_chair_id="chair-2", scheduled_for="2026-11-05T10:00:00Z"),
             case(ratings=rated(rosh="high"), on_register=True))
    [step] = intents(ev, "create", "record_panel_decision")
    assert (step.rule_id, step.actor, step.assignee_id, step.due_at, step.subject_id,
            step.policy_ref) == ("S29", "chair", "chair-2", None, item, "7.1.2")
    assert "no timescale" in (step.note or "")
