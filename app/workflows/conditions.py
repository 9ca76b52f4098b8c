"""The pack condition language: small, declarative predicates over (event, case before, case after).

A condition is a TOML table. Combinators: ``all = [c, ...]``, ``any = [c, ...]``, ``not = c``; a
table with several keys means ``all`` of them. Every other key is an atom; an unknown atom (or a bad
argument) fails pack validation. ``case = { ... }`` / ``after = { ... }`` group state atoms, so
``{ case = { statutory = true } }`` is ``{ "case.statutory" = true }``.

Event atoms (about the triggering event and its data):

- ``trigger_in = [..]``: ``event.trigger`` is one of these.
- ``actor_role_in = [..]``: the role of the person acting.
- ``event_type_in = [..]``: ``case_event`` type (``new_incident``, ``charged``, ...).
- ``event_flag = "key"``: ``data[key]`` is truthy (``may_raise_to_high``,
  ``release_address_other_area``, ``custody_event``: the ``in_custody`` change that follows a
  custody event; ``custody_move_recorded``: a custody event reporting a move the case already
  records, such as a release after ``PATCH in_custody`` false; ``answers_rating_review``: a
  judgement that closes an open review of its domain's rating, Wokingham M3/M4).
- ``incoming_rating_in = {domains, levels}``: a transfer-in's ``incoming_ratings`` has one of the
  domains at one of the levels.
- ``judgement_domain_in = [..]`` / ``level_in = [..]`` / ``level_below = "medium"``: the recorded
  judgement's domain / level.
- ``level_changed = true``: the recorded level differs from the previous known level of that domain
  (unknown -> known counts as a change).
- ``level_lowered_from = [..]``: the previous level was one of these and the new one is lower.
- ``impact_in = [..]``, ``likelihood_in = [..]``: the judgement's impact / likelihood (the
  matrix, M1; unset matches neither, so ``not = { impact_in = [every impact] }`` is "no impact").
- ``level_differs_from_matrix = true``: ROSH with impact and likelihood whose level is not the
  matrix level (M1/M2, "professional gut").
- ``via_panel_decision = true``: the judgement is recorded as a panel decision.
- ``judgement_assessment_type_in = [..]``: the judgement is recorded with an assessment
  (``assessment_id``) of one of these types (``asset_plus``, ...).
- ``assessment_type_in``, ``assessment_stage_in``: of an assessment event.
- ``referral_kind_in``, ``referral_action_in``, ``referral_status_in``: of a referral event.
- ``completed_step_code_in``, ``completed_step_actor_in``, ``completed_by_role_in``: of a
  ``step_completed`` event.
- ``changed = [fields]``: a ``case_changed`` event changed one of these fields.
- ``changed_to = {field, values}``: it changed ``field`` to one of ``values``.
- ``decision_has_actions = true``, ``decision_mappa_level_in = [..]``, ``panel_kind_in = [..]``:
  of a ``panel_decision`` event.

State atoms, prefixed ``case.`` (the case before the event) or ``after.`` (after it: the judgement,
panel decision or case change applied; register recomputed):

- ``statutory``, ``weapon_related``, ``in_custody``, ``volunteer_attached``, ``on_register``,
  ``mappa_eligible`` (category set), ``has_release_date``, ``on_panel_agenda`` (booked on a panel
  not yet decided), ``panel_referred`` (a panel referral made before the act's instant (its
  ``made_at``: one made at a judgement's instant is the one that judgement asks for), not
  withdrawn or declined by then (``ended_at``), that no panel has decided on yet; fix41c):
  ``= true`` / ``= false``.
- ``open_step_in = [codes]``: the case has an open step with one of these codes.
- ``referral_sent_in = [kinds]``: the case has a referral of one of these kinds the service
  sent at or before the act's instant (its ``sent_at``; at one instant the referrals come
  before the judgements), standing then (not withdrawn or declined by then: its ``ended_at``,
  fix41c; not one a feed delivered); ``after.`` on its sending counts it
  (Somerset S10: 7.1.9 "unless this has already been done", the MAPPA A form sent, 8.3.3;
  the domain reads the set as at the act: ``app.domain.policy.snapshot_inputs``, fix40c).
- ``intervention_in``, ``csc_status_in`` (``none``, ``cin``, ``cic``, ``cp``),
  ``mappa_category_in``, ``mappa_level_in``: membership.
- ``any_rating_in = {domains, levels}``: one of the domains is rated at one of the levels.
- ``ratings_known = [domains]``: every listed domain has a known (non-null) level.
- ``countersigned_assessment_in = [types]``: the case has a countersigned assessment of one of
  these types (``asset_plus``, ...), of any stage; ``after.`` on a countersignature counts it.
- ``incoming_rating_pending_in = {domains, levels}``: one of the domains is not rated by this
  service and the child arrived (the latest transfer in's ``incoming_ratings``) at one of the
  levels in it: another service's judgement, standing until this service's own in that domain
  dated after the arrival (one dated before it, or at its instant, answers nothing).
- ``open_or_closed_within_days = N``: the case was open at the event's instant (not at or after
  the closure then in force: the current one, or a closed period before a reopening, whatever the
  order the acts were typed in), or, with N >= 1, the event's Europe/London calendar date is on
  or before that closure's London date + N days (calendar days, not clock time). ``0``: open at
  the event's instant only (an event after a closure the same day is on the closed case).

Comparisons (``Compare``: any of ``eq``, ``ne``, ``in``, ``lt``, ``lte``, ``gt``, ``gte``,
``contains_any``, ``set``; all given must hold; an unset value satisfies only ``set = false``):

- ``child_age = {gte = 10, lt = 14}``: the child's age in whole years on the event's
  Europe/London date (derived from the date of birth).
- ``attendees_include = [..]``: a ``panel_decision`` whose recorded attendees include every one
  of these (panel attendance).
- ``case.fact`` / ``after.fact = {name = "dangerousness_criteria_met", eq = true}``: a typed case
  fact the pack declares (``[[facts]]``); ``contains_any`` for list facts.
- ``case.score`` / ``after.score = {name = "asset_plus_harm_section", gte = 2}``: the latest
  assessment score of that name (``[[scores]]``); on an assessment event ``after.`` sees its scores.

``holds`` conditions (whether an open step is still justified) may use only ``after.`` atoms.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache, partial
from types import CodeType
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from app.workflows.calendar import london_date
from app.workflows.types import EVENT_DATA, LEVEL_RANK, TRIGGERS, CaseSnapshot, WorkflowEvent
from app.workflows.vocabulary import suggest

LevelName = Literal["low", "medium", "high", "very_high"]
DomainName = Literal["rosh", "swb", "lor"]


@dataclass(frozen=True)
class Context:
    """What a condition sees: the event, the case before it and the case after it."""

    event: WorkflowEvent
    before: CaseSnapshot
    after: CaseSnapshot
    matrix_level: str | None = None


Predicate = Callable[[Context], bool]


class ConditionError(ValueError):
    """A condition in a pack is malformed (unknown atom, bad argument); ``messages`` holds one
    message per mistake (a condition with two misspelt atoms says both, attack 19, A19-10)."""

    def __init__(self, message: str, messages: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.messages = messages or (message,)

    @classmethod
    def every(cls, errors: Sequence[ConditionError]) -> ConditionError:
        """One error for several found side by side."""
        messages = tuple(m for e in errors for m in e.messages)
        return cls("; ".join(messages), messages)


def _each(compilers: Sequence[Callable[[], _Part]]) -> list[_Part]:
    """Every part compiled, or one ConditionError naming every part that does not compile."""
    parts: list[_Part] = []
    errors: list[ConditionError] = []
    for compiler in compilers:
        try:
            parts.append(compiler())
        except ConditionError as exc:
            errors.append(exc)
    if errors:
        raise ConditionError.every(errors)
    return parts


@dataclass(frozen=True)
class Condition:
    """A compiled condition: the raw table (for messages and docs) and its predicate.

    ``test`` is the condition compiled into one Python function at load (``source`` is its text,
    for debugging); ``interpreted`` is the same condition as a tree of small closures, one per
    atom and combinator: the reference the compiled form is tested against (same result, same
    exception, on every context).
    """

    raw: Any
    test: Predicate
    interpreted: Predicate | None = None
    source: str = ""
    # The case fields the condition reads (:func:`case_fields_read`), under any nesting.
    case_fields: frozenset[str] = frozenset()

    def __call__(self, ctx: Context) -> bool:
        """Evaluate the condition."""
        return self.test(ctx)


class RatingArg(BaseModel):
    """``{domains, levels}``: some domain at some level."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    domains: tuple[DomainName, ...]
    levels: tuple[LevelName, ...]


