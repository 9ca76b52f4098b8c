"""Attack 26a: a new service's owner writing a pack: what ``pack check`` and the start-up let
through (A26a-1 engine step codes, A26a-2 undated data-bound deadlines, A26a-3 deadline numbers,
A26a-4 title placeholders, A26a-6 version order and a pack not yet in force).

Each test writes a small pack (``_pack``) with one line changed, and asserts the located error
``yjrisk pack check`` prints (file, line, rule, field) and that the service's loader refuses it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from app.cli import main
from app.core import clock
from app.core.config import Settings
from app.domain import events as domain_events
from app.domain.steps import ESCALATION_CODE
from app.main import build_policy_context
from app.workflows.deadlines import parse_form
from app.workflows.engine import _Plan
from app.workflows.pack_tools import check_files
from app.workflows.packs import PackError, load_pack, version_key
from app.workflows.types import ACTION_DATA, EVENT_DATA, GUARDED_DATA
from app.workflows.vocabulary import ENGINE_STEP_CODES, parse_cadence

HEAD = '''id = "northvale"
version = "1.0"
effective_from = 2026-01-01
title = "Northvale YJS risk policy"
authority = "Northvale YJS"
source = "northvale.txt"

# each role's overdue steps go to the role above it (ATTACK32B-3)
''' + ('escalation = { default = "line_manager", to = { line_manager = "duty_manager", '
       'duty_manager = "chair", chair = "chair", panel_admin = "chair" } }\n')

LINE = '''
[[rules]]
id = "N1"
trigger = "{trigger}"
code = "{code}"
title = "{title}"
actor = "case_holder"
deadline = "{deadline}"
ref = "2.1"
{extra}'''


def _pack(tmp_path: Path, *, trigger: str = "judgement_recorded", code: str = "discuss_risk",
          title: str = "Discuss the risk", deadline: str = "+24h", extra: str = "",
          name: str = "northvale", head: str = HEAD) -> Path:
    """A one-line pack (the line as given), written as ``name``.toml with its policy text."""
    path = tmp_path / f"{name}.toml"
    path.write_text(head + LINE.format(trigger=trigger, code=code, title=title,
                                       deadline=deadline, extra=extra), encoding="utf-8")
    (tmp_path / "northvale.txt").write_text("2.1 Risk\n", encoding="utf-8")
    return path


def _check(path: Path, today: date = date(2026, 12, 2)) -> list[str]:
    lines, _ = check_files([path], today=today)
    return lines


def test_the_one_line_pack_checks_clean(tmp_path: Path) -> None:
    """The fixture itself has no problem, so each test below sees only its own change."""
    assert _check(_pack(tmp_path)) == []


# A26a-1 ----------------------------------------------------------------------------------------


def test_a26a_1_a_step_code_the_service_raises_itself_is_a_located_load_error(
        tmp_path: Path) -> None:
    """A pack line coded ``escalate_overdue_step`` ran as an escalation of nothing (not
    waivable, never escalated itself): every code of ``ENGINE_STEP_CODES`` (the engine's own
    constant, the one the escalation worker raises) is refused, naming file, line and field."""
    assert ESCALATION_CODE in ENGINE_STEP_CODES
    for code in sorted(ENGINE_STEP_CODES):
        path = _pack(tmp_path, code=code)
        assert _check(path) == [
            f"{path}:14: N1: rules.0.code: error: step code {code!r} is the service's own "
            f"(the codes it raises or treats specially: {', '.join(sorted(ENGINE_STEP_CODES))})"
            ": a pack's step of that code would be handled as the service's, not as this line "
            "says; give the duty a code of its own"]
        with pytest.raises(PackError, match=r"rules\.0\.code \(rule N1\): step code"):
            load_pack(path)


def test_a26a_1_a_check_acknowledgement_may_not_use_an_engine_code_either(tmp_path: Path) -> None:
    """The twin: a check's acknowledgement makes steps as a rule line does."""
    path = _pack(tmp_path, extra=f'''
[[checks]]
id = "C1"
when = {{ level_in = ["very_high"] }}
requires = "rationale"
type_slug = "rationale-required"
title = "Rationale required"
detail = "Give a rationale."
ref = "2.1"
[checks.acknowledge]
code = "{ESCALATION_CODE}"
title = "Acknowledge"
actor = "line_manager"
''')
    [line] = _check(path)
    assert line.startswith(f"{path}:29: C1: checks.0.acknowledge.code: error: step code "
                           f"'{ESCALATION_CODE}' is the service's own")


