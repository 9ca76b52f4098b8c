"""The pack owner's tools: scenario files (run here, so .ci/run runs them) and rendering."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.workflows.conditions import atom_names, compile_condition
from app.workflows.deadlines import ALLOWED_FORMS
from app.workflows.packs import PACK_DIR, PackError, load_packs
from app.workflows.render import (
    ACT_WORDS,
    ATOM_WORDS,
    READING,
    atom_words,
    condition_words,
    deadline_words,
    local_sentences,
    policy_sentences,
    render_html,
    render_markdown,
    sections,
)
from app.workflows.scenarios import run_file
from app.workflows.vocabulary import CLOSING_ACTS
from tests.workflows.support import calendar

SCENARIOS = PACK_DIR / "scenarios"


@pytest.mark.parametrize("pack_id", sorted(load_packs()))
def test_every_bundled_pack_ships_scenarios_that_pass(pack_id: str) -> None:
    """Each bundled pack has a scenario file, and every scenario in it passes."""
    path = SCENARIOS / f"{pack_id}.toml"
    assert path.is_file(), f"{pack_id} ships no scenario file"
    outcomes = run_file(path, load_packs()[pack_id], calendar())
    assert len(outcomes) >= 4
    assert [(o.name, o.failures) for o in outcomes if not o.passed] == []


def _broken(tmp_path: Path) -> Path:
    text = (SCENARIOS / "example-yjs.toml").read_text()
    text = text.replace("due = 2026-09-01T23:59:59+01:00\nref = \"4.2\"",
                        "due = 2026-09-02T23:59:59+01:00\nref = \"4.2\"", 1)
    text = text.replace('not_expected = ["inform_team_manager"]',
                        'not_expected = ["record_incident"]', 1)
    path = tmp_path / "broken.toml"
    path.write_text(text)
    return path


def test_cli_pack_test_reports_each_difference_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``yjrisk pack test PACK SCENARIOS``: a wrong due date and an unexpected step both fail."""
    path = _broken(tmp_path)
    assert main(["pack", "test", "example-yjs", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (f"{path}: FAIL X5: a parent or carer poses a risk (the pack's own event type) "
            "[example-yjs version 1.0]") in out
    # In London time with the offset, as the owner wrote it (A17-3).
    assert ("    child_protection_referral: due 2026-09-01T23:59:59+01:00, expected "
            "2026-09-02T23:59:59+01:00") in out
    assert "    record_incident: not expected, but asked for" in out
    assert out[-1] == "2 scenario(s) failed"


def test_cli_pack_test_passes_with_a_pack_file(capsys: pytest.CaptureFixture[str]) -> None:
    """A pack given as a file path; every line 'ok'; exit 0."""
    status = main(["pack", "test", str(PACK_DIR / "wokingham-pyjs-2024.toml"),
                   str(SCENARIOS / "wokingham-pyjs-2024.toml")])
    assert status == 0
    assert all(" ok   " in line for line in capsys.readouterr().out.splitlines())


def test_scenarios_for_another_pack_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario file written for Somerset is not run against Wokingham."""
    status = main(["pack", "test", "wokingham-pyjs-2024",
                   str(SCENARIOS / "somerset-yjt-2023.toml")])
    assert status == 2
    assert "written for 'somerset-yjt-2023', not 'wokingham-pyjs-2024'" in capsys.readouterr().err


def test_deadline_forms_in_words() -> None:
    """The owner reads deadlines in words, not forms."""
    assert deadline_words("+2wd") == "within 2 working days"
    assert deadline_words("+1wd") == "within 1 working day"
    assert deadline_words("+24h") == "within 24 hours"
    assert deadline_words("every 1m") == "every month"
    assert deadline_words("next-panel") == "by the next panel"


def test_render_markdown_sentences_grouped_by_trigger() -> None:
    """Somerset S5 reads as a sentence under the judgement heading, with its paragraph."""
    text = render_markdown(load_packs()["somerset-yjt-2023"])
    judgement = text.split("## When a risk judgement is recorded")[1].split("\n## ")[0]
    assert ("- When the judgement is of ROSH or SWB and the level is high or very high and it is "
            "not a panel's decision, the line manager must: Discuss the high/very high judgement "
            "with the line manager (or duty manager), within 24 hours (para 3.1; rule S5; "
            "step: discuss with manager)."
            ) in judgement


def test_render_html_is_one_offline_page(tmp_path: Path) -> None:
    """The HTML names no other host and loads nothing: it opens offline; text is escaped."""
    assert main(["pack", "render", "example-yjs", "--format", "html", "-o",
                 str(tmp_path / "p.html")]) == 0
    page = (tmp_path / "p.html").read_text()
    assert page.startswith("<!doctype html>")
    assert re.search(r"(src|href)\s*=|https?://|@import|<script", page) is None
    assert ("the child&#x27;s age is under 14, the panel chair (senior manager) must: Inform "
            "the team manager: a child under 14 has been charged, by the end of the next "
            "working day (para 4.3; rule X6; step: inform team manager).") in page
    assert page.count("<li>") == sum(len(s) for _, s in sections(load_packs()["example-yjs"]))


def test_render_refuses_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    """Only html and md."""
    assert main(["pack", "render", "example-yjs", "--format", "pdf"]) == 2
    assert "--format must be html or md" in capsys.readouterr().err


def test_render_html_matches_markdown_sentence_count() -> None:
    """Both formats carry every rule line and check."""
    pack = load_packs()["wokingham-pyjs-2024"]
    lines = [line for line in render_markdown(pack).splitlines() if line.startswith("- ")]
    expected = sum(len(r.trigger) for r in pack.rules) + sum(len(c.trigger) for c in pack.checks)
    expected += len(local_sentences(pack)) + len(policy_sentences(pack))
    assert len(lines) == expected
    assert render_html(pack).count("<li>") == expected


def test_render_states_local_behaviour_in_words() -> None:
    """Wokingham's MAPPA gate and the example's weekly panel read as sentences."""
    wokingham = local_sentences(load_packs()["wokingham-pyjs-2024"])
    assert ("MAPPA H notification: counts as made once sent; making it closes: mappa h "
            "notification; a manager must quality-assure it before it is sent.") in wokingham
    example = local_sentences(load_packs()["example-yjs"])
    assert any(s.startswith("The Risk Panel is chaired by the panel chair (senior manager), "
                            "weekly on Thursday;") and s.endswith(
                                "whoever presents a case does not chair its decision.")
               for s in example)


def _no_lines(text: str) -> str:
    """A scenario message without its line numbers (``test_item4_...`` tests them)."""
    return re.sub(r"(, line \d+\)| \(line \d+\))", lambda m: ")" if m[0].startswith(",") else "",
                  text)


def _one_user_error(status: int, capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert status == 2, captured
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("yjrisk: "), captured.err
    assert "Traceback" not in captured.out + captured.err
    return lines[0]


def test_binary_files_are_one_line_exit_2_for_check_render_and_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack A L1: every file the pack tools read (pack, scenario file, policy text) that is
    not UTF-8 text, or not a file, is one ``yjrisk:`` line and exit 2, never a traceback."""
    pack = tmp_path / "example-yjs.toml"
    pack.write_bytes(b"\x00\xff garbage")
    line = _one_user_error(main(["pack", "check", str(pack)]), capsys)
    assert line == f"yjrisk: {pack}: not a text file: byte 0xff at offset 1 is not UTF-8"
    _one_user_error(main(["pack", "render", str(pack)]), capsys)
    _one_user_error(main(["pack", "test", str(pack), str(SCENARIOS / "example-yjs.toml")]),
                    capsys)
    scenarios = tmp_path / "scen.toml"
    scenarios.write_bytes(b"\xff\xfe")
    line = _one_user_error(main(["pack", "test", "example-yjs", str(scenarios)]), capsys)
    assert line == f"yjrisk: {scenarios}: not a text file: byte 0xff at offset 0 is not UTF-8"
    _one_user_error(main(["pack", "check", str(tmp_path)]), capsys)  # a directory
    source = tmp_path / "policy.md"
    source.write_bytes(b"\xc3\x28")
    _one_user_error(main(["pack", "check", str(PACK_DIR / "example-yjs.toml"),
                          "--source", str(source)]), capsys)
    _one_user_error(main(["pack", "render", "example-yjs", "-o", str(tmp_path)]), capsys)


def _scenarios(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scen.toml"
    path.write_text('pack = "example-yjs"\n\n' + body)
    return path


_FIRST = """[[scenarios]]
name = "X5 first"
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-08-28T15:30:00+01:00
data = { type = "parent_carer_risk" }
[[scenarios.expect]]
code = "child_protection_referral"
"""


def test_a17_3_a_time_without_offset_is_one_line_naming_file_scenario_field_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-3: ``occurred_at = 2026-10-23T18:00:00`` (a local time, as an owner
    writes "6 pm") crashed ``pack test`` with a traceback; an ``expect.due`` without offset was
    silently read as UTC. Both are refused: one ``yjrisk:`` line naming the file, the scenario
    and the field, with the time to write (London's offset that day, or UTC), exit 2."""
    path = _scenarios(tmp_path, _FIRST + """
[[scenarios]]
name = "naive act"
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-10-23T18:00:00
data = { type = "parent_carer_risk" }
[[scenarios.expect]]
code = "child_protection_referral"
due = 2026-10-26T23:59:59

[[scenarios]]
name = "naive panel"
panels = [{ kind = "risk_panel", scheduled_for = 2026-11-03T10:00:00 }]
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-10-23T18:00:00Z
data = { type = "parent_carer_risk" }
""")
    line = _no_lines(_one_user_error(main(["pack", "test", "example-yjs", str(path)]), capsys))
    assert line == (
        f"yjrisk: {path}: scenarios.1.act.occurred_at (scenario 'naive act'): "
        "2026-10-23T18:00:00 has no offset: write the time with its offset, "
        "2026-10-23T18:00:00+01:00 (London time that day) or 2026-10-23T17:00:00Z (UTC); "
        "scenarios.1.expect.0.due (scenario 'naive act'): 2026-10-26T23:59:59 has no offset: "
        "write the time with its offset, 2026-10-26T23:59:59+00:00 (London time that day) or "
        "2026-10-26T23:59:59Z (UTC); scenarios.2.panels.0.scheduled_for (scenario 'naive "
        "panel'): 2026-11-03T10:00:00 has no offset: write the time with its offset, "
        "2026-11-03T10:00:00+00:00 (London time that day) or 2026-11-03T10:00:00Z (UTC)")


def test_a17_3_an_act_the_engine_cannot_evaluate_fails_its_scenario_not_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-3: whatever an act's data holds, the other scenarios are still reported
    and the bad one fails with why: never a traceback."""
    path = _scenarios(tmp_path, _FIRST + """
[[scenarios]]
name = "actions not a list"
[scenarios.act]
trigger = "panel_decision"
occurred_at = 2026-08-27T10:00:00+01:00
data = { actions = 3 }
""")
    assert main(["pack", "test", "example-yjs", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    out = _no_lines(captured.out).splitlines()
    assert out[0] == f"{path}: ok   X5 first [example-yjs version 1.0]"
    assert out[1] == f"{path}: FAIL actions not a list [example-yjs version 1.0]"
    assert out[2].startswith("    scenarios.1: the act cannot be evaluated: ")


def test_a17_5_scenario_words_are_checked_against_the_packs_vocabulary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-5: a misspelt event type, a level that does not exist, a step code no
    rule of the pack creates (in ``not_expected`` or ``expect``) made scenarios "ok" that
    proved nothing. Each is a failure of its scenario, with a did-you-mean, and it is not
    run; the other scenarios still run."""
    path = _scenarios(tmp_path, _FIRST + """
[[scenarios]]
name = "typo in event type"
not_expected = ["child_protection_referral"]
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-10-23T18:00:00+01:00
data = { type = "parent_carer_rsik" }

[[scenarios]]
name = "level typo"
not_expected = ["child_protection_refferal"]
[scenarios.act]
trigger = "judgement_recorded"
occurred_at = 2026-09-03T10:00:00+01:00
data = { domain = "swb", level = "very high" }
[[scenarios.expect]]
code = "discus_with_manager"
actor = "case_manager"
""")
    assert main(["pack", "test", "example-yjs", str(path)]) == 1
    out = _no_lines(capsys.readouterr().out).splitlines()
    assert out == [
        f"{path}: ok   X5 first [example-yjs version 1.0]",
        f"{path}: FAIL typo in event type [example-yjs version 1.0]",
        "    scenarios.1.act.data.type: unknown event type 'parent_carer_rsik' (did you mean "
        "'parent_carer_risk'?)",
        "    not run: the scenario names words the pack does not have, so it cannot mean what "
        "it says",
        f"{path}: FAIL level typo [example-yjs version 1.0]",
        "    scenarios.2.act.data.level: unknown level 'very high' (did you mean 'very_high' "
        "or 'high'?)",
        "    scenarios.2.expect.0.code: no rule of the pack creates step code "
        "'discus_with_manager' (did you mean 'discuss_with_manager'?)",
        "    scenarios.2.expect.0.actor: unknown actor 'case_manager' (did you mean "
        "'case_holder'?)",
        "    scenarios.2.not_expected.0: no rule of the pack creates step code "
        "'child_protection_refferal' (did you mean 'child_protection_referral'?)",
        "    not run: the scenario names words the pack does not have, so it cannot mean what "
        "it says",
        "2 scenario(s) failed",
    ]


def test_atk28b_16_a_misspelt_or_missing_act_data_key_fails_its_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ATK28B-16: ``data = { domian = "rosh", level = "high" }`` and ``levle = "very_high"``
    ran a judgement with no domain or level (an act the service never receives: 422), so a
    scenario expecting nothing of it ("not_expected") passed for the wrong reason. A key the
    trigger's acts do not carry (``types.EVENT_DATA``) is a failure with a did-you-mean, so is
    an act without what the service requires of it; the scenario is not run, the others are."""
    path = _scenarios(tmp_path, _FIRST + """
[[scenarios]]
name = "data domain typo"
not_expected = ["discuss_with_manager"]
[scenarios.act]
trigger = "judgement_recorded"
occurred_at = 2026-12-24T15:00:00Z
data = { domian = "rosh", level = "high" }

[[scenarios]]
name = "event without a type"
not_expected = ["child_protection_referral"]
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-12-24T15:00:00Z
data = { details = { place = "home" } }
""")
    assert main(["pack", "test", "example-yjs", str(path)]) == 1
    out = _no_lines(capsys.readouterr().out).splitlines()
    not_run = ("    not run: the scenario names words the pack does not have, so it cannot "
               "mean what it says")
    assert out == [
        f"{path}: ok   X5 first [example-yjs version 1.0]",
        f"{path}: FAIL data domain typo [example-yjs version 1.0]",
        "    scenarios.1.act.data.domian: a judgement_recorded act carries no 'domian' (did "
        "you mean 'domain'?)",
        "    scenarios.1.act.data: a judgement_recorded act always carries 'domain': write it "
        "(the service refuses the act without it)",
        not_run,
        f"{path}: FAIL event without a type [example-yjs version 1.0]",
        "    scenarios.2.act.data: a case_event act always carries 'type': write it (the "
        "service refuses the act without it)",
        not_run,
        "2 scenario(s) failed",
    ]


def test_a17_4_pack_check_refuses_two_versions_on_one_date_as_the_service_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 17, A17-4: ``pack check`` said "no errors" for two versions with the same
    ``effective_from``, which the service then refused to start with. It makes the start-up's
    own version checks (the same code), with the bundled packs counted."""
    text = (PACK_DIR / "example-yjs.toml").read_text().replace(
        'id = "example-yjs"', 'id = "northvale"', 1)
    first, second = tmp_path / "northvale.toml", tmp_path / "northvale@2.toml"
    was = 'version = "1.0"\neffective_from = 2025-01-01'
    first.write_text(text.replace(was, 'version = "1"\neffective_from = 2026-09-01', 1))
    second.write_text(text.replace(was, 'version = "2"\neffective_from = 2026-09-01', 1))
    (tmp_path / "example-yjs-risk-policy-2025.txt").write_text(  # its refs are checked (A17-14)
        (PACK_DIR / "sources" / "example-yjs-risk-policy-2025.txt").read_text())
    assert main(["pack", "check", str(first), str(second)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{second}:11: -: effective_from: error: two versions of northvale come into force on the "
        "same date (2026-09-01: version '1' and version '2'); give each version its own "
        "effective_from"]
    from app.core.config import Settings
    from app.main import build_policy_context
    with pytest.raises(PackError, match="come into force on the same date"):
        build_policy_context(Settings(packs_dir=tmp_path))
    second.write_text(text.replace(was, 'version = "2"\neffective_from = 2026-10-01', 1))
    assert main(["pack", "check", str(first), str(second)]) == 0
    capsys.readouterr()
    copy = tmp_path / "copy" / "example-yjs.toml"
    copy.parent.mkdir()
    copy.write_text((PACK_DIR / "example-yjs.toml").read_text())
    assert main(["pack", "check", str(copy)]) == 1
    assert "version '1.0' is loaded twice" in capsys.readouterr().out
    assert main(["pack", "check", str(PACK_DIR / "example-yjs.toml")]) == 0


def test_a17_11_render_says_which_version_and_from_when(tmp_path: Path) -> None:
    """Attack 17, A17-11: "``pack render`` does not say which version it renders or from when it
    applies": two versions printed "the same heading". The heading of both formats names the
    version and its effective_from (or that it has none)."""
    text = (PACK_DIR / "example-yjs.toml").read_text()
    second = tmp_path / "example-yjs@2.0.toml"
    second.write_text(text.replace('version = "1.0"', 'version = "2.0"', 1).replace(
        "effective_from = 2025-01-01", "effective_from = 2027-04-01", 1))
    assert main(["pack", "render", str(second), "--format", "md", "-o",
                 str(tmp_path / "p.md")]) == 0
    assert (tmp_path / "p.md").read_text().splitlines()[0] == (
        "# Example Borough YJS risk management policy and Risk Panel terms of reference (2025): "
        "version 2.0, in force from 1 April 2027")
    assert main(["pack", "render", str(second), "--format", "html", "-o",
                 str(tmp_path / "p.html")]) == 0
    assert ": version 2.0, in force from 1 April 2027</h1>" in (tmp_path / "p.html").read_text()
    first = render_markdown(load_packs()["example-yjs"]).splitlines()[0]
    assert first.endswith(": version 1.0, in force from 1 January 2025")
    undated = tmp_path / "example-yjs.toml"
    undated.write_text(text.replace("effective_from = 2025-01-01\n", "", 1))
    assert main(["pack", "render", str(undated), "--format", "md", "-o",
                 str(tmp_path / "u.md")]) == 0
    assert (tmp_path / "u.md").read_text().splitlines()[0].endswith(
        ": version 1.0, no effective_from: in force on every date")


# One argument for every atom the engine knows (state atoms without case./after.): a new atom
# fails the test below until it has words in render.ATOM_WORDS and an example here.
ATOM_EXAMPLES: dict[str, Any] = {
    "trigger_in": ["case_opened"], "actor_role_in": ["feed"], "event_type_in": ["charged"],
    "event_flag": "custody_event",
    "incoming_rating_in": {"domains": ["rosh"], "levels": ["high"]},
    "judgement_domain_in": ["rosh"], "level_in": ["high"], "level_below": "medium",
    "level_changed": True, "level_lowered_from": ["very_high"], "impact_in": ["major"],
    "likelihood_in": ["likely"], "level_differs_from_matrix": True, "via_panel_decision": True,
    "judgement_assessment_type_in": ["asset_plus"], "assessment_type_in": ["asset_plus"],
    "assessment_stage_in": ["closure"], "referral_kind_in": ["panel"],
    "referral_action_in": ["submit"], "referral_status_in": ["sent"],
    "completed_step_code_in": ["complete_assessment"], "completed_step_actor_in": ["chair"],
    "completed_by_role_in": ["duty_manager"], "changed": ["in_custody"],
    "changed_to": {"field": "in_custody", "values": [True]}, "decision_has_actions": True,
    "decision_mappa_level_in": [2], "panel_kind_in": ["marp"], "child_age": {"lt": 14},
    "attendees_include": ["police"], "statutory": True, "weapon_related": True,
    "in_custody": True, "volunteer_attached": True, "on_register": True,
    "on_panel_agenda": True, "panel_referred": True, "mappa_eligible": True,
    "has_release_date": True, "open_step_in": ["complete_assessment"],
    "intervention_in": ["court_order"], "csc_status_in": ["cp"], "mappa_category_in": [1],
    "mappa_level_in": [2], "any_rating_in": {"domains": ["rosh", "swb"], "levels": ["high"]},
    "ratings_known": ["rosh"], "open_or_closed_within_days": 0,
    "incoming_rating_pending_in": {"domains": ["rosh"], "levels": ["very_high"]},
    "countersigned_assessment_in": ["asset_plus"],
    "referral_sent_in": ["mappa_a"],
    "fact": {"name": "offence_category", "contains_any": ["sexual"]},
    "score": {"name": "serious_harm_indicators", "gte": 2},
}
# What a plain sentence never shows: TOML or Python (a = b, lists, True, None, braces), an
# identifier with underscores.
RAW = re.compile(r"=|\[|\]|\{|\}|\bTrue\b|\bFalse\b|\bNone\b|[a-z]_[a-z]")


def _bare(name: str) -> str:
    return name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name


def test_a19_9_every_atom_the_engine_knows_has_plain_words() -> None:
    """Attack 19, A19-9: every condition atom (the engine's own table, conditions.atom_names)
    has words, for when it is met and when it is not, with no raw value; a state atom says
    which case it reads ("before the change" / "afterwards"). A new atom without words fails
    here."""
    bare = {_bare(n) for n in atom_names()}
    assert set(ATOM_WORDS) == bare
    assert set(ATOM_EXAMPLES) == bare
    example = load_packs()["example-yjs"]
    for name in atom_names():
        value = ATOM_EXAMPLES[_bare(name)]
        compile_condition({name: value})  # a valid argument
        met = atom_words(name, value, example)
        unmet = atom_words(name, value, example, met=False)
        assert met != unmet, name
        for text in (met, unmet):
            assert RAW.search(text) is None, (name, text)
            assert name not in text, (name, text)
        if name.startswith("case."):
            assert met.startswith("before the change "), met
        if name.startswith("after."):
            assert met.startswith("afterwards "), met
            assert not atom_words(name, value, example, current=True).startswith("afterwards")


def test_a19_9_no_rendered_condition_shows_a_raw_atom_or_value() -> None:
    """Every condition of the bundled packs (rules, their deadline branches and holds, checks)
    renders with no TOML or Python in it; every closing act has words."""
    for pack in load_packs().values():
        conditions = [c for r in pack.rules for c in (r.when, r.holds) if c is not None]
        conditions += [b.when for r in pack.rules if not isinstance(r.deadline, str)
                       for b in r.deadline if b.when is not None]
        conditions += [c.when for c in pack.checks]
        for condition in conditions:
            text = condition_words(condition.raw, pack)
            assert RAW.search(text) is None, (pack.id, text)
        for sentence in local_sentences(pack):
            assert RAW.search(sentence.split(":")[0]) is None, sentence
    assert set(ACT_WORDS) == set(CLOSING_ACTS)


def test_a19_9_grouping_is_explicit_and_before_the_change_is_said() -> None:
    """``any`` of ``all``s reads "either (...) or (...)", an ``any`` inside an ``all`` is put in
    brackets (which "and" binds is plain), and X7's before-state says "before the change" (it
    read as a contradiction: "afterwards X and not (X)")."""
    somerset = render_markdown(load_packs()["somerset-yjt-2023"])
    assert ("- When either (the event is custody entry and before the change the child is not in "
            "custody) or (the change sets “in custody” to yes and it is not the custody change "
            "that follows a recorded custody event) or (it is the case being opened and "
            "afterwards the child is in custody), the case holder must: Phone the secure "
            "establishment") in somerset
    assert ("When (either the event is change of circumstances, new incident, charged, custody "
            "entry or custody release or (the change is to “in custody” and it is not the "
            "custody change that follows a recorded custody event)) and before the change the "
            "case was open at the time of the event and before the change the ROSH or SWB "
            "rating is medium, high or very high, the case holder must: Review AssetPlus"
            ) in somerset
    assert ("before the change the case has an open step “complete assessment”, the case holder "
            "must: Complete a Fact Finding assessment") in somerset
    wokingham = render_markdown(load_packs()["wokingham-pyjs-2024"])
    assert ("and (either before the change the ROSH rating is not known or it answers an open "
            "review of the rating)") in wokingham
    assert "and it is not recorded by an automated feed, the case holder must" in wokingham
    # An "and" inside an "and" binds the same either way: no brackets.
    assert ("When the change is to the expected release date or “in custody” and afterwards the "
            "MAPPA category is 2 and afterwards the MAPPA level is 2 or 3, the case holder "
            "must: Make the MAPPA A referral") in wokingham
    example = render_markdown(load_packs()["example-yjs"])
    assert ("- When the change is to the case fact “Categories of the current offence” and "
            "afterwards the case fact “Categories of the current offence” includes sexual or "
            "hate motivated and before the change the case fact “Categories of the current "
            "offence” does not include sexual or hate motivated, the case holder must: Consult "
            "the police public protection unit") in example
    assert READING in example
    assert html.escape(READING) in render_html(load_packs()["example-yjs"])
    assert condition_words({"any": [{"level_in": ["high"]}, {"all": [
        {"level_in": ["low"]}, {"not": {"any": [{"level_changed": True},
                                                {"case": {"in_custody": True}}]}}]}]}) == (
        "either the level is high or (the level is low and (neither the level changed nor "
        "before the change the child is in custody))")


def test_a19_9_every_deadline_form_the_parser_accepts_is_in_words() -> None:
    """``every 2w`` (accepted by the loader) is "every 2 weeks", not the form itself."""
    assert deadline_words("every 2w") == "every 2 weeks"
    assert deadline_words("every 1d") == "every day"
    for form in (f for f in ALLOWED_FORMS if f != "immediately"):
        assert deadline_words(form.replace("N", "2")) != form.replace("N", "2"), form


def test_item4_scenario_mistakes_name_the_line_of_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 20, A20-17 item 4 (a third service's owner writing scenarios): a scenario file's
    mistakes say the line they are written on, as ``pack check``'s do, the second scenario's
    ``[[scenarios.expect]]`` counted within that scenario (its first expect is expect.0)."""
    body = _FIRST + """
[[scenarios]]
name = "misspelt"
act = { trigger = "case_event", occurred_at = 2026-08-28T15:30:00+01:00, data = { type = \
"parent_carer_rsik" } }
[[scenarios.expect]]
code = "child_protection_referal"
"""
    path = _scenarios(tmp_path, body)
    lines = path.read_text().splitlines()
    act = next(n for n, line in enumerate(lines, start=1) if "parent_carer_rsik" in line)
    code = next(n for n, line in enumerate(lines, start=1) if "child_protection_referal" in line)
    assert main(["pack", "test", "example-yjs", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"    scenarios.1.act.data.type (line {act}): unknown event type 'parent_carer_rsik' " \
        "(did you mean 'parent_carer_risk'?)" in out
    assert f"    scenarios.1.expect.0.code (line {code}): no rule of the pack creates step code " \
        "'child_protection_referal' (did you mean 'child_protection_referral'?)" in out
    path = _scenarios(tmp_path, body.replace('+01:00, data = { type = "parent_carer_rsik"',
                                             ', data = { type = "parent_carer_risk"'))
    line = _one_user_error(main(["pack", "test", "example-yjs", str(path)]), capsys)
    assert f"scenarios.1.act.occurred_at (scenario 'misspelt', line {act}): " in line


def test_attack32b_5_a_word_in_other_letters_gets_its_did_you_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 32b, ATTACK32B-5: a rule id in the wrong case (``rule = "x5"`` for X5, in
    ``expect.rule``, ``refused.rule`` and an open step's ``rule``) was "unknown rule 'x5'"
    with no suggestion, where a misspelt step code gets one: a short id differing only in case
    is too far for the near-miss match. Every word-checked field now offers the word in its
    letters (a step code, an event type in capitals too)."""
    path = _scenarios(tmp_path, """[[scenarios]]
name = "letters"
not_expected = ["Child_Protection_Referral"]
refused = { rule = "x6" }
[scenarios.case]
open_steps = [{ code = "child_protection_referral", rule = "x5" }]
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-08-28T15:30:00+01:00
data = { type = "PARENT_CARER_RISK" }
[[scenarios.expect]]
code = "child_protection_referral"
rule = "x5"
""")
    assert main(["pack", "test", "example-yjs", str(path)]) == 1
    out = _no_lines(capsys.readouterr().out).splitlines()
    assert out == [
        f"{path}: FAIL letters [example-yjs version 1.0]",
        "    scenarios.0.act.data.type: unknown event type 'PARENT_CARER_RISK' (did you mean "
        "'parent_carer_risk'?)",
        "    scenarios.0.case.open_steps.0.rule: unknown rule 'x5' (did you mean 'X5'?)",
        "    scenarios.0.expect.0.rule: unknown rule 'x5' (did you mean 'X5'?)",
        "    scenarios.0.not_expected.0: no rule of the pack creates step code "
        "'Child_Protection_Referral' (did you mean 'child_protection_referral'?)",
        "    scenarios.0.refused.rule: unknown rule 'x6' (did you mean 'X6'?)",
        "    not run: the scenario names words the pack does not have, so it cannot mean what "
        "it says",
        "1 scenario(s) failed",
    ]
