"""A panel kind's cadence ("weekly on Thursday"): typed at load, checked word by word, and the
date a ``next-panel`` step is due by before any panel is booked (example-yjs 5.1)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from app.workflows.packs import PACK_DIR, PackError, load_pack
from app.workflows.types import Cadence
from app.workflows.vocabulary import parse_cadence
from tests.workflows.support import (
    case,
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

EXAMPLE = "example-yjs"
REF = "5.1"


def test_example_pack_meets_weekly_on_thursday() -> None:
    """The Risk Panel "meets weekly on Thursday" (example-yjs 5.1): parsed at load."""
    kind = packs()[EXAMPLE].panel("risk_panel")
    assert kind.meets == Cadence(weekday=3, every_weeks=1, anchor=None)
    assert packs()["wokingham-pyjs-2024"].panel("high_risk_panel").meets is None  # "ad hoc"


@pytest.mark.parametrize(("words", "meets"), [
    ("weekly on Thursdays", Cadence(weekday=3)),
    ("fortnightly on Tuesday from 2027-01-05", Cadence(1, 2, date(2027, 1, 5))),
    ("every 3 weeks on Monday from 2027-01-04", Cadence(0, 3, date(2027, 1, 4))),
    ("ad hoc, within one week of a request", None),
])
def test_cadence_words_parse(words: str, meets: Cadence | None) -> None:
    """Fixed-day cadences parse to weekday and interval; other words state no fixed day."""
    assert parse_cadence(words) == meets


def test_fortnightly_meetings_count_from_the_first() -> None:
    """A fortnightly Tuesday panel from 5 January 2027 next sits on 19 January after the 5th."""
    fortnightly = parse_cadence("fortnightly on Tuesday from 2027-01-05")
    assert fortnightly is not None
    assert fortnightly.next_meeting(date(2027, 1, 5)) == date(2027, 1, 19)
    assert fortnightly.next_meeting(date(2027, 1, 11)) == date(2027, 1, 19)
    assert fortnightly.next_meeting(date(2027, 1, 19)) == date(2027, 2, 2)


@pytest.mark.parametrize(("words", "message"), [
    ("weekly on Thrusday", "unknown weekday 'Thrusday' (did you mean 'thursday' or 'tuesday'?)"),
    ("fortnightly on Tuesday", "say which week it starts"),
    ("every 2 weeks on Monday from 2027-01-05", "2027-01-05 is not a Monday"),
    ("weekly Thursday", "write 'weekly on <weekday>'"),
])
def test_a_misspelt_cadence_fails_the_pack_check(
    tmp_path: Path, words: str, message: str
) -> None:
    """A fixed-day cadence that does not parse is an error of ``yjrisk pack check`` (and the
    pack does not load), with a did-you-mean for the weekday."""
    text = (PACK_DIR / f"{EXAMPLE}.toml").read_text()
    assert 'cadence = "weekly on Thursday"' in text
    path = tmp_path / f"{EXAMPLE}.toml"
    path.write_text(text.replace('cadence = "weekly on Thursday"', f'cadence = "{words}"'))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    problem = caught.value.problems[0]
    assert problem.severity == "error"
    assert problem.field.startswith("panel_kinds")
    assert message in problem.message


def test_X8_before_a_panel_is_booked_the_step_is_due_by_the_next_thursday() -> None:
    """5.1 "The Risk Panel meets weekly on Thursday ... A child is referred to the next Risk
    Panel when: ROSH or SWB is judged high": judged high on Monday 30 November 2026 with no
    panel booked, the referral is due by the end of Thursday 3 December (still awaiting a
    booked panel's date)."""
    step = created(run(EXAMPLE, judgement("rosh", "high", lon(2026, 11, 30, 10))),
                   "refer_to_risk_panel")
    assert (step.rule_id, step.actor, step.policy_ref) == ("X8", "case_holder", REF)
    assert step.due_at == end_of(date(2026, 12, 3), bst=False)
    assert step.awaiting_panel_date is True
    assert step.note
    assert "weekly on Thursday" in step.note


def test_X8_judged_on_a_thursday_the_panel_of_the_following_week() -> None:
    """Judged on Thursday 3 December 2026 at 09:00, the day's panel has set its agenda: due by
    Thursday 10 December."""
    step = created(run(EXAMPLE, judgement("rosh", "high", lon(2026, 12, 3, 9))),
                   "refer_to_risk_panel")
    assert step.due_at == end_of(date(2026, 12, 10), bst=False)


def test_X8_a_thursday_bank_holiday_moves_the_panel_to_the_next_working_day() -> None:
    """Judged on Monday 29 December 2025: the next Thursday is New Year's Day 2026, a bank
    holiday, so the step is due by the end of Friday 2 January 2026; judged on Monday 22
    December 2025, Thursday is Christmas Day and Friday Boxing Day: Monday 29 December."""
    new_year = created(run(EXAMPLE, judgement("rosh", "high", lon(2025, 12, 29, 10))),
                       "refer_to_risk_panel")
    assert new_year.due_at == end_of(date(2026, 1, 2), bst=False)
    christmas = created(run(EXAMPLE, judgement("rosh", "high", lon(2025, 12, 22, 10))),
                        "refer_to_risk_panel")
    assert christmas.due_at == end_of(date(2025, 12, 29), bst=False)


def test_X8_a_booked_panel_dates_the_step_and_then_replaces_the_cadence_date() -> None:
    """A Risk Panel booked for Thursday 10 December 2026 at 14:00 dates the referral at once;
    booked after the step arose, it replaces the provisional Thursday 3 December."""
    booked = panel(lon(2026, 12, 10, 14), kind="risk_panel", ident=7)
    dated = created(run(EXAMPLE, judgement("rosh", "high", lon(2026, 11, 30, 10)),
                        panels=[booked]), "refer_to_risk_panel")
    assert (dated.due_at, dated.awaiting_panel_date) == (utc(2026, 12, 10, 14), False)
    high = run(EXAMPLE, judgement("rosh", "high", lon(2026, 11, 30, 10)))
    opened = tuple(open_step(i, UUID(int=n)) for n, i in enumerate(high.intents, 1))
    later = run(EXAMPLE, event("panel_scheduled", lon(2026, 12, 1, 9), booked.id,
                               role="chair"),
                case(ratings=rated(rosh="high"), on_register=True, open_steps=opened),
                panels=[booked])
    moved = [i for i in intents(later, "update_due") if i.code == "refer_to_risk_panel"]
    assert [(i.due_at, i.awaiting_panel_date) for i in moved] == [
        (utc(2026, 12, 10, 14), False)]
