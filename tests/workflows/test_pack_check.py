"""Checking a pack's words: values against the vocabulary, did-you-mean, warnings, refs, the CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from app.cli import cli, main
from app.core.config import Settings
from app.main import build_policy_context
from app.workflows.deadlines import ALLOWED_FORMS, parse_form
from app.workflows.pack_check import check_pack, never_true
from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR, PackError, load_all_packs, load_pack, read_pack
from app.workflows.vocabulary import ACTORS, Fact, suggest
from tests.workflows.support import EXAMPLE_FILE, example_variant

SEEDS = PACK_DIR / "sources"  # copies of shared/seeds, the policies the packs restate
WOKINGHAM_FILE = PACK_DIR / "wokingham-pyjs-2024.toml"
SOMERSET_FILE = PACK_DIR / "somerset-yjt-2023.toml"


def _no_lines(text: str) -> str:
    """``pack check``'s output without the line numbers after each file (``f.toml:12: ``):
    the tests of what it says; ``test_a20_17a_...`` tests the numbers."""
    return re.sub(r"\.toml:\d+: ", ".toml: ", text)


def _out(capsys: pytest.CaptureFixture[str]) -> str:
    return _no_lines(capsys.readouterr().out)


def _variant(tmp_path: Path, *edits: tuple[str, str], name: str = "wokingham-pyjs-2024") -> Path:
    """The Wokingham pack with text replaced (each edit must apply), written under tmp_path."""
    text = WOKINGHAM_FILE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace('id = "wokingham-pyjs-2024"', f'id = "{name}"'))
    return path


TYPO_EVENT = ('when = { all = [{ any = [{ event_type_in = ["change_of_circumstances", '
              '"new_incident", "charged"', 'when = { all = [{ any = [{ event_type_in = '
              '["change_of_circumstances", "new_incidnet", "charged"')
TYPO_ACTOR = ('title = "Report the change of circumstances / new incident to the line manager"\n'
              'actor = "case_holder"', 'title = "Report the change of circumstances / new '
              'incident to the line manager"\nactor = "yot_manager"')
TYPO_PANEL = ('{ panel_kind_in = ["high_risk_panel"] },\n  { after', '{ panel_kind_in = ["rmm"] },'
              '\n  { after')


def test_bundled_packs_have_no_problems_and_every_ref_is_in_the_seed() -> None:
    """Both bundled packs check clean, refs included, against their seeds' own text."""
    for path, seed in ((SOMERSET_FILE, "somerset-yjt-risk-policy-2023.txt"),
                       (WOKINGHAM_FILE, "wokingham-pyjs-risk-policy-2024.txt")):
        assert check_pack(read_pack(path), (SEEDS / seed).read_text()) == []


def test_misspelt_event_type_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    """``event_type_in = ["new_incidnet"]`` no longer loads as a rule that never fires."""
    path = _variant(tmp_path, TYPO_EVENT)
    with pytest.raises(PackError) as caught:
        load_pack(path)
    problem = caught.value.problems[0]
    assert (problem.severity, problem.rule, problem.field) == (
        "error", "W4", "rules.8.when.all.0.any.0.event_type_in.1")
    assert problem.message == "unknown event type 'new_incidnet' (did you mean 'new_incident'?)"


def test_unknown_panel_kind_in_a_condition_is_an_error(tmp_path: Path) -> None:
    """``panel_kind_in = ["rmm"]`` names no panel the pack holds."""
    path = _variant(tmp_path, TYPO_PANEL)
    with pytest.raises(PackError, match=r"unknown panel kind 'rmm'"):
        load_pack(path)


def test_actor_no_role_holds_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    """``actor = "yot_manager"`` is refused (attack 17, A17-7: a step nobody can complete is a
    silent hole, like a misspelt word), naming the role meant and every role."""
    with pytest.raises(PackError) as caught:
        load_pack(_variant(tmp_path, TYPO_ACTOR))
    assert [p.line("f") for p in caught.value.problems] == [
        "f: W5: rules.9.actor: error: no role holds actor 'yot_manager': nobody may complete "
        "these steps (did you mean 'chair'?); the roles are case_holder, line_manager, "
        "duty_manager, chair, panel_admin, action_owner",
    ]


def test_ref_missing_from_the_policy_text_is_a_warning(tmp_path: Path) -> None:
    """A ref the seed does not contain (a near miss of a heading) is reported, with its rule."""
    path = _variant(tmp_path, ('ref = "Risk to staff"', 'ref = "Risk to staf"'))
    text = (SEEDS / "wokingham-pyjs-risk-policy-2024.txt").read_text()
    pack = read_pack(path)
    problems = check_pack(pack, text)
    index = next(i for i, r in enumerate(pack.rules) if r.ref == "Risk to staf")
    assert [p.line("f") for p in problems] == [
        f"f: W21: rules.{index}.ref: warning: ref 'Risk to staf' is not found in the policy's text"]


def test_paragraph_refs_match_whole_numbers_only() -> None:
    """Somerset "3.2" is not found inside "13.2" or "3.21"."""
    pack = read_pack(SOMERSET_FILE)
    messages = {p.message for p in check_pack(pack, "13.2 and 3.21 only")}
    assert "ref '3.2' is not found in the policy's text" in messages
    assert "ref '3.2' is not found in the policy's text" not in {
        p.message for p in check_pack(pack, "see 3.2 and 3.21")}


