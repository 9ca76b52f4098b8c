"""Helpers for the engine tests: real London dates, case snapshots, events, intent lookups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from app.workflows.calendar import WorkingCalendar
from app.workflows.engine import evaluate
from app.workflows.packs import PACK_DIR, Pack, load_packs
from app.workflows.types import (
    CaseSnapshot,
    Evaluation,
    OpenStep,
    ScheduledPanel,
    StepIntent,
    WorkflowEvent,
)

EXAMPLE_FILE = PACK_DIR / "example-yjs.toml"
EXAMPLE_SOURCE = PACK_DIR / "sources" / "example-yjs-risk-policy-2025.txt"
LONDON = ZoneInfo("Europe/London")
CASE_ID = UUID("00000000-0000-4000-8000-00000000ca5e")
EVENT_ID = UUID("00000000-0000-4000-8000-0000000e0e01")
SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"

# Friday 28 August 2026, 15:30 BST, before the late-summer bank holiday (Mon 31 August).
FRI_BEFORE_BANK_HOLIDAY = datetime(2026, 8, 28, 15, 30, tzinfo=LONDON)
# Thursday 2 April 2026, before Good Friday (3 April) and Easter Monday (6 April).
THU_BEFORE_GOOD_FRIDAY = datetime(2026, 4, 2, 11, 0, tzinfo=LONDON)
# Christmas Eve 2026 (Thursday); Boxing Day is observed on Monday 28 December.
CHRISTMAS_EVE = datetime(2026, 12, 24, 9, 15, tzinfo=LONDON)


def lon(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware Europe/London datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def example_variant(tmp_path: Path, *edits: tuple[str, str], once: bool = False) -> Path:
    """The example pack under an id of its own (a copy of a bundled pack's version is refused
    as loaded twice, A17-4), each edit's ``old`` replaced by its ``new`` (the first; it must be
    there, with ``once`` exactly once), written in ``tmp_path`` with its policy's text beside
    it, as the owner keeps it (its refs are checked, A17-14)."""
    text = EXAMPLE_FILE.read_text()
    for old, new in edits:
        if once:
            assert text.count(old) == 1, old
        else:
            assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "example-owner.toml"
    path.write_text(text.replace('id = "example-yjs"', 'id = "example-owner"', 1))
    (tmp_path / EXAMPLE_SOURCE.name).write_text(EXAMPLE_SOURCE.read_text())
    return path


@cache
def packs() -> dict[str, Pack]:
    """The bundled packs, loaded once per test session."""
    return load_packs()


@cache
def calendar() -> WorkingCalendar:
    """The England-and-Wales working calendar without extra closures."""
    return WorkingCalendar()


# The review a MARP booked (S20) open on the test case: the panel has taken the case (M6).
MARP_REVIEW = OpenStep(
    id=UUID("00000000-0000-4000-8000-000000000020"), code="attend_panel_review", rule_id="S20",
    subject_id=CASE_ID, due_at=None, awaiting_panel_date=False, deadline_form="review-date",
    actor="case_holder")


def case(**overrides: Any) -> CaseSnapshot:
    """A statutory court-order case with no ratings, not open to social care."""
    base = CaseSnapshot(
        case_id=CASE_ID, intervention="court_order", statutory=True, csc_status="none",
        ratings={"rosh": None, "swb": None, "lor": None},
    )
    return replace(base, **overrides)


def rated(
    rosh: str | None = None, swb: str | None = None, lor: str | None = None
) -> dict[str, str | None]:
    """A ratings mapping."""
    return {"rosh": rosh, "swb": swb, "lor": lor}


def event(
    trigger: str, at: datetime, subject: UUID = CASE_ID, *, role: str = "case_holder",
    **data: Any,
) -> WorkflowEvent:
    """An engine event."""
    return WorkflowEvent(trigger=trigger, occurred_at=at, subject_id=subject, actor_role=role,
                         data=data)


# An impact and likelihood whose matrix level (M1) is the level itself.
MATRIX_FOR = {
    "low": ("medium", "likely"), "medium": ("major", "possible"), "high": ("major", "likely"),
    "very_high": ("major", "almost_certain"),
}


def judgement(domain: str, level: str, at: datetime, **data: Any) -> WorkflowEvent:
    """A judgement_recorded event on the test case; a ROSH judgement given neither impact nor
    likelihood states the pair whose matrix level is its level (Wokingham M1 requires them)."""
    body: dict[str, Any] = {"domain": domain, "level": level, "via_panel_decision": False}
    if domain == "rosh" and level in MATRIX_FOR and not {"impact", "likelihood"} & set(data):
        body["impact"], body["likelihood"] = MATRIX_FOR[level]
    body.update(data)
    return event("judgement_recorded", at, **body)


def run(
    pack_id: str, ev: WorkflowEvent, snapshot: CaseSnapshot | None = None,
    panels: Sequence[ScheduledPanel] = (),
) -> Evaluation:
    """Evaluate an event under a bundled pack (and check every returned instant is UTC)."""
    result = evaluate(ev, snapshot or case(), packs()[pack_id], calendar(), panels)
    for intent in result.intents:
        assert intent.due_at is None or intent.due_at.utcoffset() == timedelta(0), intent
        assert intent.due_at is None or intent.due_at.tzinfo is UTC, intent
        # Issue 10: wherever a step has no deadline, its note says why.
        assert intent.due_at is not None or intent.awaiting_panel_date or intent.note, intent
    return result


def intents(ev: Evaluation, action: str | None = None, code: str | None = None) -> list[StepIntent]:
    """Intents filtered by action and code."""
    return [i for i in ev.intents
            if (action is None or i.action == action) and (code is None or i.code == code)]


def created(ev: Evaluation, code: str) -> StepIntent:
    """The one create intent for a step code."""
    found = intents(ev, "create", code)
    assert len(found) == 1, f"expected one create of {code}, got {ev.intents}"
    return found[0]


def codes(ev: Evaluation, action: str = "create") -> set[str]:
    """The step codes of intents with this action."""
    return {i.code for i in ev.intents if i.action == action}


def assert_step(
    intent: StepIntent, *, rule: str, code: str, actor: str, due: datetime | None, pack: str,
    ref: str, urgent: bool = False, awaiting: bool = False,
) -> None:
    """Check a step intent field by field (due to the second, and always in UTC)."""
    assert (intent.rule_id, intent.code, intent.actor) == (rule, code, actor)
    assert intent.due_at == due
    if intent.due_at is not None:
        assert intent.due_at.utcoffset() == timedelta(0)
    assert (intent.urgent, intent.awaiting_panel_date) == (urgent, awaiting)
    assert (intent.policy_pack, intent.policy_ref) == (pack, ref)


def open_step(intent: StepIntent, step_id: UUID) -> OpenStep:
    """What the database side would hold after applying a create intent."""
    return OpenStep(
        id=step_id, code=intent.code, rule_id=intent.rule_id, subject_id=intent.subject_id,
        due_at=intent.due_at, awaiting_panel_date=intent.awaiting_panel_date,
        deadline_form=intent.deadline_form, actor=intent.actor,
    )


def panel(at: datetime, kind: str = "marp", ident: int = 1) -> ScheduledPanel:
    """A scheduled panel."""
    return ScheduledPanel(id=UUID(int=ident), kind=kind, scheduled_for=at)


def end_of(day: date, bst: bool) -> datetime:
    """23:59:59 London on ``day`` in UTC, given whether BST is in force."""
    return utc(day.year, day.month, day.day, 22 if bst else 23, 59, 59)


V1_HEADER = 'version = "1.0"\neffective_from = 2024-03-01\n'


def revision(tmp_path: Path, version: str = "2.0", effective: str = "2026-09-01",
             name: str | None = None) -> Path:
    """Wokingham's pack revised: W21 (risk to staff) now due immediately, para renamed."""
    text = (PACK_DIR / f"{WOKINGHAM}.toml").read_text()
    assert V1_HEADER in text
    text = text.replace(V1_HEADER, f'version = "{version}"\neffective_from = {effective}\n')
    old = 'deadline = "+1wd-in-week"\nref = "Risk to staff, Internal and External Controls"'
    assert old in text
    text = text.replace(old, 'deadline = "immediately"\nref = "Risk to staff and other children"')
    path = tmp_path / f"{name or WOKINGHAM + '@' + version}.toml"
    path.write_text(text)
    return path

