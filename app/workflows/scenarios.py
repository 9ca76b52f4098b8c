"""Scenario files: a pack owner's own tests, in TOML, run by ``yjrisk pack test PACK SCENARIOS``.

A scenario gives a case (its state before the act), one act with its date, and the steps the
pack must (``[[scenarios.expect]]``: code, and any of actor, due, urgent, ref, rule) and must not
(``not_expected = [codes]``) ask for, or the refusal it must make (``refused = {rule, status}``).
Dates are real: every time (``occurred_at``, ``due``, ``scheduled_for``) is an instant with its
offset (``2026-09-01T23:59:59+01:00``; a ``due`` may be ``none`` for a step the policy sets no
timescale for). A time written without an offset is refused, not guessed: the file is a user
error (one line, the file, scenario and field, and the time to write). The engine runs exactly
as the service runs it; nothing is written anywhere.

A scenario that names a word the pack does not have (an event type, level, domain, role, step
code no rule of the pack creates...) cannot mean what it says: it is not run, and fails with one
line per word, with a "did you mean" (:func:`scenario_problems`). Differences are shown in
Europe/London time with the offset, as the owner writes them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from app.workflows.calendar import LONDON, WorkingCalendar, london_date
from app.workflows.engine import evaluate
from app.workflows.pack_check import DATA_WORDS, vocabulary_of
from app.workflows.packs import (
    CASE_SUBJECT_TRIGGERS,
    Pack,
    keys_at,
    not_utf8,
    read_toml,
    version_at,
)
from app.workflows.types import (
    DOMAINS,
    EVENT_DATA,
    LEVELS,
    TRIGGERS,
    CaseSnapshot,
    OpenStep,
    ScheduledPanel,
    WorkflowEvent,
)
from app.workflows.vocabulary import ENGINE_STEP_CODES, suggest

_NS = UUID("6f1c2a52-8d0b-4c51-9a53-0a6b8d4b7e10")
CASE_ID = uuid5(_NS, "case")
EVENT_ID = uuid5(_NS, "event")


# What the service requires of each act it receives (a judgement without a domain or level, an
# event without a type, is 422 at the API): a scenario's act must say it too.
REQUIRED_DATA: dict[str, tuple[str, ...]] = {
    "judgement_recorded": ("domain", "level"),
    "case_event": ("type",),
    "referral_created": ("kind",),
    "referral_transition": ("kind", "action"),
    "assessment_created": ("type",),
    "assessment_submitted": ("type",),
    "assessment_countersigned": ("type",),
    "assessment_returned": ("type",),
    "step_completed": ("code",),
}


class ScenarioError(Exception):
    """A scenario file is unreadable or malformed; the message names the file and field."""


def _aware(value: datetime) -> datetime:
    """A time with its offset; a time without one is refused with the two ways to write it."""
    if value.tzinfo is None or value.utcoffset() is None:
        local = value.replace(tzinfo=LONDON)
        utc = local.astimezone(UTC).replace(tzinfo=None)
        raise ValueError(f"{value.isoformat()} has no offset: write the time with its offset, "
                         f"{local.isoformat()} (London time that day) or {utc.isoformat()}Z (UTC)")
    return value


Aware = Annotated[datetime, AfterValidator(_aware)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenStepState(_Strict):
    """A step already open on the case (its subject is the case unless ``about_event``)."""

    code: str
    rule: str
    actor: str = "case_holder"
    due: Aware | None = None
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
    incoming_ratings: dict[Literal["rosh", "swb"], str] = Field(default_factory=dict)
    countersigned_types: tuple[str, ...] = ()
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
            incoming_ratings={d: v for d, v in self.incoming_ratings.items()},
            countersigned_types=frozenset(self.countersigned_types),
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
    occurred_at: Aware
    actor_role: str = "case_holder"
    data: dict[str, Any] = Field(default_factory=dict)


class Panel(_Strict):
    """A scheduled panel (for ``next-panel`` deadlines)."""

    kind: str
    scheduled_for: Aware


class Expected(_Strict):
    """A step the act must ask for; only the fields given are compared."""

    code: str
    # What happens to the step (default: asked for: created, kept open or re-dated).
    action: Literal["create", "keep", "update_due", "supersede"] | None = None
    actor: str | None = None
    due: Aware | Literal["none"] | None = None
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
    # The pack version the act was judged by (the one in force on its occurred_at), and what
    # the owner should know about that choice (not failures).
    pack_id: str = ""
    version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the scenario passed."""
        return not self.failures


