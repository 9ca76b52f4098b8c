"""Attack 26a, A26a-12: ``yjrisk pack check`` passed silent pack mistakes: a word declared
twice (the second shadowed, without a word), a ``[[checks]]`` or ``[[rules]]`` entry repeated
word for word, a step code listed twice, and escalation that goes round in a loop. Each is now
an error on the file's line, in the one checker every entry point uses (start-up, ``pack
check``, ``pack test``), and the pack does not load."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR, PackError, load_pack
from tests.workflows.support import EXAMPLE_FILE, example_variant

PANEL = '''[[panel_kinds]]
id = "risk_panel"
title = "Risk Panel"
'''
CHECK_M7 = '''[[checks]]
id = "M7"
type_slug = "invalid-level"
'''
ESCALATION = ('to = { line_manager = "duty_manager", duty_manager = "chair", chair = "chair", '
              'panel_admin = "chair" }')


def _line(path: Path, text: str, nth: int = 2) -> int:
    """The line of the ``nth`` occurrence of ``text`` (a line of the file)."""
    lines = path.read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if line == text]
    return found[nth - 1]


def _errors(path: Path) -> list[str]:
    lines, failed = check_files([path])
    assert failed, lines
    with pytest.raises(PackError):
        load_pack(path)
    return [line for line in lines if ": error: " in line]


def test_A26a12_a_panel_kind_declared_twice_is_an_error_on_its_line(tmp_path: Path) -> None:
    """Two ``[[panel_kinds]]`` with id ``risk_panel``: an error at the second's id, naming
    the first (it said "panel_kinds: ['risk_panel'] declared twice", with no line)."""
    text = EXAMPLE_FILE.read_text()
    start = text.index(PANEL)
    block = text[start:text.index("\n[[", start) + 1]
    path = example_variant(tmp_path, (block, block + "\n" + block), once=True)
    at = _line(path, 'id = "risk_panel"')
    assert _errors(path) == [
        f"{path}:{at}: -: panel_kinds.1.id: error: panel kind 'risk_panel' is declared twice "
        "(first at panel_kinds.0): declare each panel kind once"]


def test_A26a12_a_check_repeated_word_for_word_is_an_error(tmp_path: Path) -> None:
    """M7 (2.2) "Likelihood of re-offending is rated low, medium or high" given twice as the
    same ``[[checks]]`` entry: an error at the second (several checks of one policy rule under
    one id, as Wokingham's M1, are fine)."""
    text = EXAMPLE_FILE.read_text()
    start = text.index(CHECK_M7)
    block = text[start:text.index("\n[[", start) + 1]
    path = example_variant(tmp_path, (block, block + "\n" + block), once=True)
    at = _line(path, "[[checks]]", 2)
    assert _errors(path) == [
        f"{path}:{at}: M7: checks.1: error: this [[checks]] entry repeats checks.0 word for "
        "word: the check would apply twice; remove one"]


def test_A26a12_a_step_code_listed_twice_is_an_error(tmp_path: Path) -> None:
    """A referral kind's ``closes`` naming its step code twice: an error at the second."""
    old = 'closes = ["refer_mental_health_assessment"]'
    path = example_variant(tmp_path, (old, 'closes = ["refer_mental_health_assessment", '
                                          '"refer_mental_health_assessment"]'), once=True)
    at = _line(path, 'closes = ["refer_mental_health_assessment", '
                     '"refer_mental_health_assessment"]', 1)
    assert _errors(path) == [
        f"{path}:{at}: -: referral_kinds.0.closes.1: error: step code "
        "'refer_mental_health_assessment' is listed twice (first at referral_kinds.0.closes.0): "
        "give each code once"]


def test_A26a12_escalation_that_goes_round_in_a_loop_is_an_error(tmp_path: Path) -> None:
    """The line manager's overdue steps to the duty manager, the duty manager's back to the
    line manager: no one above is ever told. An error at the entry closing the loop."""
    loop = ('to = { line_manager = "duty_manager", duty_manager = "line_manager", '
            'chair = "chair", panel_admin = "chair" }')
    path = example_variant(tmp_path, (ESCALATION, loop), once=True)
    at = _line(path, loop, 1)
    assert _errors(path) == [
        f"{path}:{at}: -: escalation.to.line_manager: error: escalation goes round in a loop "
        "(duty_manager -> line_manager -> duty_manager): no one above is ever told; end the "
        'chain at a role that escalates to itself (e.g. chair = "chair")']


def test_A26a12_the_bundled_packs_have_none_of_these() -> None:
    """Each bundled pack checks clean of them (Wokingham's several M1 checks are M1's parts)."""
    for path in sorted(PACK_DIR.glob("*.toml")):
        lines, failed = check_files([path])
        assert not failed, lines