class ChangedToArg(BaseModel):
    """``{field, values}``: a case field changed to one of the values."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    values: tuple[Any, ...]


class Compare(BaseModel):
    """A typed comparison; every operator given must hold (none given: the value is set)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    # Strict: a pack's 4.0 or true is not the whole number 4 or 1 (lax pydantic took them so,
    # and the pack check's range test, which reads the file, did not: attack 35a, ATTACK35A-10).
    eq: StrictBool | StrictInt | StrictStr | None = None
    ne: StrictBool | StrictInt | StrictStr | None = None
    in_: tuple[StrictInt | StrictStr, ...] | None = Field(default=None, alias="in")
    lt: StrictInt | None = None
    lte: StrictInt | None = None
    gt: StrictInt | None = None
    gte: StrictInt | None = None
    contains_any: tuple[str, ...] | None = None
    set: bool | None = None

    def test(self, value: Any) -> bool:
        """Whether the value satisfies every operator given."""
        if value is None:
            return self.set is False
        if self.set is False:
            return False
        numeric = isinstance(value, int) and not isinstance(value, bool)
        checks = (
            self.eq is None or value == self.eq,
            self.ne is None or value != self.ne,
            self.in_ is None or value in self.in_,
            self.lt is None or (numeric and value < self.lt),
            self.lte is None or (numeric and value <= self.lte),
            self.gt is None or (numeric and value > self.gt),
            self.gte is None or (numeric and value >= self.gte),
            self.contains_any is None or (
                isinstance(value, list | tuple) and any(v in value for v in self.contains_any)),
        )
        return all(checks)


class NamedCompare(Compare):
    """A comparison on a named fact or score: ``{name, eq/in/lt/.../set}``."""

    name: str


@dataclass(frozen=True)
class Atom:
    """One atom of the language: its argument type, how it builds a predicate and (for the atoms
    the bundled packs test on every evaluation) how it is written inline in a compiled condition.
    An atom without ``emit`` is compiled as a call of its built predicate."""

    name: str
    arg: TypeAdapter[Any]
    build: Callable[[Any], Predicate]
    state: bool = False
    emit: Callable[[Any, _Emitter], str] | None = None


