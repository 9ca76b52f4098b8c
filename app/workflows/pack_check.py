"""Checking a pack's words, not just its grammar.

The pydantic models in ``packs.py`` check shapes (keys, atoms, deadline forms). This module checks
every value against the vocabulary the pack may use (the contract's core plus the pack's own):
an ``event_type_in = ["new_incidnet"]`` is an error with a "did you mean", because a rule that can
never fire is a silent hole in a child's protection. So are an atom testing data its rule's
trigger does not carry (an event's type on a judgement line) and a step code listed in
not_waivable, completable, survives_closure, closures, ends_steps or a referral kind's closes
that no rule creates: errors too. It warns about step codes nothing can close and (given the
policy's text) ``ref``s the policy does not contain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from app.workflows.conditions import atom_reads, triggers_carrying
from app.workflows.deadlines import FORM_EVENT_KEYS, parse_form
from app.workflows.satisfiable import Facts, facts_of, never
from app.workflows.types import ACTION_DATA, EVENT_DATA, GUARDED_DATA, TRIGGERS, WEEKDAYS
from app.workflows.vocabulary import (
    ACTING_ROLES,
    ACTORS,
    ASSESSMENT_STAGES,
    ASSESSMENT_TYPES,
    CASE_FIELDS,
    CSC_STATUSES,
    DEATH,
    ENGINE_STEP_CODES,
    EVENT_FLAGS,
    IMPACTS,
    INTERVENTIONS,
    LIKELIHOODS,
    REFERRAL_ACTIONS,
    REFERRAL_STATUSES,
    ROLE_ABOVE,
    ROLE_RANK,
    STAFF_ROLES,
    TOP_ROLE,
    Escalation,
    EventType,
    suggest,
)

if TYPE_CHECKING:  # packs.py runs the checker on load; the checker only reads its types
    from app.workflows.packs import Check, Pack, Rule

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem in a pack: how bad, which rule, which field, what is wrong."""

    severity: Severity
    rule: str
    field: str
    message: str
    # The file's line, when the problem knows it itself (a TOML syntax error); otherwise
    # ``pack_tools.FieldLines`` finds the field's line in the text.
    lineno: int | None = None

    def line(self, file: str) -> str:
        """``file: rule: field: severity: message`` (one line, for ``yjrisk pack check``)."""
        return f"{file}: {self.rule}: {self.field}: {self.severity}: {self.message}"


# Which vocabulary an atom's values come from (state atoms without their case./after. prefix).
ATOM_VOCABULARY: dict[str, str] = {
    "event_type_in": "event_types",
    "referral_kind_in": "referral_kinds",
    "referral_action_in": "referral_actions",
    "referral_status_in": "referral_statuses",
    "completed_step_code_in": "step_codes",
    "completed_step_actor_in": "actors",
    "completed_by_role_in": "acting_roles",
    "actor_role_in": "acting_roles",
    "panel_kind_in": "panel_kinds",
    "assessment_type_in": "assessment_types",
    "judgement_assessment_type_in": "assessment_types",
    "assessment_stage_in": "assessment_stages",
    "trigger_in": "triggers",
    "impact_in": "impacts",
    "likelihood_in": "likelihoods",
    "event_flag": "event_flags",
    "changed": "case_fields",
    "intervention_in": "interventions",
    "csc_status_in": "csc_statuses",
    "attendees_include": "invitees",
    "open_step_in": "step_codes",
    "countersigned_assessment_in": "assessment_types",
    "referral_sent_in": "referral_kinds",
}


# Event data keys the engine reads, by trigger, and the word list each value must come from.
_JUDGEMENT = {"domain": "domains", "level": "levels", "impact": "impacts",
              "likelihood": "likelihoods", "assessment_type": "assessment_types"}
_ASSESSMENT = {"type": "assessment_types", "stage": "assessment_stages"}
_REFERRAL = {"kind": "referral_kinds", "action": "referral_actions",
             "to_status": "referral_statuses"}
_PANEL = {"panel_kind": "panel_kinds"}
DATA_WORDS: dict[str, dict[str, str]] = {
    "case_event": {"type": "event_types"},
    "judgement_recorded": _JUDGEMENT,
    "assessment_created": _ASSESSMENT, "assessment_submitted": _ASSESSMENT,
    "assessment_countersigned": _ASSESSMENT, "assessment_returned": _ASSESSMENT,
    "referral_created": _REFERRAL, "referral_transition": _REFERRAL,
    "panel_scheduled": {"kind": "panel_kinds"},
    "panel_item_added": _PANEL, "panel_decision": _PANEL,
    "step_completed": {"code": "completed_codes", "actor": "actors",
                       "completed_by_role": "acting_roles"},
}


def vocabulary_of(pack: Pack) -> dict[str, tuple[str, ...]]:
    """Every word list a value in this pack is checked against."""
    impacts = pack.matrix.impacts if pack.matrix is not None else IMPACTS
    likelihoods = pack.matrix.likelihoods if pack.matrix is not None else LIKELIHOODS
    return {
        "event_types": pack.event_type_ids(),
        "referral_kinds": pack.referral_kind_ids(),
        "referral_actions": REFERRAL_ACTIONS,
        "referral_statuses": REFERRAL_STATUSES,
        "step_codes": pack.step_codes(),
        "actors": ACTORS,
        "acting_roles": ACTING_ROLES,
        "panel_kinds": pack.panel_kind_ids(),
        "assessment_types": ASSESSMENT_TYPES,
        "assessment_stages": ASSESSMENT_STAGES,
        "triggers": TRIGGERS,
        "impacts": tuple(impacts),
        "likelihoods": tuple(likelihoods),
        "event_flags": EVENT_FLAGS,
        "case_fields": (*CASE_FIELDS, *(f"facts.{f.id}" for f in pack.facts)),
        "interventions": INTERVENTIONS,
        "csc_statuses": CSC_STATUSES,
        "invitees": tuple(dict.fromkeys(i for p in pack.panel_kinds for i in p.invitees)),
        "facts": tuple(f.id for f in pack.facts),
        "scores": tuple(s.id for s in pack.scores),
    }


def check_pack(pack: Pack, source_text: str | None = None) -> list[Problem]:
    """Every problem in a loaded pack: errors (values outside the vocabulary) and warnings."""
    checker = _Checker(pack, vocabulary_of(pack))
    checker.run()
    if source_text is not None:
        checker.refs(source_text)
    return checker.problems


def check_condition_words(pack: Pack, raw: Any, field: str, rule: str) -> list[Problem]:
    """The words of one condition table checked against the pack's vocabulary, when the table
    itself does not compile (``pack check`` still lists its misspelt values, A19-10)."""
    checker = _Checker(pack, vocabulary_of(pack))
    for name, value, at, _ in _atoms(raw, field):
        checker._atom(name, value, rule, at)
    return checker.problems


