"""Attack pass 21 (outside tester): steps bound to a condition end with it (A21b-2, A21b-6), on
real England-and-Wales dates."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from tests.workflows.support import (
    EVENT_ID,
    SOMERSET,
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

S, W = SOMERSET, WOKINGHAM
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


def _held(step: object, ident: int, trigger: str, ref: str) -> object:
    """An open step as the database holds it: with its first reason (rule, trigger, paragraph)."""
    return replace(open_step(step, UUID(int=ident)),  # type: ignore[arg-type]
                   reasons=({"rule": "S27", "ref": ref, "trigger": trigger},))


def test_S27_secure_estate_handover_of_the_entry_ends_with_the_release() -> None:
    """S27 (14.3, 14.4): "When children are transferred to a secure setting, case holders will
    communicate with the relevant establishment by telephone and confirm by e-mail to ensure
    that the relevant documentation has been received, read and that appropriate measures are
    in place to ensure the child and others are safe." / "When children are transferred into
    the community from a secure setting, case holders will communicate with the secure
    establishment by telephone and confirm by e-mail that all relevant documentation has been
    received, read and appropriate responses to the identified risks/concerns are in
    place/being made."

    A child entering custody on Friday 26 March 2027 (the eve of the clock change): the 14.3
    handover, no timescale. Released on Tuesday 6 April 2027 (after Easter) before it was done,
    by the event or by PATCH: the 14.3 handover is superseded (the setting no longer holds the
    child) and 14.4's is owed; back in custody on Monday 3 May 2027 (a bank holiday) before
    14.4's was done: it is superseded and 14.3's owed again."""
    entry = run(S, ev_("case_event", lon(2027, 3, 26, 16), EVENT_ID, type="custody_entry"),
                case())
    step = created(entry, "secure_estate_handover")
    assert_step(step, rule="S27", code="secure_estate_handover", actor="case_holder", due=None,
                pack=S, ref="14.3")
    for trigger in ("case_event", "case_changed"):
        held = case(in_custody=True,
                    open_steps=(_held(step, 27, "case_event", "14.3"),))
        release = ev_("case_event", lon(2027, 4, 6, 10), UUID(int=99), type="custody_release") \
            if trigger == "case_event" else ev_("case_changed", lon(2027, 4, 6, 10),
                                                changes={"in_custody": [True, False]})
        out = run(S, release, held)
        assert_step(created(out, "secure_estate_handover"), rule="S27",
                    code="secure_estate_handover", actor="case_holder", due=None, pack=S,
                    ref="14.4")
        [gone] = intents(out, "supersede", "secure_estate_handover")
        assert (gone.step_id, gone.rule_id) == (UUID(int=27), "S27")
    released = run(S, ev_("case_changed", lon(2027, 4, 6, 10),
                          changes={"in_custody": [True, False]}),
                   case(in_custody=True, open_steps=(_held(step, 27, "case_opened", "14.3"),)))
    back = case(open_steps=(_held(created(released, "secure_estate_handover"), 28,
                                  "case_changed", "14.4"),))
    out = run(S, ev_("case_changed", lon(2027, 5, 3, 10), changes={"in_custody": [False, True]}),
              back)
    assert_step(created(out, "secure_estate_handover"), rule="S27",
                code="secure_estate_handover", actor="case_holder", due=None, pack=S, ref="14.3")
    assert [i.step_id for i in intents(out, "supersede", "secure_estate_handover")] == [
        UUID(int=28)]
