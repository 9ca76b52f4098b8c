"""The engine's generated code per (pack, trigger) can be read and debugged: its source is
kept, and a traceback through it names it and shows its lines."""

from __future__ import annotations

import linecache
import traceback
from pathlib import Path

import pytest

from app.workflows.engine import evaluate, generated_filename, generated_source
from app.workflows.packs import PACK_DIR, load_pack
from tests.workflows.support import (
    THU_BEFORE_GOOD_FRIDAY,
    WOKINGHAM,
    calendar,
    case,
    event,
    packs,
    rated,
)


def test_generated_source_names_every_line_and_is_in_linecache() -> None:
    """The source of a trigger's function lists each of its rule lines, and linecache holds
    it under the function's file name (what tracebacks and pdb read)."""
    pack = packs()[WOKINGHAM]
    source = generated_source(pack, "case_event")
    for rule in pack.rules_for("case_event"):
        assert f"# {rule.id} {rule.code}:" in source
    filename = generated_filename(pack, "case_event")
    assert filename.startswith(f"<engine {pack.id} {pack.version} case_event ")
    assert "".join(linecache.getlines(filename)) == source


def test_an_edited_copy_of_one_id_and_version_keeps_its_own_lines(tmp_path: Path) -> None:
    """A pack and an edited copy under the same id and version (``yjrisk pack test`` on a
    draft, a test's folder) in one process: each generated function's lines stay its own in
    linecache, whichever was generated last (they shared one file name, and the copy's lines
    stood for the bundled pack's)."""
    bundled = packs()[WOKINGHAM]
    text = (PACK_DIR / "wokingham-pyjs-2024.toml").read_text()
    assert 'deadline = "+1wd-in-week"' in text
    copy_path = tmp_path / "wokingham-pyjs-2024.toml"
    copy_path.write_text(text.replace('deadline = "+1wd-in-week"', 'deadline = "+2wd"'))
    edited = load_pack(copy_path)
    assert (edited.id, edited.version) == (bundled.id, bundled.version)
    for pack in (bundled, edited, bundled):
        source = generated_source(pack, "case_event")
        assert "".join(linecache.getlines(generated_filename(pack, "case_event"))) == source
    assert generated_source(bundled, "case_event") != generated_source(edited, "case_event")
    assert generated_filename(bundled, "case_event") != generated_filename(edited, "case_event")


def test_a_traceback_through_generated_code_shows_its_line() -> None:
    """An error raised under a generated function (a bad known_at on a line counted from when
    it became known) has a frame in it, with the generated line's text."""
    bad = event("case_event", THU_BEFORE_GOOD_FRIDAY, type="new_incident", known_at="not a date")
    with pytest.raises(ValueError, match="not a date") as raised:
        evaluate(bad, case(ratings=rated(rosh="medium", swb="low", lor="medium")),
                 packs()[WOKINGHAM], calendar())
    frames = [f for f in traceback.extract_tb(raised.value.__traceback__)
              if f.filename.startswith("<engine wokingham-pyjs-2024 ")]
    assert frames
    assert "'+1wd-in-week'" in (frames[0].line or "")  # the line computing that deadline