class _Checker:
    def __init__(self, pack: Pack, vocab: dict[str, tuple[str, ...]]) -> None:
        self.pack, self.vocab = pack, vocab
        self.problems: list[Problem] = []

    def add(self, severity: Severity, rule: str, field: str, message: str) -> None:
        self.problems.append(Problem(severity, rule, field, message))

    def word(self, kind: str, value: Any, rule: str, field: str,
             severity: Severity = "error") -> None:
        allowed = self.vocab[kind]
        if value in allowed:
            return
        label = kind.replace("_", " ").rstrip("s")
        self.add(severity, rule, field,
                 f"unknown {label} {value!r}{suggest(str(value), allowed)}")

    def run(self) -> None:
        pack = self.pack
        if pack.panel_kind is not None and pack.panel_kinds:
            ids = [p.id for p in pack.panel_kinds]
            if pack.panel_kind not in ids:
                self.add("error", "-", "panel_kind",
                         f"{pack.panel_kind!r} is not one of the pack's panel_kinds "
                         f"{ids}{suggest(pack.panel_kind, ids)}")
        for where, condition, rule in self._conditions():
            for name, value, field, _ in _atoms(condition, where):
                self._atom(name, value, rule, field)
        for where, condition, rule, triggers in self._event_conditions():
            for name, value, field, negated in _event_atoms(condition, where):
                self._carried(name, value, rule, field, triggers, negated)
        for index, line in enumerate(pack.rules):
            self._actor(line.actor, line.id, f"rules.{index}.actor", line)
        for index, check in enumerate(pack.checks):
            self._requires(index, check)
            if check.acknowledge is not None:
                self._actor(check.acknowledge.actor, check.id,
                            f"checks.{index}.acknowledge.actor", None)
        for index, declared in enumerate(pack.event_types):
            if declared.id == DEATH:
                self._death(index, declared)
            for j, word in enumerate(declared.later_event_types):
                self.word("event_types", word, "-", f"event_types.{index}.later_event_types.{j}")
            for j, word in enumerate(declared.later_referral_kinds):
                self.word("referral_kinds", word, "-",
                          f"event_types.{index}.later_referral_kinds.{j}")
        self._duplicates()
        self._closures()
        self._escalation()
        self._escalation_order(self._escalation_loops())
        self._unclosable()
        self._panel_route()
        self._satisfiable()
        self._typical_mistakes()
        for where, line in self._step_lines():
            self._engine_code(where, line)
            self._deadline_data(where, line)
            self._title_placeholders(where, line)

    def _death(self, index: int, declared: EventType) -> None:
        """A child dies once and nothing about the living child follows: a ``death`` declared
        not ``final`` or not ``once_per_case`` is an error (ATK28B-14: the service would keep
        asking for referrals, panels and assessments of a dead child, or record a second
        death). Left unsaid, both are the core's (true)."""
        for name, meaning in (
                ("final", "nothing about the living child may be recorded after a death (409 "
                          "after-final-event)"),
                ("once_per_case", "a child dies once: a second report of the death is the first "
                                  "reported again")):
            if not getattr(declared, name):
                self.add("error", "-", f"event_types.{index}.{name}",
                         f"'death' is a core event type whose meaning is the core's: {meaning}; "
                         f"write {name} = true, or leave it out (the core's true)")

    def _typical_mistakes(self) -> None:
        """Warnings for typical mistakes that leave a pack valid (attack 28b, ATK28B-4): no
        ``version`` (read as "1"), a month count over a year (``+30m`` meant as minutes?), and
        two lines of one rule and trigger giving one step code to different actors or
        deadlines where both can apply to one act (the first line's step is the one made)."""
        pack = self.pack
        if "version" not in pack.model_fields_set:
            self.add("warning", "-", "version",
                     f"no version: the pack is read as version {pack.version!r}, which every "
                     "step cites; write version = \"1.0\" (a revised policy is a later "
                     "version, packs/README.md \"Versions\")")
        for where, line in self._step_lines():
            self._months(where, line)
        self._same_step()
        self._weekend_cadence()

    def _weekend_cadence(self) -> None:
        """A panel whose fixed-day cadence names Saturday or Sunday (attack pass 30,
        ATTACK30B-3): its next-panel steps would fall due on a day the service does not work
        (and a day later than a week when that Saturday is a bank holiday), more likely a slip
        for a weekday; a warning, since a service may sit at a weekend."""
        for index, kind in enumerate(self.pack.panel_kinds):
            meets = kind.meets
            named = [d for d in WEEKDAYS
                     if re.search(rf"\b{d}s?\b", kind.cadence or "", re.IGNORECASE)]
            if meets is None and named:
                # Words naming a day that are not a fixed-day cadence ("on Saturdays",
                # "monthly on the first Wednesday"): read as no fixed day (attack 31a,
                # ATTACK31A-1), so no next-panel step is dated by them.
                self.add("warning", "-", f"panel_kinds.{index}.cadence",
                         f"panel {kind.id!r}: the cadence {kind.cadence!r} names "
                         f"{', '.join(d.title() for d in named)} but is not read as a fixed "
                         "day, so next-panel steps wait for a booked panel; write 'weekly on "
                         "<weekday>' or 'every <n> weeks on <weekday> from <YYYY-MM-DD>' if "
                         "the panel meets on a fixed day")
            if meets is not None and meets.weekday >= 5:
                day = ("Saturday", "Sunday")[meets.weekday - 5]
                self.add("warning", "-", f"panel_kinds.{index}.cadence",
                         f"panel {kind.id!r} meets on a {day} ({kind.cadence!r}): its "
                         "next-panel steps fall due on a day that is not a working day; "
                         "check the weekday is the one the policy says")

    def _months(self, where: str, line: Rule) -> None:
        """A deadline or recurrence of more than 12 months: ``m`` is months (there are no
        minutes), and a youth justice duty over a year away is more likely a slip."""
        forms = ([(f"{where}.deadline", line.deadline)] if isinstance(line.deadline, str) else
                 [(f"{where}.deadline.{j}.form", b.form) for j, b in enumerate(line.deadline)])
        if line.recurrence:
            forms.append((f"{where}.recurrence", f"every {line.recurrence}"))
        for field, form in forms:
            try:
                parsed = parse_form(form)
            except ValueError:
                continue  # said where the form is checked
            if parsed.kind == "m" and parsed.n > 12:
                written = line.recurrence if field.endswith("recurrence") else form
                self.add("warning", line.id, field,
                         f"{written!r} is {parsed.n} months ('m' is months: there is no "
                         "minutes unit; hours are 'h', e.g. '+1h'): more than a year is unusual "
                         "for a step's timescale; check it is what the policy says")

    def _same_step(self) -> None:
        """Two lines of one rule, trigger and subject giving one step code to different actors
        or deadlines, whose conditions can both hold for one act: one step is made, the first
        line's, and the pack does not say so (ATK28B-4)."""
        facts = facts_of(self.pack.checks, self.pack.scores, self.pack.facts)
        lines = [(i, r) for i, r in enumerate(self.pack.rules) if not r.refresh_only]
        for n, (i, first) in enumerate(lines):
            for j, other in lines[n + 1:]:
                shared = tuple(t for t in first.trigger if t in other.trigger)
                if (other.id, other.code, other.subject) != (first.id, first.code,
                                                            first.subject) or not shared:
                    continue
                differs = [f"{what} {a!r} (rules.{i}) and {b!r}" for what, a, b in (
                    ("actor", first.actor, other.actor),
                    ("deadline", _form_words(first.deadline), _form_words(other.deadline)))
                    if a != b]
                when = first.when.raw if first.when is not None else None
                if not differs or never(when, shared, facts,
                                        other.when.raw if other.when is not None else None):
                    continue
                self.add("warning", other.id, f"rules.{j}.code",
                         f"rule {other.id} gives step {other.code!r} on {', '.join(shared)} "
                         f"two ways, {'; '.join(differs)} here, and both lines can apply to "
                         f"one act: one step is made, the first line's (rules.{i}), so this "
                         "line's is never used for that act; give both lines the same actor "
                         "and deadline, or conditions that exclude each other")

    def _satisfiable(self) -> None:
        """A condition that can never hold, decided from its atoms (``satisfiable``; attack
        28b, ATK28B-2): a rule line that never applies, a deadline branch never used, a check
        that never refuses, a ``holds`` false whenever the line's ``when`` is true, a register,
        priority or contact band nobody is in. Errors, as a misspelt word is: a duty silently
        never raised."""
        pack = self.pack
        facts = facts_of(pack.checks, pack.scores, pack.facts)
        for i, line in enumerate(pack.rules):
            when = line.when.raw if line.when is not None else None
            if when is not None and self._never(when, line.trigger, facts, line.id,
                                                f"rules.{i}.when", "this line never applies"):
                continue
            for item, field in _any_items(when, f"rules.{i}.when"):
                if why := never(item, line.trigger, facts):
                    # ATTACK32B-4: the line can apply through another alternative, but this
                    # one never does: an owner's slip worth naming, not an error.
                    self.add("warning", line.id, field,
                             f"this alternative of 'any' can never be true: {why}; the line "
                             "applies only through the others")
            if not isinstance(line.deadline, str):
                for j, branch in enumerate(line.deadline):
                    if branch.when is not None and (why := never(
                            branch.when.raw, line.trigger, facts, when)):
                        self.add("error", line.id, f"rules.{i}.deadline.{j}.when",
                                 f"this branch can never be chosen: {why}")
            # A refresh_only line makes no step (it re-dates one), so its own holds is no
            # step's justification at the moment it is made.
            holds = [] if line.refresh_only else self._justifying(line)
            if line.holds is not None and holds and (why := never(
                    when, line.trigger, facts, {"any": holds})):
                self.add("error", line.id, f"rules.{i}.holds",
                         f"the holds can never be true when the line's when is: {why}; the "
                         "step would be made already unjustified, and lapse at the case's "
                         "next act")
        for i, check in enumerate(pack.checks):
            # Not the pack's own refusals: M7 is the check that refuses a very high LoR.
            self._never(check.when.raw, check.trigger, facts.bounds_only(), check.id,
                        f"checks.{i}.when", "this check never applies")
        tables: list[tuple[str, Any, str]] = []
        if pack.register_def is not None:
            tables.append(("register.when", pack.register_def.when.raw,
                           pack.register_def.rule_id))
        if pack.priority is not None:
            tables.append(("priority.when", pack.priority.when.raw, pack.priority.rule_id))
            if pack.priority.raisable is not None:
                tables.append(("priority.raisable", pack.priority.raisable.raw,
                               pack.priority.rule_id))
        if pack.contact is not None:
            tables += [(f"contact.bands.{j}.when", band.when.raw, pack.contact.rule_id)
                       for j, band in enumerate(pack.contact.bands)]
        for field, raw, rule in tables:
            self._never(raw, None, facts.bounds_only(), rule, field,
                        "it never applies to a case")

    def _never(self, raw: Any, triggers: tuple[str, ...] | None, facts: Facts | None,
               rule: str, field: str, outcome: str) -> bool:
        """Say (and return whether) a condition can never hold. With the pack's ``facts`` (a
        rule line's: what its checks and the core refuse, the very high LoR under every pack,
        ATK28B-15), one that holds only for a refused judgement is impossible too."""
        if why := never(raw, triggers, facts or Facts()):
            self.add("error", rule, field, f"this condition can never be true: {why}, so "
                     f"{outcome}")
            return True
        return False

    def _justifying(self, line: Rule) -> list[Any]:
        """The ``holds`` that keep a step of this line open (``engine._justified``): its own
        rule's lines for its triggers and every other line of its code that has one; empty
        when one of its own lines has none (then nothing lapses)."""
        lines = self.pack.lines_for_code(line.code)
        own = [r for r in lines if r.id == line.id and not r.refresh_only
               and set(r.trigger) & set(line.trigger)]
        if any(r.holds is None for r in own):
            return []
        return [r.holds.raw for r in lines if r.holds is not None]

    def _requires(self, index: int, check: Check) -> None:
        """A check's ``requires`` names data every one of its triggers' acts carries (the
        engine's table, ``types.EVENT_DATA``; a ``trigger_in`` in its condition narrows them):
        a field an act never carries is never present, so the check would refuse every act it
        applies to, whatever the client sent (attack 26a, A26a-11: ``requires = "rationael"``
        refused every very high judgement)."""
        if check.requires is None:
            return
        triggers = _narrowed(check.trigger, check.when)
        missing = [t for t in triggers if check.requires not in EVENT_DATA.get(t, ())]
        if not missing:
            return
        carried = sorted(set().union(*(EVENT_DATA.get(t, frozenset()) for t in triggers)))
        carriers = [t for t, keys in EVENT_DATA.items() if check.requires in keys]
        where = (f"only {', '.join(carriers)} acts carry it" if carriers
                 else "no act carries it")
        self.add("error", check.id, f"checks.{index}.requires",
                 f"{check.requires!r} is not data a {', '.join(missing)} act carries ({where}):"
                 f" the check would refuse every such act{suggest(check.requires, carried)}")

    def _step_lines(self) -> Iterator[tuple[str, Rule]]:
        """Every line that makes steps, with the field path it is written at: the rule lines,
        and each check's acknowledgement (``checks.N.acknowledge``, as the line it makes)."""
        for i, line in enumerate(self.pack.rules):
            yield f"rules.{i}", line
        for i, check in enumerate(self.pack.checks):
            if check.ack_rule is not None:
                yield f"checks.{i}.acknowledge", check.ack_rule

    def _engine_code(self, where: str, line: Rule) -> None:
        """A step code the service itself raises or treats specially (attack 26a, A26a-1: a
        pack's duty coded ``escalate_overdue_step`` was run as an escalation of nothing, not
        waivable and never escalated when overdue)."""
        if line.code in ENGINE_STEP_CODES:
            self.add("error", line.id, f"{where}.code",
                     f"step code {line.code!r} is the service's own (the codes it raises or "
                     f"treats specially: {', '.join(sorted(ENGINE_STEP_CODES))}): a pack's step "
                     "of that code would be handled as the service's, not as this line says; "
                     "give the duty a code of its own")

    def _deadline_data(self, where: str, line: Rule) -> None:
        """A deadline form counting from a date the act carries (``review-date``,
        ``before-transfer``, ``due-date``: ``deadlines.FORM_EVENT_KEYS``) on a line some of
        whose triggers never carry it: there the step would be undated, never overdue nor
        escalated (attack 26a, A26a-2). Which trigger carries what is the engine's own table
        (``types.EVENT_DATA``; a decided action's, ``types.ACTION_DATA``, on a ``for_each``
        line); a branch's or the line's ``trigger_in`` narrows the triggers."""
        if set(line.trigger) == set(TRIGGERS):
            # Every trigger: the stand-in for a trigger ``pack check`` set aside (packs.salvage);
            # the deadline is checked once the trigger is right, not against the stand-in.
            return
        branches: list[tuple[str, str, Any]]
        if isinstance(line.deadline, str):
            branches = [(f"{where}.deadline", line.deadline, None)]
        else:
            branches = [(f"{where}.deadline.{j}.form", b.form, b.when)
                         for j, b in enumerate(line.deadline)]
        for field, form, when in branches:
            key = FORM_EVENT_KEYS.get(form)
            if key is None:
                continue
            if line.counts_from == "raised":
                # Counted from the act that raised the step, whose data the engine does not
                # read again (engine ``_due_from``): the line never dates the step it re-dates.
                self.add("error", line.id, field,
                         f"deadline {form!r} counts from the act's {key!r}, and a counts_from = "
                         "\"raised\" line counts from an earlier act whose data is not read "
                         "again: this line would never date the step; give it a timescale "
                         "('+3m')")
                continue
            triggers = _narrowed(line.trigger, line.when, when)
            missing = [t for t in triggers if not (key in EVENT_DATA.get(t, ()) or (
                line.for_each == "actions" and key in ACTION_DATA))]
            if missing:
                self._undated(line, field, form, key, missing)
                continue
            for trigger in triggers:
                guard = GUARDED_DATA.get((trigger, key))
                if guard is not None and not _guarded(guard, line.when, when):
                    atom, values = guard
                    wanted = (f'{{ {atom} = "{next(iter(values))}" }}' if atom == "event_flag"
                              else f"{{ {atom} = {sorted(values)} }}".replace("'", '"'))
                    self.add("error", line.id, field,
                             f"deadline {form!r} counts from the act's {key!r}, which a "
                             f"{trigger} act carries only when {wanted} holds, and this line "
                             "does not test it: for every other act the step would have no "
                             "due date, so it would never be overdue nor escalated; add "
                             f"{wanted} to the line's when")

    def _undated(self, line: Rule, field: str, form: str, key: str,
                 missing: Sequence[str]) -> None:
        carriers = [f"{', '.join(triggers_carrying([key]))} acts"] \
            if triggers_carrying([key]) else []
        if key in ACTION_DATA:
            carriers.append('a decided action on a for_each = "actions" line')
        said = f"only {' and '.join(carriers)} carry it" if carriers else "no act carries it"
        hint = ('; due-date is a decided action\'s own date: use it on a for_each = "actions" '
                "line, or give this line a timescale ('+5wd')" if key in ACTION_DATA else
                "; give the line a trigger that carries it, or a timescale of its own "
                "('+5wd', 'next-panel')")
        self.add("error", line.id, field,
                 f"deadline {form!r} counts from the act's {key!r}, which a "
                 f"{', '.join(missing)} act does not carry ({said}): the step would have "
                 f"no due date, so it would never be overdue nor escalated{hint}")

    def _title_placeholders(self, where: str, line: Rule) -> None:
        """A title's only placeholder is ``{description}`` (the decided action's text), on a
        ``for_each = "actions"`` line: anything else in braces reaches practitioners as written
        (attack 26a, A26a-4)."""
        bad = [found for found in _PLACEHOLDER.findall(line.title)
               if not (found == "{description}" and line.for_each == "actions")]
        if not bad:
            return
        if bad == ["{description}"]:
            message = ("'{description}' is filled in only on a for_each = \"actions\" line (the "
                       "decided action's text): here it would reach practitioners as written")
        else:
            named = ", ".join(repr(b) for b in dict.fromkeys(bad))
            message = (f"{named} in the title is not a placeholder the service fills in: the "
                       "only one is '{description}' (the decided action's text, on a for_each = "
                       "\"actions\" line); it would reach practitioners as written")
        self.add("error", line.id, f"{where}.title", message)

    def _conditions(self) -> Iterator[tuple[str, Any, str]]:
        pack = self.pack
        for i, line in enumerate(pack.rules):
            if line.when is not None:
                yield f"rules.{i}.when", line.when.raw, line.id
            if line.holds is not None:
                yield f"rules.{i}.holds", line.holds.raw, line.id
            if not isinstance(line.deadline, str):
                for j, branch in enumerate(line.deadline):
                    if branch.when is not None:
                        yield f"rules.{i}.deadline.{j}.when", branch.when.raw, line.id
        for i, check in enumerate(pack.checks):
            yield f"checks.{i}.when", check.when.raw, check.id
        if pack.register_def is not None:
            yield "register.when", pack.register_def.when.raw, pack.register_def.rule_id
        if pack.priority is not None:
            yield "priority.when", pack.priority.when.raw, pack.priority.rule_id
            if pack.priority.raisable is not None:
                yield "priority.raisable", pack.priority.raisable.raw, pack.priority.rule_id
        if pack.contact is not None:
            for j, band in enumerate(pack.contact.bands):
                yield f"contact.bands.{j}.when", band.when.raw, pack.contact.rule_id

    def _event_conditions(self) -> Iterator[tuple[str, Any, str, tuple[str, ...]]]:
        """The conditions evaluated on a rule's or check's own triggers, with those triggers
        (``holds``, the register and contact bands look at the case only)."""
        for i, line in enumerate(self.pack.rules):
            if line.when is not None:
                yield f"rules.{i}.when", line.when.raw, line.id, line.trigger
            if not isinstance(line.deadline, str):
                for j, branch in enumerate(line.deadline):
                    if branch.when is not None:
                        yield (f"rules.{i}.deadline.{j}.when", branch.when.raw, line.id,
                               line.trigger)
        for i, check in enumerate(self.pack.checks):
            yield f"checks.{i}.when", check.when.raw, check.id, check.trigger

    def _carried(self, name: str, value: Any, rule: str, field: str,
                 triggers: tuple[str, ...], negated: bool) -> None:
        """An event atom testing data that none of its rule's triggers carries (attack 17,
        A17-12): ``event_type_in`` on a ``judgement_recorded`` line, ``level_in`` (the recorded
        judgement's level) on a ``case_event`` line. Which trigger carries which data is the
        engine's own table (``types.EVENT_DATA``), which keys an atom reads ``conditions``'."""
        keys = atom_reads(name, value)
        carriers = _carriers(name, keys)
        if not keys or any(t in carriers for t in triggers):
            return
        said = " and ".join(f"'{k}'" for k in keys)
        where = (f"only {', '.join(carriers)} acts carry it" if carriers
                 else "no act carries it")
        on = ", ".join(triggers)
        # A yes/no atom given false, or any atom under an odd number of 'not', is then always
        # met: it says nothing, a mistake but no hole. Otherwise the rule can never fire.
        always = negated != (value is False)
        if always:
            self.add("warning", rule, field,
                     f"'{name}' tests the event's {said}, which a {on} act does not carry "
                     f"({where}): here it is always met and says nothing{_carry_hint(keys)}")
            return
        self.add("error", rule, field,
                 f"'{name}' tests the event's {said}, which a {on} act does not carry "
                 f"({where}): it can never be true here, so this line never applies"
                 f"{_carry_hint(keys)}")

    def _atom(self, name: str, value: Any, rule: str, field: str) -> None:
        bare = name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name
        if bare in ("fact", "score") and isinstance(value, Mapping):
            self._named(bare, value, rule, field)
            self._reachable(bare, value, rule, field)
            return
        if bare == "child_age" and isinstance(value, Mapping):
            # An age in whole years is never negative (no upper bound is assumed).
            self._not_numbers(value, "a child's age", rule, field)
            self._never_true(value, 0, None, "a child's age", rule, field)
            return
        if bare == "changed_to" and isinstance(value, Mapping):
            self._changed_to(value, rule, field)
            return
        kind = ATOM_VOCABULARY.get(bare)
        if kind is None:
            return
        values = [value] if isinstance(value, str) else list(value or ())
        for index, item in enumerate(values):
            at = field if isinstance(value, str) else f"{field}.{index}"
            self.word(kind, item, rule, at)

    def _named(self, kind: str, arg: Mapping[str, Any], rule: str, field: str) -> None:
        name = str(arg.get("name"))
        self.word(f"{kind}s", name, rule, f"{field}.name")
        fact = self.pack.fact(name) if kind == "fact" else None
        if fact is None or fact.type not in ("enum", "list"):
            return
        for op in ("eq", "ne", "in", "contains_any"):
            raw = arg.get(op)
            for item in ([raw] if isinstance(raw, str) else list(raw or ())):
                if item not in fact.values:
                    self.add("error", rule, f"{field}.{op}",
                             f"{item!r} is not a value of fact {name!r} "
                             f"({', '.join(fact.values)}){suggest(str(item), fact.values)}")

    def _reachable(self, kind: str, arg: Mapping[str, Any], rule: str, field: str) -> None:
        """A comparison on a score, or an integer fact, outside its declared range."""
        name = str(arg.get("name"))
        if kind == "score":
            score = self.pack.score(name)
            if score is not None:
                self._not_numbers(arg, f"score {name!r}", rule, field)
                self._never_true(arg, score.min, score.max, f"score {name!r}", rule, field)
            return
        fact = self.pack.fact(name)
        if fact is not None and fact.type == "integer":
            self._not_numbers(arg, f"fact {name!r}", rule, field)
            self._never_true(arg, fact.min, fact.max, f"fact {name!r}", rule, field)
        elif fact is not None and (ops := [op for op in ("lt", "lte", "gt", "gte")
                                           if arg.get(op) is not None]):
            # Compare.test: a number comparison holds for whole numbers only (ATK28B-2).
            self.add("warning", rule, field,
                     f"this comparison can never be true: {', '.join(ops)} compare numbers, "
                     f"and fact {name!r} is a {fact.type} fact")

    def _not_numbers(self, arg: Mapping[str, Any], what: str, rule: str, field: str) -> None:
        """An error for each ``eq``/``ne``/``in`` value of an integer quantity that is not a
        whole number (``true``, ``"3"``): the quantity only ever holds whole numbers
        (``Fact.parse``), so ``eq`` of one can never be true and ``ne`` always is (attack
        35a, ATTACK35A-10: ``eq = true`` on an integer fact passed the check silently)."""
        for op in ("eq", "ne", "in"):
            raw = arg.get(op)
            values = list(raw) if op == "in" and isinstance(raw, list | tuple) else [raw]
            for index, value in enumerate(values):
                if value is None or isinstance(value, int) and not isinstance(value, bool):
                    continue
                at = f"{field}.{op}" + (f".{index}" if op == "in" else "")
                said = json.dumps(value)  # as the pack's TOML writes it (true, "3")
                self.add("error", rule, at,
                         f"{said} is not a whole number, and {what} holds whole numbers "
                         f"only: the comparison {op} = {said} is "
                         f"{'always' if op == 'ne' else 'never'} true; write a number "
                         "without quotes (2)")

    def _never_true(self, arg: Mapping[str, Any], lo: int | None, hi: int | None, what: str,
                    rule: str, field: str) -> None:
        """Warn when the numeric operators leave no whole number in ``lo``..``hi`` (None: no
        bound): such a condition can never be true, a silent hole like a misspelt word."""
        if why := never_true(arg, lo, hi):
            span = f"{'-inf' if lo is None else lo}..{'inf' if hi is None else hi}"
            self.add("warning", rule, field,
                     f"this comparison can never be true: {why}, and {what} is in {span}")

    def _changed_to(self, arg: Mapping[str, Any], rule: str, field: str) -> None:
        name = str(arg.get("field"))
        self.word("case_fields", name, rule, f"{field}.field")
        allowed: tuple[Any, ...] | None = CASE_FIELDS.get(name)
        fact = self.pack.fact(name[6:]) if name.startswith("facts.") else None
        if fact is not None and fact.type == "enum":
            allowed = fact.values
        elif fact is not None and fact.type == "boolean":
            allowed = (True, False)
        elif fact is not None and fact.type == "integer":
            for index, item in enumerate(arg.get("values") or ()):
                if isinstance(item, bool) or not isinstance(item, int):
                    self.add("error", rule, f"{field}.values.{index}",
                             f"{json.dumps(item)} is not a whole number, and fact {name[6:]!r} "
                             "holds whole numbers only: the change can never be to it")
        if allowed is None:
            return
        for index, item in enumerate(arg.get("values") or ()):
            if item not in allowed:
                self.add("error", rule, f"{field}.values.{index}",
                         f"{item!r} is not a value of {name} "
                         f"({', '.join(map(str, allowed))}){suggest(str(item), map(str, allowed))}")

    def _actor(self, actor: str, rule: str, field: str, line: Rule | None) -> None:
        if actor == "action_owner" and line is not None and line.for_each != "actions":
            self.add("warning", rule, field,
                     "actor 'action_owner' names nobody outside a for_each = 'actions' line")
            return
        if actor not in ACTORS:
            # An error, as a misspelt word is: the service would start with a step nobody can
            # complete, escalated to nobody in particular (attack 17, A17-7).
            self.add("error", rule, field,
                     f"no role holds actor {actor!r}: nobody may complete these steps"
                     f"{suggest(actor, ACTORS)}; the roles are {', '.join(ACTORS)}")

    def _closures(self) -> None:
        codes = self.vocab["step_codes"]
        # survives_closure may name a rule that raises steps instead of a code.
        rule_steps = {r.id for r in self.pack.rules}
        named: list[tuple[str, Sequence[str], str]] = [
            (f"closures.{act}", closed, "closes") for act, closed in self.pack.closures.items()]
        named.append(("not_waivable", self.pack.not_waivable, "protects"))
        named.append(("completable", self.pack.completable, "opens to completion by hand"))
        named.append(("survives_closure", self.pack.survives_closure, "keeps open past closure"))
        named.append(("closure_ends_booked", self.pack.closure_ends_booked,
                      "ends at a closure before it is due"))
        named += [(f"event_types.{i}.ends_steps", declared.ends_steps, "ends")
                  for i, declared in enumerate(self.pack.event_types)]
        named += [(f"event_types.{i}.ends_earlier_steps", declared.ends_earlier_steps, "ends")
                  for i, declared in enumerate(self.pack.event_types)]
        named += [(f"event_types.{i}.closure_sets_aside", declared.closure_sets_aside,
                   "sets aside at closure") for i, declared in enumerate(self.pack.event_types)]
        named += [(f"referral_kinds.{i}.closes", kind.closes, "closes")
                  for i, kind in enumerate(self.pack.referral_kinds)]
        named += [(f"referral_kinds.{i}.after_steps", kind.after_steps, "waits for")
                  for i, kind in enumerate(self.pack.referral_kinds)]
        # An error (attack 17, A17-12): a misspelt code leaves the duty the owner meant to
        # protect waivable, to close unclosed, to keep open ended at closure: the service must
        # not start so.
        for where, listed, verb in named:
            for index, code in enumerate(listed):
                if code in listed[:index]:  # A26a-12: said twice, the second says nothing
                    self.add("error", "-", f"{where}.{index}",
                             f"step code {code!r} is listed twice (first at "
                             f"{where}.{list(listed).index(code)}): give each code once")
                if where == "survives_closure" and code in rule_steps:
                    continue  # a rule's own steps (ATTACK32C-5)
                if code not in codes:
                    self.add("error", "-", f"{where}.{index}",
                             f"no rule creates step code {code!r}, so this {verb} nothing"
                             f"{suggest(code, codes)}")

    def _duplicates(self) -> None:
        """Attack 26a, A26a-12: a word declared twice (an event type, a referral or panel kind,
        a fact, a score) leaves one of the two silently shadowed; a ``[[checks]]`` or
        ``[[rules]]`` entry given twice word for word refuses or asks twice for one thing
        (one policy rule may have several checks and lines: the same id is fine). Each is an
        error at the second, naming the first."""
        pack = self.pack
        for section in ("event_types", "referral_kinds", "panel_kinds", "facts", "scores"):
            first: dict[str, int] = {}
            for index, item in enumerate(getattr(pack, section)):
                label = section.replace("_", " ").removesuffix("s")
                if item.id in first:
                    self.add("error", "-", f"{section}.{index}.id",
                             f"{label} {item.id!r} is declared twice (first at {section}."
                             f"{first[item.id]}): declare each {label} once")
                first.setdefault(item.id, index)
        for section, what in (("checks", "check"), ("rules", "line")):
            seen: dict[str, int] = {}
            for index, entry in enumerate(getattr(pack, section)):
                key = entry.model_dump_json()
                if key in seen:
                    self.add("error", entry.id, f"{section}.{index}",
                             f"this [[{section}]] entry repeats {section}.{seen[key]} word for "
                             f"word: the {what} would apply twice; remove one")
                seen.setdefault(key, index)

    def _escalation_loops(self) -> set[str]:
        """Attack 26a, A26a-12: escalation by role (``to``) that comes back to where it started
        through another role (line_manager -> duty_manager -> line_manager) never reaches
        anyone above: an error at the entry that closes the loop. A role escalating to itself
        is the top of the chain (Somerset's chair). (A role missing from ``to`` goes to
        ``default``: Wokingham's and the example's duty manager to the line manager, whose
        own go to the duty manager; which role is above the duty manager is the policy's to
        say, so that is not judged here.) The roles whose entries the loops said (the one
        closing a loop, a role the fallback sends round) are returned: ``_escalation_order``
        says nothing more of them."""
        to = self.pack.escalation.to
        flagged = self._fallback_loops()
        reported: set[str] = set()
        for start in sorted(to):
            path = [start]
            role = to[start]
            while role in to and role not in path:
                path.append(role)
                role = to[role]
            if role not in path:
                continue
            loop = path[path.index(role):]
            if len(loop) < 2 or reported & set(loop):
                continue
            reported |= set(loop)
            flagged.add(loop[-1])
            chain = " -> ".join([*loop, role])
            self.add("error", "-", f"escalation.to.{loop[-1]}",
                     f"escalation goes round in a loop ({chain}): no one above is ever told; "
                     "end the chain at a role that escalates to itself (e.g. chair = \"chair\")")
        return flagged

    def _fallback_loops(self) -> set[str]:
        """Escalation that goes round through the fallback (``default``) for a role ``to``
        does not name: Wokingham's and the example's ``default = "line_manager"`` with
        ``line_manager = "duty_manager"`` sent a duty manager's overdue step to the line
        manager, whose own go to the duty manager; no one above is told (fix30c). A warning at
        ``escalation.default``: the service never escalates an escalation (its chase has no
        due date), so no chain runs without end, and a role with no step of its own (the
        example's duty manager) is never escalated through it. An error at each rule whose
        steps that role owes: those steps go to a role below it (or beside it)."""
        esc = self.pack.escalation
        to, default = esc.to, esc.default
        roles = sorted({*STAFF_ROLES, *to, *to.values(), default} - {"action_owner"})
        reported: set[str] = set()
        flagged: set[str] = set()
        for start in roles:
            path = [start]
            role = esc.target(start)
            while role not in path:
                path.append(role)
                role = esc.target(role)
            loop = path[path.index(role):]
            fallen = [r for r in loop if r not in to]
            if len(loop) < 2 or not fallen or reported & set(loop):
                continue
            reported |= set(loop)
            flagged |= set(fallen)
            first = loop.index(fallen[0])  # told from a role the fallback sends on
            loop = loop[first:] + loop[:first]
            steps = zip(loop, [*loop[1:], loop[0]], strict=True)
            chain = " -> ".join([loop[0], *(f"{r} (default)" if was not in to else r
                                            for was, r in steps)])
            names = ", ".join(f'escalation.to.{r} = "<the role above {r}>"' for r in fallen)
            self.add("warning", "-", "escalation.default",
                     f"escalation goes round in a loop through the fallback ({chain}): an "
                     f"overdue step of {' or '.join(fallen)} would go to {default!r}, whose own "
                     f"overdue steps come back round; no one above is told. Say who is above "
                     f"({names}; e.g. \"chair\")")
            for index, line in enumerate(self.pack.rules):
                if line.actor in fallen:
                    self.add("error", line.id, f"rules.{index}.actor",
                             f"an overdue {line.actor} step escalates by the fallback to "
                             f"{default!r}, whose overdue steps escalate back round "
                             f"({chain}): name who is above {line.actor} "
                             f"(escalation.to.{line.actor})")
        return flagged

    def _escalation_order(self, flagged: set[str]) -> None:
        """An overdue step goes to someone above its actor (attack 32b, ATTACK32B-3): a role
        escalating to itself that is not the top of the chain (``line_manager =
        "line_manager"``: the overdue line manager told of their own lapse), or to a role
        below or beside it (``chair = "case_holder"``, ``default = "case_holder"`` for the
        case holder's own), leaves no one above told. The order is the contract's
        (``vocabulary.ROLE_RANK``: case holder and panel administrator, line manager, duty
        manager, chair; only the chair escalates to itself). A warning at the entry that says
        so (``escalation.to.<role>``, or ``escalation.default`` for a role ``to`` leaves to
        it), an error there when a line's steps are that role's, and then an error at each
        such line too (its overdue steps would really go there), as for a loop through the
        fallback. A role whose entry a loop's message already names (``flagged``) is not said
        again. A pack without ``[escalation]`` is judged by :meth:`_no_escalation_table`."""
        if "escalation" not in self.pack.model_fields_set:
            self._no_escalation_table()
            return
        esc = self.pack.escalation
        for role in sorted(ROLE_RANK, key=lambda r: (ROLE_RANK[r], r)):
            target = esc.target(role)
            if role in flagged or target not in ROLE_RANK or (
                    ROLE_RANK[target] > ROLE_RANK[role] or role == target == TOP_ROLE):
                continue
            entry = f"escalation.to.{role}" if role in esc.to else "escalation.default"
            how = "" if role in esc.to else " by the fallback (escalation.default)"
            where = ("itself, and only the top of the chain (chair) escalates to itself"
                     if target == role else f"{target}, {_below(target, role)}")
            fix = (f'end the chain with {TOP_ROLE} = "{TOP_ROLE}"' if role == TOP_ROLE else
                   f'name the role above it (escalation.to.{role} = "{ROLE_ABOVE[role]}")')
            owed = [(field, line) for field, line in self._step_lines() if line.actor == role]
            self.add("error" if owed else "warning", "-", entry,
                     f"an overdue {role} step escalates{how} to {where}: no one above is "
                     f"told ({' < '.join(_CHAIN)}); {fix}")
            for field, line in owed:
                self.add("error", line.id, f"{field}.actor",
                         f"an overdue {role} step escalates{how} to {where}: no one above "
                         f"is told; {fix}")

    def _no_escalation_table(self) -> None:
        """A pack without ``[escalation]`` runs on the core's fallback (``Escalation()``:
        every overdue step to the line manager, ``app.domain.escalation``), and while a case's
        line manager is on recorded leave their chase goes where the line manager's own steps
        escalate: to the line manager again, the one away (fix32f's leftover). So the owner is
        told at ``escalation`` what the fallback does, naming the lines whose steps are a line
        manager's, duty manager's or chair's (overdue, they go to the line manager, themselves
        or below: no one above told, as ATTACK32B-3's table entries). A warning, not an error:
        the table is optional in the format (the fallback is documented), and an error would
        refuse at start-up a deployed pack that loads today. Said once, at the table (a table
        set aside as misspelt is said there already, and this follows from it)."""
        owed = sorted({line.id for _, line in self._step_lines()
                       if ROLE_RANK.get(line.actor, 0) >= ROLE_RANK["line_manager"]})
        fallback = Escalation()
        table = (f"add [escalation] with default = \"{fallback.default}\" and to = {{ "
                 + ", ".join(f'{role} = "{ROLE_ABOVE[role]}"' for role in _CHAIN[1:])
                 + " } (or who is above each role in this service)")
        said = ("no [escalation] table: every overdue step escalates to the line manager "
                "(the core's fallback), also while the case's line manager is on recorded "
                "leave (their chase waits in their own list)")
        if owed:
            said += (f", and the steps of {', '.join(owed)} are a line manager's, duty "
                     "manager's or chair's: overdue, they go to the line manager, no one "
                     f"above told ({' < '.join(_CHAIN)})")
        self.add("warning", "-", "escalation", f"{said}; {table}")

    def _escalation(self) -> None:
        esc = self.pack.escalation
        targets = [("escalation.default", esc.default)]
        targets += [(f"escalation.to.{k}", v) for k, v in esc.to.items()]
        for field, role in targets:
            if role not in STAFF_ROLES:
                self.add("error", "-", field, f"escalations would go to {role!r}, a role "
                         f"nobody holds{suggest(role, STAFF_ROLES)}")
        for actor in esc.to:
            if actor not in ACTORS:
                self.add("warning", "-", f"escalation.to.{actor}",
                         f"no step has actor {actor!r}{suggest(actor, ACTORS)}")

    def _unclosable(self) -> None:
        closed_by_act = {c for codes in self.pack.closures.values() for c in codes}
        closed_by_act |= {c for k in self.pack.referral_kinds for c in k.closes}
        seen: set[str] = set()
        for index, line in enumerate(self.pack.rules):
            if line.code in seen:
                continue
            seen.add(line.code)
            lines = self.pack.lines_for_code(line.code)
            completable = any(r.actor in ACTORS for r in lines)
            supersedable = any(r.holds is not None or r.supersedes_previous for r in lines)
            if line.code in self.pack.completable and line.code not in closed_by_act:
                self.add("warning", line.id, f"rules.{index}.code",
                         f"'completable' lists {line.code!r}, which no act closes: it is "
                         "completed by hand anyway")
            if not (completable or supersedable or line.code in closed_by_act):
                self.add("warning", line.id, f"rules.{index}.code",
                         f"nothing can close step code {line.code!r}: no role holds its actor, "
                         "no act closes it and no 'holds' ends it")

    def _panel_route(self) -> None:
        """Say how a case reaches the pack's panel when the pack does not declare the core
        ``panel`` referral kind: the service still takes a submitted ``panel`` referral as the
        way onto any panel's agenda (with being on the register, and a step ``[closures]
        panel_decision_then`` owes), whatever the pack declares (app/domain/panels.py)."""
        pack = self.pack
        if not pack.panel_kinds or any(k.id == "panel" for k in pack.referral_kinds):
            return
        others = (" or by being on the register" if pack.register_def is not None else
                  "; the pack has no [register], so no rating puts a case on it")
        owed = " or while a step [closures] panel_decision_then lists is open" if pack.closes(
            "panel_decision_then") else ""
        kinds = [k.id for k in pack.referral_kinds if k.to_panel]
        also = (f"; referral kind(s) {kinds} with to_panel = true do not put a case on the "
                "agenda" if kinds else "")
        self.add("warning", "-", "referral_kinds",
                 "a case goes onto this pack's panel only through a submitted 'panel' "
                 f"referral (the core kind, not declared here: it closes no step){others}"
                 f"{owed}{also}; declare [[referral_kinds]] id = \"panel\" (to_panel = true) "
                 "to set what it closes")

    def refs(self, text: str) -> None:
        """Warn for every ``ref`` part (comma-separated) the policy's text does not contain."""
        flat = re.sub(r"\s+", " ", text).casefold()
        items: list[tuple[str, str, str]] = []
        items += [(r.id, f"rules.{i}.ref", r.ref) for i, r in enumerate(self.pack.rules)]
        items += [(c.id, f"checks.{i}.ref", c.ref) for i, c in enumerate(self.pack.checks)]
        for name in ("matrix", "register_def", "priority", "contact"):
            part = getattr(self.pack, name)
            if part is not None:
                items.append((part.rule_id, f"{name.removesuffix('_def')}.ref", part.ref))
        for rule, field, ref in items:
            for piece in (p.strip() for p in ref.split(",")):
                if piece and not _ref_in(piece, flat):
                    self.add("warning", rule, field,
                             f"ref {piece!r} is not found in the policy's text")


