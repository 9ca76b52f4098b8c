"""Scenario files: a pack owner's own tests, in TOML, run by ``yjrisk pack test PACK SCENARIOS``.

A scenario gives a case (its state before the act), one act with its date, and the steps the
pack must (``[[scenarios.expect]]``: code, and any of actor, due, urgent, ref, rule) and must not
(``not_expected = [codes]``) ask for, or the refusal it must make (``refused = {rule, status}``).
Dates are real: a ``due`` is an instant with its offset (``2026-09-01T23:59:59+01:00``), or
``none`` for a step the policy sets no timescale for. The engine runs exactly as the service
runs it; nothing is written anywhere.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.workflows.calendar import WorkingCalendar
from app.workflows.engine import evaluate
from app.workflows.packs import CASE_SUBJECT_TRIGGERS, Pack, not_utf8
from app.workflows.types import (
    DOMAINS,
    TRIGGERS,
    CaseSnapshot,
    OpenStep,
    ScheduledPanel,
    WorkflowEvent,
)

_NS = UUID("6f1c2a52-8d0b-4c51-9a53-0a6b8d4b7e10")
CASE_ID = uuid5(_NS, "case")
EVENT_ID = uuid5(_NS, "event")


class ScenarioError(Exception):
    """A scenario file is unreadable or malformed; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenStepState(_Strict):
    """A step already open on the case (its subject is the case unless ``about_event``)."""

    code: str
    rule: str
    actor: str = "case_holder"
    due: datetime | None = None
    deadline_form: str | None = None
    about_event: bool = False


class CaseState(_Strict):
    """The case before the act (defaults: an open statutory court order, nothing rated)."""

    intervention: str = "court_order"
    statutory: bool = True
    csc_status: str = "none"
    weapon_related: bool = False
    mappa_category: int | None = None
    mappa_level: int | None = None
    expected_release_date: date | None = None
    in_custody: bool = False
    volunteer_attached: bool = False
    ratings: dict[Literal["rosh", "swb", "lor"], str] = Field(default_factory=dict)
    on_register: bool = False
    date_of_birth: date | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    scores: dict[str, int] = Field(default_factory=dict)
    open_steps: tuple[OpenStepState, ...] = ()

    def snapshot(self) -> CaseSnapshot:
        """The engine's view of this case."""
        return CaseSnapshot(
            case_id=CASE_ID, intervention=self.intervention, statutory=self.statutory,
            csc_status=self.csc_status, weapon_related=self.weapon_related,
            mappa_category=self.mappa_category, mappa_level=self.mappa_level,
            expected_release_date=self.expected_release_date, in_custody=self.in_custody,
            volunteer_attached=self.volunteer_attached,
            ratings={d: self.ratings.get(d) for d in DOMAINS},  # type: ignore[call-overload]
            on_register=self.on_register, facts=dict(self.facts), scores=dict(self.scores),
            date_of_birth=self.date_of_birth,
            open_steps=tuple(
                OpenStep(id=uuid5(_NS, f"step{i}"), code=s.code, rule_id=s.rule,
                         subject_id=uuid5(_NS, "earlier event") if s.about_event else CASE_ID,
                         due_at=s.due, awaiting_panel_date=False,
                         deadline_form=s.deadline_form, actor=s.actor)
                for i, s in enumerate(self.open_steps)),
        )


class Act(_Strict):
    """What happened: the trigger, when, by which role, and the data its trigger carries."""

    trigger: str
    occurred_at: datetime
    actor_role: str = "case_holder"
    data: dict[str, Any] = Field(default_factory=dict)


class Panel(_Strict):
    """A scheduled panel (for ``next-panel`` deadlines)."""

    kind: str
    scheduled_for: datetime


class Expected(_Strict):
    """A step the act must ask for; only the fields given are compared."""

    code: str
    # What happens to the step (default: asked for: created, kept open or re-dated).
    action: Literal["create", "keep", "update_due", "supersede"] | None = None
    actor: str | None = None
    due: datetime | Literal["none"] | None = None
    urgent: bool | None = None
    ref: str | None = None
    rule: str | None = None


class Refusal(_Strict):
    """The refusal the act must meet (M6: 409, a missing rationale: 422)."""

    rule: str
    status: int | None = None