class _Emitter:
    """Collects what a compiled condition's source needs: constants (closure variables) and
    which parts of the context it reads (bound once, at the top of the function)."""

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}
        self.uses: set[str] = set()

    def const(self, value: Any) -> str:
        """A name for a constant (a literal for plain strings, ints, bools and None)."""
        if value is None or type(value) in (str, int, bool):
            return repr(value)
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def data(self) -> str:
        """The event's data mapping."""
        self.uses.update(("e", "d"))
        return "_d"

    def event(self) -> str:
        """The event."""
        self.uses.add("e")
        return "_e"

    def case(self, after: bool) -> str:
        """The case snapshot before (``case.``) or after (``after.``) the event."""
        self.uses.add("a" if after else "b")
        return "_a" if after else "_b"

    def call(self, predicate: Predicate) -> str:
        """A call of an interpreted predicate (an atom without an inline form)."""
        return f"{self.const(predicate)}(ctx)"


# An emitted expression and whether it always evaluates to a bool (``and``/``or`` chains of
# bools are bools; anything else is wrapped in ``bool()`` where ``all``/``any`` would be).
_Emitted = tuple[str, bool]
_Emit = Callable[[Any, _Emitter], str]


def _is(expr: str, expected: bool) -> str:
    """``bool(expr) is expected`` without the call."""
    return f"(not not {expr})" if expected else f"(not {expr})"


_ATOMS: dict[str, Atom] = {}
_STRS: TypeAdapter[Any] = TypeAdapter(tuple[str, ...])
_INTS: TypeAdapter[Any] = TypeAdapter(tuple[int, ...])
_BOOL: TypeAdapter[Any] = TypeAdapter(bool)
_STR: TypeAdapter[Any] = TypeAdapter(str)
_INT: TypeAdapter[Any] = TypeAdapter(int)
_LEVELS: TypeAdapter[Any] = TypeAdapter(tuple[LevelName, ...])
_LEVEL: TypeAdapter[Any] = TypeAdapter(LevelName)
_DOMAINS: TypeAdapter[Any] = TypeAdapter(tuple[DomainName, ...])
_RATING: TypeAdapter[Any] = TypeAdapter(RatingArg)
_CHANGED_TO: TypeAdapter[Any] = TypeAdapter(ChangedToArg)
_COMPARE: TypeAdapter[Any] = TypeAdapter(Compare)
_NAMED: TypeAdapter[Any] = TypeAdapter(NamedCompare)


# The event data keys each event atom reads (``event_flag``: the key it names). An atom that
# reads none (``trigger_in``, ``actor_role_in``, ``child_age``) is met or not on any trigger.
_READS: dict[str, tuple[str, ...]] = {}


def _event_atom(
    name: str, arg: TypeAdapter[Any], emit: _Emit | None = None, *, reads: tuple[str, ...] = ()
) -> Callable[[Callable[[Any], Predicate]], Any]:
    def register(build: Callable[[Any], Predicate]) -> Callable[[Any], Predicate]:
        _ATOMS[name] = Atom(name, arg, build, emit=emit)
        if reads:
            _READS[name] = reads
        return build

    return register


def atom_reads(name: str, arg: Any) -> tuple[str, ...]:
    """The event data keys an event atom reads (``event_flag``: the flag it names); () for a
    state atom or an atom about the event itself (trigger, role, the child's age)."""
    if name == "event_flag":
        return (arg,) if isinstance(arg, str) else ()
    return _READS.get(name, ())


def triggers_carrying(keys: Sequence[str]) -> tuple[str, ...]:
    """The triggers whose event data carries every one of ``keys`` (``types.EVENT_DATA``)."""
    return tuple(t for t in TRIGGERS if all(k in EVENT_DATA.get(t, ()) for k in keys))


def _data(ctx: Context, key: str) -> Any:
    return ctx.event.data.get(key)


def _member(key: str) -> Callable[[Any], Predicate]:
    def build(values: tuple[Any, ...]) -> Predicate:
        allowed = frozenset(values)
        return lambda ctx: _data(ctx, key) in allowed

    return build


def _member_emit(key: str) -> _Emit:
    def emit(values: tuple[Any, ...], em: _Emitter) -> str:
        return f"({em.data()}.get({em.const(key)}) in {em.const(frozenset(values))})"

    return emit


# Membership atoms: atom name -> (event data key, argument type).
_MEMBERSHIP: dict[str, tuple[str, TypeAdapter[Any]]] = {
    "event_type_in": ("type", _STRS),
    "judgement_domain_in": ("domain", _DOMAINS),
    "level_in": ("level", _LEVELS),
    "assessment_type_in": ("type", _STRS),
    "assessment_stage_in": ("stage", _STRS),
    "referral_kind_in": ("kind", _STRS),
    "referral_action_in": ("action", _STRS),
    "referral_status_in": ("to_status", _STRS),
    "completed_step_code_in": ("code", _STRS),
    "completed_step_actor_in": ("actor", _STRS),
    "completed_by_role_in": ("completed_by_role", _STRS),
    "panel_kind_in": ("panel_kind", _STRS),
    "impact_in": ("impact", _STRS),
    "likelihood_in": ("likelihood", _STRS),
    "judgement_assessment_type_in": ("assessment_type", _STRS),
}
for _name, (_key, _adapter) in _MEMBERSHIP.items():
    _ATOMS[_name] = Atom(_name, _adapter, _member(_key), emit=_member_emit(_key))
    _READS[_name] = (_key,)


