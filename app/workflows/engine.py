"""The pure policy engine: (event, case snapshot, pack, calendar, panels) -> Evaluation.

No database, no HTTP, no clock (``occurred_at`` comes with the event); deterministic. Order of
work: derive the case after the event, run the pack's checks (any violation: nothing else is
returned), plan the steps of every matching rule line (create, or keep an open one with the same
code and subject, or the case's one open step for a case-wide duty: the kept step gains the
line's reason and the sooner deadline), recurrences on completion, re-dating on a newly scheduled
panel, taking a withdrawn or declined referral's reasons off the open steps (superseding those
left with none), and finally supersede open steps none of whose reasons still holds.

Speed (issue 15): each pack gets its tables once (:func:`prepare`, at start-up, else lazily): its
rule lines with their compiled conditions, fixed deadline forms and reason parts, indexed by
trigger, id and step code; its checks by trigger; and each line's step intent as a template
(every field the line fixes: code, actor, title, pack, paragraph, recurrence), so a step is
the template's copy with its subject, deadline, note and reason filled in. One evaluation
computes each deadline form once per start (working-day deadlines from tables per calendar),
keys its own sets of ids by the UUIDs' integers, and builds its frozen results without the
per-field ``object.__setattr__`` a frozen dataclass's ``__init__`` pays (:func:`_make`; equal to
the ordinary constructor). Each trigger's rule lines, each trigger's checks and the contact
table run as Python functions generated per pack (:func:`_generate`, :func:`_generate_holding`:
conditions written inline, a direct line's create intent copied from a per-line template, its
keep path written inline too, :func:`_keep_source`); :func:`generated_source` shows their
source, which tracebacks name ``<engine PACK VERSION TRIGGER DIGEST>``. Each deadline form a pack's
lines use has its own function, made once per pack (:func:`_due_function`).
``tests/workflows/test_engine_golden.py`` holds it to the output it gave before any of this,
field for field, on 3,095 inputs at twelve dates each.
"""

from __future__ import annotations

import hashlib
import linecache
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from types import CodeType
from typing import Any, Literal, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from app.workflows.calendar import WorkingCalendar, london_date, london_text, require_aware
from app.workflows.conditions import Context, Inliner, Predicate
from app.workflows.deadlines import (
    GIVEN_DATES,
    NO_TIMESCALE_NOTE,
    WAIVED_OCCURRENCE_NOTE,
    DeadlineInputs,
    Due,
    add_period,
    asked_again_note,
    form_function,
    in_week_deadline,
    next_panel,
    next_panel_deadline,
    parse_form,
    prolonged_absences,
    reads_inputs,
)
from app.workflows.instant_order import SAME_INSTANT, act_rank, reason_before, reason_rank
from app.workflows.packs import CASE_SUBJECT_TRIGGERS, Check, Pack, Rule, Versions, load_versions
from app.workflows.types import (
    DOMAINS,
    CaseSnapshot,
    Evaluation,
    OpenStep,
    ScheduledPanel,
    StepIntent,
    Violation,
    WorkflowEvent,
)
from app.workflows.vocabulary import EVENT_MOVES, LOR_SCALE_RULE

# case_changed fields the snapshot carries, and how to read their values.
_INT_FIELDS = ("mappa_category", "mappa_level")
_BOOL_FIELDS = ("volunteer_attached", "in_custody", "weapon_related", "statutory")
_STR_FIELDS = ("csc_status", "intervention")
_DATE_FIELDS = ("expected_release_date",)
# A referral moved to one of these is undone: open steps about it (its subject) are superseded.
UNDONE_REFERRAL_STATUSES = frozenset({"withdrawn", "declined"})
# The kind of record each trigger is about: a step's reasons name it (``record``), so a step
# asked for by several triggers shows every triggering record. ``data["record_id"]`` names the
# record when it is not the event's subject (a judgement is about the case).
TRIGGER_RECORD = {
    "case_opened": "case", "judgement_recorded": "judgement", "case_changed": "case",
    "assessment_created": "assessment",
    "assessment_submitted": "assessment", "assessment_countersigned": "assessment",
    "assessment_returned": "assessment", "case_event": "event", "referral_created": "referral",
    "referral_transition": "referral", "panel_item_added": "panel_item",
    "panel_decision": "panel_item",
    "panel_scheduled": "panel", "step_completed": "step",
}

T = TypeVar("T")
_new = object.__new__
_tuple_new = tuple.__new__  # a Due from its four fields, without its Python __new__
_set = object.__setattr__