# A26a-2 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("deadline", "key", "carriers"), [
    ("due-date", "due_date", 'only a decided action on a for_each = "actions" line carry it'),
    ("review-date", "review_date", "only panel_decision acts carry it"),
])
def test_a26a_2_a_deadline_counting_from_data_the_trigger_never_carries_is_an_error(
        tmp_path: Path, deadline: str, key: str, carriers: str) -> None:
    """packs/README: ``due-date`` is the decided action's ``due_date`` (for_each lines only);
    on a judgement line the step was silently undated (never overdue, never escalated)."""
    path = _pack(tmp_path, deadline=deadline)
    [line] = _check(path)
    assert line.startswith(
        f"{path}:17: N1: rules.0.deadline: error: deadline {deadline!r} counts from the act's "
        f"{key!r}, which a judgement_recorded act does not carry ({carriers}): the step would "
        "have no due date, so it would never be overdue nor escalated")
    with pytest.raises(PackError, match=r"rules\.0\.deadline \(rule N1\): deadline"):
        load_pack(path)


def test_a26a_2_every_data_bound_form_is_checked_on_the_lines_it_can_date(tmp_path: Path) -> None:
    """Each form of ``FORM_EVENT_KEYS`` on a trigger that carries its date is clean: the check
    follows the engine's tables (``EVENT_DATA``, ``ACTION_DATA``), not a list of forms."""
    ok = [
        ("panel_decision", "review-date", ""),
        ("panel_decision", "due-date", 'for_each = "actions"'),
        ("case_event", "before-transfer", 'when = { event_type_in = ["transfer_out"] }'),
        ("judgement_recorded", "before-transfer", 'when = { event_flag = "transfer_pending" }'),
        # a trigger_in narrowing a line on several triggers to the one that carries it
        ("judgement_recorded", "review-date", ""),
    ]
    for trigger, deadline, extra in ok[:4]:
        assert _check(_pack(tmp_path, trigger=trigger, deadline=deadline, extra=extra)) == []
    narrowed = _pack(tmp_path, trigger="panel_decision", extra='''
[[rules.deadline]]
when = { trigger_in = ["panel_decision"] }
form = "review-date"
[[rules.deadline]]
form = "+5wd"
''', deadline="none")
    text = narrowed.read_text().replace('deadline = "none"\n', "").replace(
        'trigger = "panel_decision"', 'trigger = ["panel_decision", "judgement_recorded"]')
    narrowed.write_text(text)
    assert _check(narrowed) == []
    narrowed.write_text(text.replace('when = { trigger_in = ["panel_decision"] }\n', ""))
    [line] = _check(narrowed)
    assert "N1: rules.0.deadline.0.form: error: deadline 'review-date' counts from the act's " \
           "'review_date', which a judgement_recorded act does not carry" in line


def test_a26a_2_before_transfer_needs_the_condition_under_which_the_act_carries_the_date(
        tmp_path: Path) -> None:
    """A judgement carries ``transfer_date`` only while a transfer out is pending, a case
    event only for a transfer in or out: a ``before-transfer`` line not testing that was
    undated for every other judgement or event (the attacker's before_transfer_on_judgement)."""
    for trigger, wanted in (("judgement_recorded", '{ event_flag = "transfer_pending" }'),
                            ("case_event", '{ event_type_in = ["transfer_in", "transfer_out"] }')):
        path = _pack(tmp_path, trigger=trigger, deadline="before-transfer")
        assert _check(path) == [
            f"{path}:17: N1: rules.0.deadline: error: deadline 'before-transfer' counts from the "
            f"act's 'transfer_date', which a {trigger} act carries only when {wanted} holds, "
            "and this line does not test it: for every other act the step would have no due "
            f"date, so it would never be overdue nor escalated; add {wanted} to the line's when"]
    # Another event type alongside transfer_out is not enough.
    path = _pack(tmp_path, trigger="case_event", deadline="before-transfer",
                 extra='when = { event_type_in = ["transfer_out", "charged"] }')
    assert len(_check(path)) == 1


def test_a26a_2_a_misspelt_trigger_is_said_once_not_again_as_an_undated_deadline(
        tmp_path: Path) -> None:
    """``pack check`` sets a broken trigger aside (a stand-in of every trigger) and checks the
    rest: the deadline is not then said to count from data "case_opened, ..." does not carry."""
    path = _pack(tmp_path, trigger="panel_decison", deadline="review-date")
    [line] = _check(path)
    assert line.startswith(f"{path}:13: N1: rules.0.trigger: error: unknown trigger "
                           "'panel_decison' (did you mean 'panel_decision'?)")


def test_a26a_2_a_data_bound_deadline_on_a_line_counting_from_the_raising_act_is_an_error(
        tmp_path: Path) -> None:
    """The twin at run time: a ``counts_from = "raised"`` line re-dates an open step from the
    act that raised it, whose review date the engine does not read again (``_due_from``): the
    line could never date the step (a line that silently does nothing)."""
    path = _pack(tmp_path, trigger="panel_decision", deadline="review-date",
                 extra='refresh_only = true\ncounts_from = "raised"')
    [line] = _check(path)
    assert line.startswith(f"{path}:17: N1: rules.0.deadline: error: deadline 'review-date' "
                           "counts from the act's 'review_date', and a counts_from = \"raised\"")