@_event_atom("trigger_in", _STRS,
             lambda values, em: f"({em.event()}.trigger in {em.const(values)})")
def _trigger_in(values: tuple[str, ...]) -> Predicate:
    return lambda ctx: ctx.event.trigger in values


@_event_atom("actor_role_in", _STRS,
             lambda values, em: f"({em.event()}.actor_role in {em.const(values)})")
def _actor_role_in(values: tuple[str, ...]) -> Predicate:
    return lambda ctx: ctx.event.actor_role in values


@_event_atom("event_flag", _STR,
             lambda key, em: _is(f"{em.data()}.get({em.const(key)})", True))
def _event_flag(key: str) -> Predicate:
    return lambda ctx: bool(_data(ctx, key))


@_event_atom("via_panel_decision", _BOOL,
             lambda expected, em: _is(f"{em.data()}.get('via_panel_decision')", expected),
             reads=("via_panel_decision",))
def _via_panel(expected: bool) -> Predicate:
    return lambda ctx: bool(_data(ctx, "via_panel_decision")) is expected


@_event_atom("incoming_rating_in", _RATING, reads=("incoming_ratings",))
def _incoming_rating_in(arg: RatingArg) -> Predicate:
    def test(ctx: Context) -> bool:
        incoming = _data(ctx, "incoming_ratings") or {}
        return any(incoming.get(d) in arg.levels for d in arg.domains)

    return test


def previous_level(ctx: Context) -> str | None:
    """The recorded domain's level before the judgement (None when unknown)."""
    return ctx.before.ratings.get(str(_data(ctx, "domain")))


def _level_below_emit(threshold: str, em: _Emitter) -> str:
    rank = LEVEL_RANK[threshold]
    return f"({em.const(LEVEL_RANK)}.get(str({em.data()}.get('level')), {rank}) < {rank})"


@_event_atom("level_below", _LEVEL, _level_below_emit, reads=("level",))
def _level_below(threshold: str) -> Predicate:
    rank = LEVEL_RANK[threshold]
    return lambda ctx: LEVEL_RANK.get(str(_data(ctx, "level")), rank) < rank


def _level_changed_emit(expected: bool, em: _Emitter) -> str:
    data, before = em.data(), em.case(False)
    return (f"(({data}.get('level') != {before}.ratings.get(str({data}.get('domain')))) "
            f"is {expected!r})")


@_event_atom("level_changed", _BOOL, _level_changed_emit, reads=("domain", "level"))
def _level_changed(expected: bool) -> Predicate:
    return lambda ctx: (_data(ctx, "level") != previous_level(ctx)) is expected


@_event_atom("level_lowered_from", _LEVELS, reads=("domain", "level"))
def _level_lowered_from(levels: tuple[str, ...]) -> Predicate:
    def test(ctx: Context) -> bool:
        before = previous_level(ctx)
        now = LEVEL_RANK.get(str(_data(ctx, "level")))
        return before in levels and now is not None and now < LEVEL_RANK[str(before)]

    return test


@_event_atom("level_differs_from_matrix", _BOOL, reads=("level",))
def _level_differs(expected: bool) -> Predicate:
    def test(ctx: Context) -> bool:
        differs = ctx.matrix_level is not None and _data(ctx, "level") != ctx.matrix_level
        return differs is expected

    return test


def _changes(ctx: Context) -> Mapping[str, Sequence[Any]]:
    changes = _data(ctx, "changes")
    return changes if isinstance(changes, Mapping) else {}


@_event_atom("changed", _STRS, reads=("changes",))
def _changed(fields: tuple[str, ...]) -> Predicate:
    return lambda ctx: any(f in _changes(ctx) for f in fields)


@_event_atom("changed_to", _CHANGED_TO, reads=("changes",))
def _changed_to(arg: ChangedToArg) -> Predicate:
    def test(ctx: Context) -> bool:
        pair = _changes(ctx).get(arg.field)
        return pair is not None and len(pair) == 2 and pair[0] != pair[1] and pair[1] in arg.values

    return test


@_event_atom("decision_has_actions", _BOOL,
             lambda expected, em: _is(f"{em.data()}.get('actions')", expected),
             reads=("actions",))
def _has_actions(expected: bool) -> Predicate:
    return lambda ctx: bool(_data(ctx, "actions")) is expected


@_event_atom("decision_mappa_level_in", _INTS,
             lambda levels, em: f"({em.data()}.get('mappa_level') in {em.const(levels)})",
             reads=("mappa_level",))
def _decision_mappa(levels: tuple[int, ...]) -> Predicate:
    return lambda ctx: _data(ctx, "mappa_level") in levels


def child_age(ctx: Context) -> int | None:
    """The child's age in whole years on the event's Europe/London date (None: no birth date)."""
    born = ctx.before.date_of_birth
    if born is None:
        return None
    on = london_date(ctx.event.occurred_at)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@_event_atom("child_age", _COMPARE)
def _child_age(compare: Compare) -> Predicate:
    return lambda ctx: compare.test(child_age(ctx))