def _make(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of a frozen dataclass from all of its fields (``values`` in field order, a
    fresh dict the instance then owns), without the per-field ``object.__setattr__`` its
    ``__init__`` pays: equal to ``cls(**values)`` (same fields, eq, hash, repr, pickling). Only
    for the classes checked in ``_FAST``, none of which has a ``__post_init__``."""
    obj = _new(cls)
    _set(obj, "__dict__", values)
    return obj


def _evolve(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` for the frozen snapshots the engine derives (same result)."""
    values = obj.__dict__.copy()
    values.update(changes)
    new = _new(type(obj))
    _set(new, "__dict__", values)
    return new


def _uid(value: Any) -> Any:
    """A UUID's integer (hashed in C, where ``UUID.__hash__`` is Python; equal UUIDs, of any
    subclass, have equal integers), as the key of the engine's own sets and dicts of ids; any
    other value (ids are UUIDs) as it is."""
    return value.int if isinstance(value, UUID) else value


# What _make builds, with the field names its callers give (checked at import: a field added
# to one of these classes must be added where the engine builds it).
_FAST: dict[type, tuple[str, ...]] = {
    StepIntent: ("action", "rule_id", "code", "title", "actor", "subject_id", "due_at", "urgent",
                 "awaiting_panel_date", "policy_pack", "policy_ref", "deadline_form",
                 "policy_version", "recurrence", "note", "assignee_id", "step_id", "reasons"),
    Evaluation: ("violations", "intents", "matrix_level", "ratings_after", "on_register_after",
                 "register_change", "contact_level", "acknowledgements"),
    Context: ("event", "before", "after", "matrix_level"),
    DeadlineInputs: ("occurred_at", "panels", "panel_kind", "panel_cadence",
                     "expected_release_date", "review_date", "transfer_date", "due_date",
                     "absences", "panel_name", "heard"),
}
if DOMAINS != ("rosh", "swb", "lor"):  # evaluate() lists them, for speed
    raise RuntimeError("engine.evaluate no longer lists every domain")
for _cls, _names in _FAST.items():
    if tuple(f.name for f in fields(_cls)) != _names or "__post_init__" in vars(_cls) \
            or hasattr(_cls, "__slots__"):
        raise RuntimeError(f"engine._FAST no longer matches {_cls.__name__}'s fields")


def _context_of(
    event: WorkflowEvent, before: CaseSnapshot, after: CaseSnapshot, level: str | None = None
) -> Context:
    return _make(Context, {"event": event, "before": before, "after": after,
                           "matrix_level": level})


# --- a pack's tables (built once per pack object) ---------------------------------------------


class _Line:
    """One rule line as the engine runs it: the rule's fields read once, its compiled
    conditions, its deadline form (or conditional branches) and what keys its steps."""

    __slots__ = (
        "rule", "id", "code", "title", "actor", "ref", "when", "holds", "trigger", "wide",
        "form", "branches", "period", "note", "notes", "note_cache", "rating", "for_each",
        "assignee_from", "known", "subject", "refresh_only", "refresh_due",
        "refresh_undated_only", "supersedes_previous", "subject_kinds", "plain", "case_subject",
        "pack_id", "version", "intent", "direct", "case_keyed", "raised", "given",
    )

    def __init__(self, rule: Rule, pack: Pack) -> None:
        self.rule = rule
        self.id, self.code, self.title = rule.id, rule.code, rule.title
        self.actor, self.ref, self.trigger = rule.actor, rule.ref, rule.trigger
        self.when: Predicate | None = None if rule.when is None else rule.when.test
        self.holds: Predicate | None = None if rule.holds is None else rule.holds.test
        # One duty per case for this code (``dedupe = "case"`` on any of its lines), unless
        # the line replaces earlier steps of its code (a new review date): then it never merges.
        self.wide = (rule.dedupe == "case" or pack.case_wide(rule.code)) \
            and not rule.supersedes_previous
        self.form: str | None = None
        self.branches: tuple[tuple[Predicate | None, str, str | None], ...] | None = None
        if isinstance(rule.deadline, str):
            self.form = rule.deadline
        else:
            self.branches = tuple((None if b.when is None else b.when.test, b.form, b.note)
                                  for b in rule.deadline)
        self.period = rule.period
        self.note = rule.note
        # The step's note when neither the deadline nor a branch adds one: dated, undated.
        self.notes = (_note(rule.note, None, None, False), _note(rule.note, None, None, True))
        # (branch note, undated) -> the step's note, for deadlines that carry no note.
        self.note_cache: dict[tuple[str | None, bool], str | None] = {}
        self.subject = rule.subject
        self.rating = rule.subject.removeprefix("rating:") \
            if rule.subject.startswith("rating:") else None
        self.for_each = rule.for_each == "actions"
        self.assignee_from = rule.assignee_from
        # The event data key the deadline counts from (None: the event's ``occurred_at``).
        self.known: str | None = _COUNTS_FROM[rule.counts_from]
        # Counted from the act that raised the open step it re-dates (``counts_from =
        # "raised"``, refresh_only lines: Wokingham W3's three months when a domain turns high).
        self.raised = rule.counts_from == "raised"
        self.refresh_only, self.refresh_due = rule.refresh_only, rule.refresh_due
        self.refresh_undated_only = rule.refresh_undated_only
        self.supersedes_previous = rule.supersedes_previous
        self.subject_kinds = rule.subject_kinds
        # One step about the case or the event's subject (no rating, no decision actions).
        self.plain = self.rating is None and not self.for_each
        self.case_subject = rule.subject == "case"
        # The event dates its deadline forms read (a review date, a transfer date): its
        # reasons keep them (``given``), for the step asked again after an earlier completion.
        forms = (self.form,) if self.branches is None else tuple(b[1] for b in self.branches)
        self.given = tuple(sorted({GIVEN_DATES[f] for f in forms if f in GIVEN_DATES}))
        # Its step is planned straight from the template when no open step has its code and
        # nothing was planned for it yet (no branches, refresh, replacement or kept date).
        self.direct = self.plain and self.branches is None and not self.refresh_only \
            and not self.supersedes_previous and not self.given
        # Its steps are keyed by the case (one per case, or about the case itself).
        self.case_keyed = self.wide or self.case_subject
        self.pack_id, self.version = pack.id, pack.version
        # Every field of its step intents, the line's own filled in (StepIntent's field order):
        # an intent copies it and fills in what the event decides.
        self.intent: dict[str, Any] = {
            "action": "create", "rule_id": self.id, "code": self.code, "title": self.title,
            "actor": self.actor, "subject_id": None, "due_at": None, "urgent": False,
            "awaiting_panel_date": False, "policy_pack": pack.id, "policy_ref": self.ref,
            "deadline_form": None, "policy_version": pack.version, "recurrence": self.period,
            "note": None, "assignee_id": None, "step_id": None, "reasons": (),
        }


# A check as a table holds it: the check, its compiled condition, its acknowledgement's line.
_CheckEntry = tuple[Check, Predicate, "_Line | None"]


class _Table:
    """A pack's lines indexed as the engine looks them up, its checks by trigger, and its
    register and contact conditions (compiled). Built from the pack's own indexes, so a copy
    of a pack (``model_copy``) gets its own table, as it has its own fields."""

    def __init__(self, pack: Pack) -> None:
        self.owner = id(pack)
        self.pack_id, self.version, self.panel_kind = pack.id, pack.version, pack.panel_kind
        # When that panel meets (a fixed-day cadence), for next-panel steps with none booked.
        self.panel_cadence = pack.panel(pack.panel_kind).meets if pack.panel_kind else None
        # The pack's name for that panel ("Multi-Agency Risk Panel (MARP)"), for notes.
        self.panel_name = pack.panel(pack.panel_kind).title if pack.panel_kind else None
        self.prolonged_absence = pack.prolonged_absence_working_days
        self.matrix = pack.matrix
        lines: dict[int, _Line] = {}

        def line(rule: Rule) -> _Line:
            found = lines.get(id(rule))
            if found is None:
                found = lines[id(rule)] = _Line(rule, pack)
            return found

        index = pack.__pydantic_private__ or {}
        self.by_trigger = {t: tuple(line(r) for r in rules)
                           for t, rules in index["_by_trigger"].items()}
        self.by_id = {i: tuple(line(r) for r in rules) for i, rules in index["_by_id"].items()}
        self.by_code = {c: tuple(line(r) for r in rules)
                        for c, rules in index["_by_code"].items()}
        # Codes whose completion also answers the reasons dated after it (W7); any other
        # step done at T leaves its reasons after T owed (_Plan.carry_over).
        self.covers_later = frozenset(r.code for r in pack.rules if r.completion_covers_later)
        self.checks: dict[str, tuple[_CheckEntry, ...]] = {}
        for check in pack.checks:
            entry = (check, check.when.test,
                     None if check.ack_rule is None else line(check.ack_rule))
            for trigger in dict.fromkeys(check.trigger):
                self.checks[trigger] = (*self.checks.get(trigger, ()), entry)
        self.register = None if pack.register_def is None else pack.register_def.when.test
        self.bands = None if pack.contact is None else tuple(
            (band.when, band.when.test, band.level) for band in pack.contact.bands)
        # The contact table, and each trigger's checks, as generated functions (made on first
        # use: _generate_holding).
        self.contact: Callable[[Context], str | None] | None = None
        self.held_checks: dict[str, Callable[[Context], tuple[_CheckEntry, ...]]] = {}
        self.lines = lines
        # (code, rule id) -> the first line of that rule for that code (or None).
        self.rule_of: dict[tuple[str, str], _Line | None] = {}
        # The step codes an open step of which may lapse: a line of that code has ``holds``
        # (a step of any other code is always justified: _justified never looks further).
        self.lapsing = frozenset(code for code, found in self.by_code.items()
                                 if any(line.holds is not None for line in found))
        # _justified's own and other lines, by step code and reasons (or kind and rule id).
        self.justify: dict[tuple[Any, ...], tuple[tuple[_Line, ...], tuple[_Line, ...]]] = {}
        # trigger -> its generated function and its source (see _generate).
        self.runners: dict[str, _Runner] = {}
        # (form, counted from when known) -> its deadline function (see _due_function).
        self.dues: dict[tuple[str, str | None], _DueFunction] = {}
        self.sources: dict[str, str] = {}
        self.filenames: dict[str, str] = {}  # name -> its file name in linecache

    def due_function(self, form: str, known: str | None) -> _DueFunction:
        """A deadline form's function for this pack's lines (:func:`_due_function`)."""
        found = self.dues.get((form, known))
        if found is None:
            found = self.dues[(form, known)] = _due_function(form, known, self)
        return found

    def runner(self, trigger: str) -> _Runner:
        """The trigger's generated function (:func:`_generate`), made on first use."""
        found = self.runners.get(trigger)
        if found is None:
            found = self.runners[trigger] = _generate(self, trigger)
        return found

    def line_of(self, step: OpenStep) -> _Line | None:
        """The first line of a step's rule with its code (its title and paragraph)."""
        key = (step.rule_id, step.code)
        try:
            return self.rule_of[key]
        except KeyError:
            pass
        found = next((r for r in self.by_id.get(step.rule_id, ()) if r.code == step.code), None)
        if len(self.rule_of) < 4096:
            self.rule_of[key] = found
        return found

    def contact_level(self, ctx: Context) -> str | None:
        """W11: the first band whose condition holds on an after-state context."""
        return (self.contact or self.contact_function())(ctx)

    def contact_function(self) -> Callable[[Context], str | None]:
        """The contact table as one generated function (made once)."""
        if self.contact is None:
            self.contact = _no_contact if self.bands is None else _generate_holding(
                self, "contact", self.bands, first=True)
        return self.contact

    def checks_holding(self, trigger: str) -> Callable[[Context], tuple[_CheckEntry, ...]]:
        """A trigger's checks whose condition holds on a context, in order (generated)."""
        found = self.held_checks.get(trigger)
        if found is None:
            found = self.held_checks[trigger] = _generate_holding(
                self, f"checks of {trigger}",
                [(check.when, when, (check, when, ack))
                 for check, when, ack in self.checks.get(trigger, ())], first=False)
        return found


def prepare(pack: Pack) -> None:
    """Build the engine's tables for a pack now (the app does at start-up, for every loaded
    version: the first evaluation under it then pays nothing; otherwise the first evaluation
    builds them), with the generated function of every trigger its lines answer."""
    table = _table(pack)
    for trigger in table.by_trigger:
        table.runner(trigger)
    for trigger in table.checks:
        table.checks_holding(trigger)
    table.contact_function()


def load_service_packs(extra_dir: Path | None) -> Versions:
    """Every version of every pack as the service loads them at start-up (``build_policy_context``)
    and ``yjrisk pack test`` loads them to judge a scenario as the service would: the bundled
    packs plus ``extra_dir`` (``YJ_PACKS_DIR``), each checked (``load_versions``: PackError), with
    the engine's tables built (``prepare``: what it raises stops the start-up)."""
    versions = load_versions(None, extra_dir)
    for found in versions.values():
        for pack in found:
            prepare(pack)  # the engine's tables, built now, not on the first evaluation
    return versions


def generated_source(pack: Pack, trigger: str) -> str:
    """The Python source of the function the engine generated for a pack's trigger (what a
    traceback through it shows, under :func:`generated_filename`)."""
    table = _table(pack)
    table.runner(trigger)
    return table.sources[trigger]


def generated_filename(pack: Pack, trigger: str) -> str:
    """The file name tracebacks and linecache give the function generated for a pack's
    trigger: ``<engine PACK VERSION TRIGGER DIGEST>``, the digest of its source telling apart
    two packs of one id and version in a process (a bundled pack and an edited copy that
    ``yjrisk pack test`` or a test loads), whose sources would otherwise overwrite each
    other's lines."""
    table = _table(pack)
    table.runner(trigger)
    return table.filenames[trigger]


# --- a trigger's rule lines as one generated function ------------------------------------------

# (plan, ctx) -> None: plans the steps of every line of a trigger whose condition holds.
_Runner = Callable[["_Plan", Context], None]
# Deadline kinds whose Due never carries a note (parse_form's kinds): a direct line with one of
# these is always planned from its template.
# A rule's ``counts_from`` -> the event data key its deadline counts from (None: occurred_at).
_COUNTS_FROM: dict[str, str | None] = {
    "occurred": None, "known": "known_at", "assessment_completed": "assessment_completed_at",
    "raised": None,  # the act that raised the step it re-dates (_Line.raised)
}
_NOTELESS_KINDS = frozenset({"h", "wd", "d", "w", "m", "immediately", "none", "+1wd-in-week"})
# An inlined condition's read of the event data (``_d.get('key')``, the key a str literal).
_DATA_GET = re.compile(r"_d\.get\('(?:[^'\\]|\\.)*'\)")


def _generate(table: _Table, trigger: str) -> _Runner:
    """One Python function per (pack, trigger) doing what ``for line in lines: if when(ctx):
    plan.apply(line)`` does, in the same order with the same results and exceptions, without
    its generic dispatch: each line's condition is written inline (its compiled expression,
    :class:`~app.workflows.conditions.Inliner`), and a direct line (``_Line.direct``) whose
    step nothing else decides yet (no open step of its code, nothing planned for its key, a
    deadline without a note) builds its intent from the line's template (``_Plan._create``,
    inline), and one whose open step of the same subject is kept or re-dated does that inline
    too (:func:`_keep_source`). Any other case calls ``plan.apply(line)`` or ``plan._step``.

    Every pack value reaches the source as a ``repr`` literal of a str, int, bool or None, or
    as a closure variable (``_L3``: the fourth line; ``_c0``: a condition constant): no pack
    text is ever code. The source is kept (``_Table.sources``, :func:`generated_source`) and
    registered with ``linecache`` under its file name, so tracebacks and debuggers show it."""
    lines = table.by_trigger.get(trigger, ())
    inliner = Inliner()
    body: list[str] = []
    names: dict[str, Any] = {"_new": _new, "_set": _set, "_StepIntent": StepIntent,
                             "_UUID": UUID, "_utc": _utc, "_has_reason": _has_reason}

    def lit(value: Any) -> str:
        if value is None or type(value) in (str, int, bool):
            return repr(value)
        name = f"_k{len(names)}"
        names[name] = value
        return name

    hoisted: dict[str, str] = {}  # "_d.get('key')" -> the local holding it

    def hoist(expr: str) -> str:
        # The event data's values the conditions read, each read once at the top (a dict's
        # get has no side effect, and nothing changes the event's data while lines run).
        def local(match: re.Match[str]) -> str:
            found = hoisted.get(match[0])
            if found is None:
                found = hoisted[match[0]] = f"_g{len(hoisted)}"
            return found

        return _DATA_GET.sub(local, expr)

    for number, line in enumerate(lines):
        ref = f"_L{number}"
        names[ref] = line
        body.append(f"        # {line.id} {line.code}: {line.form or 'conditional deadline'}")
        indent = "        "
        if line.when is not None:
            expr = inliner.expression(line.rule.when) if line.rule.when is not None else None
            expr = f"{lit(line.when)}(ctx)" if expr is None else hoist(expr)
            body.append(f"        if {expr}:")
            indent = "            "
        if not line.direct:
            body.append(f"{indent}plan.apply({ref})")
            continue
        form = line.form
        assert form is not None  # a direct line has one form, no branches
        key = f"({lit(line.code)}, {'case_key' if line.case_keyed else 'event_key'})"
        due_key = f"({lit(form)}, {line.known!r}, None)"
        kind = parse_form(form).kind
        subject = "plan.case_id" if line.case_subject else "_e.subject_id"
        if line.assignee_from:
            assignee = (f"(str(_named) if (_named := _d.get({lit(line.assignee_from)})) "
                        "else None)")
        else:
            assignee = "None"
        counted = "_why[2]" if not line.known else \
            f"(plan._known_counted or plan._known_counted_from({ref}))" \
            if line.known == "known_at" else f"plan._known_counted_from({ref})"
        t = line.intent
        fallback = f"(_key := {key}) in planned"
        names[f"_D{number}"] = table.due_function(form, line.known)
        due = f"dues.get({due_key}) or _D{number}(plan)"
        i2 = indent + "    "
        # An open step of its code: kept (or re-dated) in place when it is about this subject
        # (or the case's one, for a case-wide duty); anything else as _step decides.
        body.append(f"{indent}if {lit(line.code)} in by_code:")
        # A recurring line's occurrence is never brought before a month after the last
        # completion (_keep's _not_before_last_completion): _step decides.
        if line.refresh_due or line.refresh_undated_only or line.period is not None:
            body.append(f"{i2}plan._step({ref}, ({subject}, {ref}.title, {assignee}, None))")
        else:
            body += _keep_source(line, number, i2, key, subject, assignee, due, due_key, kind,
                                 counted, names, lit)
        # The step's intent: a copy of the line's template with what this form fixes filled
        # in (a dict's copy and a few stores cost less than a display of all 18 fields).
        template = dict(t, deadline_form=form)
        sets: list[tuple[str, str]] = [("subject_id", subject)]
        if kind in _NOTELESS_KINDS:
            body += [f"{indent}elif {fallback}:",
                     f"{i2}plan._step({ref}, ({subject}, {ref}.title, {assignee}, None))",
                     f"{indent}else:"]
            if kind == "none":  # always Due(None); computed once all the same (_due checks)
                body.append(f"{i2}{due_key} in dues or _D{number}(plan)")
                template.update(due_at=None, urgent=False, awaiting_panel_date=False,
                                note=line.notes[True])
            else:  # always dated, never waiting for a panel; urgent only when immediate
                body.append(f"{i2}_at = ({due})[0]")
                template.update(urgent=kind == "immediately", awaiting_panel_date=False,
                                note=line.notes[False])
                sets.append(("due_at", "_at"))
        else:
            body += [f"{indent}elif {fallback} or (_due := {due})[3] is not None:",
                     f"{i2}plan._step({ref}, ({subject}, {ref}.title, {assignee}, None))",
                     f"{indent}else:",
                     f"{i2}_at, _urgent, _awaiting, _ = _due"]
            sets += [("due_at", "_at"), ("urgent", "_urgent"), ("awaiting_panel_date", "_awaiting"),
                     ("note", f"{lit(line.notes[True])} if _at is None and not _awaiting "
                              f"else {lit(line.notes[False])}")]
        if line.assignee_from:
            sets.append(("assignee_id", assignee))
        names[f"_T{number}"] = template
        # The reason's template: _reason's fields in its order (the trigger is this one).
        names[f"_R{number}"] = {"rule": line.id, "pack": line.pack_id, "ref": line.ref,
                                "trigger": trigger, "record": None, "at": None,
                                "counted_from": None}
        body += [
            f"{i2}planned[_key] = len(intents)",
            f"{i2}_why = plan._event_reason or plan._reason_of_event()",
            f"{i2}_reason = _R{number}.copy()",
            f"{i2}_reason['record'] = _why[1].copy()",
            f"{i2}_reason['at'] = _why[2]",
            f"{i2}_reason['counted_from'] = {counted}",
            f"{i2}_values = _T{number}.copy()",
            *(f"{i2}_values[{field!r}] = {value}" for field, value in sets),
            f"{i2}_values['reasons'] = (_reason,)",
            f"{i2}_intent = _new(_StepIntent)",
            f"{i2}_set(_intent, '__dict__', _values)",
            f"{i2}intents.append(_intent)",
        ]
    head = [
        f"def _make({', '.join([*names, *inliner.consts])}):",
        "    def run(plan, ctx):",
        f"        {f'{table.pack_id} {table.version}: the lines of {trigger}'!r}",
        *inliner.prelude("        ", event_data=any(line.direct for line in lines)),
    ]
    head += [f"        {local} = {read}" for read, local in hoisted.items()]
    if any(line.direct for line in lines):
        head += [
            "        by_code, planned, intents = plan._by_code, plan.planned, plan.intents",
            "        dues, case_key, event_key = plan._dues, plan.case_key, plan.event_key",
            "        touched = plan.touched",
        ]
    source = "\n".join(head + body + ["        return None", "    return run", ""])
    run: _Runner = _compile_generated(table, trigger, source, {**names, **inliner.consts})
    return run


def _keep_source(
    line: _Line, number: int, indent: str, key: str, subject: str, assignee: str, due: str,
    due_key: str, kind: str, counted: str, names: dict[str, Any], lit: Callable[[Any], str],
) -> list[str]:
    """The source of a direct line's keep path (``_step`` -> ``_existing`` -> ``_keep`` for a
    line without branches, refresh or replacement), written inline: its open step of the same
    subject (a case-wide duty: the case's first of its code) gains the line's reason and is
    kept, or re-dated when the line's deadline is sooner. A line whose step was already
    planned, or with no open step to keep, goes through ``plan._step``."""
    ref, code = f"_L{number}", lit(line.code)
    i2, i3, i4 = indent + "    ", indent + "        ", indent + "            "
    names[f"_K{number}"] = dict(line.intent, action="keep")
    names[f"_N{number}"] = line.notes
    who = "_who" if line.assignee_from else "None"
    step = f"plan._step({ref}, ({subject}, {ref}.title, {who}, None))"
    lines = [f"{indent}_key = {key}"]
    if line.assignee_from:
        lines.append(f"{indent}_who = {assignee}")
    lines += [
        f"{indent}for _open in by_code[{code}]:",
        f"{i2}if _open.subject_id == {subject}:",
        f"{i3}break",
        f"{indent}else:",
        f"{i2}_open = by_code[{code}][0]" if line.wide else f"{i2}_open = None",
        f"{indent}if _key in planned or _open is None:",
        f"{i2}{step}",
        f"{indent}else:",
        f"{i2}planned[_key] = None",
        f"{i2}_sid, _oid = _open.subject_id, _open.id",
        f"{i2}planned[({code}, _sid.int if isinstance(_sid, _UUID) else _sid)] = None",
        f"{i2}_ok = _oid.int if isinstance(_oid, _UUID) else _oid",
        f"{i2}if _ok not in touched:",
        f"{i3}touched.add(_ok)",
        f"{i3}_why = plan._event_reason or plan._reason_of_event()",
        f"{i3}_reason = _R{number}.copy()",
        f"{i3}_reason['record'] = _why[1].copy()",
        f"{i3}_reason['at'] = _why[2]",
        f"{i3}_reason['counted_from'] = {counted}",
        f"{i3}_fresh = () if _open.reasons and _has_reason(_open.reasons, _reason) "
        "else (_reason,)",
    ]
    keep = i3
    if kind == "none":  # never dated: always kept as it is (computed all the same: _due checks)
        lines.append(f"{i3}{due_key} in dues or _D{number}(plan)")
    else:
        lines += [
            f"{i3}_due = {due}",
            f"{i3}if _due[0] is not None and (_open.due_at is None "
            "or _due[0] < _utc(_open.due_at)):",
            f"{i4}intents.append(plan._intent('update_due', {ref}, ({subject}, {ref}.title, "
            f"{who}, None), _due, {lit(line.form)}, None, _sid, _oid, _fresh))",
            f"{i3}else:",
        ]
        keep = i4
    lines += [
        f"{keep}_kept = _open.due_at",
        f"{keep}_kept = None if _kept is None else _utc(_kept)",
        f"{keep}_awaiting = _open.awaiting_panel_date",
        f"{keep}_values = _K{number}.copy()",
        f"{keep}_values['subject_id'] = _sid",
        f"{keep}_values['due_at'] = _kept",
        f"{keep}_values['awaiting_panel_date'] = _awaiting",
        f"{keep}_values['deadline_form'] = _open.deadline_form",
        f"{keep}_values['note'] = _N{number}[_kept is None and not _awaiting]",
        *([f"{keep}_values['assignee_id'] = _who"] if line.assignee_from else []),
        f"{keep}_values['step_id'] = _oid",
        f"{keep}_values['reasons'] = _fresh",
        f"{keep}_intent = _new(_StepIntent)",
        f"{keep}_set(_intent, '__dict__', _values)",
        f"{keep}intents.append(_intent)",
    ]
    return lines


def _compile_generated(table: _Table, name: str, source: str, names: dict[str, Any]) -> Any:
    """Compile a generated ``def _make(<names>): ... return <function>`` under the file name
    ``<engine PACK VERSION NAME DIGEST>`` (registered with linecache, kept in ``table.sources``
    and ``table.filenames``) and
    return the function ``_make`` returns for ``names``."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<engine {table.pack_id} {table.version} {name} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(_code(source, filename), namespace)  # noqa: S102
    table.sources[name] = source
    table.filenames[name] = filename
    return namespace["_make"](**names)


@lru_cache(maxsize=1024)
def _code(source: str, filename: str) -> CodeType:
    """Compiled once per source (a copy of a pack generates the same source as the pack)."""
    return compile(source, filename, "exec")


def _generate_holding(
    table: _Table, name: str, entries: Sequence[tuple[Any, Predicate, Any]], first: bool
) -> Callable[[Context], Any]:
    """A generated function of a context testing conditions in order (each entry: the
    condition, its compiled test, and a value): with ``first``, the value of the first whose
    condition holds (else None); otherwise a tuple of the values of every one that holds.
    Same results and exceptions as testing each ``test(ctx)`` in turn."""
    inliner = Inliner()
    names: dict[str, Any] = {}
    body: list[str] = ["        held = ()"] if not first else []
    for number, (condition, test, value) in enumerate(entries):
        names[f"_v{number}"] = value
        expr = inliner.expression(condition) if condition is not None else None
        if expr is None:
            names[f"_t{number}"] = test
            expr = f"_t{number}(ctx)"
        body.append(f"        if {expr}:")
        body.append(f"            return _v{number}" if first
                    else f"            held = (*held, _v{number})")
    source = "\n".join([
        f"def _make({', '.join([*names, *inliner.consts])}):",
        "    def holding(ctx):",
        f"        {f'{table.pack_id} {table.version}: {name}'!r}",
        *inliner.prelude("        "),
        *body,
        "        return None" if first else "        return held",
        "    return holding",
        "",
    ])
    return _compile_generated(table, name, source, {**names, **inliner.consts})  # type: ignore[no-any-return]


def _no_contact(ctx: Context) -> None:
    """The contact level under a pack without a contact table."""
    return None


# (plan) -> the Due of one deadline form for a line's own step (no panel action's due date).
_DueFunction = Callable[["_Plan"], Due]


def _due_function(form: str, known: str | None, table: _Table) -> _DueFunction:
    """``_Plan._due(form, line, None)`` for a pack's line counted from the event (or, with
    ``known``, from the moment that event data key gives: ``known_at``, when it became known;
    ``assessment_completed_at``, when its assessment was completed) and one form, made once
    per pack: the same Due, stored in the plan's ``_dues`` under the same key, with the same
    first-deadline reads (and errors: known_at, then the review and transfer dates), without
    looking the form up again. No DeadlineInputs are built for a form that reads nothing but
    its start (:func:`~app.workflows.deadlines.reads_inputs`), nor for ``next-panel`` and
    ``+1wd-in-week``, given the panels or the absences they read."""
    compute, key = form_function(form), (form, known, None)
    kind = parse_form(form).kind
    no_inputs: Any = None  # what a form that reads none is given
    if kind == "next-panel":
        panel_kind, cadence, name = table.panel_kind, table.panel_cadence, table.panel_name

        def deadline(plan: _Plan, start: datetime, start_utc: datetime) -> Due:
            # Asked by putting the case on a panel's agenda (the event's subject is the item):
            # due at that item's sitting, not the case's first panel (ATTACK37-7).
            booked = (plan.event.trigger == "panel_item_added"
                      and plan.item_panels(plan.event.subject_id)) or plan.case.agenda_panel_ids
            return next_panel_deadline(plan.panels, panel_kind, cadence, start_utc,
                                       plan.calendar, booked, name=name,
                                       heard=plan.heard(start_utc))
    elif kind == "+1wd-in-week":
        def deadline(plan: _Plan, start: datetime, start_utc: datetime) -> Due:
            return in_week_deadline(plan.absences(), start_utc, plan.calendar)
    elif reads_inputs(form):
        def deadline(plan: _Plan, start: datetime, start_utc: datetime) -> Due:
            return compute(plan._inputs_of(start, known, None)[0], start_utc, plan.calendar)
    else:
        def deadline(plan: _Plan, start: datetime, start_utc: datetime) -> Due:
            return compute(no_inputs, start_utc, plan.calendar)

    def due(plan: _Plan) -> Due:
        occurred = plan.event.occurred_at
        if not known:
            start = occurred
        elif known == "known_at":
            start = plan._known_start or plan._start_known()
        else:  # another moment the event carries (a judgement's assessment_completed_at)
            start = _as_datetime(plan.data.get(known)) or occurred
        if plan._dates is None:
            plan._read_dates()
        found = plan._dues[key] = deadline(
            plan, start, plan.occurred_utc if start is occurred else start.astimezone(UTC))
        return found

    return due


_DECISION_RANK = SAME_INSTANT.index("panel_decision")


def heard_by(case: CaseSnapshot, start: datetime, reason: Mapping[str, Any] | None
             ) -> frozenset[UUID]:
    """The panels that had already decided the case when the act asking for a ``next-panel``
    step came at ``start`` (aware UTC): those whose decision on it is dated before ``start``,
    or at it when that act (``reason``: the step's reason naming it; None, an act the one order
    of an instant does not rank) does not come before the panels' decisions in that order
    (app.workflows.instant_order: a case event or a feed's message does). Such a sitting has
    heard the case: the step is due at the next one (Somerset 7.1.9 "The MARP will decide",
    3.2.3 "refer the case to the next YJT MARP"; fix37a, ATTACK36-1: a Very High dated at the
    MARP's decision was due at that sitting, born overdue)."""
    return decided_by(case.decided_panels, start, reason)


def decided_by(decided: Mapping[UUID, datetime], start: datetime,
               reason: Mapping[str, Any] | None, *, decision_is_after: bool = True
               ) -> frozenset[UUID]:
    """:func:`heard_by`'s rule on ``decided`` (an id, a panel's or its agenda item's, to the
    instant of its decision on the case): the ids that had decided when the act ``reason``
    names came at ``start``. ``decision_is_after``: whether a panel's decision (or its own
    judgement) of that instant counts as after it (False: it is that decision, whose own
    steps it closed)."""
    if not decided:
        return frozenset()
    rank = None if reason is None else reason_rank(reason)
    before = rank is not None and (rank < _DECISION_RANK
                                   or (rank == _DECISION_RANK and not decision_is_after))
    return frozenset(panel for panel, at in decided.items()
                     if at < start or (at == start and not before))


def _table(pack: Pack) -> _Table:
    private = pack.__pydantic_private__
    assert private is not None
    table = private.get("_engine")
    if table is None or table.owner != id(pack):
        table = private["_engine"] = _Table(pack)
    return table  # type: ignore[no-any-return]


# --- evaluation ------------------------------------------------------------------------------


def evaluate(
    event: WorkflowEvent,
    case: CaseSnapshot,
    pack: Pack,
    calendar: WorkingCalendar,
    panels: Sequence[ScheduledPanel] = (),
    checks: bool = True,
) -> Evaluation:
    """Evaluate one event against a case under a pack: violations, or step intents and state.
    Without ``checks`` the pack's checks refuse nothing (their acknowledgements still apply):
    the caller has run them on the case as the act found it, at its own time (a judgement
    dated before a later act: app.domain.policy.check_at_its_moment)."""
    occurred = event.occurred_at
    zone = occurred.tzinfo
    if zone is None or zone.utcoffset(occurred) is None:
        require_aware(occurred, "occurred_at")  # raises
    table = (pack.__pydantic_private__ or {}).get("_engine")
    if table is None or table.owner != id(pack):
        table = _table(pack)
    ctx, state = _context(event, case, table)
    after = ctx.after
    ratings = after.ratings
    ratings_after = {"rosh": ratings.get("rosh"), "swb": ratings.get("swb"),
                     "lor": ratings.get("lor")}  # every domain, in DOMAINS order
    trigger = event.trigger
    held = (table.held_checks.get(trigger) or table.checks_holding(trigger))(ctx)
    violations, acknowledged = _run_checks(ctx, pack, held) if held else ((), ())
    if not checks:
        violations = []
    if not violations and trigger == "judgement_recorded":
        data = event.data
        if data.get("level") == "very_high" and data.get("domain") == "lor":
            violations = [LOR_SCALE]  # the core scale, whatever the pack's checks say
    if violations:
        return _make(Evaluation, {
            "violations": tuple(violations), "intents": (), "matrix_level": ctx.matrix_level,
            "ratings_after": {d: case.ratings.get(d) for d in DOMAINS},
            "on_register_after": case.on_register, "register_change": None,
            "contact_level": table.contact_level(_context_of(event, case, case)),
            "acknowledgements": (),
        })
    plan = _Plan(ctx, table, calendar, panels)
    runner = table.runners.get(trigger)
    (runner or table.runner(trigger))(plan, ctx)
    for _check, ack in acknowledged:
        if ack is not None:
            plan.apply(ack)
    if trigger == "step_completed":
        plan.recur()
        plan.carry_over()
    elif trigger == "panel_scheduled":
        plan.redate_awaiting_panel()
    elif trigger == "referral_transition":
        plan.supersede_for_undone_referral()
    if plan.open_steps:
        plan.supersede_unjustified()
    on_register = after.on_register
    change: Literal["registered", "deregistered"] | None = None
    if on_register != case.on_register:
        change = "registered" if on_register else "deregistered"
    contact = table.contact or table.contact_function()
    result = _new(Evaluation)  # _make, inline
    _set(result, "__dict__", {
        "violations": (), "intents": tuple(plan.intents), "matrix_level": ctx.matrix_level,
        "ratings_after": ratings_after, "on_register_after": on_register,
        "register_change": change,
        "contact_level": contact(state or _context_of(event, after, after)),
        "acknowledgements": tuple([c.id for c, _ in acknowledged]) if acknowledged else (),
    })
    return result


def _table_of(pack: Pack) -> _Table:
    """The pack's engine table (built once per pack object)."""
    table = (pack.__pydantic_private__ or {}).get("_engine")
    return table if table is not None and table.owner == id(pack) else _table(pack)


# The key of a ``later`` ratings state (:func:`evaluate_backfill`) naming the domain its
# judgement rated: it answers a transfer in's incoming rating of that domain (fix32a).
LATER_JUDGED = "judged"

# Why an open step is superseded when no condition that required it holds any more (its
# ``holds``): the domain dates such a lapse (``Step.lapsed_at``).
LAPSED = "the condition that required it no longer holds"
# Why an open step is superseded by a new step of its code under a line that replaces any
# open step of the same kind (``supersedes_previous``: the new date replaces the old).
REPLACED = "replaced by a new"


def evaluate_backfill(
    event: WorkflowEvent,
    case: CaseSnapshot,
    pack: Pack,
    calendar: WorkingCalendar,
    panels: Sequence[ScheduledPanel] = (),
    later: Sequence[Mapping[str, str | None]] = (),
    lapse: bool = False,
    present: CaseSnapshot | None = None,
    checks: bool = True,
) -> Evaluation:
    """A back-filled judgement (dated before the current rating of its domain) as the history
    in the order it happened would have had it (attack pass 10, A10-30: the same judgements
    sent in another order gave later deadlines).

    ``case``: the case as the judgement found it: the ratings of that moment (its register
    is derived from them here), today's other fields and today's open steps. ``later``: the
    ratings after each judgement recorded after it, in time order, the last being today's.

    Deadlines count from the judgement's own ``occurred_at`` (policy-rules: "computed from the
    triggering event's occurred_at, never from the wall clock, so that a CMS can back-fill
    events"). The intents kept are the ones the in-order history still owes today: a step
    created, an open step re-dated sooner (:meth:`_Plan._keep` never plans a later date) or
    given the judgement's reason, each only when a line that asked for it has no ``holds``
    or one that held from the judgement through every later rating (a high's panel request
    lapsed with a later low: in order it was superseded then). Never a dropped reason, nor a
    supersession but one the act's own move of the case's fields makes (a release ends the
    secure estate's documentation, Somerset S32/S33 "while in custody", replayed after an
    entry dated before it; ATTACK32C-5): the current rating, not a back-fill, says what no
    longer holds. The
    evaluation's register, contact level and ratings are the back-fill's own moment's, not
    today's: the caller applies none of them. Violations (a check the state of that moment
    fails, e.g. Somerset M6) come back as they are.

    With ``lapse``, the supersessions of the judgement's moment are kept too: the open steps
    whose condition no longer holds once it is the rating (the caller keeps those that arose
    before it: in time order they lapsed with it, A11-4).

    ``present``: today's case, when ``case`` carries the fields of the judgement's moment
    rather than today's (a change dated after it was recorded first): a line's ``holds`` is
    asked of it too (a volunteer detached since: Somerset S28 lapsed then, A15-9).

    Without ``checks`` the pack's checks refuse nothing (as :func:`evaluate`'s): the caller
    ran them on the steps open at the act's own moment, not today's (a review a later panel
    decision booked does not make a lowering dated before it one the panel must approve:
    Somerset M6, 7.2.1; attack 35b, ATTACK35B-3)."""
    table = _table_of(pack)
    if table.register is not None:
        case = _evolve(case, on_register=bool(table.register(_context_of(event, case, case))))
    evaluation = evaluate(event, case, pack, calendar, panels, checks=checks)
    if evaluation.violations:
        return evaluation
    # The case as the act itself leaves it (its own moves: a custody event's ``in_custody``, a
    # change's fields, a transfer in's incoming ratings), then each later rating: a ``holds``
    # is judged from the act's own after-state on (attack 32c, ATTACK32C-5).
    states = [_evolve(_before_after(event, case)[1], ratings=dict(evaluation.ratings_after))]
    for ratings in later:  # a later judgement answers the incoming rating of its domain
        judged = ratings.get(LATER_JUDGED)
        state = _evolve(states[-1], ratings={d: v for d, v in ratings.items()
                                             if d != LATER_JUDGED})
        if judged in state.incoming_ratings and state.incoming_at is not None:
            state = _evolve(state, incoming_ratings={
                d: v for d, v in state.incoming_ratings.items() if d != judged})
        states.append(state)
    if present is not None:  # today's fields, the history's latest ratings
        states.append(_evolve(present, ratings=dict(states[-1].ratings)))
    contexts = [_context_of(event, state, state) for state in states]

    def owed(intent: StepIntent) -> bool:
        asked = {(str(r.get("rule")), str(r.get("ref"))) for r in intent.reasons} \
            or {(intent.rule_id, intent.policy_ref)}
        lines = [line for rule, ref in asked for line in table.by_id.get(rule, ())
                 if line.code == intent.code and line.ref == ref
                 and event.trigger in line.trigger]
        return not lines or any(line.holds is None or all(line.holds(c) for c in contexts)
                                for line in lines)

    undone = _moves_undone(event, states[0])
    lapsed_note = f"Superseded: {LAPSED}"

    def ended_by_move(intent: StepIntent) -> bool:
        # The act's own move (a release's in_custody) ended the step: its line held but for it.
        if undone is None or intent.note != lapsed_note:
            return False
        ctx = _context_of(event, undone, undone)
        return any(line.holds is not None and line.holds(ctx)
                   for line in table.by_id.get(intent.rule_id, ()) if line.code == intent.code)

    kept = tuple(i for i in evaluation.intents
                 if (i.action in ("create", "update_due", "keep")
                     and (i.action != "keep" or i.reasons) and owed(i))
                 or (i.action == "supersede" and (lapse or ended_by_move(i))))
    # The step of a replacing line the act still owes replaces the open one of its code, as
    # it did in time order (Somerset S27: a release typed after a judgement of its instant or
    # a later one; ATTACK35A-8): a case event's. The caller keeps only those of steps raised
    # before the act.
    created = {i.code for i in kept if i.action == "create"} \
        if event.trigger == "case_event" else set()
    replaced = f"Superseded: {REPLACED} "
    kept += tuple(i for i in evaluation.intents
                  if i.action == "supersede" and i not in kept and i.code in created
                  and (i.note or "").startswith(replaced))
    return _evolve(evaluation, intents=kept)


def _moves_undone(event: WorkflowEvent, after: CaseSnapshot) -> CaseSnapshot | None:
    """``after`` (the case as the act leaves it) with the act's own moves of the case's fields
    undone: a custody event's ``in_custody`` (:data:`EVENT_MOVES`), a change's fields as they
    were; None for an act that moves none."""
    data = event.data
    if event.trigger == "case_event" and (moves := EVENT_MOVES.get(str(data.get("type")))):
        return _evolve(after, **{f: (not v) if isinstance(v, bool) else None
                                 for f, v in moves.items()})
    if event.trigger == "case_changed" and data.get("changes"):
        return _apply_changes(after, data["changes"])[0]
    return None


def next_panel_redates(
    case: CaseSnapshot, pack: Pack, calendar: WorkingCalendar,
    panels: Sequence[ScheduledPanel], at: datetime, *, not_before: datetime | None = None,
) -> tuple[StepIntent, ...]:
    """What a panel being scheduled, moved or cancelled would do to the case's open
    ``next-panel`` steps (``panel_scheduled``'s re-dating, nothing else: no rule line runs),
    among ``panels`` as they stand at ``at``: for steps that come back after the panels
    changed without them (a closed case's steps reinstated at its reopening, a withdrawn
    referral's steps reopened; attack pass 10, A10-26). ``update_due`` intents only.
    ``not_before``: no step is due at a panel before it (a reopening: a panel that sat while
    the case was closed could not hear it; attack 32c, ATTACK32C-4)."""
    require_aware(at, "at")
    event = WorkflowEvent(trigger="panel_scheduled", occurred_at=at, subject_id=case.case_id,
                          actor_role="system", data={"change": "reinstated"})
    table = _table(pack)
    ctx, _state = _context(event, case, table)
    plan = _Plan(ctx, table, calendar, panels)
    plan.redate_awaiting_panel(
        None if not_before is None else require_aware(not_before, "not_before").astimezone(UTC))
    return tuple(plan.intents)


# --- the case before and after ---------------------------------------------------------------


def _context(
    event: WorkflowEvent, case: CaseSnapshot, table: _Table
) -> tuple[Context, Context | None]:
    """The context conditions see, and (when it is the same case state) the after-state context
    the register was computed on, for the contact table to reuse (a register change made on
    the evaluation's own after-state copy keeps it: that context sees the change)."""
    before, after = _before_after(event, case)
    level = None
    data = event.data
    if event.trigger == "judgement_recorded" and data.get("domain") == "rosh" and table.matrix:
        level = table.matrix.level(data.get("impact"), data.get("likelihood"))
    state = None
    if table.register is not None:
        state = _context_of(event, after, after)
        on_register = table.register(state)
        if on_register is not after.on_register:
            if after is case:
                after, state = _evolve(after, on_register=on_register), None
            else:  # this evaluation's own copy (_before_after), seen only by ``state`` yet
                after.__dict__["on_register"] = on_register
    return _context_of(event, before, after, level), state


def _answered(case: CaseSnapshot, domains: Iterable[str], at: datetime) -> CaseSnapshot:
    """``case`` with the incoming ratings of ``domains`` answered by the service's own
    judgement at ``at``: those still standing from an arrival at or before ``at`` (one at the
    arrival's instant answers it: the instant's events come before its judgements, ATTACK32A-2;
    fix34a; one before the arrival answers nothing, fix32a)."""
    if case.incoming_at is None or at < case.incoming_at \
            or not any(d in case.incoming_ratings for d in domains):
        return case
    incoming = {d: v for d, v in case.incoming_ratings.items() if d not in domains}
    return _evolve(case, incoming_ratings=incoming)


def incoming_after(event: WorkflowEvent, case: CaseSnapshot) -> CaseSnapshot:
    """``case`` with the incoming ratings that stand after ``event``: a transfer in's own, or
    those a judgement or panel decision dated at or after the arrival has not answered (fix32a,
    fix34a)."""
    after = _before_after(event, case)[1]
    return _evolve(case, incoming_ratings=after.incoming_ratings, incoming_at=after.incoming_at)


def _before_after(event: WorkflowEvent, case: CaseSnapshot) -> tuple[CaseSnapshot, CaseSnapshot]:
    data = event.data
    if event.trigger == "judgement_recorded" and data.get("domain") in DOMAINS:
        ratings = {**case.ratings, str(data["domain"]): _level(data.get("level"))}
        return case, _answered(_evolve(case, ratings=ratings), (str(data["domain"]),),
                               event.occurred_at)
    if event.trigger == "panel_decision":
        ratings = dict(case.ratings)
        for domain in ("rosh", "swb"):
            if data.get(f"{domain}_level") is not None:
                ratings[domain] = _level(data[f"{domain}_level"])
        after = _answered(_evolve(case, ratings=ratings),
                          [d for d in ("rosh", "swb") if data.get(f"{d}_level") is not None],
                          event.occurred_at)
        if data.get("mappa_level") is not None:
            after = _evolve(after, mappa_level=_as_int(data["mappa_level"]))
        return case, after
    if event.trigger == "case_changed":
        return _apply_changes(case, data.get("changes") or {})
    if event.trigger == "case_event" and isinstance(data.get("incoming_ratings"), Mapping):
        # A transfer in: the ratings the child arrives with (ATK28B-11); the service stores
        # them on the case (``Case.incoming_ratings``) when it is the latest transfer in. One
        # dated before the arrival the case already keeps (typed in after it) leaves that
        # later arrival's standing: the latest transfer in governs, whatever the typing order
        # (Somerset 13.3; attack 35a, ATTACK35A-3, fix35f).
        if case.incoming_at is not None and case.incoming_at > event.occurred_at:
            return case, case
        return case, _evolve(case, incoming_ratings=dict(data["incoming_ratings"]),
                             incoming_at=event.occurred_at)
    if event.trigger == "case_event" and (moves := EVENT_MOVES.get(str(data.get("type")))):
        # A custody move: the child where the event leaves them (the case follows the latest
        # move by date, app.domain.events), for its lines' ``after.`` and ``holds`` at its
        # own moment (attack 32c, ATTACK32C-5).
        return case, _evolve(case, **moves)
    if event.trigger == "assessment_countersigned" and data.get("type") is not None \
            and str(data["type"]) not in case.countersigned_types:
        after = _evolve(case, countersigned_types=case.countersigned_types | {str(data["type"])})
        if isinstance(data.get("scores"), Mapping):
            after = _evolve(after, scores={**case.scores, **data["scores"]})
        return case, after
    if event.trigger.startswith("assessment_") and isinstance(data.get("scores"), Mapping):
        return case, _evolve(case, scores={**case.scores, **data["scores"]})
    if event.trigger == "referral_transition" and data.get("to_status") == "sent" \
            and data.get("kind") is not None:
        # The form sent (``referral_sent_in``): afterwards the case has it, whether or not the
        # case's state was read before the move (fix36a, ATTACK35B-1).
        return case, _evolve(case, referrals_sent=case.referrals_sent | {str(data["kind"])})
    return case, case


def _apply_changes(
    case: CaseSnapshot, changes: Mapping[str, Any]
) -> tuple[CaseSnapshot, CaseSnapshot]:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    old_facts, new_facts = dict(case.facts), dict(case.facts)
    for field, pair in changes.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        if field.startswith("facts."):  # a pack-declared case fact (PATCH ``facts``)
            old_facts[field[6:]], new_facts[field[6:]] = pair[0], pair[1]
            continue
        reader = _FIELD_READERS.get(field)
        if reader is None:
            continue
        old[field], new[field] = reader(pair[0]), reader(pair[1])
    return (_evolve(case, **old, facts=old_facts), _evolve(case, **new, facts=new_facts))


def _level(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _as_bool(value: Any) -> bool:
    return bool(value)


def _as_str(value: Any) -> str:
    return "" if value is None else str(value)


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return london_date(value) if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _given_date(given: Mapping[str, Any] | None, key: str) -> date | None:
    """A date a reason kept (``given``), None when absent or unreadable."""
    value = None if given is None else given.get(key)
    try:
        return _as_date(value)
    except (TypeError, ValueError):
        return None


def _as_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return require_aware(moment, "due_at")


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else require_aware(moment, "due_at").astimezone(UTC)


def _as_uuid(value: Any) -> UUID | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


_FIELD_READERS: dict[str, Any] = {
    **{f: _as_int for f in _INT_FIELDS},
    **{f: _as_bool for f in _BOOL_FIELDS},
    **{f: _as_str for f in _STR_FIELDS},
    **{f: _as_date for f in _DATE_FIELDS},
}


# --- checks (M2-M7, S20) ---------------------------------------------------------------------

# The contract's LoR scale (vocabulary.LOR_SCALE_RULE): a very high LoR is refused under every
# pack, after the pack's own checks, so a pack's M7 answers with its own reference and a pack
# without one still stores no level outside the scale (attack 28b, ATK28B-15).
_LOR_SCALE_SAID = ("Likelihood of re-offending is rated low, medium or high (the national "
                   "AssetPlus scale); it has no very_high level.")
LOR_SCALE = Violation(
    rule_id=LOR_SCALE_RULE, status=422, type_slug="invalid-level", title="Invalid level",
    detail=_LOR_SCALE_SAID, errors=(("body.level", _LOR_SCALE_SAID),))


def _run_checks(
    ctx: Context, pack: Pack, held: tuple[_CheckEntry, ...]
) -> tuple[list[Violation], list[tuple[Check, _Line | None]]]:
    """The violations of the checks whose condition holds, and the acknowledged ones."""
    violations: list[Violation] = []
    acknowledged: list[tuple[Check, _Line | None]] = []
    for check, _when, ack in held:
        if check.requires is not None and _present(ctx.event.data.get(check.requires)):
            if check.acknowledge is not None:
                acknowledged.append((check, ack))
            continue
        errors: tuple[tuple[str, str], ...] = ()
        if check.requires is not None:
            errors = ((check.error_loc, f"required by {pack.id} {check.id} ({check.ref})"),)
        elif check.loc is not None:
            errors = ((check.loc, check.detail),)
        violations.append(Violation(
            rule_id=check.id, status=check.status, type_slug=check.type_slug,
            title=check.title, detail=check.detail, errors=errors,
        ))
    return violations, acknowledged


def _present(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | set):
        return bool(value) and all(_present(v) if isinstance(v, str) else v for v in value)
    return value is not None and value is not False


# --- planning steps --------------------------------------------------------------------------

# One step a line asks for: (subject id, title, assignee id, due date of a panel action).
_Instance = tuple[UUID, str, str | None, date | None]
_UNPLANNED = -1  # planned.get's default: no step planned yet for that (code, subject)


class _Plan:
    """Collects intents for one evaluation, never planning the same (code, subject) twice."""

    __slots__ = (
        "ctx", "table", "calendar", "panels", "event", "data", "case", "case_id", "intents",
        "case_key", "event_key", "planned", "touched", "_event_reason", "completed",
        "open_steps", "_by_code", "occurred_utc", "_known_start", "_dates", "_dues", "_inputs",
        "_known_counted", "_hold", "_absences",
    )

    def __init__(
        self, ctx: Context, table: _Table, calendar: WorkingCalendar,
        panels: Sequence[ScheduledPanel],
    ) -> None:
        self.case = case = ctx.before
        if case.left_panel_ids:  # the sittings the case was taken off are not its to attend
            panels = [p for p in panels if p.id not in case.left_panel_ids]
        self.ctx, self.table, self.calendar, self.panels = ctx, table, calendar, panels
        self.event = event = ctx.event
        self.data = data = event.data
        # The event's instant in UTC (reasons' ``at``, deadlines counted from the event).
        self.occurred_utc = event.occurred_at.astimezone(UTC)
        self.case_id = case_id = case.case_id
        subject_id = event.subject_id
        # _uid, inline
        self.case_key = case_id.int if isinstance(case_id, UUID) else case_id
        self.event_key = subject_id.int if isinstance(subject_id, UUID) else subject_id
        self.intents: list[StepIntent] = []
        # (code, duty subject's _uid) -> index of the create intent planned for it (None:
        # kept/none).
        self.planned: dict[tuple[str, Any], int | None] = {}
        # The _uid of every open step an intent is about.
        self.touched: set[Any] = set()
        self._event_reason: tuple[str, dict[str, Any], str] | None = None
        # The open steps by code, in order (a line merges into one of its code).
        self._by_code: dict[str, list[OpenStep]] = {}
        if event.trigger == "step_completed":
            done = _as_uuid(data.get("step_id"))
            self.completed: UUID | None = done
            self.open_steps = tuple(case.open_steps) if done is None \
                else tuple(s for s in case.open_steps if s.id != done)
        else:
            self.completed = None
            self.open_steps = tuple(case.open_steps)
        if self.open_steps:
            add = self._by_code.setdefault
            for step in self.open_steps:
                add(step.code, []).append(step)
        self._known_start: datetime | None = None
        self._dates: tuple[date | None, date | None] | None = None
        self._dues: dict[tuple[Any, ...], Due] = {}
        self._inputs: dict[tuple[Any, ...], tuple[DeadlineInputs, datetime]] = {}
        self._known_counted: str | None = None
        self._hold: Context | None = None

    def apply(self, line: _Line) -> None:
        """Plan the step(s) of a matching rule line."""
        if line.direct and line.code not in self._by_code:
            # _step's create path for a line whose step nothing else decides yet.
            key = (line.code, self.case_key if line.case_keyed else self.event_key)
            planned = self.planned
            if key not in planned:
                named = self.data.get(line.assignee_from) if line.assignee_from else None
                assignee = str(named) if named else None
                form = line.form
                due = self._dues.get((form, line.known, None)) \
                    or self._due(form, line, None)  # type: ignore[arg-type]
                intents = self.intents
                planned[key] = len(intents)
                subject = self.case_id if line.case_subject else self.event.subject_id
                intents.append(self._create(line, subject, assignee, due) if due[3] is None
                               else self._intent("create", line, (subject, line.title,
                                                 assignee, None), due, form, None))
                return
        if line.plain:
            subject = self.case_id if line.case_subject else self.event.subject_id
            named = self.data.get(line.assignee_from) if line.assignee_from else None
            self._step(line, (subject, line.title, str(named) if named else None, None))
            return
        for instance in self._instances(line):
            self._step(line, instance)

    def _instances(self, line: _Line) -> Iterator[_Instance]:
        event = self.event
        if line.rating is not None:
            rating = _as_uuid(self.case.rating_ids.get(line.rating))
            if rating is not None:
                yield rating, line.title, None, None
            return
        for index, action in enumerate(event.data.get("actions") or ()):
            subject = _as_uuid(action.get("subject_id")) or uuid5(
                NAMESPACE_URL, f"yjrisk:{event.subject_id}:action:{index}"
            )
            description = str(action.get("description") or "").strip()
            title = line.title.replace("{description}", description)[:300]
            owner = action.get("owner_id")
            yield (subject, title, None if owner is None else str(owner),
                   _as_date(action.get("due_date")))

    def _existing(self, line: _Line, subject: UUID) -> OpenStep | None:
        same = self._by_code.get(line.code)
        if not same:
            return None
        for step in same:
            if step.subject_id == subject:
                return step
        # A line that replaces earlier steps of its code (a new review date) never merges.
        return same[0] if line.wide else None

    def _reason(self, line: _Line) -> dict[str, Any]:
        """Why a line asks for its step: rule, paragraph, trigger and triggering record."""
        trigger, record, at = self._event_reason or self._reason_of_event()
        # ``counted_from``: the moment its deadline counts from (``known_at`` for lines with
        # ``counts_from = "known"``).
        reason = {"rule": line.id, "pack": line.pack_id, "ref": line.ref, "trigger": trigger,
                  "record": record.copy(), "at": at,
                  "counted_from": self._known_counted_from(line) if line.known else at}
        if line.given:
            self._keep_given(line, reason)
        return reason

    def _keep_given(self, line: _Line, reason: dict[str, Any]) -> None:
        """Add to a reason the dates this event gave that its line's deadline reads
        (``given``: a review date, a transfer date), so a step asked again for it after an
        earlier completion (:meth:`carry_over`) is due on them; nothing when none was given."""
        if self._dates is None:
            self._read_dates()
        review, transfer = self._dates  # type: ignore[misc]
        dates: dict[str, date | None] = {"review_date": review, "transfer_date": transfer}
        given = {key: day.isoformat() for key in line.given
                 if (day := dates[key]) is not None}
        if given:
            reason["given"] = given

    def _reason_of_event(self) -> tuple[str, dict[str, Any], str]:
        """What every reason of this evaluation says of the event: trigger, record, ``at``."""
        event = self.event
        record_id = _as_uuid(event.data.get("record_id")) or event.subject_id
        record: dict[str, Any] = {"type": TRIGGER_RECORD.get(event.trigger, event.trigger),
                                  "id": str(record_id)}
        if event.data.get("via_panel_decision"):
            # A judgement recorded as a panel's decision: at its instant it comes before the
            # plain judgements (the domain's one-instant order reads it; not shown in the API).
            record["via_panel_decision"] = True
        self._event_reason = (event.trigger, record, self.occurred_utc.isoformat())
        return self._event_reason

    def _known_counted_from(self, line: _Line) -> str:
        if line.known != "known_at":  # another moment the event data carries (not memoised)
            return require_aware(self._start(line)).astimezone(UTC).isoformat()
        if self._known_counted is None:
            start = self._start(line)
            why = self._event_reason
            # Counted from the event itself (no known_at): the reasons' ``at``, already written.
            self._known_counted = why[2] if why is not None and start is self.event.occurred_at \
                else require_aware(start).astimezone(UTC).isoformat()
        return self._known_counted

    def _start_known(self) -> datetime:
        """When the event became known (``known_at``), else the event itself (read once)."""
        if self._known_start is None:
            self._known_start = _as_datetime(self.data.get("known_at")) \
                or self.event.occurred_at
        return self._known_start

    def _start(self, line: _Line | None) -> datetime:
        """The moment a line's deadline counts from: the event, when it became known, or
        when the assessment it belongs to was completed (the event data's moment, if any)."""
        if line is None or not line.known:
            return self.event.occurred_at
        if line.known != "known_at":
            return _as_datetime(self.data.get(line.known)) or self.event.occurred_at
        if self._known_start is None:
            self._known_start = _as_datetime(self.data.get("known_at")) \
                or self.event.occurred_at
        return self._known_start

    def _form(self, line: _Line) -> tuple[str, str | None]:
        """The deadline form that applies in this context, and its branch's note."""
        if line.branches is None:
            return line.form, None  # type: ignore[return-value]
        ctx = self.ctx
        for test, form, note in line.branches:
            if test is None or test(ctx):
                return form, note
        return "none", None

    def _due(self, form: str, line: _Line, due_date: date | None) -> Due:
        """The deadline a form gives a line's step: once per form, start (the event, or when
        it became known) and due date in one evaluation; everything else a form reads (panels,
        absences, release, review and transfer dates) is the same for every line."""
        known = line.known
        key = (form, known, due_date)
        due = self._dues.get(key)
        if due is None:
            if due_date is None:  # a line's own deadline: its form's function (_due_function)
                return self.table.due_function(form, known)(self)
            # The first time for a key: where a bad known_at / review / transfer date raises.
            start = ((self._known_start if known == "known_at" else None)
                     or self._start(line)) if known \
                else self.event.occurred_at  # _start, inline
            if self._dates is None:
                self._read_dates()
            inputs, start_utc = self._inputs_of(start, known, due_date)
            due = self._dues[key] = form_function(form)(inputs, start_utc, self.calendar)
        return due

    def _read_dates(self) -> None:
        """The review and transfer dates the event carries (read once, at its first deadline:
        where a bad one raises)."""
        data = self.data
        self._dates = (_as_date(data.get("review_date")), _as_date(data.get("transfer_date")))

    def _inputs_of(
        self, start: datetime, known: str | None, due_date: date | None
    ) -> tuple[DeadlineInputs, datetime]:
        """What the deadline forms read besides their start (once per start and due date), and
        the start as aware UTC."""
        inputs_key = (known, due_date)
        found = self._inputs.get(inputs_key)
        if found is None:
            review, transfer = self._dates  # type: ignore[misc]
            found = self._inputs[inputs_key] = (_make(DeadlineInputs, {
                "occurred_at": start, "panels": self.panels,
                "panel_kind": self.table.panel_kind,
                "panel_cadence": self.table.panel_cadence,
                "expected_release_date": self.ctx.after.expected_release_date,
                "review_date": review, "transfer_date": transfer,
                "due_date": due_date, "absences": self.absences(),
                "panel_name": self.table.panel_name,
                "heard": self.heard(start.astimezone(UTC)),
            }), self.occurred_utc if start is self.event.occurred_at
                else start.astimezone(UTC))
        return found

    def _step(self, line: _Line, instance: _Instance, due: Due | None = None) -> None:
        subject = instance[0]
        key = (line.code, self.case_key if line.wide else
               subject.int if isinstance(subject, UUID) else subject)  # _uid, inline
        planned = self.planned
        index = planned.get(key, _UNPLANNED)
        if index is not _UNPLANNED:
            self._add_reason(index, line, instance)
            return
        if line.code in self._by_code:
            existing = self._existing(line, subject)
            if existing is not None and not (line.supersedes_previous
                                             and not _asked_by(existing, line)):
                planned[key] = None
                self._keep(line, instance, existing)
                return
        if line.refresh_only:
            # Nothing open to re-date: this line asks for nothing, and another line of the
            # event may still ask for the step (Wokingham W3's review, raised by a judgement
            # when none is open: ATK28B-9).
            return
        if line.branches is None:
            form, branch_note = line.form, None
        else:
            form, branch_note = self._form(line)
        if due is None:
            due = self._dues.get((form, line.known, instance[3])) \
                or self._due(form, line, instance[3])  # type: ignore[arg-type]
        intents = self.intents
        planned[key] = len(intents)
        if line.branches is None and due[3] is None and instance[1] is line.title:
            intents.append(self._create(line, subject, instance[2], due))
        else:
            intents.append(self._intent("create", line, instance, due, form, branch_note))
        if line.supersedes_previous:
            for step in self.open_steps:
                if step.code == line.code and _uid(step.id) not in self.touched:
                    self._supersede(step, f"{REPLACED} {line.code} ({line.id})")

    def _create(
        self, line: _Line, subject: UUID, assignee: str | None, due: Due
    ) -> StepIntent:
        """``_intent("create", ...)`` for a line's own form and title when the deadline adds
        no note: the line's template with the step's own fields."""
        due_at, urgent, awaiting, _ = due
        trigger, record, at = self._event_reason or self._reason_of_event()
        values = line.intent.copy()  # a copy keeps the template's (the fields') order
        values["subject_id"] = subject
        values["due_at"] = due_at
        values["urgent"] = urgent
        values["awaiting_panel_date"] = awaiting
        values["deadline_form"] = line.form
        values["note"] = line.notes[due_at is None and not awaiting]
        values["assignee_id"] = assignee
        values["reasons"] = ({  # _reason, inline
            "rule": line.id, "pack": line.pack_id, "ref": line.ref, "trigger": trigger,
            "record": record.copy(), "at": at,
            "counted_from": self._known_counted_from(line) if line.known else at},)
        if line.given:
            self._keep_given(line, values["reasons"][0])
        intent = _new(StepIntent)
        _set(intent, "__dict__", values)
        return intent

    def _add_reason(self, index: int | None, line: _Line, instance: _Instance) -> None:
        """A second line asks, in the same event, for a step already planned: one step, both
        reasons, the sooner deadline."""
        if index is None:
            return
        planned = self.intents[index]
        reason = self._reason(line)
        if any(_same_reason(reason, r) for r in planned.reasons):
            return
        form, _ = self._form(line)
        due = self._due(form, line, instance[3])
        changes: dict[str, Any] = {"reasons": (*planned.reasons, reason)}
        if _sooner(due, planned.due_at):
            changes.update(due_at=due.due_at, urgent=due.urgent or planned.urgent,
                           awaiting_panel_date=due.awaiting_panel_date, deadline_form=form)
        self.intents[index] = _evolve(planned, **changes)

    def _keep(self, line: _Line, instance: _Instance, existing: OpenStep) -> None:
        subject_id, step_id = existing.subject_id, existing.id
        self.planned[(existing.code, subject_id.int if isinstance(subject_id, UUID)
                      else subject_id)] = None  # _uid, inline
        step_key = step_id.int if isinstance(step_id, UUID) else step_id
        touched = self.touched
        if step_key in touched:
            return
        anchor = None
        if line.raised:
            anchor = self._raised_at(line, existing)
            if anchor is None:
                return  # no line of this rule raised the open step: nothing to count from
        touched.add(step_key)
        form, branch_note = (line.form, None) if line.branches is None \
            else self._form(line)  # type: ignore[assignment]
        reason = self._reason(line)
        fresh = () if existing.reasons and \
            any(_same_reason(reason, r) for r in existing.reasons) else (reason,)
        if line.refresh_undated_only and existing.due_at is not None:
            pass  # already dated: this act is not what it was waiting for
        elif not line.refresh_due:
            # The same duty asked for again: one open step carrying every reason, due at the
            # sooner of its deadlines (never later than it already was).
            if anchor is not None:
                due = self._due_since(form, anchor)  # type: ignore[arg-type]
            else:
                due = self._dues.get((form, line.known, instance[3])) \
                    or self._due(form, line, instance[3])  # type: ignore[arg-type]
            if line.period is not None:
                due = _not_before_last_completion(due, existing, line.period)
            if due[0] is not None and (existing.due_at is None
                                       or due[0] < _utc(existing.due_at)):  # type: ignore[operator]
                self.intents.append(self._intent(
                    "update_due", line, instance, due, form, branch_note,
                    existing.subject_id, existing.id, fresh))
                return
        if line.refresh_due and not (line.refresh_undated_only and existing.due_at is not None):
            due = self._due(form, line, instance[3])  # type: ignore[arg-type]
            # A point already passed (due now, urgent) never moves an earlier due date later.
            before, now_due = _utc(existing.due_at), due.due_at
            overdue = due.urgent and before is not None and now_due is not None \
                and before <= now_due
            # A step due at once because the point its date gave had passed (release-6m) moves
            # with a changed date: its date stood for that point, which the change moves (the
            # domain's redate keeps a deadline that passed while it stood; attack 32c,
            # ATTACK32C-10, reversing ATTACK30B-13).
            if due.due_at != existing.due_at and not overdue:
                self.intents.append(self._intent(
                    "update_due", line, instance, due, form, branch_note,
                    existing.subject_id, existing.id, fresh))
                return
        kept_due = None if existing.due_at is None else _utc(existing.due_at)
        awaiting = existing.awaiting_panel_date
        if branch_note is not None:
            self.intents.append(self._intent(
                "keep", line, instance, _tuple_new(Due, (kept_due, False, awaiting, None)),
                existing.deadline_form, branch_note, existing.subject_id, existing.id, fresh))
            return
        # _intent("keep", ...), inline: the line's template, the open step's own fields.
        values = line.intent.copy()
        values["action"] = "keep"
        values["title"] = instance[1]
        values["subject_id"] = existing.subject_id
        values["due_at"] = kept_due
        values["awaiting_panel_date"] = awaiting
        values["deadline_form"] = existing.deadline_form
        values["note"] = line.notes[kept_due is None and not awaiting]
        values["assignee_id"] = instance[2]
        values["step_id"] = existing.id
        values["reasons"] = fresh
        intent = _new(StepIntent)
        _set(intent, "__dict__", values)
        self.intents.append(intent)

    def _raised_at(self, line: _Line, existing: OpenStep) -> datetime | None:
        """When the act that raised an open step under ``line``'s rule happened (the latest
        reason of a line of that rule for that code that creates steps): what a ``counts_from
        = "raised"`` line counts from; None when no such line raised it."""
        raising = [r for r in self.table.by_id.get(line.id, ())
                   if r.code == line.code and not r.refresh_only]
        found: datetime | None = None
        for reason in existing.reasons:
            if reason.get("rule") != line.id or not any(
                    reason.get("trigger") in r.trigger for r in raising):
                continue
            at = _moment(reason.get("at"))
            if at is not None and (found is None or at > found):
                found = at
        return found

    def _due_since(self, form: str, start: datetime) -> Due:
        """The deadline a form gives counted from ``start`` (an earlier act than this event),
        never before this event: a point already passed is due now, urgent, saying when it
        passed (as ``release-6m`` does)."""
        due = self._due_from(form, start)
        if due.due_at is not None and due.due_at < self.occurred_utc:
            return Due(self.occurred_utc, True, False,
                       f"Due {form.removeprefix('+')} after {london_text(start)}, which passed on "
                       f"{london_text(due.due_at)}: due now.")
        return due

    def absences(self) -> Sequence[tuple[date, date]]:
        """The case holder's absences long enough to end their week early: spanning at least
        the pack's ``prolonged_absence_working_days`` working days (all of them at 1)."""
        found: Sequence[tuple[date, date]] | None = getattr(self, "_absences", None)
        if found is None:
            found = self._absences = prolonged_absences(
                self.case.case_holder_absences, self.table.prolonged_absence, self.calendar)
        return found

    def _due_from(self, form: str, start: datetime,
                  given: Mapping[str, Any] | None = None) -> Due:
        """A form's deadline counted from ``start`` rather than from this event (the reasons a
        completion left owed, the act that raised a step), with the dates that act gave
        (``given``: a reason's review or transfer date); the other inputs as for the event."""
        inputs = _make(DeadlineInputs, {
            "occurred_at": start, "panels": self.panels, "panel_kind": self.table.panel_kind,
            "panel_cadence": self.table.panel_cadence,
            "expected_release_date": self.ctx.after.expected_release_date,
            "review_date": _given_date(given, "review_date"),
            "transfer_date": _given_date(given, "transfer_date"), "due_date": None,
            "absences": self.absences(), "panel_name": self.table.panel_name,
            "heard": heard_by(self.case, start.astimezone(UTC), None),
        })
        due = form_function(form)(inputs, start.astimezone(UTC), self.calendar)
        if due.due_at is None and not due.awaiting_panel_date \
                and _given_date(given, GIVEN_DATES.get(form, "")) is None:
            # A reason stored before it kept the date its act gave (a review date ...).
            note = asked_again_note(form)
            if note is not None:
                return Due(None, note=note)
        return due

    def carry_over(self) -> None:
        """A step done at T answers what was asked of it up to T: the reasons whose act came
        after T (a change of circumstances on 31 December, a review done on 29 December) stay
        owed (policy-rules: a step raised by an event is about that event). They are asked for
        again as the step of the soonest of their own deadlines (counted from each reason's
        act, or from when it became known), joining the open step of a case-wide code if there
        is one; not for a recurring code (its next occurrence is the duty), a code whose
        completion covers later reasons (``completion_covers_later``), a reason whose line's
        condition (``holds``) no longer holds, nor a completion that was not done (waived)."""
        data = self.data
        reasons = data.get("reasons")
        code = data.get("code")
        if not reasons or str(data.get("status") or "done") != "done" \
                or code in self.table.covers_later:
            return
        done = self.occurred_utc
        # The completing act's place in its instant's order (``act_kind``): a reason of that
        # instant given by an act ranked after it came after it, and stays owed (a plain Very
        # High of a MARP decision's instant, Somerset S10; fix36a).
        rank = act_rank(data.get("act_kind"))
        owed: dict[Any, list[tuple[Due, _Line, Mapping[str, Any], UUID]]] = {}
        for reason in reasons:
            act = max((m for m in (_moment(reason.get("at")), _moment(reason.get("counted_from")))
                       if m is not None), default=None)
            if act is None or act < done or (act == done and reason_before(reason, rank)):
                continue
            line = self._reason_line(str(code), reason)
            if line is None:
                continue
            if line.holds is not None and not line.holds(self._hold_ctx):
                continue
            start = _moment(reason.get("counted_from") if line.known else reason.get("at"))
            form, _ = self._form(line)
            given = reason.get("given")
            due = self._due_from(form, start or act, given if isinstance(given, Mapping)
                                 else None)
            subject = self.case_id if line.case_subject \
                or reason.get("trigger") in CASE_SUBJECT_TRIGGERS \
                else (_as_uuid(_record_id(reason)) or self.case_id)
            key = self.case_key if line.case_keyed else _uid(subject)
            owed.setdefault(key, []).append((due, line, reason, subject))
        for key, items in owed.items():
            items.sort(key=lambda item: (item[0].due_at is None, item[0].due_at or done))
            due, line, _, subject = items[0]
            self._owe(line, key, subject, due, tuple(r for _, _, r, _ in items))

    def _reason_line(self, code: str, reason: Mapping[str, Any]) -> _Line | None:
        """The line of a reason (its rule, for its trigger) that creates plain steps of
        ``code`` one at a time (not a recurrence, a re-dating line or a panel's actions);
        of several (W12, one per domain), the one citing the reason's paragraph."""
        found = [line for line in self.table.by_code.get(code, ())
                 if line.id == reason.get("rule") and reason.get("trigger") in line.trigger
                 and line.plain and line.period is None and not line.refresh_only]
        return next((line for line in found if line.ref == reason.get("ref")),
                    found[0] if found else None)

    def _owe(self, line: _Line, key: Any, subject: UUID, due: Due,
             reasons: tuple[Mapping[str, Any], ...]) -> None:
        """Ask again for a step of ``line`` for the owed ``reasons`` (see :meth:`carry_over`)."""
        planned, done = self.planned, london_text(self.occurred_utc)
        index = planned.get((line.code, key), _UNPLANNED)
        if index is not _UNPLANNED:
            if index is not None:  # planned in this evaluation: one step, every reason
                intent = self.intents[index]
                changes: dict[str, Any] = {"reasons": (*intent.reasons, *reasons)}
                if _sooner(due, intent.due_at):
                    changes.update(due_at=due.due_at, urgent=due.urgent,
                                   awaiting_panel_date=due.awaiting_panel_date)
                self.intents[index] = _evolve(intent, **changes)
            return
        form, _ = self._form(line)
        instance = (subject, line.title, None, None)
        existing = self._existing(line, subject)
        if existing is not None and _uid(existing.id) not in self.touched:
            planned[(line.code, key)] = None
            self.touched.add(_uid(existing.id))
            action: Literal["keep", "update_due"] = "update_due" \
                if _sooner(due, _utc(existing.due_at)) else "keep"
            kept = due if action == "update_due" else Due(
                _utc(existing.due_at), False, existing.awaiting_panel_date)
            self.intents.append(self._intent(
                action, line, instance, kept, form if action == "update_due"
                else existing.deadline_form, None, existing.subject_id, existing.id, reasons))
            return
        planned[(line.code, key)] = len(self.intents)
        intent = self._intent("create", line, instance, due, form, None, reasons=reasons)
        note = f"Still owed: this step was last done {done}, before the act that asks for it."
        self.intents.append(_evolve(intent, note=f"{intent.note}\n{note}" if intent.note
                                    else note))

    def _intent(
        self, action: Literal["create", "keep", "update_due"], line: _Line,
        instance: _Instance, due: Due, form: str | None, branch_note: str | None,
        subject_id: UUID | None = None, step_id: UUID | None = None,
        reasons: tuple[Mapping[str, Any], ...] | None = None,
    ) -> StepIntent:
        due_at, urgent, awaiting, due_note = due
        undated = due_at is None and not awaiting
        if due_note is None and branch_note is None:
            note = line.notes[undated]
        elif due_note is None:
            try:
                note = line.note_cache[(branch_note, undated)]
            except KeyError:
                note = line.note_cache[(branch_note, undated)] = \
                    _note(line.note, branch_note, None, undated)
        else:
            note = _note(line.note, branch_note, due_note, undated)
        values = line.intent.copy()  # _make, inline, from the line's template
        values["action"] = action
        values["title"] = instance[1]
        values["subject_id"] = instance[0] if subject_id is None else subject_id
        values["due_at"] = due_at
        values["urgent"] = urgent
        values["awaiting_panel_date"] = awaiting
        values["deadline_form"] = form
        values["note"] = note
        values["assignee_id"] = instance[2]
        values["step_id"] = step_id
        values["reasons"] = (self._reason(line),) if reasons is None else reasons
        intent = _new(StepIntent)
        _set(intent, "__dict__", values)
        return intent

    def recur(self) -> None:
        """On completion of a recurring step: the next occurrence, while its rule holds."""
        data = self.data
        for line in self.table.by_id.get(str(data.get("rule_id")), ()):
            if line.code != data.get("code") or line.period is None:
                continue
            if line.holds is not None and not line.holds(self._hold_ctx):
                return
            due = self._next_occurrence(line.period)
            self._step(line, (self.event.subject_id, line.title, None, None), due)
            return

    def _next_occurrence(self, period: str) -> Due:
        """Due one period after the act that completed the last occurrence (the completion's
        ``occurred_at``), whether it was done early or late (policy-rules.md, ``every 1m``,
        corrected): an early review never pushes the next one out, a late one never leaves
        the next already overdue. Counted from the act, never the wall clock (back-filling).

        A waiver is not that act (Somerset 4.5 "at least monthly"): the occurrence after a
        waived one keeps the waived one's due date, one period after the last real completion
        (or the rating that started the cycle), so it is already overdue when the waived one
        was; without a due date it is due at once. Waiving month after month never leaves a
        case without a review and without an overdue flag."""
        if self.data.get("waived"):
            kept = _as_datetime(self.data.get("due_at"))
            return Due(kept or self.event.occurred_at, note=WAIVED_OCCURRENCE_NOTE)
        return Due(add_period(self.event.occurred_at, period))

    def redate_awaiting_panel(self, not_before: datetime | None = None) -> None:
        """A panel was scheduled, moved or cancelled: every open ``next-panel`` step is due at
        the next panel of the pack's kind at or after the act that asked for it (its earliest
        reason: ``counted_from`` for a line counted from when it became known), among the
        panels as they now stand, sooner or later than its date so far; one already sat makes
        it overdue (the deadline counts from the event, never the wall clock). With none, it
        waits (a cadence's meeting day, else no date). A step without reasons (made before
        reasons existed) only moves to a sooner panel, as before. ``not_before``: counted from
        no earlier than it (:func:`next_panel_redates`)."""
        kind, cadence = self.table.panel_kind, self.table.panel_cadence
        booked = self.case.agenda_panel_ids
        heard_at_event = heard_by(self.case, self.event.occurred_at.astimezone(UTC), None)
        fallback = next_panel(self.panels, kind, self.event.occurred_at, booked, heard_at_event)
        for step in self.open_steps:
            if step.deadline_form != "next-panel" or _uid(step.id) in self.touched:
                continue
            start = self._next_panel_start(step)
            if not_before is not None:
                start = not_before if start is None else max(start, not_before)
            # A step about an agenda item is due at that item's sitting (ATTACK37-7).
            own = self.item_panels(step.subject_id)
            if start is not None:
                due = next_panel_deadline(self.panels, kind, cadence, start, self.calendar,
                                          own or booked, name=self.table.panel_name,
                                          heard=self._heard_for(step, start))
            else:
                found = fallback if not own else next_panel(
                    self.panels, kind, self.event.occurred_at, own, heard_at_event)
                if found is None:
                    continue
                due = Due(require_aware(found.scheduled_for).astimezone(UTC))
                if step.due_at is not None and not step.awaiting_panel_date \
                        and _utc(step.due_at) <= due.due_at:  # type: ignore[operator]
                    continue
            if (_utc(step.due_at), step.awaiting_panel_date) == (due.due_at,
                                                                 due.awaiting_panel_date):
                continue
            self.touched.add(_uid(step.id))
            line = self.table.line_of(step)
            when = due.due_at
            note = due.note if due.awaiting_panel_date or when is None else (
                f"Next {self.table.panel_name or kind or 'panel'} scheduled for "
                f"{london_text(when)}")
            self.intents.append(StepIntent(
                action="update_due", rule_id=step.rule_id, code=step.code,
                title=line.title if line else step.code, actor=step.actor,
                subject_id=step.subject_id, due_at=when, urgent=False,
                awaiting_panel_date=due.awaiting_panel_date, policy_pack=self.table.pack_id,
                policy_version=self.table.version,
                policy_ref=line.ref if line else "", deadline_form=step.deadline_form,
                note=note, step_id=step.id,
            ))

    def item_panels(self, subject: Any) -> frozenset[UUID]:
        """The panel whose agenda item ``subject`` is (undecided, not withdrawn), as the one
        panel a ``next-panel`` step about that item is due at (Somerset S48, 7.1.1 "The case
        holder will attend MARP to discuss the case": the MARP of that agenda item; ATTACK37-7:
        a case on two MARPs' agendas owed the later item's attendance at the earlier sitting).
        An item being put on an agenda (``panel_item_added``) is its event's panel. Empty for a
        subject that is no such item."""
        event = self.event
        if event.trigger == "panel_item_added" and subject == event.subject_id:
            panel = _as_uuid(self.data.get("panel_id"))
            if panel is not None:
                return frozenset((panel,))
        case = self.case
        own = case.agenda_item_panels.get(subject) if case.agenda_item_panels else None
        if own is None:
            return frozenset()
        return frozenset(p.id for p in self.panels
                         if p.id == own and p.id in case.agenda_panel_ids
                         and p.id not in case.decided_panels)

    def heard(self, start: datetime) -> frozenset[UUID]:
        """:func:`heard_by` for a step this event asks for, counted from ``start``."""
        if not self.case.decided_panels:
            return frozenset()
        return heard_by(self.case, start, {"trigger": self.event.trigger,
                                           "record": self._reason_of_event()[1]})

    def _heard_for(self, step: OpenStep, start: datetime) -> frozenset[UUID]:
        """:func:`heard_by` for an open step counted from ``start``: judged by its earliest
        reason dated then (the act that asked for it)."""
        if not self.case.decided_panels:
            return frozenset()
        first = next((r for r in step.reasons
                      if (m := _moment(r.get("at"))) is not None and m.astimezone(UTC) == start),
                     None)
        return heard_by(self.case, start, first)

    def _next_panel_start(self, step: OpenStep) -> datetime | None:
        """When a ``next-panel`` step's deadline counts from: its earliest reason's act (or,
        for a line counted from when it became known, that moment); None without reasons."""
        starts = []
        for reason in step.reasons:
            line = self._reason_line(step.code, reason) or self.table.line_of(step)
            known = line is not None and line.known
            moment = _moment(reason.get("counted_from") if known else reason.get("at")) \
                or _moment(reason.get("at"))
            if moment is not None:
                starts.append(moment.astimezone(UTC))
        return min(starts, default=None)

    def supersede_for_undone_referral(self) -> None:
        """A referral withdrawn or declined: the open steps about it (subject) are not needed."""
        event = self.event
        status = str(event.data.get("to_status") or "")
        if status not in UNDONE_REFERRAL_STATUSES:
            return
        undone = str(event.subject_id)
        # The referral, and the steps it had done (a completed request gave a hold its reason).
        gone = {undone, *(str(i) for i in event.data.get("undone_records") or ())}
        for step in self.open_steps:
            if _uid(step.id) in self.touched:
                continue
            about = tuple(r for r in step.reasons if _record_id(r) in gone)
            if step.subject_id != event.subject_id and not about:
                continue
            if any(_record_id(r) not in gone for r in step.reasons):
                # Asked for for other reasons too: it stays open, without this one.
                self.touched.add(_uid(step.id))
                self.intents.append(StepIntent(
                    action="drop_reason", rule_id=step.rule_id, code=step.code,
                    title=step.code, actor=step.actor, subject_id=step.subject_id,
                    due_at=_utc(step.due_at), urgent=False,
                    awaiting_panel_date=step.awaiting_panel_date,
                    policy_pack=self.table.pack_id,
                    policy_ref="", deadline_form=step.deadline_form,
                    note=f"No longer asked for by the referral {undone}: it was {status}",
                    step_id=step.id, reasons=about,
                ))
                continue
            self._supersede(step, f"the referral it is about was {status}")

    @property
    def _hold_ctx(self) -> Context:
        if self._hold is None:
            ctx = self.ctx
            self._hold = _context_of(ctx.event, ctx.after, ctx.after, ctx.matrix_level)
        return self._hold

    def supersede_unjustified(self) -> None:
        """Supersede open steps that only a condition that no longer holds justified."""
        case_key = self.case_key
        touched = self.touched
        lapsing = self.table.lapsing
        for step in self.open_steps:
            if step.code not in lapsing:
                continue  # no line of its code has a ``holds``: justified whatever it says
            step_id, subject_id = step.id, step.subject_id
            if (step_id.int if isinstance(step_id, UUID) else step_id) in touched:  # _uid
                continue
            kind = "case" if (subject_id.int if isinstance(subject_id, UUID) else subject_id) \
                == case_key else "event"
            if not self._justified(step, kind):
                self._supersede(step, LAPSED)

    def _justified(self, step: OpenStep, kind: str) -> bool:
        """Whether any reason the step is open for still holds (a step without recorded
        reasons: its own rule's lines for its kind of subject)."""
        own, others = self._own_and_others(step, kind)
        if not own:
            return True  # not a line this pack knows for this subject: leave it alone
        if own[0].holds is None:
            return True
        hold_ctx = self._hold_ctx
        if any(r.holds is None or r.holds(hold_ctx) for r in own):
            return True
        return any(r.holds is not None and r.holds(hold_ctx) for r in others)

    def _own_and_others(
        self, step: OpenStep, kind: str
    ) -> tuple[tuple[_Line, ...], tuple[_Line, ...]]:
        """The lines that asked for a step (by its reasons: each reason's rule line for that
        trigger, or all its lines for a recurrence; without reasons: its own rule's lines for
        its kind of subject), and the other lines of its code that have a ``holds``."""
        if step.reasons:
            pairs = tuple((r.get("rule"), r.get("trigger")) for r in step.reasons)
            cacheable = all(type(a) is str and type(b) is str for a, b in pairs)
            key: tuple[Any, ...] = (step.code, pairs)
        else:
            cacheable = type(step.rule_id) is str
            key = (step.code, kind, step.rule_id)
        table = self.table
        if cacheable:
            found = table.justify.get(key)
            if found is not None:
                return found
        every = table.by_code.get(step.code, ())
        own: list[_Line] = []
        if step.reasons:
            for reason in step.reasons:
                # The rule's line for that trigger; a recurrence (step_completed): its lines.
                same = [r for r in every if r.id == reason.get("rule") and not r.refresh_only]
                own += [r for r in same if reason.get("trigger") in r.trigger] or same
            lines = every
        else:
            lines = tuple(r for r in every if kind in r.subject_kinds)
            own = [r for r in lines if r.id == step.rule_id and not r.refresh_only]
        others = tuple(r for r in lines if r not in own and r.holds is not None)
        found = (tuple(own), others)
        if cacheable and len(table.justify) < 4096:
            table.justify[key] = found
        return found

    def _supersede(self, step: OpenStep, reason: str) -> None:
        self.touched.add(_uid(step.id))
        line = self.table.line_of(step)
        self.intents.append(StepIntent(
            action="supersede", rule_id=step.rule_id, code=step.code,
            title=line.title if line else step.code, actor=step.actor,
            subject_id=step.subject_id, due_at=_utc(step.due_at), urgent=False,
            awaiting_panel_date=step.awaiting_panel_date, policy_pack=self.table.pack_id,
            policy_version=self.table.version,
            policy_ref=line.ref if line else "", deadline_form=step.deadline_form,
            note=f"Superseded: {reason}", step_id=step.id,
        ))


def _note(
    rule_note: str | None, branch_note: str | None, due_note: str | None, undated: bool
) -> str | None:
    """A step's note: the line's, its deadline branch's and its deadline's, and why an undated
    step has no deadline (unless its branch or deadline already says why: W9's "the deadline
    is set when it is countersigned" is not "no timescale"; attack pass 9, A9-23)."""
    notes = [n for n in (rule_note, branch_note, due_note) if n]
    if undated and not branch_note and not due_note and not any(
            "timescale" in n.lower() for n in notes):
        notes.append(NO_TIMESCALE_NOTE)  # every undated step says why it has no deadline
    return "\n".join(notes) or None


def _asked_by(step: OpenStep, line: _Line) -> bool:
    """Whether an open step is one this line asked for (its rule, and the line's trigger and
    paragraph in its first reason): a line that replaces earlier steps of its code (a new review
    date; the AssetPlus a case that became statutory needs in place of its Fact Finding; the
    release's handover in place of the custody entry's, Somerset S27 14.4/14.3) merges only into
    its own step, and replaces another line's."""
    if step.rule_id != line.id:
        return False
    if not step.reasons:
        return True
    first = step.reasons[0]
    return first.get("trigger") in line.trigger and first.get("ref", line.ref) == line.ref


def _moment(value: Any) -> datetime | None:
    """A reason's instant (``at``, ``counted_from``: ISO 8601 with an offset) as an aware
    datetime; None when absent or unreadable (a reason stored before it carried one)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _not_before_last_completion(due: Due, existing: OpenStep, period: str) -> Due:
    """A recurring step's occurrence is due one period after the act that completed the last
    one (policy-rules ``every 1m``): another act asking for it (a back-dated re-confirmation of
    the rating) never pulls it before that point."""
    floor = None
    for reason in existing.reasons:
        if reason.get("trigger") == "step_completed":
            at = _moment(reason.get("at"))
            if at is not None:
                point = add_period(at, period).astimezone(UTC)
                floor = point if floor is None or point > floor else floor
    if floor is None or due.due_at is None or due.due_at >= floor:
        return due
    return Due(floor, due.urgent, due.awaiting_panel_date, due.note)


def _record_id(reason: Mapping[str, Any]) -> str | None:
    record = reason.get("record") or {}
    return None if record.get("id") is None else str(record["id"])


def _has_reason(reasons: tuple[Mapping[str, Any], ...], reason: Mapping[str, Any]) -> bool:
    """Whether a step's reasons already hold this one (:func:`_same_reason`)."""
    return any(_same_reason(reason, r) for r in reasons)


def _same_reason(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """The same rule line for the same triggering record."""
    return all(one.get(k) == other.get(k) for k in ("rule", "trigger", "ref")) and \
        _record_id(one) == _record_id(other)


def _sooner(due: Due, current: datetime | None) -> bool:
    """Whether a newly computed deadline is sooner than the step's current one (a dated
    deadline is sooner than none, or than one still waiting for a panel date)."""
    if due.due_at is None:
        return False
    return current is None or due.due_at < current

