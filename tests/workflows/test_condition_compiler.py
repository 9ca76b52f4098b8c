"""Compiled conditions against the interpreted ones they were built from (property style).

Every condition is compiled into one Python function at load (``Condition.test``) and kept as a
tree of per-atom closures (``Condition.interpreted``). On any context both must give the same
result, or raise the same exception: checked for every condition of the bundled packs and for
generated conditions over every atom of the language.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from app.workflows.conditions import Condition, Context, atom_names, compile_condition
from app.workflows.types import CaseSnapshot, OpenStep, WorkflowEvent
from tests.workflows.support import CASE_ID, packs

LEVELS = ["low", "medium", "high", "very_high"]
MAYBE_LEVEL = st.sampled_from([*LEVELS, None, "unknown"])
# Odd values on purpose: an unhashable list where a string is expected, ints for strings.
ODD = st.sampled_from([None, "", 0, 1, True, False, "x", ["a"], {"k": 1}])



def _some(elements: st.SearchStrategy[Any], **sizes: int) -> st.SearchStrategy[list[Any]]:
    """A list of at least one value: an atom given an empty list is refused at load (it means
    nothing; attack 28b, ATK28B-1)."""
    return st.lists(elements, min_size=1, **sizes)


# An argument for every atom (state atoms without their case./after. prefix).
ARGS: dict[str, st.SearchStrategy[Any]] = {
    "trigger_in": _some(st.sampled_from(["judgement_recorded", "case_event", "case_changed"]),
                           max_size=2),
    "actor_role_in": _some(st.sampled_from(["case_holder", "line_manager"]), max_size=2),
    "event_type_in": _some(st.sampled_from(["new_incident", "charged", "transfer_in"]),
                              max_size=2),
    "event_flag": st.sampled_from(["may_raise_to_high", "from_feed", "flag"]),
    "incoming_rating_in": st.fixed_dictionaries({
        "domains": _some(st.sampled_from(["rosh", "swb", "lor"]), max_size=3),
        "levels": _some(st.sampled_from(LEVELS), max_size=3)}),
    "judgement_domain_in": _some(st.sampled_from(["rosh", "swb", "lor"]), max_size=3),
    "level_in": _some(st.sampled_from(LEVELS), max_size=3),
    "level_below": st.sampled_from(LEVELS),
    "level_changed": st.booleans(),
    "level_lowered_from": _some(st.sampled_from(LEVELS), max_size=3),
    "impact_in": _some(st.sampled_from(["major", "critical", "slight"]), max_size=2),
    "likelihood_in": _some(st.sampled_from(["likely", "unlikely"]), max_size=2),
    "judgement_assessment_type_in": _some(st.sampled_from(["asset_plus", "mini_asset"]),
                                             max_size=2),
    "level_differs_from_matrix": st.booleans(),
    "via_panel_decision": st.booleans(),
    "assessment_type_in": _some(st.sampled_from(["asset_plus", "other"]), max_size=2),
    "assessment_stage_in": _some(st.sampled_from(["closure", "review"]), max_size=2),
    "referral_kind_in": _some(st.sampled_from(["panel", "mappa_h"]), max_size=2),
    "referral_action_in": _some(st.sampled_from(["created", "sent"]), max_size=2),
    "referral_status_in": _some(st.sampled_from(["withdrawn", "sent"]), max_size=2),
    "completed_step_code_in": _some(st.sampled_from(["refer_to_panel", "x"]), max_size=2),
    "completed_step_actor_in": _some(st.sampled_from(["case_holder", "chair"]), max_size=2),
    "completed_by_role_in": _some(st.sampled_from(["case_holder", "chair"]), max_size=2),
    "changed": _some(st.sampled_from(["csc_status", "statutory", "facts.x"]), max_size=2),
    "changed_to": st.fixed_dictionaries({
        "field": st.sampled_from(["csc_status", "statutory"]),
        "values": _some(st.sampled_from(["cp", "cin", True, 1]), max_size=2)}),
    "decision_has_actions": st.booleans(),
    "decision_mappa_level_in": _some(st.integers(1, 3), max_size=2),
    "panel_kind_in": _some(st.sampled_from(["marp", "rmp"]), max_size=2),
    "child_age": st.fixed_dictionaries({}, optional={"gte": st.integers(8, 18),
                                                     "lt": st.integers(8, 18)}),
    "attendees_include": _some(st.sampled_from(["police", "health"]), max_size=2),
    "statutory": st.booleans(), "weapon_related": st.booleans(), "in_custody": st.booleans(),
    "volunteer_attached": st.booleans(), "on_register": st.booleans(),
    "on_panel_agenda": st.booleans(), "panel_referred": st.booleans(),
    "mappa_eligible": st.booleans(),
    "has_release_date": st.booleans(),
    "intervention_in": _some(st.sampled_from(["court_order", "out_of_court"]), max_size=2),
    "csc_status_in": _some(st.sampled_from(["none", "cin", "cic", "cp"]), max_size=3),
    "mappa_category_in": _some(st.integers(1, 3), max_size=2),
    "mappa_level_in": _some(st.integers(1, 3), max_size=2),
    "any_rating_in": st.fixed_dictionaries({
        "domains": _some(st.sampled_from(["rosh", "swb", "lor"]), max_size=3),
        "levels": _some(st.sampled_from(LEVELS), max_size=3)}),
    "ratings_known": _some(st.sampled_from(["rosh", "swb", "lor"]), max_size=3),
    "incoming_rating_pending_in": st.fixed_dictionaries({
        "domains": _some(st.sampled_from(["rosh", "swb", "lor"]), max_size=3),
        "levels": _some(st.sampled_from(LEVELS), max_size=3)}),
    "countersigned_assessment_in": _some(st.sampled_from(["asset_plus", "mini_asset"]),
                                         max_size=2),
    "referral_sent_in": _some(st.sampled_from(["mappa_a", "panel"]), max_size=2),
    "open_or_closed_within_days": st.integers(0, 30),
    "open_step_in": _some(st.sampled_from(["refer_to_panel", "review_assessment"]),
                             max_size=2),
    "fact": st.fixed_dictionaries({"name": st.sampled_from(["flag", "cats", "n"])}, optional={
        "eq": st.sampled_from([True, 2, "x"]), "gte": st.integers(0, 3),
        "contains_any": _some(st.sampled_from(["a", "b"]), max_size=2),
        "set": st.booleans()}),
    "score": st.fixed_dictionaries({"name": st.sampled_from(["s", "t"])}, optional={
        "gte": st.integers(0, 3), "lt": st.integers(0, 3), "in": _some(st.integers(0, 3)),
        "set": st.booleans()}),
}


def _bare(name: str) -> str:
    return name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name


def test_every_atom_has_generated_arguments() -> None:
    """The generator covers the whole language (a new atom needs an entry here)."""
    assert {_bare(n) for n in atom_names()} == set(ARGS)


def _atom() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(atom_names()).flatmap(
        lambda name: ARGS[_bare(name)].map(lambda arg: {name: arg}))


CONDITIONS: st.SearchStrategy[dict[str, Any]] = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"all": cs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"any": cs}),
        inner.map(lambda c: {"not": c}),
        st.lists(inner, min_size=2, max_size=3).map(
            lambda cs: {k: v for c in cs for k, v in c.items()}),
    ),
    max_leaves=6,
)

RATINGS = st.fixed_dictionaries({"rosh": MAYBE_LEVEL, "swb": MAYBE_LEVEL, "lor": MAYBE_LEVEL})
AT = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                  timezones=st.just(UTC))
SNAPSHOTS = st.builds(
    CaseSnapshot,
    case_id=st.just(CASE_ID),
    intervention=st.sampled_from(["court_order", "out_of_court", ""]),
    statutory=st.booleans(), csc_status=st.sampled_from(["none", "cin", "cic", "cp"]),
    weapon_related=st.booleans(), mappa_category=st.sampled_from([None, 1, 2, 3]),
    mappa_level=st.sampled_from([None, 1, 2, 3]),
    expected_release_date=st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2028, 1, 1))),
    in_custody=st.booleans(), volunteer_attached=st.booleans(), ratings=RATINGS,
    on_register=st.booleans(), closed_at=st.one_of(st.none(), AT),
    incoming_ratings=st.fixed_dictionaries({}, optional={"rosh": MAYBE_LEVEL,
                                                         "swb": MAYBE_LEVEL}),
    countersigned_types=st.frozensets(st.sampled_from(["asset_plus", "mini_asset"])),
    referrals_sent=st.frozensets(st.sampled_from(["mappa_a", "panel"])),
    open_steps=st.lists(st.sampled_from(["refer_to_panel", "review_assessment", "x"]),
                        max_size=3).map(lambda codes: tuple(
                            OpenStep(UUID(int=i + 1), c, "S1", CASE_ID, None, False, None,
                                     "case_holder") for i, c in enumerate(codes))),
    on_panel_agenda=st.booleans(), panel_referred=st.booleans(),
    facts=st.fixed_dictionaries({}, optional={"flag": st.booleans(), "n": st.integers(0, 4),
                                              "cats": st.lists(st.sampled_from(["a", "b"]))}),
    scores=st.fixed_dictionaries({}, optional={"s": st.integers(0, 4), "t": st.integers(0, 4)}),
    date_of_birth=st.one_of(st.none(), st.dates(date(2006, 1, 1), date(2016, 1, 1))),
)
DATA = st.fixed_dictionaries({}, optional={
    "domain": st.sampled_from(["rosh", "swb", "lor", None, "x"]), "level": MAYBE_LEVEL,
    "impact": st.sampled_from(["major", "slight", None]),
    "likelihood": st.sampled_from(["likely", "unlikely", None]),
    "assessment_type": st.one_of(st.sampled_from(["asset_plus", "mini_asset"]), ODD),
    "via_panel_decision": ODD, "type": st.one_of(st.sampled_from(["new_incident", "charged"]),
                                                 ODD),
    "may_raise_to_high": ODD, "flag": ODD, "stage": ODD, "kind": ODD, "action": ODD,
    "to_status": ODD, "code": ODD, "actor": ODD, "completed_by_role": ODD, "panel_kind": ODD,
    "mappa_level": st.sampled_from([1, 2, "2", None]), "actions": ODD, "attendees": st.one_of(
        st.lists(st.sampled_from(["police", "health"])), st.none()),
    "incoming_ratings": st.one_of(st.none(), RATINGS),
    "changes": st.one_of(ODD, st.dictionaries(
        st.sampled_from(["csc_status", "statutory", "facts.x"]),
        st.lists(st.sampled_from(["cp", "cin", True, False, 1, None]), max_size=3), max_size=2)),
})
CONTEXTS = st.builds(
    lambda trigger, role, at, data, before, after, level: Context(
        WorkflowEvent(trigger, at, CASE_ID, role, data), before, after, level),
    st.sampled_from(["judgement_recorded", "case_event", "case_changed"]),
    st.sampled_from(["case_holder", "line_manager"]), AT, DATA, SNAPSHOTS, SNAPSHOTS,
    st.sampled_from([*LEVELS, None]),
)


def _outcome(test: Any, ctx: Context) -> tuple[str, Any]:
    try:
        return "value", test(ctx)
    except Exception as exc:  # noqa: BLE001 - the same exception is part of the contract
        return "raised", (type(exc), str(exc))


def _same(condition: Condition, ctx: Context) -> None:
    compiled, interpreted = _outcome(condition.test, ctx), _outcome(condition.interpreted, ctx)
    assert compiled == interpreted, condition.source
    if compiled[0] == "value":
        assert type(compiled[1]) is type(interpreted[1]), condition.source


def _pack_conditions() -> Iterator[Condition]:
    for pack in packs().values():
        for rule in pack.rules:
            yield from (c for c in (rule.when, rule.holds) if c is not None)
            if not isinstance(rule.deadline, str):
                yield from (b.when for b in rule.deadline if b.when is not None)
        yield from (check.when for check in pack.checks)
        if pack.register_def is not None:
            yield pack.register_def.when
        if pack.contact is not None:
            yield from (band.when for band in pack.contact.bands)


BUNDLED = tuple(_pack_conditions())


@settings(max_examples=400, deadline=None)
@given(ctx=CONTEXTS)
def test_bundled_conditions_compiled_equal_interpreted(ctx: Context) -> None:
    """Every condition of the bundled packs: the compiled function answers as the closures do."""
    for condition in BUNDLED:
        _same(condition, ctx)


@settings(max_examples=600, deadline=None)
@given(raw=CONDITIONS, contexts=st.lists(CONTEXTS, min_size=1, max_size=4))
def test_generated_conditions_compiled_equal_interpreted(
    raw: dict[str, Any], contexts: list[Context]
) -> None:
    """Generated conditions over every atom: same result (or exception) both ways."""
    condition = compile_condition(raw)
    for ctx in contexts:
        _same(condition, ctx)


def test_compiled_source_holds_pack_text_only_as_literals() -> None:
    """Pack values reach the compiled source only as constants or repr() literals: a key that
    looks like code is a key."""
    key = "x') or __import__('os') or ('"
    condition = compile_condition({"event_flag": key})
    assert repr(key) in condition.source
    snapshot = CaseSnapshot(CASE_ID, "", True, "none")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for data, expected in (({}, False), ({key: 1}, True), ({"x": 1}, False)):
        ctx = Context(WorkflowEvent("case_event", at, CASE_ID, "case_holder", data),
                      snapshot, snapshot)
        assert condition(ctx) is expected