def load_scenarios(path: Path) -> ScenarioFile:
    """Read and validate a scenario file; ScenarioError names the file, and every bad field
    with its scenario and what to write."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = read_toml(text)  # nested past the one limit: refused in a line (ATTACK35A-19)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a text file: {not_utf8(exc)}") from None
    lines = _lines(text)
    try:
        loaded = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_describe(exc, raw, lines)}") from None
    for index, scenario in enumerate(loaded.scenarios):
        if scenario.act.trigger not in TRIGGERS:
            at = f"scenarios.{index}.act.trigger"
            raise ScenarioError(f"{path}: {at}{_named(scenario.name, lines.line(at))}: "
                                f"unknown trigger {scenario.act.trigger!r}"
                                f"{suggest(scenario.act.trigger, TRIGGERS)}")
    return loaded


def _named(name: Any, line: int | None = None) -> str:
    """`` (scenario 'NAME', line N)``: which scenario, and the line of the file (item 4 of
    A20-17: the policy owner's tools say where a mistake is written)."""
    said = [f"scenario {name!r}"] if isinstance(name, str) else []
    said += [f"line {line}"] if line is not None else []
    return f" ({', '.join(said)})" if said else ""


def _lines(text: str) -> Any:
    """Where a field path is written in the file (``pack_tools.FieldLines``)."""
    from app.workflows.pack_tools import FieldLines  # pack_tools runs scenarios: import late

    return FieldLines(text)


_QUOTED = re.compile(r"'([^']*)'")


def _describe(exc: ValidationError, raw: Any, lines: Any) -> str:
    """Every bad field once: its path, the scenario's name, and what is wrong (a union's other
    branch, such as ``due = "none"``, is not reported when the value was meant as a time)."""
    found: dict[str, list[str]] = {}
    scenarios = raw.get("scenarios") if isinstance(raw, Mapping) else None
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if "[" not in str(p)]
        label = ".".join(loc) or "-"
        name = None
        if len(loc) > 1 and loc[0] == "scenarios" and loc[1].isdigit() and isinstance(
                scenarios, list) and int(loc[1]) < len(scenarios) and isinstance(
                scenarios[int(loc[1])], Mapping):
            name = scenarios[int(loc[1])].get("name")
        label += _named(name, lines.line(label, str(error.get("input", ""))))
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "literal_error" and isinstance(error.get("input"), str):
            # A word refused ("creat" for create, a ratings key "rsoh"): the one did-you-mean
            # (fix32f's leftover).
            message += suggest(error["input"], _QUOTED.findall(
                str(error.get("ctx", {}).get("expected", ""))))
        if error["type"] == "extra_forbidden" and loc:
            keys = keys_at(loc[:-1], ScenarioFile)
            message = (f"unknown key '{loc[-1]}'{suggest(loc[-1], keys)}"
                       + (f"; the keys here are {', '.join(keys)}" if keys else ""))
        if error["type"] == "literal_error" and label in found:
            continue
        if error["type"] != "literal_error" and any(
                m.startswith("Input should be 'none'") for m in found.get(label, ())):
            found[label] = []
        found.setdefault(label, []).append(message)
    return "; ".join(f"{label}: {' / '.join(dict.fromkeys(messages))}"
                     for label, messages in found.items())


def scenario_problems(scenario: Scenario, index: int, pack: Pack) -> list[str]:
    """Every word of a scenario the pack does not have, as ``field: message`` with a "did you
    mean" (an act the service would refuse as unknown, a step no rule of the pack creates): such
    a scenario cannot mean what it says, whatever the engine answers."""
    vocab = {**vocabulary_of(pack), "domains": DOMAINS, "levels": LEVELS,
             "rule_ids": pack.rule_ids()}
    # A completed step may also be an escalation, a step the service makes, not the pack.
    vocab["completed_codes"] = (*vocab["step_codes"], *sorted(ENGINE_STEP_CODES))
    problems: list[str] = []
    at = f"scenarios.{index}"

    def word(kind: str, value: Any, field: str, label: str) -> None:
        allowed = vocab[kind]
        if value is not None and value not in allowed:
            problems.append(f"{at}.{field}: unknown {label} {value!r}"
                            f"{suggest(str(value), allowed)}")

    def code(value: str, field: str) -> None:
        if value not in vocab["step_codes"]:
            problems.append(f"{at}.{field}: no rule of the pack creates step code {value!r}"
                            f"{suggest(value, vocab['step_codes'])}")

    act, case = scenario.act, scenario.case
    word("acting_roles", act.actor_role, "act.actor_role", "role")
    # What the trigger's acts carry (``types.EVENT_DATA``): a misspelt key ("domian") is an act
    # the service never receives, and a scenario expecting nothing of it passes vacuously
    # (ATK28B-16); so is an act without what the service requires of it.
    carried = EVENT_DATA.get(act.trigger)
    if carried is not None:
        for key in act.data:
            if key not in carried:
                problems.append(f"{at}.act.data.{key}: a {act.trigger} act carries no "
                                f"{key!r}{suggest(key, sorted(carried))}")
        for key in REQUIRED_DATA.get(act.trigger, ()):
            if key not in act.data:
                problems.append(f"{at}.act.data: a {act.trigger} act always carries {key!r}: "
                                f"write it (the service refuses the act without it)")
    for key, value in act.data.items():
        kind = DATA_WORDS.get(act.trigger, {}).get(key)
        if kind is not None and not isinstance(value, str):
            problems.append(f"{at}.act.data.{key}: write one word in quotes, not {value!r}"
                            f"{'' if not vocab[kind] else f' (e.g. {vocab[kind][0]!r})'}")
        elif kind is not None:
            label = "step code" if kind == "completed_codes" else kind.replace("_", " ")
            word(kind, value, f"act.data.{key}", label.rstrip("s"))
    word("interventions", case.intervention, "case.intervention", "intervention")
    word("csc_statuses", case.csc_status, "case.csc_status", "social care status")
    for domain, level in case.ratings.items():
        word("levels", level, f"case.ratings.{domain}", "level")
    for arrived, level in case.incoming_ratings.items():
        word("levels", level, f"case.incoming_ratings.{arrived}", "level")
    for i, kind in enumerate(case.countersigned_types):
        word("assessment_types", kind, f"case.countersigned_types.{i}", "assessment type")
    for name in case.facts:
        word("facts", name, f"case.facts.{name}", "fact")
    for name in case.scores:
        word("scores", name, f"case.scores.{name}", "score")
    for i, step in enumerate(case.open_steps):
        code(step.code, f"case.open_steps.{i}.code")
        word("actors", step.actor, f"case.open_steps.{i}.actor", "actor")
        word("rule_ids", step.rule, f"case.open_steps.{i}.rule", "rule")
    for i, panel in enumerate(scenario.panels):
        word("panel_kinds", panel.kind, f"panels.{i}.kind", "panel kind")
    for i, want in enumerate(scenario.expect):
        code(want.code, f"expect.{i}.code")
        word("actors", want.actor, f"expect.{i}.actor", "actor")
        word("rule_ids", want.rule, f"expect.{i}.rule", "rule")
    for i, unwanted in enumerate(scenario.not_expected):
        code(unwanted, f"not_expected.{i}")
    if scenario.refused is not None:
        word("rule_ids", scenario.refused.rule, "refused.rule", "rule")
    return problems


