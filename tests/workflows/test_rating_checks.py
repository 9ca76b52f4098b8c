"""M1-M7: the ROSH matrix and the checks on writing a judgement."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.workflows.packs import matrix_level
from tests.workflows.support import (
    CHRISTMAS_EVE,
    MARP_REVIEW,
    SOMERSET,
    WOKINGHAM,
    assert_step,
    case,
    codes,
    created,
    judgement,
    packs,
    rated,
    run,
)

W, S = WOKINGHAM, SOMERSET


@pytest.mark.parametrize("pack_id", [S, W])
@pytest.mark.parametrize(
    ("impact", "likelihood", "expected"),
    [
        ("slight", "almost_certain", "low"),
        ("minor", "likely", "low"),
        ("medium", "very_likely", "low"),
        ("major", "unlikely", "medium"),
        ("critical", "possible", "medium"),
        ("major", "likely", "high"),
        ("critical", "very_likely", "high"),
        ("major", "almost_certain", "very_high"),
        ("critical", None, None),
        (None, "likely", None),
    ],
)
def test_M1_matrix_level_from_impact_and_likelihood(
    pack_id: str, impact: str | None, likelihood: str | None, expected: str | None
) -> None:
    """M1: matrix level from impact and likelihood."""
    assert matrix_level(packs()[pack_id], impact, likelihood) == expected


def test_M1_evaluation_reports_matrix_level_beside_the_recorded_level() -> None:
    """M1: evaluation reports matrix level beside the recorded level."""
    ev = run(S, judgement("rosh", "high", CHRISTMAS_EVE, impact="critical", likelihood="likely",
                          setting="custody"))
    assert ev.matrix_level == "high"
    assert ev.ratings_after["rosh"] == "high"
    assert run(S, judgement("swb", "high", CHRISTMAS_EVE, impact="critical",
                            likelihood="likely")).matrix_level is None


def test_M2_professional_gut_needs_a_rationale_in_wokingham() -> None:
    """M2: professional gut needs a rationale in wokingham."""
    body = {"impact": "major", "likelihood": "possible", "victims": ["public"]}
    refused = run(W, judgement("rosh", "high", CHRISTMAS_EVE, **body))
    assert [(v.rule_id, v.status, v.type_slug) for v in refused.violations] == [
        ("M2", 422, "rationale-required")]
    assert refused.violations[0].errors == (
        ("body.rationale", f"required by {W} M2 (Matrix of impact / likelihood judgements)"),)
    assert refused.intents == ()
    assert refused.matrix_level == "medium"
    assert refused.ratings_after["rosh"] is None
    assert refused.register_change is None
    blank = run(W, judgement("rosh", "high", CHRISTMAS_EVE, rationale="   ", **body))
    assert blank.violations
    ok = run(W, judgement("rosh", "high", CHRISTMAS_EVE, rationale="Escalating threats", **body))
    assert ok.violations == ()
    assert ok.acknowledgements == ("M2",)
    assert_step(created(ok, "acknowledge_rating_rationale"), rule="M2",
                code="acknowledge_rating_rationale", actor="line_manager", due=None, pack=W,
                ref="Matrix of impact / likelihood judgements")
    # Somerset has no M2: the same judgement needs no rationale there.
    assert run(S, judgement("rosh", "high", CHRISTMAS_EVE, **body)).violations == ()


def test_M3_weapon_related_rosh_below_medium_needs_a_rationale() -> None:
    """M3: weapon related rosh below medium needs a rationale."""
    knife = case(weapon_related=True)
    refused = run(W, judgement("rosh", "low", CHRISTMAS_EVE), knife)
    assert [(v.rule_id, v.type_slug) for v in refused.violations] == [("M3", "rationale-required")]
    ok = run(W, judgement("rosh", "low", CHRISTMAS_EVE, rationale="Context explained"), knife)
    assert ok.acknowledgements == ("M3",)
    assert_step(created(ok, "acknowledge_rating_rationale"), rule="M3",
                code="acknowledge_rating_rationale", actor="line_manager", due=None, pack=W,
                ref="ROSH for knife offences")
    assert run(W, judgement("rosh", "medium", CHRISTMAS_EVE, victims=["public"]),
               knife).violations == ()


@pytest.mark.parametrize(
    ("csc", "level", "refused"),
    [("cp", "medium", True), ("cp", "high", False), ("cic", "low", True), ("cin", "low", True),
     ("cin", "medium", False), ("none", "low", False)],
)
def test_M4_swb_floor_for_children_open_to_social_care(csc: str, level: str, refused: bool) -> None:
    """M4: swb floor for children open to social care."""
    ev = run(W, judgement("swb", level, CHRISTMAS_EVE), case(csc_status=csc))
    assert [v.rule_id for v in ev.violations] == (["M4"] if refused else [])
    if refused:
        ok = run(W, judgement("swb", level, CHRISTMAS_EVE, rationale="Exception"),
                 case(csc_status=csc))
        assert ok.acknowledgements == ("M4",)
        assert created(ok, "acknowledge_rating_rationale").policy_ref == (
            "SWB for children open to Children Social Care")


def test_M5_rosh_medium_or_above_must_name_the_people_at_risk() -> None:
    """M5: rosh medium or above must name the people at risk."""
    refused = run(W, judgement("rosh", "medium", CHRISTMAS_EVE))
    assert [(v.rule_id, v.status, v.type_slug) for v in refused.violations] == [
        ("M5", 422, "victims-required")]
    assert refused.violations[0].errors[0][0] == "body.victims"
    assert run(W, judgement("rosh", "medium", CHRISTMAS_EVE, victims=[])).violations
    ok = run(W, judgement("rosh", "medium", CHRISTMAS_EVE, victims=["ex-partner", "public"]))
    assert ok.violations == ()
    assert ok.acknowledgements == ()
    assert run(W, judgement("rosh", "low", CHRISTMAS_EVE)).violations == ()


def test_M6_lowering_a_registered_case_needs_panel_approval_in_somerset() -> None:
    """M6 (7.2.1, 4.3): "recommendation that the risk level is reduced must be approved by the
    panel" once the MARP has taken the case ("If the case was relevant to MARP, the case holder
    will update the panel in line with the previously agreed review date"); a high rating no
    MARP has heard yet is lowered after consultation with the line manager."""
    registered = case(ratings=rated(rosh="very_high", swb="medium"), on_register=True,
                      open_steps=(MARP_REVIEW,))
    unheard = run(S, judgement("rosh", "medium", CHRISTMAS_EVE),
                  replace(registered, open_steps=()))
    assert unheard.violations == ()
    assert unheard.register_change == "deregistered"
    refused = run(S, judgement("rosh", "medium", CHRISTMAS_EVE), registered)
    assert [(v.rule_id, v.status, v.type_slug) for v in refused.violations] == [
        ("M6", 409, "panel-approval-required")]
    assert refused.intents == ()
    assert refused.on_register_after is True
    approved = run(S, judgement("rosh", "medium", CHRISTMAS_EVE, via_panel_decision=True),
                   registered)
    assert approved.violations == ()
    assert approved.register_change == "deregistered"
    # Raising, or lowering off the register, needs no approval; Wokingham has no M6.
    assert run(S, judgement("rosh", "medium", CHRISTMAS_EVE),
               case(ratings=rated(rosh="high"))).violations == ()
    assert run(W, judgement("rosh", "medium", CHRISTMAS_EVE, victims=["public"]),
               registered).violations == ()


@pytest.mark.parametrize("pack_id", [S, W])
def test_M7_lor_has_no_very_high(pack_id: str) -> None:
    """M7: lor has no very high."""
    ev = run(pack_id, judgement("lor", "very_high", CHRISTMAS_EVE))
    assert [(v.rule_id, v.status, v.type_slug) for v in ev.violations] == [
        ("M7", 422, "invalid-level")]
    assert ev.violations[0].errors[0][0] == "body.level"
    assert codes(ev) == set()