# The roles in the order an overdue step climbs, for a message (the panel administrator is
# ranked with the case holder).
_CHAIN = ("case_holder", "line_manager", "duty_manager", "chair")


def _below(target: str, role: str) -> str:
    """Where ``target`` stands to ``role`` in the chain, in words."""
    return (f"below {role}" if ROLE_RANK[target] < ROLE_RANK[role] else
            f"no higher than {role}")


# A placeholder in a title (anything in braces), or a lone brace.
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|[{}]")


def _top_atoms(raw: Any) -> Iterator[tuple[str, Any]]:
    """The atoms a condition requires outright: at its top, or an item of its top ``all``."""
    if not isinstance(raw, Mapping):
        return
    for key, value in raw.items():
        if key == "all" and isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from ((str(k), v) for k, v in item.items() if k not in ("all", "any"))
        elif key not in ("any", "not"):
            yield str(key), value


def _any_items(raw: Any, where: str) -> Iterator[tuple[Any, str]]:
    """Every item of an ``any`` in a condition, with its field path, outside any ``not`` (whose
    alternatives are the other way round)."""
    if not isinstance(raw, Mapping):
        return
    for key, value in raw.items():
        if key in ("all", "any") and isinstance(value, list):
            for index, item in enumerate(value):
                if key == "any":
                    yield item, f"{where}.any.{index}"
                yield from _any_items(item, f"{where}.{key}.{index}")


