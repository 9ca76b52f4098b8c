"""Attack 35b, ATTACK35B-2's kind: a pack line must never name a role as the one who did an act
that role may not do. Somerset S46 (8.3) had a line for the urgent MAPPA referral event
"recorded by a chair", and a chair may record no case event (403): the line was dead, and so
were its twins (S43's and S44's chair lines for an event the chair recorded).

Every line of both bundled packs (the rule lines and the checks' acknowledgement lines), every
role its condition names as the doer of the triggering act (``actor_role_in``, negated or
not: a role named in a ``not`` is a case the line sets aside, which must be able to happen)
against the acts whose write runs that trigger (app.domain.access.TRIGGER_GATES, through
ROLE_TABLE); and every role named as the one who completed a step (``completed_by_role_in``)
against the step codes named beside it (``completed_step_code_in`` in the same conjunction):
the role must complete a step of one of those codes, by hand (its owner, a cover, an
``also_done_by``, a stand-in) or by an act closing it (``[closures]``, a referral kind's
``closes``). No database: the tables are data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from app.domain.access import ROLE_TABLE, TRIGGER_GATES, roles_doing
from app.domain.next_steps import COVER
from app.workflows.packs import Pack, Rule, load_packs
from app.workflows.types import TRIGGERS
from app.workflows.vocabulary import NOT_DOING_ACTS

PACKS = load_packs()
BOTH = ("somerset-yjt-2023", "wokingham-pyjs-2024")
ROLE_ATOMS = ("actor_role_in", "completed_by_role_in")


def _lines(pack: Pack) -> list[Rule]:
    return list(pack.rules) + [c.ack_rule for c in pack.checks if c.ack_rule is not None]


def _conjuncts(raw: Any) -> list[tuple[str, Any]]:
    """The atoms that must all hold with this table: its own keys and, through ``all``, its
    members' (not through ``any`` or ``not``)."""
    if not isinstance(raw, Mapping):
        return []
    found: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if key == "all" and isinstance(value, list):
            for item in value:
                found += _conjuncts(item)
        elif key not in ("any", "not"):
            found.append((str(key), value))
    return found


def _branches(raw: Any) -> list[Any]:
    """The ``any`` and ``not`` sub-conditions met with this table's conjuncts, through ``all``."""
    if not isinstance(raw, Mapping):
        return []
    found: list[Any] = []
    for key, value in raw.items():
        if key == "all" and isinstance(value, list):
            for item in value:
                found += _branches(item)
        elif key == "any" and isinstance(value, list):
            found += value
        elif key == "not":
            found.append(value)
    return found