@_event_atom("attendees_include", _STRS, reads=("attendees",))
def _attendees_include(names: tuple[str, ...]) -> Predicate:
    def test(ctx: Context) -> bool:
        attended = _data(ctx, "attendees") or ()
        return all(n in attended for n in names)

    return test


# State atoms: each is built on a case snapshot and registered twice, as case.* and after.*.
StateBuild = Callable[[Any], Callable[[CaseSnapshot, Context], bool]]
# How a state atom is written inline, given the expression naming the case snapshot.
StateEmit = Callable[[Any, _Emitter, str], str]
_STATE: dict[str, tuple[TypeAdapter[Any], StateBuild, StateEmit | None]] = {}


def _flag(field: str) -> StateBuild:
    def build(expected: bool) -> Callable[[CaseSnapshot, Context], bool]:
        return lambda case, ctx: bool(getattr(case, field)) is expected

    return build


def _flag_emit(field: str) -> StateEmit:
    return lambda expected, em, case: _is(f"{case}.{field}", expected)


def _in(field: str) -> StateBuild:
    def build(values: tuple[Any, ...]) -> Callable[[CaseSnapshot, Context], bool]:
        allowed = frozenset(values)
        return lambda case, ctx: getattr(case, field) in allowed

    return build


def _in_emit(field: str) -> StateEmit:
    return lambda values, em, case: f"({case}.{field} in {em.const(frozenset(values))})"


def _is_set_emit(field: str) -> StateEmit:
    def emit(expected: bool, em: _Emitter, case: str) -> str:
        return f"({case}.{field} is {'not ' if expected else ''}None)"

    return emit


def _any_rating_in(arg: RatingArg) -> Callable[[CaseSnapshot, Context], bool]:
    return lambda case, ctx: any(case.ratings.get(d) in arg.levels for d in arg.domains)


def _any_rating_emit(arg: RatingArg, em: _Emitter, case: str) -> str:
    if not arg.domains:
        return "False"
    levels = em.const(arg.levels)
    return "(" + " or ".join(
        f"{case}.ratings.get({em.const(d)}) in {levels}" for d in arg.domains) + ")"


def _incoming_pending(arg: RatingArg) -> Callable[[CaseSnapshot, Context], bool]:
    return lambda case, ctx: any((case.incoming_at is not None or case.ratings.get(d) is None)
                                 and case.incoming_ratings.get(d) in arg.levels
                                 for d in arg.domains)


def _incoming_pending_emit(arg: RatingArg, em: _Emitter, case: str) -> str:
    if not arg.domains:
        return "False"
    levels = em.const(arg.levels)
    return "(" + " or ".join(
        f"(({case}.incoming_at is not None or {case}.ratings.get({em.const(d)}) is None) and "
        f"{case}.incoming_ratings.get({em.const(d)}) in {levels})" for d in arg.domains) + ")"


def _ratings_known(domains: tuple[str, ...]) -> Callable[[CaseSnapshot, Context], bool]:
    return lambda case, ctx: all(case.ratings.get(d) is not None for d in domains)


def _ratings_known_emit(domains: tuple[str, ...], em: _Emitter, case: str) -> str:
    if not domains:
        return "True"
    return "(" + " and ".join(
        f"{case}.ratings.get({em.const(d)}) is not None" for d in domains) + ")"


def _within_days(days: int) -> Callable[[CaseSnapshot, Context], bool]:
    window = timedelta(days=days)

    def test(case: CaseSnapshot, ctx: Context) -> bool:
        # The case as it was at the event's instant (attack 24b, A24b-3, A24b-7): open then, or
        # (N >= 1) calendar days in Europe/London, not clock time: an event whose London date is
        # on or before the closure's London date + N days qualifies (S23 "up to 20 days"). An
        # event after a closure the same day is on the closed case (by instant, N = 0).
        closure = case.closure_in_force(ctx.event.occurred_at)
        if closure is None:
            return True
        return days > 0 and london_date(ctx.event.occurred_at) <= london_date(closure) + window

    return test


def _open_step_emit(codes: tuple[str, ...], em: _Emitter, case: str) -> str:
    return f"any(s.code in {em.const(codes)} for s in {case}.open_steps)"


_TEXT_FIELDS = ("intervention", "csc_status")
_NUMBER_FIELDS = ("mappa_category", "mappa_level")
BOOLEAN_FIELDS = ("statutory", "weapon_related", "in_custody", "volunteer_attached",
                  "on_register", "on_panel_agenda", "panel_referred")
for _field in BOOLEAN_FIELDS:
    _STATE[_field] = (_BOOL, _flag(_field), _flag_emit(_field))
for _field in _TEXT_FIELDS:
    _STATE[f"{_field}_in"] = (_STRS, _in(_field), _in_emit(_field))
for _field in _NUMBER_FIELDS:
    _STATE[f"{_field}_in"] = (_INTS, _in(_field), _in_emit(_field))