def _trigger_in(raw: Any) -> set[str] | None:
    """The triggers a condition requires by a ``trigger_in`` atom, or None when it requires
    none."""
    found: set[str] | None = None
    for name, named in _top_atoms(raw):
        if name == "trigger_in" and isinstance(named, list | tuple):
            found = set(named) if found is None else found & set(named)
    return found


def _guarded(guard: tuple[str, frozenset[str]], *conditions: Any) -> bool:
    """Whether one of the conditions requires outright the guard's atom (``types.GUARDED_DATA``):
    its ``event_flag``, or an ``event_type_in`` naming only its types."""
    atom, values = guard
    for condition in conditions:
        for name, value in _top_atoms(condition.raw if condition is not None else None):
            if name != atom:
                continue
            named = {value} if isinstance(value, str) else set(value or ())
            if named and named <= values:
                return True
    return False


def _narrowed(triggers: tuple[str, ...], *conditions: Any) -> tuple[str, ...]:
    """A line's triggers, less those its conditions' ``trigger_in`` rule out."""
    kept = list(triggers)
    for condition in conditions:
        required = _trigger_in(condition.raw) if condition is not None else None
        if required is not None:
            kept = [t for t in kept if t in required]
    return tuple(kept)


def _form_words(deadline: Any) -> str:
    """A line's deadline as written: the form, or its branches' forms."""
    if isinstance(deadline, str):
        return deadline
    return " / ".join(branch.form for branch in deadline)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def never_true(arg: Mapping[str, Any], lo: int | None, hi: int | None) -> str | None:
    """Why a comparison ``{eq, in, lt, lte, gt, gte}`` holds for no whole number in
    ``lo``..``hi`` (None: unbounded), or None when some number satisfies it."""
    low, high = lo, hi
    for op, bound in (("gt", 1), ("gte", 0)):
        if (n := _int(arg.get(op))) is not None:
            low = n + bound if low is None else max(low, n + bound)
    for op, bound in (("lt", -1), ("lte", 0)):
        if (n := _int(arg.get(op))) is not None:
            high = n + bound if high is None else min(high, n + bound)
    ops = ", ".join(f"{op} = {arg[op]}" for op in ("eq", "in", "lt", "lte", "gt", "gte")
                    if arg.get(op) is not None)
    if low is not None and high is not None and low > high:
        return f"{{{ops}}} leaves no whole number"
    wanted = [arg.get("eq")] if arg.get("eq") is not None else list(arg.get("in") or ())
    numbers = [n for n in map(_int, wanted) if n is not None]
    if numbers and all((low is not None and n < low) or (high is not None and n > high)
                       for n in numbers):
        return f"{{{ops}}} names no number in range"
    return None


