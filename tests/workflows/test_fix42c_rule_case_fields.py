"""Which case fields a pack line's condition reads, from the parsed condition (fix42c): the
steps a MAPPA level replaced at its instant raised are found by the fields their line reads
(app.domain.feeds._never_stood; fix41e searched the condition's text for the field's name).

Wokingham, Referrals into MAPPA: "For children that are expected to be managed at level 2/3,
the PYJS should make the referral using the MAPPA A form" (W17); "The PYJS case worker and their
line manager must attend MAPPA meetings" (W27).
"""

from __future__ import annotations

from app.workflows.conditions import case_fields_read, compile_condition
from app.workflows.packs import Rule
from tests.workflows.support import packs

NESTED_NEGATED = {"all": [
    {"trigger_in": ["case_changed"]},
    {"not": {"any": [{"trigger_in": ["case_opened"]},
                     {"case": {"mappa_level_in": [2, 3]}}]}}]}


def _wokingham_rule(rule_id: str) -> Rule:
    pack = next(p for key, p in packs().items() if key.startswith("wokingham"))
    return next(r for r in pack.rules if r.id == rule_id)


def test_W27_a_level_read_under_not_and_any_is_found() -> None:
    """Wokingham W27: "The PYJS case worker and their line manager must attend MAPPA
    meetings". A line whose condition reads ``case.mappa_level`` under ``not`` and ``any``
    reads the level; its rule's parsed ``when`` says so."""
    assert "mappa_level" in case_fields_read(NESTED_NEGATED)
    rule = _wokingham_rule("W27").model_copy(update={"when": compile_condition(NESTED_NEGATED)})
    assert "mappa_level" in rule.case_fields_read


def test_W17_the_level_named_only_in_a_title_or_an_acts_data_is_not_read() -> None:
    """Wokingham W17: "For children that are expected to be managed at level 2/3, the PYJS should
    make the referral using the MAPPA A form". A line that names mappa_level only in its title
    and note, and tests the panel decision's level (``decision_mappa_level_in``, the act's
    data, not the case's field), does not read the case's level; W17's own line, which tests a
    change of it (``changed_to``), does."""
    own = _wokingham_rule("W17")
    assert "mappa_level" in own.case_fields_read
    other = own.model_copy(update={
        "title": "Review mappa_level (case.mappa_level_in)",
        "note": "mentions case.mappa_level_in = [2, 3] in words only",
        "when": compile_condition({"decision_mappa_level_in": [2, 3]})})
    assert "mappa_level" not in other.case_fields_read
    assert other.case_fields_read == frozenset()


def test_the_case_fields_of_each_kind_of_atom() -> None:
    """Flags, memberships, eligibility, a release date, a fact and change atoms name the case
    fields they read; rating and step atoms none."""
    raw = {"any": [
        {"after": {"mappa_eligible": True, "in_custody": False}},
        {"case.has_release_date": True},
        {"case.fact": {"name": "x", "eq": "y"}},
        {"changed": ["csc_status"]},
        {"changed_to": {"field": "intervention", "values": ["a"]}},
        {"case.open_step_in": ["W1"]}]}
    assert case_fields_read(raw) == {"mappa_category", "in_custody", "expected_release_date",
                                     "facts.x", "csc_status", "intervention"}