def run_scenario(scenario: Scenario, pack: Pack, calendar: WorkingCalendar,
                 index: int = 0) -> Outcome:
    """Run one scenario through the engine and compare what it asks for with what is expected
    (a scenario naming words the pack does not have is not run: it fails with those words; an
    act the engine cannot evaluate fails with why, never a traceback)."""
    problems = scenario_problems(scenario, index, pack)
    if problems:
        return Outcome(scenario.name, [*problems, "not run: the scenario names words the pack "
                                       "does not have, so it cannot mean what it says"])
    try:
        return _run(scenario, pack, calendar)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return Outcome(scenario.name, [f"scenarios.{index}: the act cannot be evaluated: "
                                       f"{type(exc).__name__}: {exc}"])


def _run(scenario: Scenario, pack: Pack, calendar: WorkingCalendar) -> Outcome:
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
        due = intent.due_at.astimezone(LONDON) if intent.due_at is not None else "none"
        wanted_due = want.due.astimezone(LONDON) if isinstance(want.due, datetime) else want.due
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


def run_file(path: Path, pack: Pack | Sequence[Pack], calendar: WorkingCalendar
             ) -> list[Outcome]:
    """Run every scenario of a file against a pack (ScenarioError if it is for another pack).

    ``pack`` is one version, or every version of the pack oldest first (``load_versions``): each
    act is then judged, as the service judges it, by the version in force on its
    ``occurred_at`` (``version_at``, the service's own choice); the outcome names it, with a
    note when the act's date is before that version comes into force (no earlier version is
    known: the service uses the first all the same)."""
    versions = (pack,) if isinstance(pack, Pack) else tuple(pack)
    loaded = load_scenarios(path)
    if loaded.pack != versions[0].id:
        raise ScenarioError(f"{path}: pack: written for {loaded.pack!r}, not {versions[0].id!r}")
    outcomes = []
    for index, scenario in enumerate(loaded.scenarios):
        used = version_at(versions, scenario.act.occurred_at)
        outcome = run_scenario(scenario, used, calendar, index)
        outcome.pack_id, outcome.version = used.id, used.version
        day = london_date(scenario.act.occurred_at)
        if used.effective_from is not None and day < used.effective_from:
            outcome.notes.append(
                f"the act's date {day} is before {used.id} version {used.version} comes into "
                f"force ({used.effective_from}) and no earlier version is loaded: the service "
                "judges it by this version all the same")
        outcomes.append(outcome)
    lines = _lines(Path(path).read_text(encoding="utf-8"))
    for outcome in outcomes:
        outcome.failures = [_at_line(failure, lines) for failure in outcome.failures]
    return outcomes


def _at_line(failure: str, lines: Any) -> str:
    """A failure naming a field (``scenarios.1.expect.0.code: ...``) with the line it is on."""
    field, sep, rest = failure.partition(": ")
    if not sep or not field.startswith("scenarios.") or " " in field:
        return failure
    number = lines.line(field, rest)
    return f"{field} (line {number}): {rest}" if number is not None else failure