def test_a26a_2_the_checkers_tables_are_the_services() -> None:
    """``GUARDED_DATA`` says what the service's builders do: a case event carries
    ``transfer_date`` for the types ``app.domain.events`` allows it on; the engine reads a
    decided action's ``ACTION_DATA`` keys; no trigger's data carries an action's due date."""
    assert GUARDED_DATA[("case_event", "transfer_date")][1] == {
        str(t) for t in domain_events.TYPE_FIELDS["transfer_date"]}
    assert all(key in EVENT_DATA[trigger] for trigger, key in GUARDED_DATA)
    assert not any("due_date" in keys for keys in EVENT_DATA.values())
    assert "due_date" in ACTION_DATA
    assert hasattr(_Plan, "_instances")


# A26a-3 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("deadline", "said"), [
    ("+0h", "the number must be at least 1"),
    ("every 0d", "the number must be at least 1"),
    ("+000wd", "the number must be at least 1"),
    ("+\u0662\u0664h", "write the number in the digits 0-9"),
    ("every \u0661m", "write the number in the digits 0-9"),
    ("+\uff12d", "write the number in the digits 0-9"),
])
def test_a26a_3_deadline_numbers_are_ascii_digits_and_at_least_one(
        tmp_path: Path, deadline: str, said: str) -> None:
    """README deadline forms ``+Nh``, ``every Nd``: ``+0h``, ``every 0d`` and ``+٢٤h`` (read
    as 24 by ``int``) passed check."""
    with pytest.raises(ValueError, match=said):
        parse_form(deadline)
    path = _pack(tmp_path, deadline=deadline)
    [line] = _check(path)
    assert line.startswith(f"{path}:17: N1: rules.0.deadline: error: ")
    assert said in line


def test_a26a_3_a_cadence_is_written_in_ascii_digits() -> None:
    """The twin in the pack grammar: a panel cadence's interval and date (``\\d`` and
    ``int`` take other scripts' digits)."""
    assert parse_cadence("every 2 weeks on Monday from 2027-01-04") is not None
    with pytest.raises(ValueError, match="write 'weekly on <weekday>'"):
        parse_cadence("every \u0662 weeks on Monday from 2027-01-04")


# A26a-4 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("title", [
    "Risk Panel action: {description.__class__}", "Action {0}", "Action {description:>30}",
    "Action {description", "Action {owner}",
])
def test_a26a_4_a_title_placeholder_other_than_description_is_an_error(
        tmp_path: Path, title: str) -> None:
    """A title ``{description.__class__} {description:>30}`` reached practitioners as
    written and the action's text was not in it."""
    path = _pack(tmp_path, trigger="panel_decision", title=title, deadline="due-date",
                 extra='for_each = "actions"')
    [line] = _check(path)
    assert line.startswith(f"{path}:15: N1: rules.0.title: error: ")
    assert "is not a placeholder the service fills in" in line
    assert _check(_pack(tmp_path, trigger="panel_decision", title="Action: {description}",
                        deadline="due-date", extra='for_each = "actions"')) == []


def test_a26a_4_description_outside_a_for_each_line_is_an_error(tmp_path: Path) -> None:
    """``{description}`` is filled in on for_each lines only."""
    path = _pack(tmp_path, title="Discuss {description}")
    assert _check(path) == [
        f"{path}:15: N1: rules.0.title: error: '{{description}}' is filled in only on a "
        'for_each = "actions" line (the decided action\'s text): here it would reach '
        "practitioners as written"]


# A26a-6 ----------------------------------------------------------------------------------------


def _versions(tmp_path: Path, *versions: tuple[str, str]) -> list[Path]:
    paths = []
    for index, (version, effective) in enumerate(versions):
        head = HEAD.replace('version = "1.0"', f'version = "{version}"').replace(
            "effective_from = 2026-01-01", f"effective_from = {effective}")
        name = "northvale" if index == 0 else f"northvale@{version}"
        paths.append(_pack(tmp_path, head=head, name=name))
    return paths


