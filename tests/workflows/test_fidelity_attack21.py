"""Attack pass 21 (outside tester): steps bound to a condition end with it (A21b-2, A21b-6), on
real England-and-Wales dates."""

from __future__ import annotations

from uuid import UUID

from tests.workflows.support import (
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    intents,
    lon,
    open_step,
    run,
    utc,
)
from tests.workflows.support import event as ev_

W = WOKINGHAM
W17_REF = "Referrals into MAPPA"


def test_W17_mappa_a_referral_ends_when_the_expected_level_drops_to_1() -> None:
    """W17 (Referrals into MAPPA): "For children that are expected to be managed at level 2/3,
    the PYJS should make the referral using the MAPPA A form."

    A category 2 child in custody, expected release Friday 31 March 2028, whose level becomes 2
    on Monday 3 May 2027 (Early May bank holiday): the A form is due six months before release
    (Thursday 30 September 2027, end of the London day before: 22:59:59Z). The level lowered to
    1 on Monday 5 July 2027: the child is no longer expected at level 2/3, the open referral is
    superseded; raised to 3 again on Tuesday 31 August 2027: owed again, same deadline."""
    secured = case(mappa_category=2, in_custody=True, expected_release_date=lon(2028, 3, 31).date())
    raised = run(W, ev_("case_changed", lon(2027, 5, 3, 10),
                        changes={"mappa_level": [None, 2]}), secured)
    step = created(raised, "mappa_a_referral")
    assert_step(step, rule="W17", code="mappa_a_referral", actor="case_holder",
                due=utc(2027, 9, 30, 22, 59, 59), pack=W, ref=W17_REF)
    held = case(mappa_category=2, mappa_level=2, in_custody=True,
                expected_release_date=lon(2028, 3, 31).date(),
                open_steps=(open_step(step, UUID(int=17)),))
    lowered = run(W, ev_("case_changed", lon(2027, 7, 5, 10),
                         changes={"mappa_level": [2, 1]}), held)
    [gone] = intents(lowered, "supersede", "mappa_a_referral")
    assert (gone.step_id, gone.rule_id, gone.policy_ref) == (UUID(int=17), "W17", W17_REF)
    # Level 2 to 3 is still expected at level 2/3: kept.
    assert not intents(run(W, ev_("case_changed", lon(2027, 7, 5, 10),
                                  changes={"mappa_level": [2, 3]}), held), "supersede",
                       "mappa_a_referral")
    at_one = case(mappa_category=2, mappa_level=1, in_custody=True,
                  expected_release_date=lon(2028, 3, 31).date())
    again = run(W, ev_("case_changed", lon(2027, 8, 31, 10),
                       changes={"mappa_level": [1, 3]}), at_one)
    assert_step(created(again, "mappa_a_referral"), rule="W17", code="mappa_a_referral",
                actor="case_holder", due=utc(2027, 9, 30, 22, 59, 59), pack=W, ref=W17_REF)
    assert "mappa_a_referral" not in codes(run(W, ev_("case_changed", lon(2027, 8, 31, 10),
                                                      changes={"mappa_level": [None, 1]}),
                                               case(mappa_category=2, in_custody=True)))
