"""Whether a pack condition can ever hold, decided from its atoms where that is decidable.

A rule whose condition can never be true is a duty silently never raised (attack 28b,
ATK28B-2): ``judgement_domain_in = ["lor"]`` with ``level_in = ["very_high"]`` in a pack that
refuses a very high LoR (M7), ``level_in = ["high"]`` with ``level_below = "medium"``, two
disjoint ``judgement_domain_in`` under one ``all``, a ``holds`` that is false whenever the
line's ``when`` is true (the step lapses at the case's next act, though made).

The condition is expanded into alternatives (``any`` and ``not all``: one each; ``all``: every
combination), each a set of constraints on values: the judgement's domain and level, the
trigger, the case's ratings before and after (``any_rating_in`` of one domain), each membership
atom's value (``event_type_in``, ``case.intervention_in``...), yes/no atoms and event flags.
An alternative is impossible when some value has nothing left it may be. Atoms the model does
not know constrain nothing, so a condition is only ever called impossible when it is: the
check can miss a contradiction, never invent one. Too many alternatives (over ``LIMIT``) and
nothing is said.

Values with a scale of their own (ATK29-6): every atom naming a domain's level is held to the
levels that domain can have, as ``level_in`` is: a LoR rating (``any_rating_in``, the
judgement's previous level of ``level_lowered_from``) is never very high (the contract's LoR
scale, ``LOR_SCALE``), and a transfer in's incoming ratings (``incoming_rating_in``,
``incoming_rating_pending_in``) carry ROSH and SWB only (``INCOMING_DOMAINS``). And what an
act fixes about the case afterwards is tied to the ``after.`` atoms, as a judgement's level is
its domain's rating afterwards: a case change's ``changed_to`` is the field's value
afterwards (a case field or a ``facts.`` fact), a panel decision's ``decision_mappa_level_in``
the MAPPA level afterwards; so a ``holds`` on that field that its line's ``when`` makes false is
found.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from app.workflows.conditions import (
    BOOLEAN_STATE_ATOMS,
    VALUE_EVENT_ATOMS,
    VALUE_STATE_ATOMS,
    Compare,
    atom_reads,
    triggers_carrying,
)
from app.workflows.types import DOMAINS, LEVEL_RANK, LEVELS
from app.workflows.vocabulary import INCOMING_DOMAINS, LOR_SCALE_REFUSED, LOR_SCALE_RULE

LIMIT = 512
JUDGED = "judgement_recorded"

# Membership atoms whose values are a known, closed set (so a ``not`` leaves the rest; None:
# an act other than a judgement carries neither).
_UNIVERSE: dict[str, tuple[Any, ...]] = {
    "judgement_domain_in": (*DOMAINS, None), "level_in": (*LEVELS, None),
}
# Event atoms true only when the act carries the data they read (a membership, a flag set, a
# level below a threshold, a change named): such an atom, not negated, also says which triggers
# the act can be (``types.EVENT_DATA``, via ``conditions.triggers_carrying``).
_NEEDS_DATA = (*VALUE_EVENT_ATOMS, "level_below", "event_flag", "changed", "changed_to",
               "incoming_rating_in", "attendees_include", "level_lowered_from")
# How a value is named in a reason.
_NAMES = {"child_age": "the child's age",
          "judgement_domain_in": "the judgement's domain", "level_in": "the judgement's level",
          "trigger_in": "the act's trigger", "lowered_from": "the judgement's previous level"}
# The levels a domain's rating may hold (None: not rated): a very high LoR is refused under
# every pack (the contract's LoR scale), so no case is ever rated so; and the domains a
# transfer in's incoming ratings carry (the others: never).
_LOR_SCALE_SAID = ("the contract's LoR scale (low, medium, high) has no very high LoR under "
                   f"any pack: {LOR_SCALE_RULE}")
_RATED: dict[str, frozenset[Any]] = {
    d: frozenset({*LEVELS, None}) - ({LOR_SCALE_REFUSED[1]} if d == LOR_SCALE_REFUSED[0]
                                     else set()) for d in DOMAINS}
_SCALE_SAID = {LOR_SCALE_REFUSED[0]: _LOR_SCALE_SAID}
_INCOMING_SAID = (f"a transfer in's incoming ratings carry {' and '.join(INCOMING_DOMAINS)} "
                  "only")
# A case change's field (changed_to) -> the after. value it sets and how the engine reads the
# new value (engine._FIELD_READERS): the fields whose state atom reads just that field.
_CHANGED: dict[str, tuple[str, Any]] = {
    **{f: (f"after.{f}", bool) for f in ("statutory", "weapon_related", "in_custody",
                                         "volunteer_attached")},
    **{f: (f"after.{f}_in", lambda v: "" if v is None else str(v))
       for f in ("intervention", "csc_status")},
    **{f: (f"after.{f}_in", int) for f in ("mappa_category", "mappa_level")},
}


@dataclass
class _Value:
    """What one value may be: ``allowed`` (None: anything) less ``excluded``, and the atoms
    that said so (for the reason)."""

    allowed: frozenset[Any] | None = None
    excluded: frozenset[Any] = frozenset()
    said: list[str] = field(default_factory=list)

    def left(self) -> frozenset[Any] | None:
        """What the value may still be (None: anything but ``excluded``)."""
        return None if self.allowed is None else self.allowed - self.excluded

    def left_set(self) -> frozenset[Any]:
        """``left()`` of a value whose ``allowed`` is known."""
        return (self.allowed or frozenset()) - self.excluded


# One alternative: value name -> what it may be.
Alternative = dict[str, _Value]
# One constraint: (value name, allowed or None, excluded, how it is said).
_Constraint = tuple[str, frozenset[Any] | None, frozenset[Any], str]


def _name(value: str) -> str:
    """A value in words, for the reason (``after.rating:rosh``: the ROSH rating afterwards)."""
    for kind, words in ((".rating:", "rating"), (".incoming:", "incoming rating"),
                        (".fact:", "fact"), (".score:", "score")):
        if kind in value:
            side, what = value.split(kind)
            when = "afterwards" if side == "after" else "before the act"
            return (f"the {words} {what!r} {when}" if words in ("fact", "score")
                    else f"the {what.upper()} {words} {when}")
    if value.startswith("incoming:"):
        return f"the act's incoming {value[9:].upper()} rating"
    if value.startswith("flag:"):
        return f"the event flag {value[5:]!r}"
    return _NAMES.get(value, f"what '{value}' tests")


def _member(name: str, values: Iterable[Any], negated: bool, said: str) -> _Constraint:
    chosen = frozenset(values)
    universe = _UNIVERSE.get(name)
    if not negated:
        return name, chosen, frozenset(), said
    if universe is not None:
        return name, frozenset(universe) - chosen, frozenset(), f"not {said}"
    return name, None, chosen, f"not {said}"


def _scale(value: str) -> tuple[frozenset[Any], str] | None:
    """The values ``value`` may ever have, and why, for a value with a scale of its own (a
    domain's rating, an incoming rating); None for the others."""
    for kind in (".rating:", ".incoming:", "incoming:"):
        if kind in value or value.startswith(kind):
            domain = value.split(":", 1)[1]
            if kind == ".rating:":
                return _RATED.get(domain, frozenset()), _SCALE_SAID.get(domain, "")
            incoming = _RATED.get(domain, frozenset()) if domain in INCOMING_DOMAINS else None
            return (incoming or frozenset({None})), _INCOMING_SAID
    return None


def _ratings(values: Iterable[str], arg: Mapping[str, Any], negated: bool,
             said: str) -> list[list[_Constraint]]:
    """``{domains, levels}`` (some domain at some level) on the values named by ``values``
    (one per domain): one alternative a domain; negated, none of them."""
    levels = frozenset(arg.get("levels") or ())
    each = list(values)
    if negated:
        return [[(v, None, levels, f"not {said}") for v in each]]
    return [[(v, levels, frozenset(), said)] for v in each]


def _changed_to(arg: Mapping[str, Any], said: str) -> list[list[_Constraint]] | None:
    """A case change to one of ``values``: the field is one of them afterwards (a case field
    the model knows, or a ``facts.`` fact, stored as given); None for other fields."""
    field, values = str(arg.get("field")), list(arg.get("values") or ())
    try:
        if field.startswith("facts."):
            return [[(f"after.fact:{field[6:]}", frozenset(values), frozenset(), said)]]
        if field in _CHANGED:
            value, read = _CHANGED[field]
            return [[(value, frozenset(read(v) for v in values), frozenset(), said)]]
    except (TypeError, ValueError):  # a value the engine could not read: not modelled
        return None
    return None


def _fact(value: str, arg: Mapping[str, Any], negated: bool,
          said: str) -> list[list[_Constraint]] | None:
    """``{name, eq / in / ne / set}`` on a fact (``Compare.test``): the values it allows
    (unset: None); the other comparisons constrain nothing here. Negated, only a lone ``eq``,
    ``in``, ``ne`` or ``set`` is modelled."""
    ops = {k: v for k, v in arg.items() if k != "name" and v is not None}
    listed = ops.get("in") if isinstance(ops.get("in"), list | tuple) else None
    try:
        if negated:
            if len(ops) != 1:
                return None
            (op, v), = ops.items()
            unset, anything_set = frozenset({None}), (value, None, frozenset({None}), said)
            cut: dict[str, _Constraint] = {
                "eq": (value, None, frozenset({v}), said),
                "ne": (value, frozenset({v, None}), frozenset(), said),
                "set": (value, unset, frozenset(), said) if v else anything_set,
            }
            if listed is not None:
                cut["in"] = (value, None, frozenset(listed), said)
            return [[(*cut[op][:3], f"not {said}")]] if op in cut else None
        if ops.get("set") is False:  # unset only (Compare.test: whatever else is given)
            return [[(value, frozenset({None}), frozenset(), said)]]
        found: list[_Constraint] = []
        if "eq" in ops:
            found.append((value, frozenset({ops["eq"]}), frozenset(), said))
        if listed is not None:
            found.append((value, frozenset(listed), frozenset(), said))
        if "ne" in ops:
            found.append((value, None, frozenset({ops["ne"]}), said))
        if ops:  # every comparison but set = false fails on an unset value
            found.append((value, None, frozenset({None}), said))
        return [found]
    except TypeError:  # an unhashable value: not modelled
        return None


def _atom(name: str, arg: Any, negated: bool,
          ints: Integers) -> list[list[_Constraint]] | None:
    """The alternatives one atom allows (each a list of constraints), or None when the atom
    is not modelled (it then constrains nothing)."""
    bare = name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name
    side = name.split(".", 1)[0] if bare != name else ""
    listed = list(arg) if isinstance(arg, list | tuple) else None
    if isinstance(arg, Mapping):
        found = _mapping_atom(name, side, bare, arg, negated, ints)
        if found is not None:
            return found
    if name == "level_lowered_from" and listed is not None and not negated:
        return [[("lowered_from", frozenset(listed), frozenset(),
                  f"level_lowered_from = {listed}")]]
    if name == "decision_mappa_level_in" and listed is not None and not negated:
        # The decision's MAPPA level is the case's afterwards (engine._before_after).
        said = f"{name} = {listed}"
        return [[_member(name, listed, negated, said),
                 ("after.mappa_level_in", frozenset(listed), frozenset(), said)]]
    if name in ("judgement_domain_in", "level_in", "trigger_in") and listed is not None:
        return [[_member(name, listed, negated, f"{name} = {listed}")]]
    if name == "level_below" and arg in LEVEL_RANK:
        below = [lv for lv in LEVELS if LEVEL_RANK[lv] < LEVEL_RANK[arg]]
        return [[_member("level_in", below, negated, f"level_below = {arg!r}")]]
    if name == "event_flag" and isinstance(arg, str):
        said = f"{'not ' if negated else ''}event_flag = {arg!r}"
        return [[(f"flag:{arg}", frozenset({not negated}), frozenset(), said)]]
    if (name in VALUE_EVENT_ATOMS or (side and bare in VALUE_STATE_ATOMS)) \
            and listed is not None:
        return [[_member(name, listed, negated, f"{name} = {listed}")]]
    if side and bare in BOOLEAN_STATE_ATOMS and isinstance(arg, bool):
        said = f"{name} = {str(arg).lower()}"
        return [[(name, frozenset({arg != negated}), frozenset(),
                  f"not {said}" if negated else said)]]
    return None


def _mapping_atom(name: str, side: str, bare: str, arg: Mapping[str, Any],
                  negated: bool, ints: Integers) -> list[list[_Constraint]] | None:
    """The atoms whose argument is a table: ratings, a change to a value, a fact, a score,
    the child's age."""
    domains, levels = list(arg.get("domains") or ()), list(arg.get("levels") or ())
    said = f"{name} = {{domains = {domains}, levels = {levels}}}"
    if side and bare == "any_rating_in":
        return _ratings((f"{side}.rating:{d}" for d in domains), arg, negated, said)
    if name == "incoming_rating_in":
        return _ratings((f"incoming:{d}" for d in domains), arg, negated, said)
    if side and bare == "incoming_rating_pending_in" and not negated:
        # Some domain not rated by this service, arrived at one of the levels.
        return [[(f"{side}.rating:{d}", frozenset({None}), frozenset(), said),
                 (f"{side}.incoming:{d}", frozenset(levels), frozenset(), said)]
                for d in domains]
    if name == "changed_to" and not negated:
        return _changed_to(arg, f"changed_to = {{field = {arg.get('field')!r}, values = "
                                f"{list(arg.get('values') or ())}}}")
    quantity = _quantity(name, arg)
    if quantity is not None and quantity in ints:
        shown = ", ".join(f"{k} = {v!r}" for k, v in arg.items())
        return _integer(quantity if not side else f"{side}.{quantity}", ints[quantity], arg,
                        negated, f"{name} = {{{shown}}}")
    if side and bare == "fact" and isinstance(arg.get("name"), str):
        shown = ", ".join(f"{k} = {v!r}" for k, v in arg.items())
        return _fact(f"{side}.fact:{arg['name']}", arg, negated, f"{name} = {{{shown}}}")
    return None


# Integer-valued quantities, one kind (attack 33, ATTACK33-4; fix32f's leftover): the child's
# age, each declared score, each integer fact, named "child_age", "score:<id>", "fact:<id>".
# Each is held to its range (the pack's declared min/max; an age is 0 or more) and stands for
# the finitely many whole numbers that decide every comparison of one question: the range's
# ends and each constant compared with, one either side (the least number a conjunction of
# eq/ne/in/lt/lte/gt/gte allows, if any, is an end or a constant or one past one), and None
# (unset). So ranges combine across atoms, under ``not`` and through nested all/any/not.
Integers = Mapping[str, frozenset[Any]]
AGE_RANGE: tuple[int | None, int | None] = (0, None)
_INTEGER_OPS = frozenset({"eq", "ne", "in", "lt", "lte", "gt", "gte", "set"})


def _quantity(name: str, arg: Mapping[str, Any]) -> str | None:
    """The integer quantity an atom compares (``child_age``, ``case.score``/``after.score``,
    ``case.fact``/``after.fact``, by its ``name``), whatever its kind; None for other atoms."""
    bare = name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name
    if name == "child_age":
        return "child_age"
    if bare in ("score", "fact") and bare != name and isinstance(arg.get("name"), str):
        return f"{bare}:{arg['name']}"
    return None


def _constants(raw: Any, found: dict[str, set[int]]) -> dict[str, set[int]]:
    """The whole numbers each integer quantity is compared with in ``raw`` (and set to by a
    ``changed_to`` of an integer fact), into ``found``."""
    def numbers(value: Any) -> list[int]:
        items = value if isinstance(value, list | tuple) else [value]
        return [v for v in items if isinstance(v, int) and not isinstance(v, bool)]

    def visit(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            quantity = _quantity(key, value)
            if quantity is not None:
                for op, arg in value.items():
                    if op != "name":
                        found.setdefault(quantity, set()).update(numbers(arg))
            elif key == "changed_to" and str(value.get("field", "")).startswith("facts."):
                found.setdefault(f"fact:{str(value['field'])[6:]}", set()).update(
                    numbers(value.get("values") or ()))
            else:
                side = f"{key}." if key in ("case", "after") else ""
                for k, v in value.items():
                    visit(f"{side}{k}", v)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(key, item)

    visit("", raw)
    return found


def integers(raws: Iterable[Any], ranges: Mapping[str, tuple[int | None, int | None]]
             ) -> dict[str, frozenset[Any]]:
    """The values each integer quantity of ``ranges`` stands for in one question about the
    conditions ``raws``: None and the whole numbers in its range that decide it."""
    constants: dict[str, set[int]] = {}
    for raw in raws:
        _constants(raw, constants)
    found: dict[str, frozenset[Any]] = {}
    for quantity, (lo, hi) in ranges.items():
        points = {n + d for n in constants.get(quantity, ()) for d in (-1, 0, 1)}
        points |= {n for n in (lo, hi) if n is not None} or {0}
        found[quantity] = frozenset({None, *(n for n in points if (lo is None or n >= lo)
                                             and (hi is None or n <= hi))})
    return found


def _integer(value: str, universe: frozenset[Any], arg: Mapping[str, Any], negated: bool,
             said: str) -> list[list[_Constraint]] | None:
    """``{eq, ne, in, lt, lte, gt, gte, set}`` (``Compare.test``, as the engine tests it) on
    an integer quantity: the values of ``universe`` it allows, negated the others; another
    operator, or a value not a whole number: not modelled."""
    ops = {k: v for k, v in arg.items() if k != "name" and v is not None}
    listed = ops.get("in")
    numbers = [v for k, v in ops.items() if k not in ("set", "in")]
    numbers += list(listed) if isinstance(listed, list | tuple) else []
    if set(ops) - _INTEGER_OPS or "in" in ops and not isinstance(ops["in"], list | tuple) \
            or any(isinstance(v, bool) or not isinstance(v, int) for v in numbers):
        return None
    compare = Compare.model_validate(ops)
    allowed = frozenset(n for n in universe if compare.test(n))
    if negated:
        return [[(value, universe - allowed, frozenset(), f"not {said}")]]
    return [[(value, allowed, frozenset(), said)]]


def _expand(raw: Any, negated: bool, ints: Integers) -> list[list[_Constraint]] | None:
    """The condition's alternatives, or None when there would be more than ``LIMIT``."""
    if not isinstance(raw, Mapping):
        return [[]]
    parts: list[list[list[_Constraint]]] = []
    joined_by_any = False
    for key, value in raw.items():
        if key in ("all", "any") and isinstance(value, list):
            inner = [_expand(item, negated, ints) for item in value]
            if any(i is None for i in inner):
                return None
            items = [i for i in inner if i is not None]
            # ``any`` (or a negated ``all``) is one of its items; ``all`` every one of them.
            if (key == "any") != negated:
                parts.append([alt for alts in items for alt in alts])
            else:
                combined = _product(items)
                if combined is None:
                    return None
                parts.append(combined)
        elif key == "not":
            found = _expand(value, not negated, ints)
            if found is None:
                return None
            parts.append(found)
        elif key in ("case", "after") and isinstance(value, Mapping):
            found = _expand({f"{key}.{k}": v for k, v in value.items()}, negated, ints)
            if found is None:
                return None
            parts.append(found)
        else:
            found = _atom(str(key), value, negated, ints) or [[]]
            carriers = () if negated or key not in _NEEDS_DATA else triggers_carrying(
                atom_reads(str(key), value))
            if carriers:
                carried: _Constraint = (
                    "trigger_in", frozenset(carriers), frozenset(),
                    f"{key} (its data is carried only by {', '.join(carriers)} acts)")
                found = [[*alt, carried] for alt in found]
            parts.append(found)
    if negated and len(parts) > 1:
        # not (a and b) is (not a) or (not b): several keys of one table under 'not'.
        joined_by_any = True
    if joined_by_any:
        return [alt for alts in parts for alt in alts]
    return _product(parts)


def _product(parts: list[list[list[_Constraint]]]) -> list[list[_Constraint]] | None:
    size = 1
    for alts in parts:
        size *= max(len(alts), 1)
        if size > LIMIT:
            return None
    return [[c for alt in combo for c in alt] for combo in product(*parts)]


@dataclass(frozen=True)
class Facts:
    """What the pack itself makes impossible: the (domain, level) pairs a check refuses
    outright on every judgement (M7: LoR at very high), with the check's id; and the range of
    each integer quantity (``child_age``, ``score:<id>``, ``fact:<id>`` of an integer fact:
    (min, max), None where unbounded), which no value ever leaves."""

    refused: Mapping[tuple[str, str], str] = field(default_factory=dict)
    ranges: Mapping[str, tuple[int | None, int | None]] = field(
        default_factory=lambda: {"child_age": AGE_RANGE})

    def bounds_only(self) -> Facts:
        """These ranges without the refused judgements (for a check's own condition)."""
        return Facts(ranges=self.ranges)


def _apply(constraints: list[_Constraint], triggers: tuple[str, ...] | None) -> Alternative:
    values: Alternative = {}
    if triggers is not None:
        values["trigger_in"] = _Value(frozenset(triggers), frozenset(), ["the line's trigger"])
    for name, allowed, excluded, said in constraints:
        value = values.setdefault(name, _Value())
        if allowed is not None:
            value.allowed = allowed if value.allowed is None else value.allowed & allowed
        value.excluded |= excluded
        value.said.append(said)
    return values


def why_impossible(alternative: Alternative, facts: Facts) -> str | None:
    """Why this alternative can never hold, or None when it can (as far as the model sees)."""
    for name, value in alternative.items():
        left = value.left()
        scale = _scale(name)
        if scale is not None and (left is None or left):
            if not (left if left is not None else scale[0] - value.excluded) & scale[0]:
                # Empty only by the value's own scale: say which.
                return (f"{' and '.join(dict.fromkeys(value.said))} leave {_name(name)} "
                        f"nothing it may be ({scale[1]})")
        if left is not None and not left:
            what = _name(name)
            return (f"{' and '.join(dict.fromkeys(value.said))} leave {what} nothing it may be"
                    + _declared(name, facts))
    return _judged(alternative, facts)


def _declared(name: str, facts: Facts) -> str:
    """The note for a score or integer fact with a declared range, which may be what left it
    nothing (`` (the pack declares it from 0 to 4)``); empty for anything else."""
    quantity = name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name
    lo, hi = facts.ranges.get(quantity, (None, None)) if quantity != "child_age" else (None, None)
    if lo is None and hi is None:
        return ""
    span = f"from {lo} to {hi}" if lo is not None and hi is not None else (
        f"from {lo}" if lo is not None else f"up to {hi}")
    return f" (the pack declares it {span})"


def _judged(alternative: Alternative, facts: Facts) -> str | None:
    """On a judgement (the only trigger left), its domain and level, the rating of that domain
    afterwards (the judgement's level: ``engine._before_after``) and the pairs the pack's
    checks refuse must agree."""
    trigger = alternative.get("trigger_in")
    if trigger is None or trigger.left() != frozenset({JUDGED}):
        return None
    domain = alternative.get("judgement_domain_in", _Value())
    level = alternative.get("level_in", _Value())
    # A judgement always has a domain and a level.
    domains = frozenset(DOMAINS) if domain.allowed is None else domain.left_set() - {None}
    levels = frozenset(LEVELS) if level.allowed is None else level.left_set() - {None}
    lowered = alternative.get("lowered_from")
    pairs = []
    for d in domains:
        after = alternative.get(f"after.rating:{d}")
        rated = None if after is None else after.left()
        here = levels if rated is None else levels & rated
        pairs += [(d, lv) for lv in here if (d, lv) not in facts.refused
                  and (lowered is None or _lowered(alternative, lowered, d, lv))]
    if pairs:
        return None
    said = [*domain.said, *level.said, *(lowered.said if lowered is not None else ())]
    afterwards = [s for d in domains
                  for s in alternative.get(f"after.rating:{d}", _Value()).said]
    refused = sorted({facts.refused[(d, lv)] for d in domains for lv in levels
                      if (d, lv) in facts.refused})
    core = [r for r in refused if r == LOR_SCALE_RULE]
    own = [r for r in refused if r != LOR_SCALE_RULE]
    why = [f"check {', '.join(own)} refuses every such judgement"] if own else []
    why += ["the contract's LoR scale (low, medium, high) refuses a very high LoR under every "
            f"pack: {LOR_SCALE_RULE}"] if core else []
    if afterwards:
        why.append("afterwards the rating of the judgement's domain is its level")
    if lowered is not None:
        why.append("the previous level is the domain's rating before it (a LoR is never very "
                   "high), and the level is lower")
    return (f"on a judgement, {' and '.join(dict.fromkeys([*said, *afterwards]))} leave no domain "
            "and level a judgement may have" + (f" ({'; '.join(why)})" if why else ""))


def _lowered(alternative: Alternative, lowered: _Value, domain: str, level: str) -> bool:
    """Whether a judgement of ``domain`` at ``level`` can lower its rating from a level
    ``lowered`` allows: one the domain's rating before it may be, ranked above ``level``."""
    before = alternative.get(f"case.rating:{domain}")
    was = lowered.left_set() & _RATED.get(domain, frozenset())
    if before is not None and before.left() is not None:
        was &= before.left_set()
    return any(LEVEL_RANK.get(lv, -1) > LEVEL_RANK[level] for lv in was if lv is not None)


def alternatives(raw: Any, triggers: tuple[str, ...] | None, *others: Any,
                 facts: Facts | None = None) -> Iterator[Alternative] | None:
    """The alternatives of ``raw`` and every one of ``others`` together (each a condition
    table, all required), or None when there are too many to look at; integer quantities held
    to ``facts``' ranges (the child's age alone, 0 or more, without)."""
    ints = integers((raw, *others), (facts or Facts()).ranges)
    expanded = _expand({"all": [raw, *others]} if others else raw, False, ints)
    if expanded is None:
        return None
    return (_apply(alt, triggers) for alt in expanded)


def never(raw: Any, triggers: tuple[str, ...] | None, facts: Facts,
          *others: Any) -> str | None:
    """Why the conditions together can never hold, or None when they can (or the model
    cannot tell)."""
    found = alternatives(raw, triggers, *others, facts=facts)
    if found is None:
        return None
    reasons = []
    for alternative in found:
        why = why_impossible(alternative, facts)
        if why is None:
            return None
        reasons.append(why)
    if not reasons:
        return None
    return reasons[0] if len(set(reasons)) == 1 else "; or ".join(dict.fromkeys(reasons))


def facts_of(checks: Iterable[Any], scores: Iterable[Any] = (),
             declared: Iterable[Any] = ()) -> Facts:
    """The (domain, level) pairs a pack's checks refuse on every judgement: a check on
    ``judgement_recorded`` with no ``requires`` whose condition is only ``judgement_domain_in``
    and ``level_in`` (M7); and the very high LoR the engine refuses under every pack, by the
    pack's own check's id if it has one, else the core's (``LOR_SCALE``; ATK28B-15); the
    declared range of each of the pack's ``scores`` and integer facts (``declared``) and the
    child's age (ATTACK33-4)."""
    refused: dict[tuple[str, str], str] = {}
    for check in checks:
        if check.requires is not None or JUDGED not in check.trigger:
            continue
        raw = check.when.raw
        atoms = dict(raw) if isinstance(raw, Mapping) else {}
        if list(atoms) == ["all"] and isinstance(atoms["all"], list) and all(
                isinstance(i, Mapping) for i in atoms["all"]):
            atoms = {k: v for item in atoms["all"] for k, v in item.items()}
        if set(atoms) - {"judgement_domain_in", "level_in"}:
            continue
        domains = atoms.get("judgement_domain_in", DOMAINS)
        levels = atoms.get("level_in", LEVELS)
        for d in domains:
            for lv in levels:
                refused.setdefault((d, lv), check.id)
    refused.setdefault(LOR_SCALE_REFUSED, LOR_SCALE_RULE)
    ranges: dict[str, tuple[int | None, int | None]] = {"child_age": AGE_RANGE}
    ranges.update({f"score:{s.id}": (s.min, s.max) for s in scores})
    ranges.update({f"fact:{f.id}": (f.min, f.max) for f in declared if f.type == "integer"})
    return Facts(refused, ranges)