def _role_atoms(raw: Any, beside: tuple[tuple[str, Any], ...] = ()
                ) -> Iterator[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """Every (role atom, roles, the atoms that hold with it) in a condition."""
    scope = (*beside, *_conjuncts(raw))
    for name, value in _conjuncts(raw):
        if name in ROLE_ATOMS:
            yield name, tuple(value), dict(scope)
    for branch in _branches(raw):
        yield from _role_atoms(branch, scope)


def _may_fire(role: str, trigger: str) -> bool:
    return any(role in ROLE_TABLE[gate] for gate in TRIGGER_GATES[trigger])


def _completing_roles(pack: Pack, code: str) -> set[str]:
    """The staff roles that may complete a step of ``code``: by hand (its owner, their cover,
    ``also_done_by``, the stand-ins) or by an act that closes it."""
    roles: set[str] = set()
    for rule in pack.lines_for_code(code):
        roles |= {rule.actor, *COVER.get(rule.actor, ()), *rule.also_done_by}
        roles |= {r for r in (rule.stand_in,) if r is not None}
        roles |= set(rule.also_stand_in.values())
    roles &= set(ROLE_TABLE["step.complete"])
    for act, codes in pack.closures.items():
        if code in codes and act not in NOT_DOING_ACTS:
            roles |= set(roles_doing(pack, act))
    for kind in pack.referral_kinds:
        if code in kind.closes:
            roles |= set(roles_doing(pack, f"referral_{kind.made_by}:{kind.id}"))
    return roles


def _dead_names(pack: Pack) -> set[tuple[str, str, str, str]]:
    """(rule, code, role, what it cannot do) for each role a line names for an act it cannot
    do."""
    found = set()
    for rule in _lines(pack):
        if rule.when is None:
            continue
        for atom, roles, scope in _role_atoms(rule.when.raw):
            for role in roles:
                if atom == "actor_role_in":
                    for trigger in rule.trigger:
                        if not _may_fire(role, trigger):
                            found.add((rule.id, rule.code, role, trigger))
                    continue
                codes = scope.get("completed_step_code_in")
                if codes is None:
                    if role not in ROLE_TABLE["step.complete"]:
                        found.add((rule.id, rule.code, role, "step.complete"))
                elif not any(role in _completing_roles(pack, c) for c in codes):
                    found.add((rule.id, rule.code, role, f"complete {'/'.join(codes)}"))
    return found


def test_every_trigger_names_the_acts_that_fire_it() -> None:
    """The table of acts per trigger covers every trigger, with acts of the role table."""
    assert set(TRIGGER_GATES) == set(TRIGGERS)
    assert {gate for gates in TRIGGER_GATES.values() for gate in gates} <= set(ROLE_TABLE)


@pytest.mark.parametrize("pack_id", BOTH)
def test_every_role_a_line_names_as_the_doer_may_do_the_act(pack_id: str) -> None:
    """No line of the pack names a role as the one recording the act that triggers it, or as
    the one who completed a step, unless that role may do it (ATTACK35B-2: Somerset's S43,
    S44 and S46 lines for an event recorded by a chair, who may record none)."""
    assert _dead_names(PACKS[pack_id]) == set()


def test_the_walk_finds_a_line_for_an_event_a_chair_recorded() -> None:
    """The walk itself: a line for an event recorded by a chair is found, as is a step
    completed by a role that cannot complete it; the case holder's event is not."""
    base = PACKS["somerset-yjt-2023"]
    line = base.lines_for_code("refer_to_service_manager_for_mappa")[0]
    chair = line.model_copy(update={"when": type(line.when)(
        raw={"all": [{"event_type_in": ["urgent_mappa_referral"]},
                     {"actor_role_in": ["case_holder", "chair"]}]},
        test=line.when.test)})
    panel_admin = line.model_copy(update={"trigger": ("step_completed",), "when": type(
        line.when)(raw={"completed_step_code_in": ["refer_to_service_manager_for_mappa"],
                        "completed_by_role_in": ["panel_admin"]}, test=line.when.test)})
    pack = base.model_copy(update={"rules": (chair, panel_admin)})
    assert _dead_names(pack) == {
        ("S46", "refer_to_service_manager_for_mappa", "chair", "case_event"),
        ("S46", "refer_to_service_manager_for_mappa", "panel_admin",
         "complete refer_to_service_manager_for_mappa")}


def test_S46_the_urgent_referral_reaches_the_chair_by_the_referral_they_receive() -> None:
    """S46, Somerset 8.3: "In the event that the matters are so urgent as to preclude the
    possibility of these processes, the case will be referred to the Operational/YJT manager
    with a view to making an immediate referral." The urgency is recorded by whoever refers it
    (a case holder or manager, who may record case events); the operational/YJT manager (the
    chair) is who it is referred to, and their step follows the referral to them (the case
    holder's step completed), on no line of its own for an event a chair recorded."""
    pack = PACKS["somerset-yjt-2023"]
    [make] = pack.lines_for_code("make_immediate_mappa_referral")
    assert make.actor == "chair"
    assert make.when is not None
    assert make.when.raw == {"completed_step_code_in": ["refer_to_service_manager_for_mappa"]}
    assert make.trigger == ("step_completed",)
    assert "chair" not in ROLE_TABLE["event.record"]
