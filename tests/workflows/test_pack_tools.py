"""The pack owner's tools: scenario files (run here, so .ci/run runs them) and rendering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli import main
from app.workflows.packs import PACK_DIR, load_packs
from app.workflows.render import (
    deadline_words,
    local_sentences,
    render_html,
    render_markdown,
    sections,
)
from app.workflows.scenarios import run_file
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
    assert f"{path}: FAIL X5: a parent or carer poses a risk (the pack's own event type)" in out
    assert ("    child_protection_referral: due 2026-09-01T22:59:59+00:00, expected "
            "2026-09-02T22:59:59+00:00") in out
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
            "with the line manager (or duty manager), within 24 hours (para 3.1; rule S5)."
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
            "working day (para 4.3; rule X6).") in page
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
    expected += len(local_sentences(pack))
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
