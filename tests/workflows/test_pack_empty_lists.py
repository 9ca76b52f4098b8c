"""An empty list or table anywhere in a pack is either a located ``pack check`` error or said by
``pack render``: render never breaks on a pack check accepts (attack 28b, ATK28B-1).

A pack owner emptying a list while drafting (``[closures] assessment_submit = []``) got "no
errors" from ``pack check`` and then a Python traceback (``IndexError`` in ``render._listed``)
from ``pack render``, so could not read the pack. Each key decides: where an empty list means
nothing (a condition atom listing no value is never met, or always; a contact table of no
bands; a closure requirement of no intervention or no assessment) ``pack check`` refuses it at
its line; where it means "none" (an act that closes no step) render says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.workflows.pack_tools import check_files
from app.workflows.packs import PACK_DIR, load_pack
from app.workflows.render import render_html, render_markdown

PACKS = ("example-yjs", "somerset-yjt-2023", "wokingham-pyjs-2024")
# A list of values (no nested list or table) or an inline table of values, with its key.
_LIST = re.compile(r"([\w\".-]+)\s*=\s*(\[[^\[\]{}]*[^\s\[\]{}][^\[\]{}]*\])")
_TABLE = re.compile(r"([\w\".-]+)\s*=\s*(\{[^\[\]{}]*[^\s\[\]{}][^\[\]{}]*\})")


def _mutations() -> list[tuple[str, str, tuple[int, int], str]]:
    """One mutation per key name found in the bundled packs (its first place): (a pack id of
    its own, so it is no second copy of the bundled one; the key; the lines from its table's
    header to the key's; the pack's text with that list or table emptied)."""
    found: dict[str, tuple[str, str, tuple[int, int], str]] = {}
    for pack in PACKS:
        text = (PACK_DIR / f"{pack}.toml").read_text()
        own = f"{pack}-draft"
        text = text.replace(f'id = "{pack}"', f'id = "{own}"', 1)
        for pattern, empty in ((_LIST, "[]"), (_TABLE, "{}")):
            for match in pattern.finditer(text):
                key = f"{match[1].strip(chr(34))} = {empty}"
                if key in found or text[:match.start()].rstrip().endswith("#"):
                    continue
                line = text.count("\n", 0, match.start(2)) + 1
                # The top table it is in (``[matrix]`` for a ``[matrix.levels]`` row).
                headers = [h.start() for h in re.finditer(r"^\[\[?[\w-]+\]", text, re.M)
                           if h.start() < match.start()]
                table = text.count("\n", 0, headers[-1]) + 1 if headers else 1
                mutated = text[:match.start(2)] + empty + text[match.end(2):]
                found[key] = (own, key, (table, line), mutated)
    return sorted(found.values(), key=lambda m: m[1])


MUTATIONS = _mutations()


def test_the_mutations_cover_the_list_keys_of_the_packs() -> None:
    """The walk finds the keys (a regex gone wrong would test nothing)."""
    keys = {m[1] for m in MUTATIONS}
    for key in ("assessment_submit = []", "level_in = []", "not_waivable = []",
                "domains = []", "levels = []", "to = {}", "interventions = []"):
        assert key in keys, key
    assert len(keys) > 40


@pytest.mark.parametrize(("pack", "key", "lines", "text"), MUTATIONS,
                         ids=[m[1] for m in MUTATIONS])
def test_an_emptied_list_is_refused_at_its_line_or_rendered(
        tmp_path: Path, pack: str, key: str, lines: tuple[int, int], text: str) -> None:
    """Either ``pack check`` reports an error at the emptied list's line, or at its table's
    when the table as a whole is wrong (a matrix row for no likelihood; the file's
    ``file:LINE:``), or the pack renders in every format (Markdown and HTML)."""
    path = tmp_path / f"{pack}.toml"
    path.write_text(text)
    said, failed = check_files([path])
    if failed:
        at = [int(m[1]) for each in said if ": error: " in each
              and (m := re.match(rf"{re.escape(str(path))}:(\d+): ", each))]
        assert any(lines[0] <= n <= lines[1] for n in at), (key, lines, said)
        return
    loaded = load_pack(path)
    assert render_markdown(loaded)
    assert render_html(loaded)


def test_atk28b_1_an_emptied_closures_list_renders_as_closing_nothing(tmp_path: Path) -> None:
    """The tester's repro: ``[closures] assessment_submit = []`` passes ``pack check`` (it closes
    nothing, as an absent key) and ``pack render`` says so, in both formats, exit 0."""
    text = (PACK_DIR / "example-yjs.toml").read_text()
    assert re.search(r"^assessment_submit = \[.+\]$", text, re.MULTILINE)
    path = tmp_path / "example-draft.toml"
    text = text.replace('id = "example-yjs"', 'id = "example-draft"', 1)
    path.write_text(re.sub(r"^assessment_submit = \[.+\]$", "assessment_submit = []", text,
                           flags=re.MULTILINE))
    _, failed = check_files([path])
    assert not failed
    runner = CliRunner()
    for fmt in ("md", "html"):
        result = runner.invoke(cli, ["pack", "render", str(path), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "Submitting an assessment closes no step (its list is empty)." in result.stdout


def test_atk28b_1_a_condition_atom_given_an_empty_list_is_an_error_at_its_line(
        tmp_path: Path) -> None:
    """``level_in = []`` is never met: the line could never apply (an error, as a misspelt
    word is), at the line it is written on; ``attendees_include = []`` always met, says
    nothing."""
    text = (PACK_DIR / "example-yjs.toml").read_text()
    match = re.search(r"level_in = \[[^\]]+\]", text)
    assert match is not None
    path = tmp_path / "example-yjs.toml"
    path.write_text(text[:match.start()] + "level_in = []" + text[match.end():])
    lines, failed = check_files([path])
    line = text.count("\n", 0, match.start()) + 1
    assert failed
    assert any(each.startswith(f"{path}:{line}: ") and "'level_in' is given an empty list: it "
               "is never met" in each for each in lines), lines
