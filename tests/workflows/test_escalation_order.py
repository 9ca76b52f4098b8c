"""Attack 32b, ATTACK32B-3: an overdue step is escalated to someone above its actor.

``pack check`` accepted an escalation map in which a role other than the top escalates to
itself (``line_manager = "line_manager"``: a line manager's overdue countersignature was
escalated to the same line manager, no one above told) or to a role below it (``chair =
"case_holder"``; ``default = "case_holder"`` for the case holder's own). The order is the
contract's (case holder < line manager < duty manager < chair, the panel administrator with
the case holder); only the chair, the top, ends the chain escalating to itself. An error at
the entry and at each line whose steps that role owes; a warning at the entry when no line's
steps are that role's."""

from __future__ import annotations

from pathlib import Path

from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR
from tests.workflows.support import EXAMPLE_FILE, example_variant

NOW = ('to = { line_manager = "duty_manager", duty_manager = "chair", chair = "chair", '
       'panel_admin = "chair" }')
LINE_MANAGER, CHAIR = 'actor = "line_manager"', 'actor = "chair"'
CHAIN = "(case_holder < line_manager < duty_manager < chair)"


def _said(path: Path, changes: tuple[str, str]) -> tuple[list[str], bool]:
    """``pack check``'s lines about the escalation order (file and line number left on), not
    those of a loop (``test_escalation_fallback_loop``)."""
    lines, failed = check_files([example_variant(path, changes, once=True)])
    return [line for line in lines if "no one above is told" in line
            and "round" not in line], failed


def _at(text: str) -> int:
    """The line of the example pack's text (the variant keeps every line where it was)."""
    return EXAMPLE_FILE.read_text().splitlines().index(text) + 1


def test_a_line_manager_escalating_to_themselves_is_an_error_at_the_entry_and_the_line(
        tmp_path: Path) -> None:
    """The example's 2.3 countersignature (X2, the line manager's) under ``line_manager =
    "line_manager"``: its overdue step would go to the same line manager."""
    said, failed = _said(tmp_path, (NOW, NOW.replace('line_manager = "duty_manager"',
                                                     'line_manager = "line_manager"')))
    path = tmp_path / "example-owner.toml"
    why = ("an overdue line_manager step escalates to itself, and only the top of the chain "
           "(chair) escalates to itself: no one above is told")
    fix = 'name the role above it (escalation.to.line_manager = "duty_manager")'
    assert failed
    assert said == [
        f"{path}:{_at(NOW)}: -: escalation.to.line_manager: error: {why} {CHAIN}; {fix}",
        f"{path}:{_at(LINE_MANAGER)}: X2: rules.1.actor: error: {why}; {fix}"]


def test_a_chair_escalating_down_to_the_case_holder_is_an_error_at_the_entry_and_the_line(
        tmp_path: Path) -> None:
    """The example's 4.3 (X6: the team manager told of a child under 14 charged) under
    ``chair = "case_holder"``: the senior manager's overdue duty would go to the case worker."""
    said, failed = _said(tmp_path, (NOW, NOW.replace('chair = "chair", panel_admin',
                                                     'chair = "case_holder", panel_admin')))
    path = tmp_path / "example-owner.toml"
    why = "an overdue chair step escalates to case_holder, below chair: no one above is told"
    fix = 'end the chain with chair = "chair"'
    assert failed
    assert said == [
        f"{path}:{_at(NOW)}: -: escalation.to.chair: error: {why} {CHAIN}; {fix}",
        f"{path}:{_at(CHAIR)}: X6: rules.6.actor: error: {why}; {fix}"]


def test_the_fallback_sending_the_case_holder_to_themselves_is_an_error_at_every_such_line(
        tmp_path: Path) -> None:
    """``default = "case_holder"`` and no ``case_holder`` entry: every case holder's overdue
    step would go to the case holder. An error at ``escalation.default`` and at each of the
    example's case holder lines."""
    said, failed = _said(tmp_path, ('default = "line_manager"', 'default = "case_holder"'))
    why = ("an overdue case_holder step escalates by the fallback (escalation.default) to "
           "itself, and only the top of the chain (chair) escalates to itself: no one above "
           "is told")
    fix = 'name the role above it (escalation.to.case_holder = "line_manager")'
    holders = EXAMPLE_FILE.read_text().count('actor = "case_holder"')
    assert failed
    assert said[0].split(":", 2)[2] == (
        f" -: escalation.default: error: {why} {CHAIN}; {fix}")
    assert [line.split(": error: ")[1] for line in said[1:]] == [f"{why}; {fix}"] * holders


def test_a_role_no_line_owes_a_step_to_escalating_to_itself_is_a_warning(
        tmp_path: Path) -> None:
    """``panel_admin = "panel_admin"`` in the example, which gives the panel administrator no
    step: a warning at the entry (the administrator manages no one), and the pack loads."""
    said, failed = _said(tmp_path, (NOW, NOW.replace('panel_admin = "chair"',
                                                     'panel_admin = "panel_admin"')))
    path = tmp_path / "example-owner.toml"
    assert not failed
    assert said == [
        f"{path}:{_at(NOW)}: -: escalation.to.panel_admin: warning: an overdue panel_admin "
        "step escalates to itself, and only the top of the chain (chair) escalates to itself: "
        f"no one above is told {CHAIN}; name the role above it (escalation.to.panel_admin = "
        '"chair")']


def test_every_bundled_pack_escalates_each_role_upwards() -> None:
    """Somerset 3.3, Wokingham (its duty manager to the Team Manager, ``duty_manager =
    "chair"``) and the example: each role's overdue steps go to a role above it, the chair's to
    the chair."""
    for path in sorted(PACK_DIR.glob("*.toml")):
        lines, failed = check_files([path])
        assert not failed, lines
        assert not [line for line in lines if "no one above is told" in line], lines
