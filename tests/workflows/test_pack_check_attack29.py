"""``pack check`` after attack 29 (ATK29-6): two never-true conditions it let pass.

(a) ``after.any_rating_in`` with ``lor`` at ``very_high``: no LoR is ever rated very high (the
contract's LoR scale, ``LOR_SCALE``), as ``level_in`` naming it on a LoR judgement was already
found. The kind: every atom that names a domain's level is held to the levels that domain can
have (``any_rating_in`` before and after, ``level_lowered_from``'s previous level; a transfer
in's incoming ratings carry ROSH and SWB only).

(b) a ``holds`` on a case field that the line's own ``when`` makes false: a case change to in
custody kept only while the child is not in custody. The kind: what an act fixes about the
case afterwards is tied to the ``after.`` atoms (a change's ``changed_to``, a fact's too; a
panel decision's MAPPA level), as a judgement's level is its domain's rating afterwards.

The check's promise stays: a condition is only called impossible when it is (a satisfiable
twin of each passes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.domain.events import IncomingRatings
from app.workflows.pack_tools import check_files
from app.workflows.satisfiable import Facts, never
from app.workflows.vocabulary import INCOMING_DOMAINS
from tests.workflows.support import example_variant

X13 = 'when = { all = [{ judgement_domain_in = ["swb"] }, { level_in = ["high", "very_high"] }] }'
X8 = 'when = { changed_to = { field = "facts.dangerousness_criteria_met", values = [true] } }'
JUDGED = ("judgement_recorded",)
CHANGED = ("case_changed",)
FACTS = Facts({("lor", "very_high"): "M7"})


def _said_at(path: Path, text: str, start: str) -> list[str]:
    """The lines ``pack check`` says at the last line written ``text`` starting ``start``."""
    lines = path.read_text().splitlines()
    number = len(lines) - lines[::-1].index(text)
    said, _ = check_files([path])
    return [each for each in said if each.startswith(f"{path}:{number}: {start}")]


@pytest.mark.parametrize("side", ["after", "case"])
def test_atk29_6_a_rating_of_lor_at_very_high_is_an_error_at_its_line(
        tmp_path: Path, side: str) -> None:
    """ATK29-6 (a): ``{side} = { any_rating_in = { domains = ["lor"], levels =
    ["very_high"] } }`` can never be true (no LoR is rated very high under any pack): an
    error at the rule's ``when``, naming the core's scale, as ``level_in`` is."""
    when = (f'when = {{ {side} = {{ any_rating_in = {{ domains = ["lor"], '
            'levels = ["very_high"] } } }')
    path = example_variant(tmp_path, (X13, when))
    said = _said_at(path, when, "X13: rules.15.when: error: this condition can never be true")
    assert len(said) == 1, said
    assert "has no very high LoR under any pack: LOR_SCALE" in said[0]
    assert said[0].endswith("so this line never applies")


@pytest.mark.parametrize(("name", "when", "triggers", "why"), [
    ("lowered_from_a_very_high_lor",
     {"all": [{"judgement_domain_in": ["lor"]}, {"level_lowered_from": ["very_high"]}]},
     JUDGED, "the previous level is the domain's rating before it"),
    ("lowered_from_low", {"level_lowered_from": ["low"]}, JUDGED,
     "level_lowered_from = ['low'] leave no domain and level"),
    ("lowered_to_a_level_not_below", {"all": [{"level_in": ["high"]},
                                              {"level_lowered_from": ["medium"]}]},
     JUDGED, "level_in = ['high'] and level_lowered_from = ['medium']"),
    ("incoming_lor", {"incoming_rating_in": {"domains": ["lor"], "levels": ["high"]}},
     ("case_event",), "incoming ratings carry rosh and swb only"),
    ("incoming_pending_lor", {"after": {"incoming_rating_pending_in": {
        "domains": ["lor"], "levels": ["high", "very_high"]}}}, JUDGED,
     "incoming ratings carry rosh and swb only"),
    ("lor_very_high_under_all", {"all": [
        {"after": {"any_rating_in": {"domains": ["lor"], "levels": ["very_high"]}}},
        {"judgement_domain_in": ["rosh"]}]}, JUDGED, "LOR_SCALE"),
])
def test_atk29_6_every_atom_naming_a_domains_level_keeps_to_its_scale(
        name: str, when: Any, triggers: tuple[str, ...], why: str) -> None:
    """The kind behind (a): each atom that names a level of a domain is held to the levels
    that domain can have, and a lowering to a lower level."""
    found = never(when, triggers, FACTS)
    assert found is not None
    assert why in found


def test_atk29_6_the_incoming_domains_are_the_contracts() -> None:
    """The domains the model says a transfer in carries are the API's ``incoming_ratings``."""
    assert tuple(IncomingRatings.model_fields) == INCOMING_DOMAINS


