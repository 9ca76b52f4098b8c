"""The core's meanings a pack cannot silently lack (attack 28b): a child's death (ATK28B-14) and
the LoR scale (ATK28B-15).

policy-rules Vocabulary: "`lor` (likelihood of re-offending: low/medium/high only)"; M7 "both
... `lor` has no `very_high`: 422". ``death`` is a core event type every service accepts
(vocabulary.CORE_EVENT_TYPES): a pack that does not declare it has the core's meaning (final,
once per case, ending the work with the child), and one that declares it not final or not once
per case is a located ``pack check`` error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.workflows.engine import evaluate
from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR, read_pack
from app.workflows.render import local_sentences
from tests.workflows.support import CHRISTMAS_EVE, calendar, case, judgement, packs

EXAMPLE_FILE = PACK_DIR / "example-yjs.toml"
SOURCE = PACK_DIR / "sources" / "example-yjs-risk-policy-2025.txt"
DEATH_START = '[[event_types]]\nid = "death"\n'
M7_START = '[[checks]]\nid = "M7"\n'


def _cut(text: str, start: str) -> str:
    """The text without the table starting ``start`` (up to the next blank line)."""
    at = text.index(start)
    end = text.index("\n\n", at)
    return text[:at] + text[end + 2:]


def owner_pack_text(*, death: bool = False, m7: bool = False) -> str:
    """A third authority's pack, ``northvale-yjs``: the example pack without its ``death``
    declaration (unless ``death``) and without its M7 check (unless ``m7``)."""
    text = EXAMPLE_FILE.read_text()
    assert M7_START in text
    if not death and DEATH_START in text:
        text = _cut(text, DEATH_START)
    if not m7:
        text = _cut(text, M7_START)
    return text.replace('id = "example-yjs"', 'id = "northvale-yjs"', 1)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "northvale-yjs.toml"
    path.write_text(text)
    (tmp_path / SOURCE.name).write_text(SOURCE.read_text())
    return path


def test_atk28b_14_a_pack_without_death_has_the_cores_death(tmp_path: Path) -> None:
    """A pack that does not declare ``death`` has the core's: final, once per case, recorded
    after closure, the serious incident notification still accepted after it, and every open
    step about earlier acts ended with the reason (the death's own steps stay)."""
    pack = read_pack(_write(tmp_path, owner_pack_text()))
    death = pack.event_type("death")
    assert pack.core_event_types() == frozenset({"death"})
    assert (death.final, death.once_per_case, death.after_closure) == (True, True, True)
    assert death.later_referral_kinds == ("serious_incident",)
    assert death.ends_reason == "the child has died: this work with the child can no longer be done"
    assert death.ends_steps == ()
    assert set(death.ends_earlier_steps) == set(pack.step_codes())
    assert {"child_protection_referral", "refer_to_risk_panel", "complete_assessment",
            "refer_mental_health_assessment"} <= set(death.ends_earlier_steps)
    assert pack.earlier_ending_events() == {"death": death.ends_earlier_steps}


def test_atk28b_14_pack_render_says_the_death_is_the_cores(tmp_path: Path) -> None:
    """``pack render`` says the pack has the core's death and what it means."""
    said = local_sentences(read_pack(_write(tmp_path, owner_pack_text())))
    at = said.index("This pack does not declare the core event type 'death', so it has the "
                    "core's meaning (declare it to say which steps it ends):")
    after = said[at + 1:]
    assert "The event “The child died” may be recorded after the case has closed." in after
    assert any(s.startswith("After the event “The child died”, nothing more about the living "
                            "child may be recorded") and "except a serious incident referral"
               in s for s in after)
    assert any(s.startswith("The event “The child died” happens once") for s in after)
    assert not any("The child died (death)" in s for s in said)  # not among the pack's words


def test_atk28b_14_the_example_pack_writes_out_the_cores_death() -> None:
    """The example pack "shows what a pack can declare": it declares ``death``, as the core's
    meaning written out (the same event type the loader gives a pack without one)."""
    from app.workflows.vocabulary import core_death  # noqa: PLC0415 (the fix's own helper)
    pack = packs()["example-yjs"]
    assert pack.core_event_types() == frozenset()
    assert pack.event_type("death") == core_death(pack.step_codes())


@pytest.mark.parametrize("key", ["final", "once_per_case"])
def test_atk28b_14_death_declared_not_final_or_not_once_is_a_located_error(
        tmp_path: Path, key: str) -> None:
    """A child dies once and nothing about the living child follows: ``final = false`` or
    ``once_per_case = false`` on ``death`` is an error at its line; the pack does not load."""
    text = owner_pack_text(death=True, m7=True)
    assert f"\n{key} = true\n" in text
    path = _write(tmp_path, text.replace(f"\n{key} = true\n", f"\n{key} = false\n", 1))
    lines, failed = check_files([path])
    assert failed
    number = path.read_text().splitlines().index(f"{key} = false") + 1
    assert [each for each in lines if "death" in each and "error" in each] == [
        f"{path}:{number}: -: event_types.1.{key}: error: 'death' is a core event type whose "
        f"meaning is the core's: " + (
            "nothing about the living child may be recorded after a death (409 "
            "after-final-event)" if key == "final" else
            "a child dies once: a second report of the death is the first reported again")
        + f"; write {key} = true, or leave it out (the core's true)"]


def test_atk28b_14_what_a_declared_death_leaves_unsaid_is_the_cores(tmp_path: Path) -> None:
    """A pack declaring ``death`` with only what it ends is still final and once per case."""
    text = owner_pack_text(death=True, m7=True)
    for line in ("after_closure = true\n", "final = true\n", "once_per_case = true\n",
                 'later_referral_kinds = ["serious_incident"]\n'):
        assert line in text
        text = text.replace(line, "", 1)
    path = _write(tmp_path, text)
    lines, failed = check_files([path])
    assert not failed, lines
    death = read_pack(path).event_type("death")
    assert (death.final, death.once_per_case, death.after_closure,
            death.later_referral_kinds) == (True, True, True, ("serious_incident",))


def test_atk28b_15_a_pack_without_M7_refuses_a_very_high_lor(tmp_path: Path) -> None:
    """policy-rules: "`lor` (likelihood of re-offending: low/medium/high only)". A pack without
    M7 has the core's scale: 422 invalid-level at body.level, rule LOR_SCALE, no step."""
    pack = read_pack(_write(tmp_path, owner_pack_text()))
    assert not any(c.id == "M7" for c in pack.checks)
    ev = evaluate(judgement("lor", "very_high", CHRISTMAS_EVE), case(), pack, calendar())
    assert [(v.rule_id, v.status, v.type_slug) for v in ev.violations] == [
        ("LOR_SCALE", 422, "invalid-level")]
    assert ev.violations[0].errors[0][0] == "body.level"
    assert ev.intents == ()
    assert ev.ratings_after.get("lor") is None
    fine = evaluate(judgement("lor", "high", CHRISTMAS_EVE), case(), pack, calendar())
    assert fine.violations == ()
    assert fine.ratings_after["lor"] == "high"


def test_atk28b_15_the_bundled_M7_answers_first() -> None:
    """A pack with its own M7 answers with it (its own reference), not the core's."""
    for pack_id in ("example-yjs", "somerset-yjt-2023", "wokingham-pyjs-2024"):
        ev = evaluate(judgement("lor", "very_high", CHRISTMAS_EVE), case(), packs()[pack_id],
                      calendar())
        assert [v.rule_id for v in ev.violations] == ["M7"], pack_id


def test_atk28b_15_pack_check_calls_a_very_high_lor_line_impossible_without_M7(
        tmp_path: Path) -> None:
    """Without M7 a line asking for a very high LoR can never apply either: the core refuses
    such a judgement (an error, as with M7)."""
    x13 = ('when = { all = [{ judgement_domain_in = ["swb"] }, '
           '{ level_in = ["high", "very_high"] }] }')
    when = 'when = { all = [{ judgement_domain_in = ["lor"] }, { level_in = ["very_high"] }] }'
    text = owner_pack_text()
    assert x13 in text
    path = _write(tmp_path, text.replace(x13, when, 1))
    lines, failed = check_files([path])
    assert failed
    said = [each for each in lines if "X13" in each and "never" in each]
    assert len(said) == 1, lines
    assert ": error: this condition can never be true: " in said[0]
    assert ("the contract's LoR scale (low, medium, high) refuses a very high LoR under every "
            "pack: LOR_SCALE") in said[0]


# A chair's YJB notification raised on a charge or a death (as the Northvale pack of attack 30b).
NOTIFY_ON_DEATH = '''
[[rules]]
id = "X30"
trigger = "case_event"
code = "notify_serious_incident"
title = "Notify the YJB of the serious incident"
actor = "chair"
deadline = "none"
ref = "3.1"
when = { event_type_in = ["charged", "death"] }
'''


def test_core_death_keeps_earlier_steps_of_a_code_the_death_itself_asks_for(
        tmp_path: Path) -> None:
    """Attack 30b, ATTACK30B-6; Somerset 12 "Somerset YJT will complete notification within the
    expected timeframes for any child who is charged with any notifiable offence or dies whilst
    relevant to our service": the core's death does not end the chair's YJB notification of an
    earlier charge, a code a line of the pack raises on the death itself (it asks for that
    work, so the death does not make it impossible); ``pack render`` says so. The rest of the
    codes are still ended."""
    pack = read_pack(_write(tmp_path, owner_pack_text() + NOTIFY_ON_DEATH))
    death = pack.event_type("death")
    assert pack.asked_on_death() == frozenset({"notify_serious_incident"})
    assert "notify_serious_incident" not in death.ends_earlier_steps
    assert set(death.ends_earlier_steps) == set(pack.step_codes()) - {"notify_serious_incident"}
    said = local_sentences(pack)
    assert ("It does not end the earlier steps notify serious incident: a line asks for them "
            "on the death itself, so they are still owed.") in said