def _ref_in(piece: str, flat: str) -> bool:
    if re.fullmatch(r"\d+(\.\d+)*", piece):
        # A paragraph number: "3.2" must not match inside "13.2" or "3.21".
        return re.search(rf"(?<![\d.]){re.escape(piece)}(?![\d])", flat) is not None
    words = re.escape(re.sub(r"\s+", " ", piece).casefold())
    return re.search(rf"(?<!\w){words}(?!\w)", flat) is not None


def _carriers(name: str, keys: Sequence[str]) -> tuple[str, ...]:
    """The triggers whose data carries what ``name`` reads: every key (``types.EVENT_DATA``),
    and, for an atom whose values are words, the same kind of word under that key
    (``DATA_WORDS``: a case event's ``type`` is an event type, an assessment's is not)."""
    kind = ATOM_VOCABULARY.get(name)
    same = {"completed_codes": "step_codes"}

    def words_match(trigger: str) -> bool:
        carried = DATA_WORDS.get(trigger, {})
        return kind is None or all(
            k not in carried or same.get(carried[k], carried[k]) == kind for k in keys)

    return tuple(t for t in triggers_carrying(keys) if words_match(t))


def _carry_hint(keys: Sequence[str]) -> str:
    """What the owner probably meant by an event atom on a trigger without its data."""
    if "level" in keys or "domain" in keys:
        return ("; to test the case's rating use case.any_rating_in (before the act) or "
                "after.any_rating_in (after it), e.g. case = { any_rating_in = { domains = "
                "[\"rosh\"], levels = [\"high\"] } }")
    if "type" in keys:
        return ("; an event's type is tested on a trigger = \"case_event\" line; to test the "
                "case use case./after. atoms")
    if "changes" in keys:
        return ("; a change is tested on a trigger = \"case_changed\" line; to test the case as "
                "it is use case./after. atoms (e.g. after.csc_status_in)")
    return "; give the line a trigger that carries it, or test the case with case./after. atoms"


