"""fix30c: escalation that goes round in a loop through the fallback (``default``).

``pack check`` caught a loop spelt out in ``to`` (A26a-12) but not one through ``default``:
Wokingham's (and the example's) ``default = "line_manager"`` with ``line_manager =
"duty_manager"`` and no entry for the duty manager sent a duty manager's overdue step to the
line manager, whose own overdue steps go to the duty manager. A warning at
``escalation.default`` (an escalation is never escalated itself, so no chain runs without end);
an error at a rule whose steps such a role owes (they would really go round)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from app.domain.escalation import escalation_actor
from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR, load_all_packs
from tests.workflows.support import EXAMPLE_FILE, example_variant

NOW = ('to = { line_manager = "duty_manager", duty_manager = "chair", chair = "chair", '
       'panel_admin = "chair" }')
BEFORE = 'to = { line_manager = "duty_manager", chair = "chair", panel_admin = "chair" }'
WARNING = (
    "escalation goes round in a loop through the fallback (duty_manager -> line_manager "
    "(default) -> duty_manager): an overdue step of duty_manager would go to 'line_manager', "
    "whose own overdue steps come back round; no one above is told. Say who is above "
    '(escalation.to.duty_manager = "<the role above duty_manager>"; e.g. "chair")')


def _line(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def test_a_loop_through_the_fallback_is_a_warning_at_escalation_default(tmp_path: Path) -> None:
    """The example's 7.1 ("a line manager's overdue step to the duty manager") as it was
    encoded, the duty manager left to ``default = "line_manager"``: a located warning, no
    error (no step of the example is a duty manager's)."""
    path = example_variant(tmp_path, (NOW, BEFORE), once=True)
    lines, failed = check_files([path])
    assert not failed, lines
    at = _line(path, 'default = "line_manager"')
    assert [line for line in lines if "fallback" in line] == [
        f"{path}:{at}: -: escalation.default: warning: {WARNING}"]


def test_a_step_a_role_in_that_loop_owes_is_an_error_at_its_rule(tmp_path: Path) -> None:
    """A rule giving the duty manager a step (X5's case discussion) under that escalation:
    its overdue steps would go to the line manager, below the duty manager: an error at the
    rule's actor, and the pack does not load."""
    text = EXAMPLE_FILE.read_text()
    start = text.index('id = "X5"')
    actor = text.index('actor = "', start)
    old = text[actor:text.index("\n", actor)]
    path = example_variant(tmp_path, (NOW, BEFORE),
                           (text[start:actor] + old, text[start:actor] + 'actor = "duty_manager"'),
                           once=True)
    lines, failed = check_files([path])
    assert failed, lines
    errors = [line.split(": error: ")[1] for line in lines if ": error: " in line]
    assert errors == [
        "an overdue duty_manager step escalates by the fallback to 'line_manager', whose "
        "overdue steps escalate back round (duty_manager -> line_manager (default) -> "
        "duty_manager): name who is above duty_manager (escalation.to.duty_manager)"], lines


def test_no_bundled_pack_escalates_round_through_the_fallback() -> None:
    """Somerset 3.3 (duty_manager = "chair"), Wokingham (the Team Manager "chaired" High-Risk
    Panel and "Managers at all levels ... timely management oversight") and the example's 7.1
    each say who is above the duty manager."""
    for path in sorted(PACK_DIR.glob("*.toml")):
        lines, failed = check_files([path])
        assert not failed, lines
        assert not [line for line in lines if "fallback" in line], lines


def test_W_a_duty_managers_overdue_step_goes_to_the_team_manager_not_the_line_manager() -> None:
    """Wokingham: "The Team Manager is responsible for development, coordination, and
    promulgation of the risk management processes. This includes ... implementing management
    systems that can identify and monitor existing risk." A duty manager's overdue step is
    escalated to the chair role (the Team Manager), not by the fallback to the line manager
    below them (it was); the line manager's still to the duty manager."""
    packs = load_all_packs(None)
    duty = SimpleNamespace(policy_pack="wokingham-pyjs-2024", actor="duty_manager")
    line = SimpleNamespace(policy_pack="wokingham-pyjs-2024", actor="line_manager")
    assert escalation_actor(duty, packs) == "chair"
    assert escalation_actor(line, packs) == "duty_manager"
