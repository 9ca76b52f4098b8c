"""Attack 33, ATTACK33-4, and fix32f's leftovers: ``pack check`` decides integer conditions as
one kind, whatever the quantity (the child's age, a declared score, an integer fact), across
the atoms of an ``all``, under ``not`` (a range's negation) and through nested all/any/not,
held to the pack's declared ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.workflows.pack_check import check_pack
from app.workflows.packs import read_pack
from tests.workflows.support import example_variant

X6 = "{ child_age = { lt = 14 } }"  # X6's age atom (4.3: "a child under 14 has been charged")
X8 = '{ after = { score = { name = "serious_harm_indicators", gte = 2 } } }'  # X8's when


def _errors(path: Path, field: str) -> list[str]:
    return [p.message for p in check_pack(read_pack(path))
            if p.severity == "error" and p.field == field]


@pytest.mark.parametrize(("new", "said"), [
    # The tester's: an age and its negation in one all.
    ("{ child_age = { gte = 10 } }, { not = { child_age = { gte = 10 } } }",
     "child_age = {gte = 10} and not child_age = {gte = 10}"),
    # A negated range inside a nested all under any under all.
    ("{ any = [{ all = [{ child_age = { gte = 10 } }, "
     "{ not = { child_age = { gte = 10, lte = 17 } } }, { child_age = { lte = 17 } }] }] }",
     "child_age = {gte = 10} and not child_age = {gte = 10, lte = 17} and child_age = "
     "{lte = 17}"),
    # not (any of ages under 10, 10 or over, no age known): nothing left.
    ("{ not = { any = [{ child_age = { lt = 10 } }, { child_age = { gte = 10 } }, "
     "{ child_age = { set = false } }] } }",
     "not child_age = {lt = 10} and not child_age = {gte = 10} and not child_age = "
     "{set = False}"),
])
def test_attack33_4_child_age_under_not_and_nested_that_leaves_no_age_is_an_error(
        tmp_path: Path, new: str, said: str) -> None:
    """ATTACK33-4: ``child_age >= 10`` with ``not child_age >= 10`` in X6's ``all`` (and the
    same through nested all/any/not): the line never applies, an error naming the atoms."""
    path = example_variant(tmp_path, (X6, new), once=True)
    assert _errors(path, "rules.6.when") == [
        f"this condition can never be true: {said} leave the child's age nothing it may be, "
        "so this line never applies"]


def test_attack33_4_a_negated_age_that_leaves_some_age_is_not_an_error(
        tmp_path: Path) -> None:
    """The control: ``not child_age >= 14`` with ``child_age >= 10`` leaves 10 to 13, and
    ``not child_age = {set = false}`` any known age: no error (the check never invents one)."""
    for new in ("{ child_age = { gte = 10 } }, { not = { child_age = { gte = 14 } } }",
                "{ not = { child_age = { set = false } } }, { child_age = { lt = 14 } }"):
        path = example_variant(tmp_path, (X6, new), once=True)
        assert _errors(path, "rules.6.when") == [], new


@pytest.mark.parametrize(("new", "said"), [
    # A score outside its declared 0-4.
    ('{ after = { score = { name = "serious_harm_indicators", gte = 5 } } }',
     "after.score = {name = 'serious_harm_indicators', gte = 5} leave the score "
     "'serious_harm_indicators' afterwards nothing it may be (the pack declares it from 0 "
     "to 4)"),
    # Two atoms of one all, each possible alone.
    ('{ all = [{ after = { score = { name = "serious_harm_indicators", gte = 3 } } }, '
     '{ after = { score = { name = "serious_harm_indicators", lt = 2 } } }] }',
     "after.score = {name = 'serious_harm_indicators', gte = 3} and after.score = "
     "{name = 'serious_harm_indicators', lt = 2} leave the score 'serious_harm_indicators' "
     "afterwards nothing it may be (the pack declares it from 0 to 4)"),
    # A negated score range that leaves nothing in 0-4.
    ('{ all = [{ not = { after = { score = { name = "serious_harm_indicators", lte = 4 } } } }'
     ', { after = { score = { name = "serious_harm_indicators", set = true } } }] }',
     "not after.score = {name = 'serious_harm_indicators', lte = 4} and after.score = "
     "{name = 'serious_harm_indicators', set = True} leave the score "
     "'serious_harm_indicators' afterwards nothing it may be (the pack declares it from 0 "
     "to 4)"),
    # An integer fact (declared 0-30) beside the score: the fact is out of range.
    ('{ all = [{ after = { score = { name = "serious_harm_indicators", gte = 2 } } }, '
     '{ case = { fact = { name = "previous_custodial_sentences", gt = 30 } } }] }',
     "case.fact = {name = 'previous_custodial_sentences', gt = 30} leave the fact "
     "'previous_custodial_sentences' before the act nothing it may be (the pack declares "
     "it from 0 to 30)"),
])
def test_fix32f_leftover_scores_and_integer_facts_held_to_their_declared_range(
        tmp_path: Path, new: str, said: str) -> None:
    """fix32f's leftover: X8 (5.1, serious harm indicators scored 2 or more) given score or
    integer-fact conditions the pack's declared ranges make impossible, alone or across atoms
    and under ``not``: the line never applies, an error naming the atoms and the range."""
    path = example_variant(tmp_path, (X8, new), once=True)
    assert _errors(path, "rules.10.when") == [
        f"this condition can never be true: {said}, so this line never applies"]


def test_fix32f_leftover_score_ranges_that_leave_some_value_are_not_an_error(
        tmp_path: Path) -> None:
    """The control: ``gte 3`` with ``lt 4`` leaves 3; an integer fact with no upper bound
    compared far above any number in the pack; a score before and after the act apart."""
    for new in (
            '{ all = [{ after = { score = { name = "serious_harm_indicators", gte = 3 } } }, '
            '{ after = { score = { name = "serious_harm_indicators", lt = 4 } } }] }',
            '{ all = [{ after = { score = { name = "serious_harm_indicators", gte = 3 } } }, '
            '{ case = { score = { name = "serious_harm_indicators", lt = 2 } } }] }'):
        path = example_variant(tmp_path, (X8, new), once=True)
        assert _errors(path, "rules.10.when") == [], new
    unbounded = example_variant(
        tmp_path, ("min = 0\nmax = 30", "min = 0"),
        (X8, '{ all = [{ case = { fact = { name = "previous_custodial_sentences", '
             'gt = 5000 } } }, { case = { fact = { name = "previous_custodial_sentences", '
             'lt = 5002 } } }] }'), once=True)
    assert _errors(unbounded, "rules.10.when") == []
