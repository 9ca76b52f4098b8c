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

EXAMPLE_FILE = PACK_DIR / "example-yjs.toml"
SOURCE = PACK_DIR / "sources" / "example-yjs-risk-policy-2025.txt"
# X13 (6.1): a high or very high SWB asks for a mental health assessment referral.
X13 = 'when = { all = [{ judgement_domain_in = ["swb"] }, { level_in = ["high", "very_high"] }] }'
M7 = 'when = { all = [{ judgement_domain_in = ["lor"] }, { level_in = ["very_high"] }] }'
JUDGED = ("judgement_recorded",)


def _variant(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """The example pack under an id of its own, with text replaced (each edit must apply) and
    its policy's text beside it."""
    text = EXAMPLE_FILE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "example-owner.toml"
    path.write_text(text.replace('id = "example-yjs"', 'id = "example-owner"', 1))
    (tmp_path / SOURCE.name).write_text(SOURCE.read_text())
    return path


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
    path = _variant(tmp_path, (X13, when))
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
    path = _variant(tmp_path, (X13, f"{X13}\n{holds}"))
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
    path = _variant(tmp_path, (M7, 'when = { all = [{ judgement_domain_in = ["lor"] }, '
                                   '{ level_in = ["high"] }] }'), (X13, when))
    lines, failed = check_files([path])
    assert failed
    at = f"{path}:{_line_of(path, when)}: X13: rules.15.when: error: this condition can never "
    said = [each for each in lines if each.startswith(at)]
    assert len(said) == 1, lines
    assert "refuses a very high LoR under every pack: LOR_SCALE" in said[0]


@pytest.mark.parametrize("when", [
    {"any": [{"judgement_domain_in": ["rosh"]}, {"judgement_domain_in": ["swb"]}]},
    {"all": [{"judgement_domain_in": ["rosh"]}, {"not": {"level_in": ["low", "medium"]}}]},
    {"not": {"all": [{"judgement_domain_in": ["rosh"]}, {"judgement_domain_in": ["swb"]}]}},
    {"all": [{"level_in": ["high"]}, {"not": {"level_below": "medium"}}]},
    {"all": [{"case": {"on_register": False}}, {"after": {"on_register": True}}]},
    {"all": [{"event_type_in": ["charged"]}, {"not": {"event_type_in": ["new_incident"]}}]},
    {"all": [{"judgement_domain_in": ["lor"]}, {"level_in": ["high", "very_high"]}]},
])
def test_atk28b_2_conditions_that_can_hold_are_not_called_impossible(when: object) -> None:
    """Only a contradiction is reported: each of these holds for some act."""
    assert never(when, JUDGED, Facts({("lor", "very_high"): "M7"})) is None


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
    path = _variant(tmp_path, ('score = { name = "serious_harm_indicators", gte = 2 }',
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
