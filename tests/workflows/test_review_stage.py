"""Engine-level check for fid5 (Somerset 7.1.3): a returned Review Stage is resubmitted as the
Review Stage (its return carries ``answers_review_request``)."""

from __future__ import annotations

from uuid import UUID

from tests.workflows.support import assert_step, created, event, intents, lon, run

S = "somerset-yjt-2023"
REVIEW_STAGE = UUID(int=7)


def test_S18_returned_review_stage_is_resubmitted_as_the_review_stage() -> None:
    """S18 (7.1.3): "the case holder will complete a Review Stage to incorporate them into the
    current plan which will be countersigned by a line-manager"; S4 (5): sent back, it is
    revised and resubmitted. The Review Stage answering the MARP, returned on Wednesday 30
    December 2026 10:00 (between Christmas and the new year), asks the case holder to revise
    and resubmit it citing 7.1.3 first and S4's 5, 3.1 beside it, no timescale; an ordinary
    assessment returned then is S4's alone."""
    answered = run(S, event("assessment_returned", lon(2026, 12, 30, 10), REVIEW_STAGE,
                            role="line_manager", type="asset_plus", stage="review",
                            answers_review_request=True))
    step = created(answered, "resubmit_assessment")
    assert_step(step, rule="S18", code="resubmit_assessment", actor="case_holder", due=None,
                pack=S, ref="7.1.3")
    assert step.subject_id == REVIEW_STAGE
    assert [(r["rule"], r["ref"]) for r in step.reasons] == [("S18", "7.1.3"), ("S4", "5, 3.1")]
    plain = run(S, event("assessment_returned", lon(2026, 12, 30, 10), REVIEW_STAGE,
                         role="line_manager", type="asset_plus", stage="review"))
    assert_step(created(plain, "resubmit_assessment"), rule="S4", code="resubmit_assessment",
                actor="case_holder", due=None, pack=S, ref="5, 3.1")
    assert [i.rule_id for i in intents(plain, "create", "resubmit_assessment")] == ["S4"]
