"""Engine- and pack-level checks for the fidelityA fixes (Somerset 3.1 stand-in, 7.1.3)."""

from __future__ import annotations

from uuid import UUID

from app.workflows.render import rule_sentence
from tests.workflows.support import assert_step, created, event, intents, lon, packs, run

S = "somerset-yjt-2023"
REVIEW_STAGE = UUID(int=5)


def test_S18_countersign_opens_with_the_submitted_review_stage() -> None:
    """S18 (7.1.3): "the case holder will complete a Review Stage to incorporate them into the
    current plan which will be countersigned by a line-manager". The Review Stage submitted on
    Saturday 31 October 2026 (month end, first weekend on GMT) answering the MARP's request
    opens its countersignature for the line manager, no timescale, citing 7.1.3 first and S4's
    5, 3.1 beside it; the same stage submitted with no request open is S4's alone."""
    answered = run(S, event("assessment_submitted", lon(2026, 10, 31, 11), REVIEW_STAGE,
                            type="asset_plus", stage="review", answers_review_request=True))
    step = created(answered, "countersign_assessment")
    assert_step(step, rule="S18", code="countersign_assessment", actor="line_manager", due=None,
                pack=S, ref="7.1.3")
    assert step.subject_id == REVIEW_STAGE
    assert [(r["rule"], r["ref"]) for r in step.reasons] == [("S18", "7.1.3"), ("S4", "5, 3.1")]
    plain = run(S, event("assessment_submitted", lon(2026, 10, 31, 11), REVIEW_STAGE,
                         type="asset_plus", stage="review"))
    assert_step(created(plain, "countersign_assessment"), rule="S4",
                code="countersign_assessment", actor="line_manager", due=None, pack=S,
                ref="5, 3.1")
    assert [i.rule_id for i in intents(plain, "create", "countersign_assessment")] == ["S4"]


def test_S5_stand_ins_follow_the_seed() -> None:
    """3.1 "If the line manager is unavailable, the duty manager will undertake these
    functions" (S4-S6, S18's countersignature; the line manager's sign-off of the AssetPlus
    stage and documentation for a transfer or the secure estate, S31 13.4.2 and S33 14.2.1, is
    that countersignature: attack pass 15, A15-12), 3.3 "the relevant line manager or duty manager
    will refer the case" (S24), 13.4.3 "the line manager, operational manager or YJT manager"
    (S26: the chair), 14.3.1 "they will inform their line manager, operational manager or the
    YJT manager who will escalate the concerns with the appropriate managers in the secure
    setting" (S43: the chair), 14.4.1 "their line manager, duty manager or the YJT manager who
    will clearly set out a course of action" (S44: the duty manager); 4.5's monthly review (S11)
    names no stand-in, nor does any Wokingham line-manager duty."""
    somerset = packs()[S]
    stand_ins = {(r.id, r.code): r.stand_in for r in somerset.rules if r.stand_in}
    assert stand_ins == {
        ("S4", "countersign_assessment"): "duty_manager",
        ("S18", "countersign_assessment"): "duty_manager",
        ("S5", "discuss_with_manager"): "duty_manager",
        ("S6", "countersign_risk_plan"): "duty_manager",
        ("S24", "escalate_to_service_manager"): "duty_manager",
        ("S26", "manager_handover_call"): "chair",
        ("S31", "sign_off_transfer_documentation"): "duty_manager",
        ("S33", "sign_off_transfer_documentation"): "duty_manager",
        ("S36", "check_incoming_documentation"): "duty_manager",
        ("S43", "escalate_to_secure_setting"): "chair",
        ("S44", "set_out_course_of_action"): "duty_manager",
        # A case holder's step the sentence also gives the line manager: theirs while the case
        # holder is away (7.1.1 "If not available, the line manager will present the case", 12
        # "Case holders / team leaders", 16.1; attack 23b, A23b-5).
        ("S20", "attend_panel_review"): "line_manager",
        ("S23", "inform_service_manager"): "line_manager",
        ("S39", "act_on_volunteer_concern"): "line_manager",
        # 7.1.1 at the initial MARP (S48, fid14a), as S20's review.
        ("S48", "attend_initial_marp"): "line_manager",
        # Immediate duties of an absent case holder (attack pass 30, ATTACK30B-14): 3.2.4's
        # child protection referral ("the child is unsafe ... immediate multi agency action")
        # and 8.3's urgent MAPPA referral to the YJT manager, with 3.1's duty manager beyond.
        ("S9", "child_protection_referral"): "line_manager",
        ("S46", "refer_to_service_manager_for_mappa"): "line_manager",
    }
    # Wokingham names no stand-in for a line manager; the case worker's High-Risk Panel request
    # ("the case worker or their line manager", A23b-5) and the IYSS records of what became
    # known while they are away (W4, W21: attack 24b, A24b-14) and bringing the child back to
    # the panel that invites them both (W22, S20's twin) are the line manager's.
    assert {(r.id, r.code): r.stand_in for r in packs()["wokingham-pyjs-2024"].rules
            if r.stand_in} == {
        ("W4", "record_incident"): "line_manager",
        ("W7", "request_high_risk_panel"): "line_manager",
        ("W21", "record_risk_to_staff"): "line_manager",
        ("W22", "attend_panel_review"): "line_manager",
        # Very high SWB's child protection referral: "Immediate actions are needed to protect
        # the young person" (ATTACK30B-14).
        ("W26", "child_protection_referral"): "line_manager",
        ("W29", "request_high_risk_panel"): "line_manager",
    }
    assert all(r.actor == "case_holder" for r in packs()["wokingham-pyjs-2024"].rules
               if r.stand_in)
    assert somerset.escalation.target("duty_manager") == "chair"
    assert rule_sentence(somerset.rule("S5")).endswith(
        "If the line manager is away (a recorded absence before it is due), the duty manager "
        "does it.")