_STATE["mappa_eligible"] = (
    _BOOL, lambda e: lambda case, ctx: (case.mappa_category is not None) is e,
    _is_set_emit("mappa_category"),
)
_STATE["has_release_date"] = (
    _BOOL, lambda e: lambda case, ctx: (case.expected_release_date is not None) is e,
    _is_set_emit("expected_release_date"),
)
# The case field each state atom reads (:func:`case_fields_read`; ``fact``: its name's).
_STATE_FIELDS: dict[str, tuple[str, ...]] = {
    **{f: (f,) for f in BOOLEAN_FIELDS},
    **{f"{f}_in": (f,) for f in (*_TEXT_FIELDS, *_NUMBER_FIELDS)},
    "mappa_eligible": ("mappa_category",),
    "has_release_date": ("expected_release_date",),
}
_STATE["any_rating_in"] = (_RATING, _any_rating_in, _any_rating_emit)
_STATE["ratings_known"] = (_DOMAINS, _ratings_known, _ratings_known_emit)
_STATE["incoming_rating_pending_in"] = (_RATING, _incoming_pending, _incoming_pending_emit)
_STATE["countersigned_assessment_in"] = (
    _STRS, lambda types: lambda case, ctx: not case.countersigned_types.isdisjoint(types),
    lambda types, em, case:
        f"(not {case}.countersigned_types.isdisjoint({em.const(frozenset(types))}))",
)
_STATE["referral_sent_in"] = (
    _STRS, lambda kinds: lambda case, ctx: not case.referrals_sent.isdisjoint(kinds),
    lambda kinds, em, case:
        f"(not {case}.referrals_sent.isdisjoint({em.const(frozenset(kinds))}))",
)
_STATE["open_or_closed_within_days"] = (_INT, _within_days, None)
# What ``app.workflows.satisfiable`` may model as one value each (a case field, or a key of the
# act's data, tested against a list; a yes/no of the case): not ``open_step_in``,
# ``countersigned_assessment_in`` nor ``referral_sent_in``, which test a set (a case has
# several open steps at once).
VALUE_STATE_ATOMS = frozenset(f"{f}_in" for f in (*_TEXT_FIELDS, *_NUMBER_FIELDS))
VALUE_EVENT_ATOMS = frozenset({*_MEMBERSHIP, "decision_mappa_level_in", "actor_role_in"})
_STATE["open_step_in"] = (
    _STRS, lambda codes: lambda case, ctx: any(s.code in codes for s in case.open_steps),
    _open_step_emit,
)
_STATE["fact"] = (
    _NAMED, lambda arg: lambda case, ctx: arg.test(case.facts.get(arg.name)), None
)
_STATE["score"] = (
    _NAMED, lambda arg: lambda case, ctx: arg.test(case.scores.get(arg.name)), None
)


def _bind(build: StateBuild, after: bool) -> Callable[[Any], Predicate]:
    def bound(arg: Any) -> Predicate:
        test = build(arg)
        if after:
            return lambda ctx: test(ctx.after, ctx)
        return lambda ctx: test(ctx.before, ctx)

    return bound


def _bind_emit(emit: StateEmit | None, after: bool) -> _Emit | None:
    if emit is None:
        return None
    return lambda arg, em: emit(arg, em, em.case(after))


for _name, (_adapter, _build, _state_emit) in _STATE.items():
    for _side, _after in (("case", False), ("after", True)):
        _ATOMS[f"{_side}.{_name}"] = Atom(
            f"{_side}.{_name}", _adapter, _bind(_build, _after), state=True,
            emit=_bind_emit(_state_emit, _after),
        )


def atom_names() -> tuple[str, ...]:
    """Every atom name the language knows."""
    return tuple(sorted(_ATOMS))


def always(ctx: Context) -> bool:
    """The empty condition: always true."""
    return True


# A compiled part: its interpreted predicate, and how to write it inline (given an emitter:
# the expression and whether it is always a bool).
_Part = tuple[Predicate, Callable[[_Emitter], _Emitted]]


def compile_condition(raw: Any, where: str = "condition", *, after_only: bool = False) -> Condition:
    """Validate and compile a condition table; ConditionError says where and what is wrong.

    The table is checked and typed atom by atom (unknown atoms and bad arguments are refused
    here, at load), then compiled into one Python function (``Condition.test``); the tree of
    per-atom closures it was built from is kept as ``Condition.interpreted``.
    """
    predicate, emit = _compile(raw, where, after_only)
    em = _Emitter()
    expr, _ = emit(em)
    source, test = _generate(expr, em)
    return Condition(raw, test, predicate, source, case_fields_read(raw))


def case_fields_read(raw: Any) -> frozenset[str]:
    """The case fields a (valid) condition table reads, under ``all``, ``any``, ``not`` and the
    ``case``/``after`` groups: a state atom's field (``case.mappa_level_in``: ``mappa_level``;
    ``mappa_eligible``: ``mappa_category``; ``fact``: ``facts.<name>``) and the fields a
    change atom tests (``changed``, ``changed_to``). Not an act's data (``decision_mappa_level_in``
    reads the decision's level, not the case's), nor what is only in a title or a note."""
    found: set[str] = set()

    def walk(table: Any) -> None:
        if not isinstance(table, Mapping):
            return
        for key, value in table.items():
            name = str(key)
            if name in ("all", "any") and isinstance(value, list):
                for part in value:
                    walk(part)
            elif name == "not":
                walk(value)
            elif name in ("case", "after") and isinstance(value, Mapping):
                walk({f"{name}.{k}": v for k, v in value.items()})
            else:
                found.update(_atom_fields(name, value))

    walk(raw)
    return frozenset(found)


