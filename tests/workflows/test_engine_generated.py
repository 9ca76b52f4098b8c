"""The engine's generated code per (pack, trigger) can be read and debugged: its source is
kept, and a traceback through it names it and shows its lines."""

from __future__ import annotations

import linecache
import traceback

import pytest

from app.workflows.engine import evaluate, generated_source
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
    filename = f"<engine {pack.id} {pack.version} case_event>"
    assert "".join(linecache.getlines(filename)) == source


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