@pytest.mark.parametrize(("holds", "field"), [
    ('holds = { after = { fact = { name = "dangerousness_criteria_met", eq = false } } }',
     "the fact 'dangerousness_criteria_met' afterwards"),
    ('holds = { after = { fact = { name = "dangerousness_criteria_met", set = false } } }',
     "the fact 'dangerousness_criteria_met' afterwards"),
    ('holds = { not = { after = { fact = { name = "dangerousness_criteria_met", '
     'eq = true } } } }', "the fact 'dangerousness_criteria_met' afterwards"),
])
def test_atk29_6_a_holds_its_case_changes_own_when_makes_false_is_an_error(
        tmp_path: Path, holds: str, field: str) -> None:
    """ATK29-6 (b): X8's referral on a case change that sets the dangerousness criteria met,
    kept only while they are not met: the step is made unjustified and lapses at the case's
    next act, as a judgement's step kept only while its rating is another is (ATK28B-2): an
    error at the ``holds`` line."""
    path = example_variant(tmp_path, (X8, f"{X8}\n{holds}"))
    said = _said_at(path, holds, "X8: rules.")
    assert len(said) == 1, said
    assert ".holds: error: the holds can never be true when the line's when is: " in said[0]
    assert field in said[0]


def test_atk29_6_a_holds_on_a_case_field_its_change_contradicts_is_an_error(
        tmp_path: Path) -> None:
    """The testers' shape on a case field: a change into custody whose step is kept only
    while the child is not in custody."""
    when = 'when = { changed_to = { field = "in_custody", values = [true] } }'
    holds = "holds = { after = { in_custody = false } }"
    path = example_variant(tmp_path, (X8, f"{when}\n{holds}"))
    said = _said_at(path, holds, "X8: rules.")
    assert len(said) == 1, said
    assert "changed_to = {field = 'in_custody', values = [True]} and after.in_custody = false" \
        in said[0]


@pytest.mark.parametrize(("when", "holds"), [
    ({"changed_to": {"field": "intervention", "values": ["court_order"]}},
     {"not": {"after": {"intervention_in": ["court_order"]}}}),
    ({"changed_to": {"field": "mappa_level", "values": [2, 3]}},
     {"after": {"mappa_level_in": [1]}}),
    ({"changed_to": {"field": "csc_status", "values": ["cp"]}},
     {"after": {"csc_status_in": ["none", "cin"]}}),
])
def test_atk29_6_every_case_field_a_change_sets_is_its_value_afterwards(
        when: Any, holds: Any) -> None:
    """The kind behind (b), for each case field a change sets (membership and yes/no): the
    field is one of the change's values afterwards."""
    assert never(when, CHANGED, FACTS, {"any": [holds]}) is not None


def test_atk29_6_a_panel_decisions_mappa_level_is_the_cases_afterwards() -> None:
    """A panel decision at MAPPA level 2 leaves the case at level 2: a ``holds`` on level 1
    is false the moment the step is made."""
    assert never({"decision_mappa_level_in": [2]}, ("panel_decision",), FACTS,
                 {"any": [{"after": {"mappa_level_in": [1]}}]}) is not None


@pytest.mark.parametrize(("when", "triggers", "also"), [
    ({"after": {"any_rating_in": {"domains": ["lor", "rosh"], "levels": ["very_high"]}}},
     JUDGED, None),
    ({"after": {"any_rating_in": {"domains": ["lor"], "levels": ["high", "very_high"]}}},
     JUDGED, None),
    ({"not": {"after": {"any_rating_in": {"domains": ["lor"],
                                          "levels": ["low", "medium", "high"]}}}}, JUDGED, None),
    ({"all": [{"judgement_domain_in": ["lor"]}, {"level_lowered_from": ["high", "very_high"]}]},
     JUDGED, None),
    ({"incoming_rating_in": {"domains": ["lor", "swb"], "levels": ["high"]}}, ("case_event",),
     None),
    ({"changed_to": {"field": "in_custody", "values": [True]}}, CHANGED,
     {"after": {"in_custody": True}}),
    ({"changed_to": {"field": "facts.dangerousness_criteria_met", "values": [True]}}, CHANGED,
     {"after": {"fact": {"name": "dangerousness_criteria_met", "eq": True}}}),
    # set = false holds for an unset value whatever else is given (Compare.test).
    ({"after": {"fact": {"name": "x", "eq": 3, "set": False}}}, JUDGED, None),
    ({"not": {"after": {"fact": {"name": "x", "ne": 3}}}}, JUDGED, None),
    ({"changed_to": {"field": "facts.offence_category", "values": [["sexual"]]}}, CHANGED,
     {"after": {"fact": {"name": "offence_category", "contains_any": ["sexual"]}}}),
    ({"changed": ["in_custody"]}, CHANGED, {"after": {"in_custody": False}}),
])
def test_atk29_6_satisfiable_twins_still_pass(when: Any, triggers: tuple[str, ...],
                                              also: Any) -> None:
    """No false error: each of these holds for some act (and its step's holds with it)."""
    others = () if also is None else ({"any": [also]},)
    assert never(when, triggers, FACTS, *others) is None


def test_atk29_6_a_satisfiable_holds_twin_passes_pack_check(tmp_path: Path) -> None:
    """X8's case-change referral kept while the criteria are met: no error."""
    holds = 'holds = { after = { fact = { name = "dangerousness_criteria_met", eq = true } } }'
    path = example_variant(tmp_path, (X8, f"{X8}\n{holds}"))
    lines, failed = check_files([path])
    assert not failed, lines