def _atom_fields(name: str, value: Any) -> tuple[str, ...]:
    """The case fields one atom reads (:func:`case_fields_read`)."""
    if name == "changed":
        return tuple(str(f) for f in ((value,) if isinstance(value, str) else value or ()))
    if name == "changed_to":
        return (str(value["field"]),) if isinstance(value, Mapping) and "field" in value else ()
    if not name.startswith(("case.", "after.")):
        return ()
    bare = name.split(".", 1)[1]
    if bare == "fact":
        return (f"facts.{value['name']}",) if isinstance(value, Mapping) and "name" in value \
            else ()
    return _STATE_FIELDS.get(bare, ())


def _prelude(em: _Emitter, indent: str) -> list[str]:
    """The lines binding the context parts an emitted expression reads (``_e``, ``_d``, ``_b``,
    ``_a``: the event, its data, the case before and after) from ``ctx``."""
    prelude = []
    if "e" in em.uses:
        prelude.append(f"{indent}_e = ctx.event")
    if "d" in em.uses:
        prelude.append(f"{indent}_d = _e.data")
    if "b" in em.uses:
        prelude.append(f"{indent}_b = ctx.before")
    if "a" in em.uses:
        prelude.append(f"{indent}_a = ctx.after")
    return prelude


def _source(expr: str, em: _Emitter) -> str:
    params = ", ".join(em.consts)
    return "\n".join([
        f"def _make({params}):",
        "    def condition(ctx):",
        *_prelude(em, "        "),
        f"        return {expr}",
        "    return condition",
    ])


# A condition table's repr -> how to write it inline, and its source written alone (packs
# repeat conditions, and a pack's copies repeat all of them).
_EMITS: dict[str, tuple[Callable[[_Emitter], _Emitted], str]] = {}


class Inliner:
    """Writes several compiled conditions into one generated function (the engine's code per
    trigger): :meth:`expression` gives a condition's expression over ``ctx`` and the names
    :meth:`prelude` binds, its constants collected in ``consts`` (closure variables of the
    generated function, named ``_c0``, ``_c1``, ...: never pack text as code)."""

    def __init__(self) -> None:
        self._em = _Emitter()

    @property
    def consts(self) -> dict[str, Any]:
        """Constant name -> value, for every expression given so far."""
        return self._em.consts

    def expression(self, condition: Condition) -> str | None:
        """The condition's compiled expression (the same text its ``test`` runs, with this
        inliner's constant names), or None when it was not compiled from its table here (the
        caller then calls ``condition.test``)."""
        key = repr(condition.raw)
        found = _EMITS.get(key)
        if found is None:
            try:
                _, emit = _compile(condition.raw, "condition", False)
            except ConditionError:
                return None
            alone = _Emitter()
            found = (emit, _source(emit(alone)[0], alone))
            if len(_EMITS) < 4096:
                _EMITS[key] = found
        emit, source = found
        if source != condition.source:
            return None
        return emit(self._em)[0]


    def prelude(self, indent: str, event_data: bool = False) -> list[str]:
        """The lines binding ``_e``, ``_d``, ``_b`` and ``_a`` the expressions read (``_e`` and
        ``_d`` in any case with ``event_data``, for the caller's own code)."""
        if event_data:
            self._em.data()
        return _prelude(self._em, indent)


def _generate(expr: str, em: _Emitter) -> tuple[str, Predicate]:
    """The condition's function: the context parts it reads bound once, then one expression."""
    source = _source(expr, em)
    namespace: dict[str, Any] = {}
    # Every value reaches the source as a closure variable or a repr() literal of a str, int,
    # bool or None: no pack text is ever code.
    exec(_code(source), namespace)  # noqa: S102
    test: Predicate = namespace["_make"](**em.consts)
    return source, test


@lru_cache(maxsize=4096)
def _code(source: str) -> CodeType:
    """Compiled once per distinct source (packs repeat conditions: S5 and S6 share one)."""
    return compile(source, "<pack condition>", "exec")


def _compile(raw: Any, where: str, after_only: bool) -> _Part:
    if not isinstance(raw, Mapping) or not raw:
        raise ConditionError(f"{where}: a condition must be a non-empty table, got {raw!r}")
    parts = _each([partial(_compile_key, str(k), v, f"{where}.{k}", after_only)
                   for k, v in raw.items()])
    if len(parts) == 1:
        return parts[0]
    predicates = [p for p, _ in parts]
    return (lambda ctx: all(p(ctx) for p in predicates)), _join(parts, "and")


def _join(parts: list[_Part], op: str) -> Callable[[_Emitter], _Emitted]:
    """``all`` / ``any`` of parts: a short-circuit chain (bool() round it where a part may not be
    a bool, so the result is the bool ``all()`` / ``any()`` gives)."""
    def emit(em: _Emitter) -> _Emitted:
        emitted = [e(em) for _, e in parts]
        chain = f" {op} ".join(expr for expr, _ in emitted)
        if all(is_bool for _, is_bool in emitted):
            return f"({chain})", True
        return f"bool({chain})", True

    return emit