def test_cli_pack_check_prints_one_line_per_problem_and_exits_1(tmp_path: Path) -> None:
    """``yjrisk pack check FILE...``: file, rule id, field, message; exit 1 on an error."""
    bad = _variant(tmp_path, TYPO_EVENT, TYPO_ACTOR)
    result = CliRunner().invoke(cli, ["pack", "check", str(bad), str(SOMERSET_FILE)])
    assert result.exit_code == 1
    assert _no_lines(result.output).splitlines() == [
        # Its policy text is not copied beside it (A17-14: said, not silently skipped).
        f"{bad}: -: source: warning: the policy's text 'wokingham-pyjs-risk-policy-2024.txt' "
        f"was not found (looked for {tmp_path / 'wokingham-pyjs-risk-policy-2024.txt'} or "
        f"{tmp_path / 'sources' / 'wokingham-pyjs-risk-policy-2024.txt'}), so no ref was "
        "checked: put the file there or give --source FILE",
        f"{bad}: W4: rules.8.when.all.0.any.0.event_type_in.1: error: unknown event type "
        "'new_incidnet' "
        "(did you mean 'new_incident'?)",
        f"{bad}: W5: rules.9.actor: error: no role holds actor 'yot_manager': nobody may "
        "complete these steps (did you mean 'chair'?); the roles are case_holder, "
        "line_manager, duty_manager, chair, panel_admin, action_owner",
        # No "nothing can close" warning for W5's code: W21 (A19-5) raises it too, for the
        # case holder.
    ]


def test_cli_pack_check_reports_shape_errors_per_field(tmp_path: Path) -> None:
    """A malformed rule (bad deadline form) is one line naming its rule and field."""
    bad = _variant(tmp_path, ('deadline = "+1wd-in-week"', 'deadline = "+1 working day"'))
    result = CliRunner().invoke(cli, ["pack", "check", str(bad)])
    assert result.exit_code == 1
    # The rest of the file is still checked (A19-10): clean, but for its policy's text.
    first, *rest = _no_lines(result.output).splitlines()
    assert first.startswith(f"{bad}: W4: rules.8.deadline: error: ")
    assert [line.split(": ")[1:4] for line in rest] == [["-", "source", "warning"]]


def test_cli_pack_check_clean_packs_exit_0() -> None:
    """The bundled packs check clean."""
    result = CliRunner().invoke(cli, ["pack", "check", str(SOMERSET_FILE), str(WOKINGHAM_FILE)])
    assert (result.exit_code, _no_lines(result.output)) == (0, "2 pack(s) checked: no errors\n")


def test_packs_dir_adds_packs_besides_the_bundled_ones(tmp_path: Path) -> None:
    """``YJ_PACKS_DIR``: a checked pack in the folder is served beside the bundled packs."""
    _variant(tmp_path, name="reading-yjs-2026")
    ctx = build_policy_context(Settings(packs_dir=tmp_path))
    assert {"somerset-yjt-2023", "wokingham-pyjs-2024", "reading-yjs-2026"} <= set(ctx.packs)


def test_service_refuses_to_start_on_an_invalid_pack_and_says_why(tmp_path: Path) -> None:
    """An invalid pack in ``YJ_PACKS_DIR`` stops start-up with the file, rule and field."""
    _variant(tmp_path, TYPO_EVENT, name="reading-yjs-2026")
    with pytest.raises(PackError, match=r"reading-yjs-2026\.toml: invalid pack: "
                                        r"rules\.8\.when\.all\.0\.any\.0\.event_type_in\.1 "
                                        r"\(rule W4\): unknown event type 'new_incidnet'"):
        build_policy_context(Settings(packs_dir=tmp_path))


def test_serve_refuses_to_start_on_an_invalid_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``yjrisk serve`` stops before migrating or listening, saying which pack is wrong."""
    _variant(tmp_path, TYPO_PANEL, name="reading-yjs-2026")
    monkeypatch.setenv("YJ_PACKS_DIR", str(tmp_path))
    monkeypatch.setenv("YJ_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/never.db")
    from app.core.config import get_settings

    get_settings.cache_clear()
    try:
        status = main(["serve", "--no-migrate"])
    finally:
        get_settings.cache_clear()
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("yjrisk: refusing to start: ")
    assert "unknown panel kind 'rmm'" in err
    assert not (tmp_path / "never.db").exists()


def test_a_bundled_pack_version_in_packs_dir_is_refused(tmp_path: Path) -> None:
    """A folder pack may not silently replace a bundled one: a revision is a new version."""
    _variant(tmp_path)
    with pytest.raises(PackError, match="version '1.0' is loaded twice; a revised policy needs "
                                        "a new version"):
        load_all_packs(tmp_path)


def test_missing_packs_dir_is_refused(tmp_path: Path) -> None:
    """A ``YJ_PACKS_DIR`` that is not a folder stops start-up."""
    with pytest.raises(PackError, match="not a directory"):
        load_all_packs(tmp_path / "nowhere")


def test_core_vocabulary_is_the_contracts() -> None:
    """The core words a pack is checked against are the API's own enums and roles."""
    from app.core.security import STAFF_ROLES
    from app.domain.assessments_table import AssessmentStage, AssessmentType
    from app.domain.cases_table import CscStatus, Intervention
    from app.domain.events import CaseEventType
    from app.domain.referrals import TRANSITIONS, ReferralKind, ReferralStatus
    from app.workflows import vocabulary as v

    assert v.CORE_EVENT_TYPES == tuple(CaseEventType)
    assert v.CORE_REFERRAL_KINDS == tuple(ReferralKind)
    assert v.REFERRAL_STATUSES == tuple(ReferralStatus)
    assert v.REFERRAL_ACTIONS == tuple(t.action for t in TRANSITIONS)
    assert v.INTERVENTIONS == tuple(Intervention)
    assert v.CSC_STATUSES == tuple(CscStatus)
    assert v.ASSESSMENT_TYPES == tuple(AssessmentType)
    assert v.ASSESSMENT_STAGES == tuple(AssessmentStage)
    assert set(v.STAFF_ROLES) == set(STAFF_ROLES)


