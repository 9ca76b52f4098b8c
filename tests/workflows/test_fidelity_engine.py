"""Engine-level checks for issue 10: reasons on merged steps, in-week absences, knowledge clocks."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from app.workflows.deadlines import in_week_due
from tests.workflows.support import (
    WOKINGHAM,
    calendar,
    case,
    created,
    event,
    intents,
    lon,
    open_step,
    run,
    utc,
)

EVENT_ID = UUID(int=77)


def test_W4_in_week_ends_the_day_before_an_absence() -> None:
    """W4: "the last working day before annual leave" is treated like a Friday."""
    wed = date(2026, 8, 26)
    assert in_week_due(wed, calendar()) == date(2026, 8, 27)
    assert in_week_due(wed, calendar(), [(date(2026, 8, 27), date(2026, 9, 4))]) == wed
    # Leave over the bank-holiday weekend from Friday: Thursday's incident is due Thursday.
    thu = date(2026, 8, 27)
    assert in_week_due(thu, calendar(), [(date(2026, 8, 28), date(2026, 9, 1))]) == thu
    # Known while already away: one working day as usual.
    assert in_week_due(wed, calendar(), [(date(2026, 8, 24), date(2026, 8, 26))]) == thu


def test_W4_absence_in_the_snapshot_moves_record_incident() -> None:
    """W4 via the engine: the case holder's absence from the snapshot caps the deadline."""
    snap = case(case_holder_absences=((date(2026, 8, 27), date(2026, 9, 4)),))
    ev = event("case_event", lon(2026, 8, 26, 15), EVENT_ID, type="new_incident")
    assert created(run(WOKINGHAM, ev, snap), "record_incident").due_at == utc(2026, 8, 26, 22, 59,
                                                                              59)


def test_W6_merges_into_the_open_W3_review_at_the_sooner_deadline() -> None:
    """W3 + W6: one review_assessment; the incident's three weeks are sooner than six months."""
    countersigned = run(WOKINGHAM, event("assessment_countersigned", lon(2026, 8, 26, 11),
                                         UUID(int=5), type="asset_plus", stage="start"))
    w3 = created(countersigned, "review_assessment")
    snap = case(open_steps=(open_step(w3, UUID(int=9)),))
    incident = run(WOKINGHAM, event("case_event", lon(2026, 8, 27, 15), EVENT_ID,
                                    type="new_incident"), snap)
    assert intents(incident, "create", "review_assessment") == []
    [update] = intents(incident, "update_due", "review_assessment")
    assert (update.step_id, update.due_at) == (UUID(int=9), utc(2026, 9, 17, 14))
    assert [(r["rule"], r["record"]["id"]) for r in update.reasons] == [("W6", str(EVENT_ID))]


def test_W7_event_line_respects_a_pending_panel() -> None:
    """W7: no request when a panel is booked for the case, or when ROSH is already very high."""
    ev = event("case_event", lon(2026, 8, 28, 15), EVENT_ID, type="new_incident",
               may_raise_to_high=True)
    assert intents(run(WOKINGHAM, ev, case(on_panel_agenda=True)), "create",
                   "request_high_risk_panel") == []
    very_high = case(ratings={"rosh": "very_high", "swb": None, "lor": None})
    assert intents(run(WOKINGHAM, ev, very_high), "create", "request_high_risk_panel") == []
    assert created(run(WOKINGHAM, ev), "request_high_risk_panel").due_at == utc(
        2026, 9, 2, 22, 59, 59)