@pytest.mark.parametrize(("first", "second"), [
    (("2.0", "2025-06-01"), ("1.0", "2026-01-01")),
    (("10.0", "2026-01-01"), ("9.0", "2026-09-01")),
    (("1.0", "2026-01-01"), ("1.00", "2026-09-01")),
])
def test_a26a_6_a_later_version_must_come_into_force_later(
        tmp_path: Path, first: tuple[str, str], second: tuple[str, str]) -> None:
    """packs/README: "A revised policy is a new file with the same id, a later version and its
    effective_from date": 1.0 in force after 2.0 (the older text back), 9.0 after 10.0
    (compared as versions, not as text) are errors, at check and at start-up."""
    paths = _versions(tmp_path, first, second)
    lines, failed = check_files(paths, today=date(2026, 12, 2))
    assert failed
    assert lines == [
        f"{paths[1]}:2: -: version: error: northvale version {second[0]!r} comes into force on "
        f"{second[1]}, after version {first[0]!r} ({first[1]}), but is not a later version: "
        "versions must increase with effective_from (compared as versions, part by part: 9.0 "
        "before 10.0)"]
    with pytest.raises(PackError, match="is not a later version"):
        build_policy_context(Settings(packs_dir=tmp_path))


def test_a26a_6_versions_compare_part_by_part() -> None:
    assert version_key("9.0") < version_key("10.0") < version_key("10.1")
    assert version_key("1") < version_key("1.0") < version_key("1.0-rc") < version_key("2")
    assert version_key("2025-2") < version_key("2025-10")


def test_a26a_6_in_order_versions_are_clean(tmp_path: Path) -> None:
    paths = _versions(tmp_path, ("9.0", "2026-01-01"), ("10.0", "2026-09-01"))
    assert check_files(paths, today=date(2026, 12, 2)) == ([], False)


def test_a26a_6_a_pack_none_of_whose_versions_is_in_force_is_warned_at_check_and_start_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A sole version dated 2099 passed with no word and ran at once (an act before a pack's
    first version is judged by it)."""
    [path] = _versions(tmp_path, ("1.0", "2099-01-01"))
    warning = ("-: effective_from: warning: no version of northvale is in force yet on "
               "2026-12-02: the first, '1.0', comes into force on 2099-01-01, and until then "
               "every act is judged by it all the same; check effective_from")
    assert check_files([path], today=date(2026, 12, 2)) == ([f"{path}:3: {warning}"], False)
    assert check_files([path], today=date(2099, 1, 1)) == ([], False)
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert main(["pack", "check", str(path)]) == 0
    said = capsys.readouterr().out
    assert f"{path}:3: -: effective_from: warning: no version of northvale" in said
    with capture_logs() as logs:
        build_policy_context(Settings(packs_dir=tmp_path))
    assert [(e["event"], e["pack"], e["field"]) for e in logs
            if "no version of northvale is in force yet" in e.get("message", "")] == [
        ("pack.warning", "northvale", "effective_from")]


CHECK = '''
[[checks]]
id = "C1"
trigger = {trigger}
requires = "{requires}"
type_slug = "rationale-required"
title = "A rationale is required"
detail = "A very high rating needs its rationale."
ref = "2.1"
[checks.when]
{when}
'''
VERY_HIGH = 'level_in = ["very_high"]'


@pytest.mark.parametrize(("requires", "trigger", "when", "hint"), [
    ("rationael", '["judgement_recorded"]', VERY_HIGH, "did you mean 'rationale'"),
    ("victim", '["judgement_recorded"]', VERY_HIGH, "did you mean 'victims'"),
    ("review_date", '["judgement_recorded"]', VERY_HIGH, ""),  # a panel decision's
    # Carried by one trigger, not the other: the check refuses every act of the other.
    ("rationale", '["judgement_recorded", "panel_decision"]',
     '"case.intervention_in" = ["court_order"]', ""),
])
def test_A26a_11_a_check_requiring_data_its_acts_never_carry_is_an_error(
    tmp_path: Path, requires: str, trigger: str, when: str, hint: str
) -> None:
    """Attack 26a, A26a-11: ``requires = "rationael"`` passed check and start-up, and the service
    then refused every very high judgement, a rationale given or not (the misspelt field is never
    in the act). packs/README: ``requires`` is "a data field that must be non-empty". A field
    none of the check's triggers carries (the engine's table, ``types.EVENT_DATA``) is now a
    located error with a did-you-mean, and the loader refuses the pack."""
    path = _pack(tmp_path, extra=CHECK.format(requires=requires, trigger=trigger, when=when))
    lines = _check(path)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:")
    assert ": C1: checks.0.requires: error: " in lines[0]
    assert f"'{requires}'" in lines[0]
    assert hint in lines[0]
    with pytest.raises(PackError):
        load_pack(path)


def test_A26a_11_a_check_requiring_what_its_acts_carry_checks_clean(tmp_path: Path) -> None:
    """The fix refuses nothing the bundled packs say: a judgement's ``rationale``."""
    path = _pack(tmp_path, extra=CHECK.format(requires="rationale", when=VERY_HIGH,
                                              trigger='["judgement_recorded"]'))
    assert _check(path) == []
