"""The pure policy engine: (event, case snapshot, pack, calendar, panels) -> Evaluation.

No database, no HTTP, no clock (``occurred_at`` comes with the event); deterministic. Order of
work: derive the case after the event, run the pack's checks (any violation: nothing else is
returned), plan the steps of every matching rule line (create, or keep an open one with the same
code and subject, or the case's one open step for a case-wide duty: the kept step gains the
line's reason and the sooner deadline), recurrences on completion, re-dating on a newly scheduled
panel, taking a withdrawn or declined referral's reasons off the open steps (superseding those
left with none), and finally supersede open steps none of whose reasons still holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from app.workflows.calendar import WorkingCalendar, london_date, require_aware
from app.workflows.conditions import Context
from app.workflows.deadlines import (
    NO_TIMESCALE_NOTE,
    DeadlineInputs,
    Due,
    add_period,
    compute_due,
    next_panel,
)
from app.workflows.packs import Check, Pack, Rule, contact_level_for, state_context
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
    "referral_transition": "referral", "panel_decision": "panel_item",
    "panel_scheduled": "panel", "step_completed": "step",
}


def evaluate(
    event: WorkflowEvent,
    case: CaseSnapshot,
    pack: Pack,
    calendar: WorkingCalendar,
    panels: Sequence[ScheduledPanel] = (),
) -> Evaluation:
    """Evaluate one event against a case under a pack: violations, or step intents and state."""
    require_aware(event.occurred_at, "occurred_at")
    ctx = _context(event, case, pack)
    ratings_after = {d: ctx.after.ratings.get(d) for d in DOMAINS}
    violations, acknowledged = _run_checks(ctx, pack)
    if violations:
        before_ctx = state_context(case, event)
        return Evaluation(
            violations=tuple(violations), intents=(), matrix_level=ctx.matrix_level,
            ratings_after={d: case.ratings.get(d) for d in DOMAINS},
            on_register_after=case.on_register, register_change=None,
            contact_level=contact_level_for(pack, before_ctx),
        )
    plan = _Plan(ctx, pack, calendar, panels)
    for rule in pack.rules_for(event.trigger):
        if rule.when is None or rule.when(ctx):
            plan.apply(rule)
    for check in acknowledged:
        if check.ack_rule is not None:
            plan.apply(check.ack_rule)
    if event.trigger == "step_completed":
        plan.recur()
    if event.trigger == "panel_scheduled":
        plan.redate_awaiting_panel()
    if event.trigger == "referral_transition":
        plan.supersede_for_undone_referral()
    plan.supersede_unjustified()
    on_register = ctx.after.on_register
    change: Literal["registered", "deregistered"] | None = None
    if on_register != case.on_register:
        change = "registered" if on_register else "deregistered"
    return Evaluation(
        violations=(), intents=tuple(plan.intents), matrix_level=ctx.matrix_level,
        ratings_after=ratings_after, on_register_after=on_register, register_change=change,
        contact_level=contact_level_for(pack, state_context(ctx.after, event)),
        acknowledgements=tuple(c.id for c in acknowledged),
    )


# --- the case before and after ---------------------------------------------------------------


def _context(event: WorkflowEvent, case: CaseSnapshot, pack: Pack) -> Context:
    before, after = _before_after(event, case)
    level = None
    data = event.data
    if event.trigger == "judgement_recorded" and data.get("domain") == "rosh" and pack.matrix:
        level = pack.matrix.level(data.get("impact"), data.get("likelihood"))
    if pack.register_def is not None:
        on_register = pack.register_def.when(state_context(after, event))
        after = replace(after, on_register=on_register)
    return Context(event, before, after, level)


def _before_after(event: WorkflowEvent, case: CaseSnapshot) -> tuple[CaseSnapshot, CaseSnapshot]:
    data = event.data
    if event.trigger == "judgement_recorded" and data.get("domain") in DOMAINS:
        ratings = {**case.ratings, str(data["domain"]): _level(data.get("level"))}
        return case, replace(case, ratings=ratings)
    if event.trigger == "panel_decision":
        ratings = dict(case.ratings)
        for domain in ("rosh", "swb"):
            if data.get(f"{domain}_level") is not None:
                ratings[domain] = _level(data[f"{domain}_level"])
        after = replace(case, ratings=ratings)
        if data.get("mappa_level") is not None:
            after = replace(after, mappa_level=_as_int(data["mappa_level"]))
        return case, after
    if event.trigger == "case_changed":
        return _apply_changes(case, data.get("changes") or {})
    if event.trigger.startswith("assessment_") and isinstance(data.get("scores"), Mapping):
        return case, replace(case, scores={**case.scores, **data["scores"]})
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
    return (replace(case, **old, facts=old_facts), replace(case, **new, facts=new_facts))


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


def _run_checks(ctx: Context, pack: Pack) -> tuple[list[Violation], list[Check]]:
    violations: list[Violation] = []
    acknowledged: list[Check] = []
    for check in pack.checks:
        if ctx.event.trigger not in check.trigger or not check.when(ctx):
            continue
        if check.requires is not None and _present(ctx.event.data.get(check.requires)):
            if check.acknowledge is not None:
                acknowledged.append(check)
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


@dataclass(frozen=True)
class _Instance:
    subject_id: UUID
    title: str
    assignee_id: str | None = None
    due_date: date | None = None


class _Plan:
    """Collects intents for one evaluation, never planning the same (code, subject) twice."""

    def __init__(
        self, ctx: Context, pack: Pack, calendar: WorkingCalendar,
        panels: Sequence[ScheduledPanel],
    ) -> None:
        self.ctx, self.pack, self.calendar, self.panels = ctx, pack, calendar, panels
        self.case = ctx.before
        self.intents: list[StepIntent] = []
        # (code, duty subject) -> index of the create intent planned for it (None: kept/none).
        self.planned: dict[tuple[str, UUID], int | None] = {}
        self.touched: set[UUID] = set()
        self._event_reason: tuple[str, dict[str, str], str] | None = None
        done = _as_uuid(ctx.event.data.get("step_id")) if ctx.event.trigger == "step_completed" \
            else None
        self.completed: UUID | None = done
        self.open_steps = tuple(s for s in self.case.open_steps if s.id != done)

    def apply(self, rule: Rule) -> None:
        """Plan the step(s) of a matching rule line."""
        for instance in self._instances(rule):
            self._step(rule, instance)

    def _instances(self, rule: Rule) -> Iterator[_Instance]:
        event = self.ctx.event
        if rule.subject.startswith("rating:"):
            rating = _as_uuid(self.case.rating_ids.get(rule.subject.removeprefix("rating:")))
            if rating is not None:
                yield _Instance(rating, rule.title)
            return
        if rule.for_each != "actions":
            subject = self.case.case_id if rule.subject == "case" else event.subject_id
            named = event.data.get(rule.assignee_from) if rule.assignee_from else None
            yield _Instance(subject, rule.title, str(named) if named else None)
            return
        for index, action in enumerate(event.data.get("actions") or ()):
            subject = _as_uuid(action.get("subject_id")) or uuid5(
                NAMESPACE_URL, f"yjrisk:{event.subject_id}:action:{index}"
            )
            description = str(action.get("description") or "").strip()
            title = rule.title.replace("{description}", description)[:300]
            owner = action.get("owner_id")
            yield _Instance(subject, title, None if owner is None else str(owner),
                            _as_date(action.get("due_date")))

    def _case_wide(self, rule: Rule) -> bool:
        """One duty per case for this code (``dedupe = "case"`` on any of its lines)."""
        return rule.dedupe == "case" or self.pack.case_wide(rule.code)

    def _key(self, rule: Rule, subject: UUID) -> tuple[str, UUID]:
        if self._case_wide(rule) and not rule.supersedes_previous:
            return rule.code, self.case.case_id
        return rule.code, subject

    def _existing(self, rule: Rule, subject: UUID) -> OpenStep | None:
        same = [s for s in self.open_steps if s.code == rule.code]
        for step in same:
            if step.subject_id == subject:
                return step
        # A line that replaces earlier steps of its code (a new review date) never merges.
        wide = self._case_wide(rule) and not rule.supersedes_previous
        return same[0] if same and wide else None

    def _reason(self, rule: Rule) -> dict[str, Any]:
        """Why a line asks for its step: rule, paragraph, trigger and triggering record."""
        if self._event_reason is None:  # the same for every line of this evaluation
            event = self.ctx.event
            record_id = _as_uuid(event.data.get("record_id")) or event.subject_id
            self._event_reason = (
                event.trigger,
                {"type": TRIGGER_RECORD.get(event.trigger, event.trigger), "id": str(record_id)},
                require_aware(event.occurred_at).astimezone(UTC).isoformat(),
            )
        trigger, record, at = self._event_reason
        # ``counted_from``: the moment its deadline counts from (``known_at`` for lines with
        # ``counts_from = "known"``).
        counted = at if rule.counts_from != "known" else \
            require_aware(self._start(rule)).astimezone(UTC).isoformat()
        return {"rule": rule.id, "pack": self.pack.id, "ref": rule.ref, "trigger": trigger,
                "record": dict(record), "at": at, "counted_from": counted}

    def _start(self, rule: Rule | None) -> datetime:
        """The moment a line's deadline counts from: the event, or when it became known."""
        start = self.ctx.event.occurred_at
        if rule is not None and rule.counts_from == "known":
            start = _as_datetime(self.ctx.event.data.get("known_at")) or start
        return start

    def _step(self, rule: Rule, instance: _Instance, due: Due | None = None) -> None:
        key = self._key(rule, instance.subject_id)
        if key in self.planned:
            self._add_reason(self.planned[key], rule, instance)
            return
        self.planned[key] = None
        existing = self._existing(rule, instance.subject_id)
        if existing is None and rule.refresh_only:
            return
        if existing is not None:
            self._keep(rule, instance, existing)
            return
        form = rule.form_for(self.ctx)
        due = due or compute_due(form, self._inputs(instance, rule), self.calendar)
        self.planned[key] = len(self.intents)
        self.intents.append(self._intent("create", rule, instance, due, form))
        if rule.supersedes_previous:
            for step in self.open_steps:
                if step.code == rule.code and step.id not in self.touched:
                    self._supersede(step, f"replaced by a new {rule.code} ({rule.id})")

    def _add_reason(self, index: int | None, rule: Rule, instance: _Instance) -> None:
        """A second line asks, in the same event, for a step already planned: one step, both
        reasons, the sooner deadline."""
        if index is None:
            return
        planned = self.intents[index]
        reason = self._reason(rule)
        if any(_same_reason(reason, r) for r in planned.reasons):
            return
        form = rule.form_for(self.ctx)
        due = compute_due(form, self._inputs(instance, rule), self.calendar)
        merged = replace(planned, reasons=(*planned.reasons, reason))
        if _sooner(due, planned.due_at):
            merged = replace(merged, due_at=due.due_at, urgent=due.urgent or planned.urgent,
                             awaiting_panel_date=due.awaiting_panel_date, deadline_form=form)
        self.intents[index] = merged

    def _keep(self, rule: Rule, instance: _Instance, existing: OpenStep) -> None:
        self.planned[(existing.code, existing.subject_id)] = None
        if existing.id in self.touched:
            return
        self.touched.add(existing.id)
        form = rule.form_for(self.ctx)
        reason = self._reason(rule)
        fresh = () if any(_same_reason(reason, r) for r in existing.reasons) else (reason,)
        if rule.refresh_undated_only and existing.due_at is not None:
            pass  # already dated: this act is not what it was waiting for
        elif not rule.refresh_due:
            # The same duty asked for again: one open step carrying every reason, due at the
            # sooner of its deadlines (never later than it already was).
            due = compute_due(form, self._inputs(instance, rule), self.calendar)
            if _sooner(due, _utc(existing.due_at)):
                self.intents.append(replace(
                    self._intent("update_due", rule, instance, due, form),
                    subject_id=existing.subject_id, step_id=existing.id, reasons=fresh,
                ))
                return
        if rule.refresh_due and not (rule.refresh_undated_only and existing.due_at is not None):
            due = compute_due(form, self._inputs(instance, rule), self.calendar)
            # A point already passed (due now, urgent) never moves an earlier due date later.
            before, now_due = _utc(existing.due_at), due.due_at
            overdue = due.urgent and before is not None and now_due is not None \
                and before <= now_due
            if due.due_at != existing.due_at and not overdue:
                self.intents.append(replace(
                    self._intent("update_due", rule, instance, due, form),
                    subject_id=existing.subject_id, step_id=existing.id, reasons=fresh,
                ))
                return
        kept = Due(_utc(existing.due_at), awaiting_panel_date=existing.awaiting_panel_date)
        self.intents.append(replace(
            self._intent("keep", rule, instance, kept, existing.deadline_form),
            subject_id=existing.subject_id, step_id=existing.id, reasons=fresh,
        ))

    def _inputs(self, instance: _Instance, rule: Rule | None = None) -> DeadlineInputs:
        data = self.ctx.event.data
        return DeadlineInputs(
            occurred_at=self._start(rule), panels=self.panels,
            absences=self.case.case_holder_absences,
            panel_kind=self.pack.panel_kind,
            panel_cadence=self.pack.panel(self.pack.panel_kind).meets
            if self.pack.panel_kind else None,
            expected_release_date=self.ctx.after.expected_release_date,
            review_date=_as_date(data.get("review_date")),
            transfer_date=_as_date(data.get("transfer_date")),
            due_date=instance.due_date,
        )

    def _intent(
        self, action: Literal["create", "keep", "supersede", "update_due"], rule: Rule,
        instance: _Instance, due: Due, form: str | None,
    ) -> StepIntent:
        notes = [n for n in (rule.note, rule.branch_note(self.ctx), due.note) if n]
        if due.due_at is None and not due.awaiting_panel_date \
                and not any("timescale" in n.lower() for n in notes):
            notes.append(NO_TIMESCALE_NOTE)  # every undated step says why it has no deadline
        note = "\n".join(notes) or None
        return StepIntent(
            action=action, rule_id=rule.id, code=rule.code, title=instance.title,
            actor=rule.actor, subject_id=instance.subject_id, due_at=due.due_at,
            urgent=due.urgent, awaiting_panel_date=due.awaiting_panel_date,
            policy_pack=self.pack.id, policy_version=self.pack.version, policy_ref=rule.ref,
            deadline_form=form,
            recurrence=rule.period, note=note, assignee_id=instance.assignee_id,
            reasons=(self._reason(rule),),
        )

    def recur(self) -> None:
        """On completion of a recurring step: the next occurrence, while its rule holds."""
        data = self.ctx.event.data
        for rule in self.pack.lines(str(data.get("rule_id"))):
            if rule.code != data.get("code") or rule.period is None:
                continue
            if rule.holds is not None and not rule.holds(self._hold_ctx):
                return
            due = self._next_occurrence(rule.period)
            instance = _Instance(self.ctx.event.subject_id, rule.title)
            self._step(rule, instance, due)
            return

    def _next_occurrence(self, period: str) -> Due:
        """Due one period after the act that completed the last occurrence (the completion's
        ``occurred_at``), whether it was done early or late (policy-rules.md, ``every 1m``,
        corrected): an early review never pushes the next one out, a late one never leaves
        the next already overdue. Counted from the act, never the wall clock (back-filling)."""
        return Due(add_period(self.ctx.event.occurred_at, period))

    def redate_awaiting_panel(self) -> None:
        """A panel was scheduled: ``next-panel`` steps get its date if it is now the next one."""
        panel = next_panel(self.panels, self.pack.panel_kind, self.ctx.event.occurred_at)
        if panel is None:
            return
        when = require_aware(panel.scheduled_for).astimezone(UTC)
        for step in self.open_steps:
            if step.deadline_form != "next-panel" or step.id in self.touched:
                continue
            # A date from the panel's cadence (awaiting_panel_date) is provisional: the first
            # panel booked replaces it; a booked date moves only to an earlier panel.
            if step.due_at is not None and step.due_at <= when \
                    and not step.awaiting_panel_date:
                continue
            self.touched.add(step.id)
            rule = self._rule_of(step)
            self.intents.append(StepIntent(
                action="update_due", rule_id=step.rule_id, code=step.code,
                title=rule.title if rule else step.code, actor=step.actor,
                subject_id=step.subject_id, due_at=when, urgent=False,
                awaiting_panel_date=False, policy_pack=self.pack.id,
                policy_version=self.pack.version,
                policy_ref=rule.ref if rule else "", deadline_form=step.deadline_form,
                note=f"Next {panel.kind} scheduled for {when.isoformat()}", step_id=step.id,
            ))

    def supersede_for_undone_referral(self) -> None:
        """A referral withdrawn or declined: the open steps about it (subject) are not needed."""
        event = self.ctx.event
        status = str(event.data.get("to_status") or "")
        if status not in UNDONE_REFERRAL_STATUSES:
            return
        undone = str(event.subject_id)
        # The referral, and the steps it had done (a completed request gave a hold its reason).
        gone = {undone, *(str(i) for i in event.data.get("undone_records") or ())}
        for step in self.open_steps:
            if step.id in self.touched:
                continue
            about = tuple(r for r in step.reasons if _record_id(r) in gone)
            if step.subject_id != event.subject_id and not about:
                continue
            if any(_record_id(r) not in gone for r in step.reasons):
                # Asked for for other reasons too: it stays open, without this one.
                self.touched.add(step.id)
                self.intents.append(StepIntent(
                    action="drop_reason", rule_id=step.rule_id, code=step.code,
                    title=step.code, actor=step.actor, subject_id=step.subject_id,
                    due_at=_utc(step.due_at), urgent=False,
                    awaiting_panel_date=step.awaiting_panel_date, policy_pack=self.pack.id,
                    policy_ref="", deadline_form=step.deadline_form,
                    note=f"No longer asked for by the referral {undone}: it was {status}",
                    step_id=step.id, reasons=about,
                ))
                continue
            self._supersede(step, f"the referral it is about was {status}")

    @property
    def _hold_ctx(self) -> Context:
        return Context(self.ctx.event, self.ctx.after, self.ctx.after, self.ctx.matrix_level)

    def _rule_of(self, step: OpenStep) -> Rule | None:
        lines = [r for r in self.pack.lines(step.rule_id) if r.code == step.code]
        return lines[0] if lines else None

    def supersede_unjustified(self) -> None:
        """Supersede open steps that only a condition that no longer holds justified."""
        hold_ctx = self._hold_ctx
        case_id = self.case.case_id
        for step in self.open_steps:
            if step.id in self.touched:
                continue
            kind = "case" if step.subject_id == case_id else "event"
            if not self._justified(step, kind, hold_ctx):
                self._supersede(step, "the condition that required it no longer holds")

    def _justified(self, step: OpenStep, kind: str, hold_ctx: Context) -> bool:
        """Whether any reason the step is open for still holds (a step without recorded
        reasons: its own rule's lines for its kind of subject)."""
        every = self.pack.lines_for_code(step.code)
        own: list[Rule] = []
        if step.reasons:
            for reason in step.reasons:
                # The rule's line for that trigger; a recurrence (step_completed): its lines.
                same = [r for r in every if r.id == reason.get("rule") and not r.refresh_only]
                own += [r for r in same if reason.get("trigger") in r.trigger] or same
            lines = every
        else:
            lines = tuple(r for r in every if kind in r.subject_kinds)
            own = [r for r in lines if r.id == step.rule_id and not r.refresh_only]
        if not own:
            return True  # not a line this pack knows for this subject: leave it alone
        if any(r.holds is None or r.holds(hold_ctx) for r in own):
            return True
        others = [r for r in lines if r not in own and r.holds is not None]
        return any(r.holds is not None and r.holds(hold_ctx) for r in others)

    def _supersede(self, step: OpenStep, reason: str) -> None:
        self.touched.add(step.id)
        rule = self._rule_of(step)
        self.intents.append(StepIntent(
            action="supersede", rule_id=step.rule_id, code=step.code,
            title=rule.title if rule else step.code, actor=step.actor,
            subject_id=step.subject_id, due_at=_utc(step.due_at), urgent=False,
            awaiting_panel_date=step.awaiting_panel_date, policy_pack=self.pack.id,
            policy_version=self.pack.version,
            policy_ref=rule.ref if rule else "", deadline_form=step.deadline_form,
            note=f"Superseded: {reason}", step_id=step.id,
        ))


def _record_id(reason: Mapping[str, Any]) -> str | None:
    record = reason.get("record") or {}
    return None if record.get("id") is None else str(record["id"])


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
