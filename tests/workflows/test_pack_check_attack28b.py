"""``pack check`` after attack 28b: conditions that can never hold (ATK28B-2) and the typical
mistakes it warns about (ATK28B-4).

A rule line whose condition can never be true is a duty never raised, without a word, as a
misspelt word would be (packs/README.md: an atom "so the line can never apply" is an error).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.workflows.pack_check import check_pack
from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR, read_pack
from app.workflows.satisfiable import Facts, never
from tests.workflows.support import example_variant

# X13 (6.1): a high or very high SWB asks for a mental health assessment referral.
X13 = 'when = { all = [{ judgement_domain_in = ["swb"] }, { level_in = ["high", "very_high"] }] }'
M7 = 'when = { all = [{ judgement_domain_in = ["lor"] }, { level_in = ["very_high"] }] }'
JUDGED = ("judgement_recorded",)


def _line_of(path: Path, text: str) -> int:
    """The last line written so (the rule's, after M7's own ``when``)."""
    lines = path.read_text().splitlines()
    return len(lines) - lines[::-1].index(text)


NEVER = [
    ("lor_very_high", 'when = { all = [{ judgement_domain_in = ["lor"] }, '
     '{ level_in = ["very_high"] }] }',
     "judgement_domain_in = ['lor'] and level_in = ['very_high'] leave no domain and level a "
     "judgement may have (check M7 refuses every such judgement)"),
    ("high_below_medium", 'when = { all = [{ judgement_domain_in = ["swb"] }, '
     '{ level_in = ["high"] }, { level_below = "medium" }] }',
     "level_in = ['high'] and level_below = 'medium' leave the judgement's level nothing it "
     "may be"),
    ("two_domains", 'when = { all = [{ judgement_domain_in = ["rosh"] }, '
     '{ judgement_domain_in = ["swb"] }] }',
     "judgement_domain_in = ['rosh'] and judgement_domain_in = ['swb'] leave the judgement's "
     "domain nothing it may be"),
    ("rating_afterwards", 'when = { all = [{ judgement_domain_in = ["swb"] }, '
     '{ level_in = ["high", "very_high"] }, '
     '{ after = { any_rating_in = { domains = ["swb"], levels = ["low"] } } }] }',
     "afterwards the rating of the judgement's domain is its level"),
]


@pytest.mark.parametrize(("name", "when", "why"), NEVER, ids=[n[0] for n in NEVER])
def test_atk28b_2_a_rule_whose_condition_can_never_hold_is_an_error_at_its_line(
        tmp_path: Path, name: str, when: str, why: str) -> None:
    """The tester's mutations: each is an error naming the rule, at the ``when``'s line, saying
    why it can never hold (M7 "lor has no very_high: 422": the pack's own check refuses it)."""
    path = example_variant(tmp_path, (X13, when))
    lines, failed = check_files([path])
    assert failed
    at = f"{path}:{_line_of(path, when)}: X13: rules.15.when: error: this condition can never "
    said = [each for each in lines if each.startswith(at)]
    assert len(said) == 1, lines
    assert why in said[0]
    assert said[0].endswith("so this line never applies")


def test_atk28b_2_a_holds_false_whenever_its_line_applies_is_an_error(tmp_path: Path) -> None:
    """A step whose ``holds`` is false the moment it is made (a high SWB's referral kept only
    while SWB is low) is made unjustified and lapses at the next act: an error at the
    ``holds`` line."""
    holds = 'holds = { after = { any_rating_in = { domains = ["swb"], levels = ["low"] } } }'
    path = example_variant(tmp_path, (X13, f"{X13}\n{holds}"))
    lines, failed = check_files([path])
    assert failed
    at = f"{path}:{_line_of(path, holds)}: X13: rules.15.holds: error: the holds can never be "
    assert any(each.startswith(at) for each in lines), lines


def test_atk28b_2_without_a_check_refusing_it_a_very_high_lor_line_is_an_error_too(
        tmp_path: Path) -> None:
    """A pack with no M7 refuses a very high LoR all the same: the core's scale (LOR_SCALE,
    ATK28B-15: "`lor` (likelihood of re-offending: low/medium/high only)"), so the line can
    never apply: an error, naming the core's rule."""
    when = 'when = { all = [{ judgement_domain_in = ["lor"] }, { level_in = ["very_high"] }] }'
    path = example_variant(tmp_path, (M7, 'when = { all = [{ judgement_domain_in = ["lor"] }, '
                                          '{ level_in = ["high"] }] }'), (X13, when))
    lines, failed = check_files([path])
    assert failed
    at = f"{path}:{_line_of(path, when)}: X13: rules.15.when: error: this condition can never "
    said = [each for each in lines if each.startswith(at)]
    assert len(said) == 1, lines
    assert "refuses a very high LoR under every pack: LOR_SCALE" in said[0]


@pytest.mark.parametrize(("when", "triggers"), [
    ({"any": [{"judgement_domain_in": ["rosh"]}, {"judgement_domain_in": ["swb"]}]}, JUDGED),
    ({"all": [{"judgement_domain_in": ["rosh"]}, {"not": {"level_in": ["low", "medium"]}}]},
     JUDGED),
    ({"not": {"all": [{"judgement_domain_in": ["rosh"]}, {"judgement_domain_in": ["swb"]}]}},
     JUDGED),
    ({"all": [{"level_in": ["high"]}, {"not": {"level_below": "medium"}}]}, JUDGED),
    ({"all": [{"case": {"on_register": False}}, {"after": {"on_register": True}}]}, JUDGED),
    ({"all": [{"judgement_domain_in": ["lor"]}, {"level_in": ["high", "very_high"]}]}, JUDGED),
    ({"all": [{"event_type_in": ["charged"]}, {"not": {"event_type_in": ["new_incident"]}}]},
     ("case_event",)),
    ({"any": [{"event_type_in": ["charged"]}, {"completed_step_code_in": ["x"]}]},
     ("case_event", "step_completed")),
    # A case has several open steps, and several types countersigned, at once: two such
    # atoms naming different codes both hold (they test a set, not one value).
    ({"all": [{"case": {"open_step_in": ["refer_to_panel"]}},
              {"case": {"open_step_in": ["complete_assessment"]}}]}, JUDGED),
    ({"all": [{"after": {"open_step_in": ["refer_to_panel"]}},
              {"after": {"open_step_in": ["complete_assessment"]}}]}, JUDGED),
    ({"all": [{"case": {"countersigned_assessment_in": ["asset_plus"]}},
              {"case": {"countersigned_assessment_in": ["fact_finding"]}}]}, JUDGED),
])
def test_atk28b_2_conditions_that_can_hold_are_not_called_impossible(
        when: object, triggers: tuple[str, ...]) -> None:
    """Only a contradiction is reported: each of these holds for some act."""
    assert never(when, triggers, Facts({("lor", "very_high"): "M7"})) is None


def test_atk28b_2_an_atom_no_trigger_of_its_line_carries_under_all_is_impossible() -> None:
    """A case event's type and a completed step's code under one ``all``: no act carries both
    (``types.EVENT_DATA``), whatever the line's triggers."""
    why = never({"all": [{"event_type_in": ["charged"]}, {"completed_step_code_in": ["x"]}]},
                ("case_event", "step_completed"), Facts())
    assert why is not None
    assert "leave the act's trigger nothing it may be" in why


def test_atk28b_2_the_testers_two_domain_holds_can_hold() -> None:
    """The tester's N5 mutation (any of ROSH/SWB high, kept while any of them is low) holds
    for ROSH high and SWB low: it is not reported."""
    rated = {"domains": ["rosh", "swb"], "levels": ["high", "very_high"]}
    low = {"domains": ["rosh", "swb"], "levels": ["low"]}
    assert never({"after": {"any_rating_in": rated}}, JUDGED, Facts(),
                 {"after": {"any_rating_in": low}}) is None


def test_atk28b_2_a_number_compared_with_a_yes_no_fact_is_a_warning(tmp_path: Path) -> None:
    """``after.fact = { name = "dangerousness_criteria_met", gte = 3 }`` on a boolean fact can
    never be true (a comparison of numbers), like an age below zero: a warning."""
    path = example_variant(tmp_path, ('score = { name = "serious_harm_indicators", gte = 2 }',
                                      'fact = { name = "dangerousness_criteria_met", gte = 3 }'))
    assert [(p.severity, p.message) for p in check_pack(read_pack(path))
            if "never be true" in p.message] == [(
                "warning", "this comparison can never be true: gte compare numbers, and fact "
                "'dangerousness_criteria_met' is a boolean fact")]


def test_atk28b_2_the_bundled_packs_have_no_impossible_condition() -> None:
    """Nothing the bundled packs say is impossible (M7's own condition, the very high LoR it
    refuses, is not reported against itself)."""
    for name in ("example-yjs", "somerset-yjt-2023", "wokingham-pyjs-2024"):
        problems = check_pack(read_pack(PACK_DIR / f"{name}.toml"))
        assert [p for p in problems if "never" in p.message or "LoR" in p.message] == []


def _warnings(path: Path, field: str) -> list[str]:
    lines, failed = check_files([path])
    assert not failed, lines
    return [each for each in lines if f": {field}: warning: " in each]


def test_atk28b_4_a_pack_without_a_version_is_warned(tmp_path: Path) -> None:
    """Deleting ``version = "1.0"``: the pack loads as version "1" (the format's default, not
    an error), which every step cites; ``pack check`` says so."""
    path = example_variant(tmp_path, ('version = "1.0"\n', ""))
    said = _warnings(path, "version")
    assert len(said) == 1, said
    assert "no version: the pack is read as version '1'" in said[0]


def test_atk28b_4_a_month_count_over_a_year_is_warned_at_its_line(tmp_path: Path) -> None:
    """``deadline = "+30m"`` (30 minutes meant?) is 30 months (packs/README.md: ``+Nm``);
    more than 12 months is warned at the line, ``+3m`` and ``every 12m`` are not."""
    path = example_variant(tmp_path, ('deadline = "+20wd"', 'deadline = "+30m"'),
                           ('deadline = "+5wd"', 'deadline = "every 12m"'))
    said = _warnings(path, "rules.0.deadline")
    line = _line_of(path, 'deadline = "+30m"')
    assert said == [f"{path}:{line}: X1: rules.0.deadline: "
                    "warning: '+30m' is 30 months ('m' is months: there is no minutes unit; "
                    "hours are 'h', e.g. '+1h'): more than a year is unusual for a step's "
                    "timescale; check it is what the policy says"]
    assert _warnings(path, "rules.1.deadline") == []


def test_atk28b_4_one_rule_giving_one_step_two_actors_is_warned(tmp_path: Path) -> None:
    """A second X5 line asking for the same step as another X5 line of the same trigger, to
    another actor and deadline, for the same event: one step is made, the first line's (its
    actor and deadline), which the pack does not say: a warning at the second line's code."""
    second = ('id = "X5"\ntrigger = "case_event"\ncode = "discuss_with_manager"\n'
              'title = "Discuss the parent or carer risk with the line manager today"\n'
              'actor = "case_holder"\ndeadline = "immediately"')
    # The death the example declares no longer ends a discussion no line asks for.
    path = example_variant(tmp_path, (second, second.replace("discuss_with_manager",
                                                             "child_protection_referral", 1)
                                      .replace('actor = "case_holder"', 'actor = "line_manager"')),
                           ('"child_protection_referral", "discuss_with_manager", ',
                            '"child_protection_referral", '))
    said = _warnings(path, "rules.5.code")
    assert len(said) == 1, said
    line = _line_of(path, 'code = "child_protection_referral"')
    assert said[0].startswith(f"{path}:{line}: X5: rules.5.code: ")
    assert ("gives step 'child_protection_referral' on case_event two ways, actor 'case_holder'"
            " (rules.4) and 'line_manager'; deadline 'next-wd' (rules.4) and 'immediately' "
            "here, and both lines can apply to one act: one step is made, the first line's "
            "(rules.4)") in said[0]


def test_atk28b_4_lines_whose_conditions_exclude_each_other_are_not_warned() -> None:
    """Somerset S43/S44 give the follow-up to whichever manager was told (the line manager,
    a duty manager, the YJT manager), each line's condition excluding the others': no
    warning, nor for any bundled pack."""
    for name in ("example-yjs", "somerset-yjt-2023", "wokingham-pyjs-2024"):
        problems = check_pack(read_pack(PACK_DIR / f"{name}.toml"))
        assert [p for p in problems if "two ways" in p.message or "months" in p.message
                or p.field == "version"] == []


def test_atk28b_2_a_refresh_only_lines_holds_is_not_checked_against_its_when(
        tmp_path: Path) -> None:
    """A ``refresh_only`` line makes no step (it re-dates an open one, engine ``_justified``
    leaves it out of a step's own lines), so its ``holds`` is not "false the moment the step is
    made": no error."""
    holds = 'holds = { after = { any_rating_in = { domains = ["swb"], levels = ["low"] } } }'
    path = example_variant(tmp_path, (X13, f"{X13}\nrefresh_only = true\n{holds}"))
    lines, failed = check_files([path])
    assert not failed, lines


@pytest.mark.parametrize("day", ["Saturday", "Sunday", "saturdays"])
def test_attack30b_3_a_panel_meeting_at_a_weekend_is_warned(tmp_path: Path, day: str) -> None:
    """Attack pass 30, ATTACK30B-3: ``cadence = "weekly on Saturday"`` (a slip for Thursday,
    the example policy's 5.1 "The Risk Panel meets weekly on Thursday") checked clean, and the
    next-panel steps fell due on Saturdays (on Tuesday 29 December 2026 when Saturday was Boxing
    Day). ``pack check`` warns at the cadence; a weekday cadence is not warned."""
    path = example_variant(tmp_path,
                           ('cadence = "weekly on Thursday"', f'cadence = "weekly on {day}"'))
    said = _warnings(path, "panel_kinds.0.cadence")
    assert len(said) == 1, said
    named = "Saturday" if day.lower().startswith("sat") else "Sunday"
    assert (f"panel 'risk_panel' meets on a {named} ('weekly on {day}'): its next-panel steps "
            "fall due on a day that is not a working day") in said[0]
    assert _warnings(example_variant(tmp_path), "panel_kinds.0.cadence") == []


@pytest.mark.parametrize(("cadence", "days"), [
    ("on Saturdays", "Saturday"), ("Thursdays", "Thursday"),
    ("monthly on the first Wednesday", "Wednesday")])
def test_attack31a_1_a_cadence_naming_a_day_not_read_as_fixed_is_warned(
        tmp_path: Path, cadence: str, days: str) -> None:
    """Attack pass 31a, ATTACK31A-1 (ATTACK30B-3's twin): cadence words that name a weekday
    but are not a fixed-day cadence are read as ad hoc, so no next-panel step is dated by
    them, without a word. ``pack check`` warns at the cadence; words naming no day ("ad hoc,
    within one week of a request", Wokingham's) are not warned."""
    path = example_variant(tmp_path, ('cadence = "weekly on Thursday"', f'cadence = "{cadence}"'))
    said = _warnings(path, "panel_kinds.0.cadence")
    assert len(said) == 1, said
    assert (f"panel 'risk_panel': the cadence {cadence!r} names {days} but is not read as a "
            "fixed day") in said[0]
    adhoc = example_variant(tmp_path, ('cadence = "weekly on Thursday"',
                                       'cadence = "ad hoc, within one week of a request"'))
    assert _warnings(adhoc, "panel_kinds.0.cadence") == []


def test_attack32b_4_child_age_ranges_in_one_all_that_leave_no_age_are_an_error(
        tmp_path: Path) -> None:
    """Attack 32b, ATTACK32B-4: the example's X6 (4.3 "a child under 14 has been charged")
    given ``child_age`` atoms that leave no age, within one atom or across the atoms of its
    ``all`` (``gte 14`` with ``lt 14``; ``eq 12`` with ``ne 12``): the line never applies, an
    error as the other values' contradictions are (it was a warning within one atom, nothing
    across atoms)."""
    x6 = "{ child_age = { lt = 14 } }"
    for new, said in (
            ("{ child_age = { gte = 14, lt = 10 } }", "child_age = {gte = 14, lt = 10}"),
            ("{ child_age = { gte = 14 } }, { child_age = { lt = 14 } }",
             "child_age = {gte = 14} and child_age = {lt = 14}"),
            ("{ child_age = { eq = 12 } }, { child_age = { ne = 12 } }",
             "child_age = {eq = 12} and child_age = {ne = 12}")):
        problems = check_pack(read_pack(example_variant(tmp_path, (x6, new), once=True)))
        assert [(p.severity, p.rule, p.field, p.message) for p in problems
                if p.field == "rules.6.when"] == [(
                    "error", "X6", "rules.6.when",
                    f"this condition can never be true: {said} leave the child's age nothing "
                    "it may be, so this line never applies")]


def test_attack32b_4_a_dead_alternative_of_an_any_that_can_hold_is_a_warning_naming_it(
        tmp_path: Path) -> None:
    """Attack 32b, ATTACK32B-4: X6 given ``any = [{ all = [case.statutory true, false] },
    { child_age lt 14 }]``: the line can still apply (no error), and the dead alternative,
    an owner's slip, is named by a warning at its field."""
    new = ('{ any = [{ all = [{ "case.statutory" = true }, { "case.statutory" = false }] }, '
           '{ child_age = { lt = 14 } }] }')
    path = example_variant(tmp_path, ("{ child_age = { lt = 14 } }", new), once=True)
    problems = check_pack(read_pack(path))
    assert not [p for p in problems if p.severity == "error"]
    assert [(p.severity, p.field, p.message) for p in problems
            if p.field.startswith("rules.6.when")] == [(
                "warning", "rules.6.when.all.1.any.0",
                "this alternative of 'any' can never be true: case.statutory = true and "
                "case.statutory = false leave what 'case.statutory' tests nothing it may be; the "
                "line applies only through the others")]