def _compile_key(key: str, value: Any, where: str, after_only: bool) -> _Part:
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise ConditionError(f"{where}: '{key}' takes a non-empty list of conditions")
        parts = _each([partial(_compile, v, f"{where}[{i}]", after_only)
                       for i, v in enumerate(value)])
        predicates = [p for p, _ in parts]
        if key == "all":
            return (lambda ctx: all(p(ctx) for p in predicates)), _join(parts, "and")
        return (lambda ctx: any(p(ctx) for p in predicates)), _join(parts, "or")
    if key == "not":
        inner, inner_emit = _compile(value, where, after_only)

        def emit_not(em: _Emitter) -> _Emitted:
            return f"(not {inner_emit(em)[0]})", True

        return (lambda ctx: not inner(ctx)), emit_not
    if key in ("case", "after") and isinstance(value, Mapping):
        # The atoms are named case.x / after.x: the path names the group once (A17-7).
        return _compile({f"{key}.{k}": v for k, v in value.items()},
                        where.removesuffix(f".{key}"), after_only)
    return _compile_atom(key, value, where, after_only)


def _argument_error(name: str, value: Any, where: str, error: Any) -> ConditionError:
    """One mistake in an atom's argument, in words a policy owner can act on."""
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] in ("tuple_type", "list_type", "frozen_set_type", "set_type") and (
            not loc and isinstance(value, str | int | float | bool)):
        # "Input should be a valid tuple" means nothing to a policy owner (A17-7).
        return ConditionError(f"{where}: '{name}' takes a list: write {name} = "
                              f"[{json.dumps(value)}], not {json.dumps(value)}")
    if error["type"] in ("literal_error", "enum") and isinstance(error["input"], str):
        words = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        return ConditionError(
            f"{where}{'.' + loc if loc else ''}: {error['input']!r} is not allowed in "
            f"'{name}': write {str(error['msg']).removeprefix('Input should be ')}"
            f"{suggest(error['input'], words)}")
    given = error["input"]
    if error["type"] in ("int_type", "bool_type", "string_type") and (
            isinstance(given, float | bool)):
        # A comparison's 4.0 or true where a whole number goes (Compare is strict: lax
        # pydantic took 4.0 as 4 and true as 1; attack 35a, ATTACK35A-10). A union's three
        # errors (eq: bool, int or text) say one thing: the caller keeps one of each.
        op = loc.removesuffix(".int").removesuffix(".bool").removesuffix(".str")
        write = ("write a whole number: true and false are not numbers"
                 if isinstance(given, bool) else f"write {int(given)}" if given.is_integer()
                 else "write a whole number, without a point")
        return ConditionError(f"{where}.{op}: {given!r} is not a whole number: {write}")
    if error["type"] == "missing" and loc:
        return ConditionError(f"{where}: '{name}' needs '{loc}'")
    if error["type"] == "extra_forbidden" and loc:
        return ConditionError(f"{where}.{loc}: '{name}' takes no '{loc}'")
    return ConditionError(f"{where}: bad argument {value!r} for '{name}': {error['msg']}"
                          + (f" at {loc}" if loc else ""))


# Atoms met when every listed value is there: an empty list asks for nothing.
_EVERY_OF = ("attendees_include", "case.ratings_known", "after.ratings_known")


def _empty_lists(name: str, arg: Any, where: str) -> list[str]:
    """An atom given an empty list means nothing (attack 28b, ATK28B-1: ``level_in = []``, a
    draft emptied, was accepted and then broke ``pack render``): a membership in nothing is
    never true, so the line it guards never applies; "every one of nothing" is always true."""
    lists: list[tuple[str, tuple[Any, ...] | None]]
    if isinstance(arg, tuple):
        lists = [("", arg)]
    elif isinstance(arg, RatingArg):
        lists = [(".domains", arg.domains), (".levels", arg.levels)]
    elif isinstance(arg, ChangedToArg):
        lists = [(".values", arg.values)]
    elif isinstance(arg, Compare):
        lists = [(".in", arg.in_), (".contains_any", arg.contains_any)]
    else:
        return []
    said = ("it is always met and says nothing" if name in _EVERY_OF else
            "it is never met, so where it is required the line never applies (under 'not', "
            "always met)")
    return [f"{where}{at}: '{name}' is given an empty list: {said}; name at least one value, "
            "or remove it" for at, values in lists if values is not None and not values]


def _compile_atom(name: str, value: Any, where: str, after_only: bool) -> _Part:
    atom = _ATOMS.get(name)
    if atom is None:
        near = difflib.get_close_matches(name, _ATOMS, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ConditionError(f"{where}: unknown condition atom '{name}'{hint}")
    errors: list[ConditionError] = []
    if after_only and not name.startswith("after."):
        errors.append(ConditionError(f"{where}: only after.* atoms (the case after the act) "
                                     f"may be used here, not '{name}'"))
    try:
        arg = atom.arg.validate_python(value)
    except ValidationError as exc:
        # Every mistake in the argument, one message each (attack 20, A20-17a: a misspelt
        # domain and a misspelt level in one any_rating_in once took two runs to find).
        said = [_argument_error(name, value, where, error) for error in exc.errors()]
        errors += [e for i, e in enumerate(said) if str(e) not in map(str, said[:i])]
    else:
        errors += [ConditionError(m) for m in _empty_lists(name, arg, where)]
    if errors:
        raise ConditionError.every(errors)
    predicate = atom.build(arg)
    inline = atom.emit

    def emit(em: _Emitter) -> _Emitted:
        if inline is not None:
            return inline(arg, em), True
        return em.call(predicate), False

    return predicate, emit


# The yes/no state atoms (after every state atom is registered): one value each.
BOOLEAN_STATE_ATOMS = frozenset(name for name, (adapter, _, _) in _STATE.items()
                                if adapter is _BOOL)