def test_no_step_code_or_pack_id_has_a_meaning_in_python() -> None:
    """Local policy lives in the packs: no step code a bundled pack creates, and no pack id,
    is written as a string in the domain or the routers (Python knows mechanisms only)."""
    import ast

    from app.workflows.packs import load_packs

    loaded = load_packs()
    words = {code for pack in loaded.values() for code in pack.step_codes()} | set(loaded)
    root = PACK_DIR.parents[1]
    found = []
    for folder in ("domain", "routers"):
        for path in sorted((root / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in words:
                    found.append(f"{path.name}:{node.lineno}: {node.value}")
    assert found == []


def test_a_comparison_that_can_never_be_true_is_a_warning(tmp_path: Path) -> None:
    """Attack A L2: ``child_age = { lt = -5 }`` (no age is negative) and a score compared
    outside its declared 0-4 range are warnings at the atom, like a misspelt word a silent
    hole; each, required by its line's ``all``, also makes the line never apply: an error there
    (attack 32b, ATTACK32B-4; the score's since fix34d), exit 1."""
    path = example_variant(
        tmp_path, ("{ child_age = { lt = 14 } }", "{ child_age = { lt = -5 } }"))
    problems = check_pack(read_pack(path))
    assert [(p.severity, p.field, p.message) for p in problems
            if "never be true" in p.message] == [(
                "warning", "rules.6.when.all.1.child_age",
                "this comparison can never be true: {lt = -5} leaves no whole number, and a "
                "child's age is in 0..inf"), (
                "error", "rules.6.when",
                "this condition can never be true: child_age = {lt = -5} leave the child's age "
                "nothing it may be, so this line never applies")]
    assert main(["pack", "check", str(path)]) == 1
    path = example_variant(tmp_path, ('name = "serious_harm_indicators", gte = 2',
                                      'name = "serious_harm_indicators", gte = 5'))
    # The line's condition needs that score: it never applies, an error like the age's
    # (fix32f's leftover: the satisfiability check now sees the pack's declared range).
    assert [p.message for p in check_pack(read_pack(path)) if "never be true" in p.message] == [
        "this comparison can never be true: {gte = 5} leaves no whole number, and score "
        "'serious_harm_indicators' is in 0..4",
        "this condition can never be true: after.score = {name = 'serious_harm_indicators', "
        "gte = 5} leave the score 'serious_harm_indicators' afterwards nothing it may be (the "
        "pack declares it from 0 to 4), so this line never applies"]
    assert never_true({"in": [7, 9]}, 0, 4) == "{in = [7, 9]} names no number in range"
    assert never_true({"gt": 2, "lt": 4}, 0, 4) is None
    assert never_true({"gte": 14, "lt": 14}, 0, None) == (
        "{lt = 14, gte = 14} leaves no whole number")


def test_a_deadline_number_out_of_range_says_so(tmp_path: Path) -> None:
    """Attack A L2: ``+99999999wd`` is a valid form with too large a number: the error says
    the number is out of range (not "unknown deadline form")."""
    path = example_variant(tmp_path, ('deadline = "+20wd"', 'deadline = "+99999999wd"'))
    with pytest.raises(PackError) as raised:
        read_pack(path)
    assert "the number 99999999 is out of range (+Nwd takes N up to 999)" in str(raised.value)
    assert "unknown deadline form" not in str(raised.value)


def test_a17_7_messages_a_policy_owner_can_act_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-7: the mistakes a non-programmer makes, each said in words they can act
    on: the policy's own word for a role ("case manager", "team leader", "YJT manager") offers
    the role it means and is an error (exit 1), a single word where a list is wanted says
    "write a list", a path names ``after`` once, and an unknown trigger has a did-you-mean."""
    path = example_variant(tmp_path, ('actor = "case_holder"', 'actor = "case_manager"'))
    assert main(["pack", "check", str(path)]) == 1
    out = _out(capsys)
    assert (f"{path}: X1: rules.0.actor: error: no role holds actor 'case_manager': nobody may "
            "complete these steps (did you mean 'case_holder'?)") in out
    assert "no errors" not in out
    for word, role in (("case worker", "case_holder"), ("YOT worker", "case_holder"),
                       ("team leader", "line_manager"), ("operational manager", "chair"),
                       ("YJT manager", "chair")):
        assert suggest(word, ACTORS) == f" (did you mean {role!r}?)", word
    path = example_variant(tmp_path, ('{ level_in = ["very_high"] }',
                                      '{ level_in = "very_high" }'))
    assert main(["pack", "check", str(path)]) == 1
    assert ("M7: checks.0.when.all.1.level_in: error: 'level_in' takes a list: write "
            'level_in = ["very_high"], not "very_high"') in _out(capsys)
    path = example_variant(tmp_path, ('levels = ["high", "very_high"] } } }',
                                      'levels = ["high", "very high"] } } }'))
    assert main(["pack", "check", str(path)]) == 1
    out = _out(capsys)
    assert "after.after" not in out
    assert ("X3: register.when.any.0.after.any_rating_in.levels.1: error: 'very high' is "
            "not allowed in 'after.any_rating_in': write 'low', 'medium', 'high' or "
            "'very_high'") in out
    assert "(did you mean 'very_high' or 'high'?)" in out
    path = example_variant(tmp_path, ('trigger = "case_opened"', 'trigger = "judgment_recorded"'))
    assert main(["pack", "check", str(path)]) == 1
    assert ("X1: rules.0.trigger: error: unknown trigger 'judgment_recorded' (did you mean "
            "'judgement_recorded'?)") in _out(capsys)


def test_a17_7_pack_check_says_how_a_case_reaches_a_panel_without_a_panel_referral_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-7: the core ``panel`` referral, declared or not, is a way onto any
    panel's agenda (app/domain/panels.py); a pack with panels that does not declare it is
    told so, and that its own to_panel kinds do not put a case on the agenda."""
    path = example_variant(tmp_path, ('[[referral_kinds]]\nid = "panel"',
                                      '[[referral_kinds]]\nid = "panel_request"'))
    assert main(["pack", "check", str(path)]) == 0
    assert _out(capsys).splitlines()[0] == (
        f"{path}: -: referral_kinds: warning: a case goes onto this pack's panel only through a "
        "submitted 'panel' referral (the core kind, not declared here: it closes no step) or by "
        "being on the register; referral kind(s) ['panel_request'] with to_panel = true do not "
        "put a case on the agenda; declare [[referral_kinds]] id = \"panel\" (to_panel = true) "
        "to set what it closes")


def test_a17_7_a_pack_without_register_is_told_its_panel_hears_only_panel_referrals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-7 (the tester's Northvale pack): no ``[register]`` and no declared
    ``panel`` kind: the only way onto its panel is a submitted core ``panel`` referral."""
    register = (EXAMPLE_FILE.read_text().split("[register]\n", 1)[1].split("\n\n", 1)[0])
    path = example_variant(tmp_path, ("[register]\n" + register + "\n", ""),
                           ('[[referral_kinds]]\nid = "panel"',
                            '[[referral_kinds]]\nid = "panel_request"'))
    assert main(["pack", "check", str(path)]) == 0
    assert (f"{path}: -: referral_kinds: warning: a case goes onto this pack's panel only "
            "through a submitted 'panel' referral (the core kind, not declared here: it closes "
            "no step); the pack has no [register], so no rating puts a case on it; referral "
            "kind(s) ['panel_request'] with to_panel = true do not put a case on the agenda"
            ) in _out(capsys)


def test_a17_12_an_atom_its_rules_trigger_cannot_carry_is_an_error_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-12: "a condition that cannot hold for its trigger is accepted silently: the
    rule never fires" (an ``event_type_in`` on a ``judgement_recorded`` line; ``level_in``, the
    recorded judgement's level, on a ``case_event`` line "when the case is high"). ``pack check``
    says so per rule, as an error (the service does not start), with what to write instead; the
    triggers' data is the engine's table (``types.EVENT_DATA``). Under ``not`` such an atom is
    always met: a warning. A code in ``not_waivable``/``completable``/``survives_closure``/
    ``closures`` that no rule creates is an error too: "the duty the owner meant to make
    non-waivable stays waivable by any line manager"."""
    path = example_variant(
        tmp_path,
        ('trigger = "case_event"\ncode = "child_protection_referral"',
         'trigger = "judgement_recorded"\ncode = "child_protection_referral"'),
        ('when = { event_type_in = ["new_incident", ',
         'when = { level_in = ["high"], event_type_in = ["new_incident", '),
        ('deadline = "+20wd"\nref = "2.1"',
         'deadline = "+20wd"\nref = "2.1"\nwhen = { not = { decision_has_actions = true } }'),
        ('panel_kind = "risk_panel"\n',
         'panel_kind = "risk_panel"\nnot_waivable = ["child_protection_referal"]\n'
         'survives_closure = ["record_incidnet"]\n'),
        ('assessment_submit = ["resubmit_assessment"]',
         'assessment_submit = ["resubmit_assesment"]'),
    )
    assert main(["pack", "check", str(path)]) == 1
    out = _out(capsys)
    assert (f"{path}: X5: rules.4.when.event_type_in: error: 'event_type_in' tests the event's "
            "'type', which a judgement_recorded act does not carry (only case_event acts carry "
            "it): it can never be true here, so this line never applies; an event's type is "
            'tested on a trigger = "case_event" line') in out
    assert (f"{path}: X4: rules.3.when.level_in: error: 'level_in' tests the event's 'level', "
            "which a case_event act does not carry (only judgement_recorded acts carry it): it "
            "can never be true here, so this line never applies; to test the case's rating use "
            "case.any_rating_in (before the act) or after.any_rating_in (after it)") in out
    assert ("X1: rules.0.when.not.decision_has_actions: warning: 'decision_has_actions' tests "
            "the event's 'actions', which a case_opened act does not carry (only panel_decision "
            "acts carry it): here it is always met and says nothing") in out
    for field, code, verb in (("not_waivable.0", "child_protection_referal", "protects"),
                              ("survives_closure.0", "record_incidnet", "keeps open past"),
                              ("closures.assessment_submit.0", "resubmit_assesment", "closes")):
        assert (f"{path}: -: {field}: error: no rule creates step code {code!r}, so this "
                f"{verb}") in out, field
    # The other X5 line (case_event) and every bundled pack are untouched.
    assert "rules.5.when" not in out
    with pytest.raises(PackError, match=r"rules\.4\.when\.event_type_in \(rule X5\): "
                                        r"'event_type_in' tests the event's 'type'"):
        build_policy_context(Settings(packs_dir=tmp_path))


def test_a17_12_the_triggers_data_table_is_the_data_the_service_builds() -> None:
    """The table ``pack check`` reads which trigger carries which data from is the data the
    service puts in its events (judgements, case events, the preview's models of every other
    trigger), and every key an event atom or event flag reads is carried by some trigger."""
    from app.domain.events_table import CaseEvent, event_data
    from app.domain.judgements import JudgementCreate, judgement_event_data
    from app.domain.preview import TRIGGER_DATA
    from app.workflows.conditions import atom_names, atom_reads, triggers_carrying
    from app.workflows.types import EVENT_DATA
    from app.workflows.vocabulary import EVENT_FLAGS

    body = JudgementCreate.model_validate({"domain": "rosh", "level": "high"})
    assert set(judgement_event_data(body, False)) <= EVENT_DATA["judgement_recorded"]
    event = CaseEvent(type="new_incident", occurred_at=datetime.now(UTC), details={
        "incoming_ratings": {}, "release_address_other_area": True}, service_id=uuid4(),
        case_id=uuid4(), recorded_by="cw-1", recorded_role="case_holder")
    assert set(event_data(event)) <= EVENT_DATA["case_event"]
    for trigger, model in TRIGGER_DATA.items():
        # A case event's model is the write's body (A20-1), whose occurred_at the preview
        # takes beside data (and refuses in it).
        assert set(model.model_fields) - {"subject_id", "occurred_at"} <= EVENT_DATA[trigger], \
            trigger
    for name in atom_names():
        keys = atom_reads(name, None)
        assert not keys or triggers_carrying(keys), name
    for flag in EVENT_FLAGS:
        assert triggers_carrying(atom_reads("event_flag", flag)), flag


def test_a17_14_a_policy_text_not_found_is_said_not_silently_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-14: "a pack whose ``source`` file is not found has its refs silently
    unchecked". ``pack check`` says which file it looked for and where (a warning: the service
    does not read the text); with the text beside the pack, no such line."""
    path = example_variant(tmp_path, ('source = "example-yjs-risk-policy-2025.txt"',
                                      'source = "example-policy.txt"'))
    assert main(["pack", "check", str(path)]) == 0
    out = _out(capsys)
    assert (f"{path}: -: source: warning: the policy's text 'example-policy.txt' was not found "
            f"(looked for {tmp_path / 'example-policy.txt'} or "
            f"{tmp_path / 'sources' / 'example-policy.txt'}), so no ref was checked") in out
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "example-policy.txt").write_text(
        (SEEDS / "example-yjs-risk-policy-2025.txt").read_text())
    assert main(["pack", "check", str(path)]) == 0
    assert "source:" not in _out(capsys)


def test_a19_10_one_run_lists_every_independent_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 19, A19-10: a copy of example-yjs with a misspelt cadence weekday, a bad deadline
    form, a misspelt actor, two unknown atoms and two misspelt words in one condition: one run
    lists all seven, one line each (the actor and the words once showed only after the shape
    was fixed), exit 1."""
    path = example_variant(
        tmp_path,
        ('cadence = "weekly on Thursday"', 'cadence = "weekly on Firday"'),
        ('deadline = "+5wd"', 'deadline = "+5 wd"'),
        ('actor = "case_holder"', 'actor = "case_worker"'),
        ('when = { event_type_in = ["parent_carer_risk"] }',
         'when = { all = [{ case = { statutary = true } }, { event_type_inn = ["charged"] }, '
         '{ event_type_in = ["new_incidnet"] }, { trigger_in = ["case_openned"] }] }'))
    assert main(["pack", "check", str(path)]) == 1
    assert [line.removeprefix(f"{path}: ") for line in _out(capsys).splitlines()] == [
        "-: panel_kinds.0.cadence: error: cadence 'weekly on Firday': unknown weekday 'Firday' "
        "(did you mean 'friday'?)",
        "X2: rules.1.deadline: error: unknown deadline form '+5 wd' (allowed: +Nh, +Nwd, +Nd, "
        "+Nw, +Nm, every Nd, every Nw, every Nm, next-wd, +1wd-in-week, immediately, "
        "next-panel, release-6m, before-release, review-date, before-transfer, due-date, none)",
        "X5: rules.4.when.all.0.case.statutary: error: unknown condition atom "
        "'case.statutary' (did you mean case.statutory, after.statutory, case.csc_status_in?)",
        "X5: rules.4.when.all.1.event_type_inn: error: unknown condition atom "
        "'event_type_inn' (did you mean event_type_in, assessment_type_in, "
        "assessment_stage_in?)",
        "X1: rules.0.actor: error: no role holds actor 'case_worker': nobody may complete these "
        "steps (did you mean 'case_holder'?); the roles are case_holder, line_manager, "
        "duty_manager, chair, panel_admin, action_owner",
        "X5: rules.4.when.all.2.event_type_in.0: error: unknown event type 'new_incidnet' (did "
        "you mean 'new_incident'?)",
        "X5: rules.4.when.all.3.trigger_in.0: error: unknown trigger 'case_openned' (did you "
        "mean 'case_opened' or 'case_changed'?)",
    ]


def test_a19_10_an_item_set_aside_keeps_the_file_paths_of_the_items_after_it(
    tmp_path: Path
) -> None:
    """A rule whose code is malformed is set aside whole; a mistake in a later rule is still
    reported at its own index in the file, and a mismatched pack id is said alongside."""
    path = example_variant(
        tmp_path, ('code = "countersign_assessment"', 'code = "Countersign-assessment"'),
        ('id = "X4"\ntrigger = "case_event"\ncode = "record_incident"\n'
         'title = "Record the incident or change of circumstances on the case record"\n'
         'actor = "case_holder"',
         'id = "X4"\ntrigger = "case_event"\ncode = "record_incident"\n'
         'title = "Record the incident or change of circumstances on the case record"\n'
         'actor = "team_leader"'))
    renamed = path.with_name("example-other.toml")
    path.rename(renamed)
    lines, failed = check_files([renamed])
    lines = [_no_lines(line) for line in lines]
    assert failed
    assert [line.removeprefix(f"{renamed}: ") for line in lines] == [
        "X2: rules.1.code: error: 'Countersign-assessment' is not written as it should be: "
        "this is one word in small letters, digits and _ with no spaces, starting with a "
        "letter (refer_to_panel)",
        "-: id: error: pack id 'example-owner' must match the file name 'example-other' (or name "
        "the file example-owner@1.0.toml)",
        "X4: rules.3.actor: error: no role holds actor 'team_leader': nobody may complete these "
        "steps (did you mean 'line_manager'?); the roles are case_holder, line_manager, "
        "duty_manager, chair, panel_admin, action_owner",
    ]


def test_a19_10_the_allowed_deadline_forms_are_the_forms_the_parser_accepts() -> None:
    """The "allowed:" list of an unknown deadline form is made from the parser's own units:
    each form it lists parses (N = 2), ``every 2w`` and ``every 3d`` among them."""
    with pytest.raises(ValueError, match=r"allowed: ") as raised:
        parse_form("+5 wd")
    listed = str(raised.value).split("allowed: ")[1].rstrip(")").split(", ")
    assert listed == list(ALLOWED_FORMS)
    assert {"every Nd", "every Nw", "every Nm"} <= set(listed)
    for form in listed:
        assert parse_form(form.replace("N", "2")).text == form.replace("N", "2")


def test_a19_10_a_misspelt_trigger_does_not_hide_its_lines_other_mistakes(
    tmp_path: Path
) -> None:
    """A line whose trigger is misspelt is still checked (its trigger stood in by every trigger,
    so none of its conditions is said to test data it does not carry): its misspelt actor is
    reported in the same run; a misspelt ``[[rules]]`` table takes what it names with it (no
    "no rule creates step code" for the codes it held)."""
    path = example_variant(tmp_path, ('trigger = "case_opened"', 'trigger = "case_openned"'),
                           ('actor = "case_holder"', 'actor = "case_worker"'))
    lines, _ = check_files([path])
    lines = [_no_lines(line) for line in lines]
    assert [line.split(": ")[1:4] for line in lines] == [
        ["X1", "rules.0.trigger", "error"], ["X1", "rules.0.actor", "error"]]
    path = example_variant(tmp_path, ("[[rules]]", "[[rulez]]"))
    lines, _ = check_files([path])
    lines = [_no_lines(line) for line in lines]
    assert [line.split(": ")[1:4] for line in lines] == [["-", "rulez", "error"]]


def test_one_condition_walker_gives_every_atom_and_the_event_atoms_with_their_negation() -> None:
    """``pack_check`` walks a condition tree once (``_atoms``); the event atoms are its
    non-state atoms, each saying whether it stands under an odd number of ``not`` (the
    refactor that merged the two walkers changed no result)."""
    from app.workflows.pack_check import _atoms, _event_atoms

    raw = {"all": [{"case": {"statutory": True}}, {"not": {"level_in": ["high"]}},
                   {"not": {"not": {"after.in_custody": False, "event_flag": "x"}}}],
           "case": 5}
    assert list(_atoms(raw, "w")) == [
        ("case.statutory", True, "w.all.0.case.statutory", False),
        ("level_in", ["high"], "w.all.1.not.level_in", True),
        ("after.in_custody", False, "w.all.2.not.not.after.in_custody", False),
        ("event_flag", "x", "w.all.2.not.not.event_flag", False),
        ("case", 5, "w.case", False)]
    assert [(n, neg) for n, _, _, neg in _event_atoms(raw, "w")] == [
        ("level_in", True), ("event_flag", False)]


def test_a20_17a_every_mistake_in_one_atom_in_one_run_with_its_line_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 20, A20-17a: "pack check finds two mistakes in ONE condition atom only over two
    runs (it stops at the first problem in an atom)". A misspelt domain and a misspelt level
    in the register's one ``any_rating_in``, and a rating atom missing its levels in X11's
    ``[rules.when]``: one run lists all three, each at ``file:LINE`` (the line the word is
    written on), with the rule id (the register's own, X3) and the atom's own path, in words
    (what to write, a did-you-mean), exit 1; a role written as the policy's words ("case
    manager") is said in words, not as a pattern, at its key's line."""
    path = example_variant(
        tmp_path,
        ('{ after = { any_rating_in = { domains = ["rosh", "swb"], levels = ["high", '
         '"very_high"] } } },\n  { after = { fact',
         '{ after = { any_rating_in = { domains = ["rosh", "sbw"], levels = ["high", '
         '"very_hihg"] } } },\n  { after = { fact'),
        ('  { after = { any_rating_in = { domains = ["swb"], levels = ["high", "very_high"] } } },'
         '\n]', '  { after = { any_rating_in = { domains = ["swb"] } } },\n]'),
        ('title = "Complete the AssetPlus assessment"\nactor = "case_holder"',
         'title = "Complete the AssetPlus assessment"\nactor = "case manager"'))
    text = path.read_text().splitlines()

    def at(word: str) -> int:
        return next(n for n, line in enumerate(text, start=1) if word in line)

    x11, actor = at('domains = ["swb"] } } },'), at('actor = "case manager"')
    assert main(["pack", "check", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:{at('sbw')}: X3: register.when.any.0.after.any_rating_in.domains.1: error: "
        "'sbw' is not allowed in 'after.any_rating_in': write 'rosh', 'swb' or 'lor' (did you "
        "mean 'swb'?)",
        f"{path}:{at('very_hihg')}: X3: register.when.any.0.after.any_rating_in.levels.1: "
        "error: 'very_hihg' is not allowed in 'after.any_rating_in': write 'low', 'medium', "
        "'high' or 'very_high' (did you mean 'very_high'?)",
        f"{path}:{actor}: X1: rules.0.actor: error: 'case manager' is not written as it "
        "should be: a role is one word in small letters and _ with no spaces (did you mean "
        "'case_holder'?); the roles are case_holder, line_manager, duty_manager, chair, "
        "panel_admin, action_owner",
        f"{path}:{x11}: X11: "
        "rules.14.when.all.1.after.any_rating_in: error: 'after.any_rating_in' needs 'levels'",
    ]


def test_a20_17a_an_outsiders_mistakes_are_said_in_words_at_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 20, A20-17a, item 4 (a third service's pack written from the README alone): a
    misspelt table (``[escalaton]``), a misspelt key in a rule (``deadlines``), a rule without
    its title and a fact type written as "yes/no" were "Extra inputs are not permitted", "Field
    required", "Input should be ...", and the fact set aside made X8's ``changed_to`` "unknown
    case field 'facts.dangerousness_criteria_met'" (a consequence, not a mistake). Now: each
    in words (unknown key with its did-you-mean, what is missing, what to write), at its line,
    and no consequence line; a file that is not TOML gives the line in the line slot."""
    path = example_variant(
        tmp_path, ("[escalation]", "[escalaton]"),
        ('deadline = "+20wd"\nref = "2.1"', 'deadlines = "+20wd"\ndeadline = "+20wd"\nref = "2.1"'),
        ('title = "Quality-assure and countersign the assessment"\n', ""),
        ('type = "boolean"', 'type = "yes/no"'))
    text = path.read_text().splitlines()

    def at(line: str) -> int:
        return next(n for n, each in enumerate(text, start=1) if each == line)

    x2 = next(n for n, each in enumerate(text, start=1) if each == 'id = "X2"') - 1
    assert main(["pack", "check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    fact, table, key = at('type = "yes/no"'), at("[escalaton]"), at('deadlines = "+20wd"')
    assert dict(line.split(": ", 1) for line in out) == {
        f"{path}:{fact}": "-: facts.0.type: error: 'yes/no' is not allowed: write 'boolean', "
        "'enum', 'integer', 'date' or 'list'",
        f"{path}:{x2}": "X2: rules.1.title: error: 'title' is missing: this table needs "
        "title = ...",
        f"{path}:{table}": "-: escalaton: error: unknown key 'escalaton' (did you mean "
        "'escalation'?); the keys here are id, version, effective_from, title, authority, "
        "source, panel_kind, event_types, referral_kinds, panel_kinds, facts, scores, closures, "
        "not_waivable, completable, survives_closure, closure_ends_booked, "
        "prolonged_absence_working_days, escalation, matrix, register, priority, contact, "
        "case_closure, options, checks, rules",
        f"{path}:{key}": "X1: rules.0.deadlines: error: unknown key 'deadlines' (did you mean "
        "'deadline'?); the keys here are id, trigger, when, code, title, actor, deadline, ref, "
        "holds, recurrence, note, for_each, subject, dedupe, supersedes_previous, refresh_due, "
        "refresh_only, assignee_from, refresh_undated_only, satisfiable_by_oversight, "
        "counts_from, completion_covers_later, stand_in, also_done_by, also_stand_in, "
        "assessment_types, assessment_stages"}
    # ``pack render`` of a broken pack points at ``pack check`` (one line per mistake).
    assert main(["pack", "render", str(path)]) == 2
    assert f"(run `yjrisk pack check {path}` for one line per mistake" in capsys.readouterr().err
    path.write_text('id = "example-owner"\ntitle = "A title\nauthority = "x"\n')
    assert main(["pack", "check", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"{path}:2: -: -: error: not valid TOML: Illegal character '\\n' (column 17)\n")


def test_item4_a_value_of_the_wrong_type_is_said_in_words(tmp_path: Path) -> None:
    """Item 4 of A20-17 (an outsider's pack): ``prolonged_absence_working_days = "two"`` and
    ``ref = 2.2`` (a number where text is wanted) were "Input should be a valid integer, unable
    to parse string as an integer" / "Input should be a valid string"; now what to write."""
    path = example_variant(tmp_path, ('panel_kind = "risk_panel"\n',
                                      'panel_kind = "risk_panel"\n'
                                      'prolonged_absence_working_days = "two"\n'),
                           ('rule_id = "X3"\nref = "3.1"', 'rule_id = "X3"\nref = 3.1'))
    lines, failed = check_files([path])
    assert failed
    assert [line.split(": ", 1)[1] for line in lines] == [
        "-: prolonged_absence_working_days: error: 'two' is not a whole number: write a "
        "number without quotes (2)",
        "X3: register.ref: error: 3.1 should be text: write it in quotes (\"3.1\")"]


@pytest.mark.parametrize("value", [
    "2027-03-04T00:00:00+05:00", "2027-03-04T00:00:00Z", 20270304, "20270304", "2027-W09-4",
    "2027-063", "2027-02-30", "2027-03-04 00:00", 1799971200])
def test_a_date_fact_takes_an_iso_date_only(value: object) -> None:
    """Attack pass 28a, ATK28A-1: a pack fact of type ``date`` (set through ``PATCH
    /v1/cases/{id}`` ``facts``) takes an ISO date ``YYYY-MM-DD`` as every date of the contract
    does (``format: date``): ``date.fromisoformat`` of the value's text took ``20270304``, even
    sent as a number, and week and ordinal dates; each is refused now ("must be an ISO date"),
    and ``2027-03-04`` is still stored as itself."""
    fact = Fact(id="order_ends", title="The order ends", type="date")
    assert fact.parse("2027-03-04") == "2027-03-04"
    with pytest.raises(ValueError, match="must be an ISO date"):
        fact.parse(value)


def test_atk28b_13_the_seeds_senior_managers_are_the_chair() -> None:
    """ATK28B-13: the did-you-mean sent "team manager" and "service manager" to the line
    manager. Wokingham: "This is a multi-agency panel, chaired by the Team Manager"; Somerset 9:
    "discussed monthly in supervision between the YJT Strategic Manager and the Operations
    Manager"; 1.8 "a senior manager". Each is the service's senior manager, ``chair``."""
    for word in ("team manager", "Team Manager", "service manager", "strategic manager",
                 "operations manager", "senior manager", "head of service", "team-manager"):
        assert suggest(word, ACTORS) == " (did you mean 'chair'?)", word


def test_survives_closure_may_name_a_rule(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Attack 32c, ATTACK32C-5 (fix34c): ``survives_closure`` may name a rule id where lines of
    one step code end differently (Somerset keeps 13.4.1-13.4.2's S30/S31 open past a closure,
    not 14.2-14.2.1's S32/S33 of the same codes). A rule that raises steps is accepted; an id
    no rule has is the same error as a misspelt code."""
    from app.workflows.packs import load_pack as load

    somerset = load(PACK_DIR / "somerset-yjt-2023.toml")
    assert somerset.survives_closure_of("prepare_transfer_documentation", "S30")
    assert not somerset.survives_closure_of("prepare_transfer_documentation", "S32")
    assert somerset.survives_closure_of("record_panel_contact", None)
    path = example_variant(tmp_path, ('panel_kind = "risk_panel"\n',
                                      'panel_kind = "risk_panel"\n'
                                      'survives_closure = ["X5", "X99"]\n'))
    assert main(["pack", "check", str(path)]) == 1
    out = _out(capsys)
    assert "survives_closure.0" not in out
    assert (f"{path}: -: survives_closure.1: error: no rule creates step code 'X99', so this "
            "keeps open past closure nothing") in out