def _atoms(raw: Any, where: str, negated: bool = False
           ) -> Iterator[tuple[str, Any, str, bool]]:
    """Every (atom, argument, field path, under an odd number of ``not``) in a condition table,
    through all/any/not/case/after; a ``case``/``after`` group's atoms are named
    ``case.<atom>``/``after.<atom>`` (the one walker of a condition tree here: the words
    checked, ``_event_atoms`` and ``check_condition_words`` all read it)."""
    if not isinstance(raw, Mapping):
        return
    for key, value in raw.items():
        field = f"{where}.{key}"
        if key in ("all", "any") and isinstance(value, list):
            for index, item in enumerate(value):
                yield from _atoms(item, f"{field}.{index}", negated)
        elif key == "not":
            yield from _atoms(value, field, not negated)
        elif key in ("case", "after") and isinstance(value, Mapping):
            for inner, arg in value.items():
                yield f"{key}.{inner}", arg, f"{field}.{inner}", negated
        else:
            yield str(key), value, field, negated


def _event_atoms(raw: Any, where: str) -> Iterator[tuple[str, Any, str, bool]]:
    """Every event atom (not a ``case.``/``after.`` state atom) in a condition table, with its
    field path and whether it stands under an odd number of ``not``."""
    for name, value, field, negated in _atoms(raw, where):
        if name not in ("case", "after") and not name.startswith(("case.", "after.")):
            yield name, value, field, negated