class Scenario(_Strict):
    """One scenario: a case, an act, what must and must not follow."""

    name: str
    quote: str | None = None
    case: CaseState = Field(default_factory=CaseState)
    act: Act
    panels: tuple[Panel, ...] = ()
    expect: tuple[Expected, ...] = ()
    not_expected: tuple[str, ...] = ()
    refused: Refusal | None = None


class ScenarioFile(_Strict):
    """A scenario file: the pack it is written for, and its scenarios."""

    pack: str
    scenarios: tuple[Scenario, ...]


@dataclass
class Outcome:
    """A scenario's result: its name and every difference found (none: it passed)."""

    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the scenario passed."""
        return not self.failures


def load_scenarios(path: Path) -> ScenarioFile:
    """Read and validate a scenario file; ScenarioError names the file and the bad field."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a text file: {not_utf8(exc)}") from None
    try:
        loaded = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{path}: {detail}") from None
    for index, scenario in enumerate(loaded.scenarios):
        if scenario.act.trigger not in TRIGGERS:
            raise ScenarioError(f"{path}: scenarios.{index}.act.trigger: unknown trigger "
                                f"{scenario.act.trigger!r}")
    return loaded


def run_scenario(scenario: Scenario, pack: Pack, calendar: WorkingCalendar) -> Outcome:
    """Run one scenario through the engine and compare what it asks for with what is expected."""
    act = scenario.act
    subject = CASE_ID if act.trigger in CASE_SUBJECT_TRIGGERS else EVENT_ID
    event = WorkflowEvent(act.trigger, act.occurred_at, subject, act.actor_role, dict(act.data))
    panels = tuple(ScheduledPanel(uuid5(_NS, f"panel{i}"), p.kind, p.scheduled_for)
                   for i, p in enumerate(scenario.panels))
    evaluation = evaluate(event, scenario.case.snapshot(), pack, calendar, panels)
    outcome = Outcome(scenario.name)
    refused = {v.rule_id: v.status for v in evaluation.violations}
    if scenario.refused is not None:
        status = refused.get(scenario.refused.rule)
        if status is None:
            outcome.failures.append(f"expected a refusal by {scenario.refused.rule}, got "
                                    f"{sorted(refused) or 'none'}")
        elif scenario.refused.status is not None and status != scenario.refused.status:
            outcome.failures.append(f"refusal {scenario.refused.rule}: status {status}, "
                                    f"expected {scenario.refused.status}")
        return outcome
    if refused:
        outcome.failures.append(f"the act was refused by {sorted(refused)}")
        return outcome
    asked = [i for i in evaluation.intents if i.action in ("create", "keep", "update_due")]
    by_code: dict[str, list[Any]] = {}
    for intent in asked:
        by_code.setdefault(intent.code, []).append(intent)
    for want in scenario.expect:
        if want.action is None:
            outcome.failures += _compare(want, by_code.get(want.code, []))
            continue
        done = [i for i in evaluation.intents if i.code == want.code and i.action == want.action]
        outcome.failures += _compare(want, done)
    for code in scenario.not_expected:
        if code in by_code:
            outcome.failures.append(f"{code}: not expected, but asked for")
    return outcome


def _compare(want: Expected, got: list[Any]) -> list[str]:
    if not got:
        what = "asked for" if want.action is None else f"given action {want.action}"
        return [f"{want.code}: expected, not {what}"]
    problems: list[str] = []
    for intent in got:
        problems = []
        due = intent.due_at.astimezone(UTC) if intent.due_at is not None else "none"
        wanted_due = want.due.astimezone(UTC) if isinstance(want.due, datetime) else want.due
        pairs: Mapping[str, tuple[Any, Any]] = {
            "actor": (want.actor, intent.actor), "due": (wanted_due, due),
            "urgent": (want.urgent, intent.urgent), "ref": (want.ref, intent.policy_ref),
            "rule": (want.rule, intent.rule_id),
        }
        for name, (expected, actual) in pairs.items():
            if expected is not None and expected != actual:
                problems.append(f"{want.code}: {name} {_show(actual)}, expected {_show(expected)}")
        if not problems:
            return []
    return problems


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def run_file(path: Path, pack: Pack, calendar: WorkingCalendar) -> list[Outcome]:
    """Run every scenario of a file against a pack (ScenarioError if it is for another pack)."""
    loaded = load_scenarios(path)
    if loaded.pack != pack.id:
        raise ScenarioError(f"{path}: pack: written for {loaded.pack!r}, not {pack.id!r}")
    return [run_scenario(s, pack, calendar) for s in loaded.scenarios]
