"""fix30c: ``yjrisk pack render`` shows the duties a pack deliberately gives no step, which it
records only in its comments ("No step: ..."): read with tomlkit (tomllib drops comments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.workflows.pack_notes import comment_blocks, no_step_notes, pack_source
from app.workflows.packs import PACK_DIR
from app.workflows.render import NO_STEP_HEADING

# Wokingham "Risk to staff": "Should the case worker not report back to the buddy within 15
# minutes of the expected end of the home visit, the 'buddy' should report the concern to the
# line manager": a lone-working procedure run in the moment, deliberately no step.
BUDDY = 'No step: the "buddy" process ("Should the case worker not report back to the buddy'
# Somerset 6.3: "Where appropriate, strategies for reducing the child's risk to others ... will
# be included in their intervention plan": the case holder's judgement, no step.
WHERE_APPROPRIATE = 'No step: "where appropriate" is the case holder\'s judgement'

TOML = '''# A pack's opening note
# on two lines.
id = "x"  # the id's own note
title = "a # inside a string is no comment"

# Escalation: no step of its own.
[[rules]]
id = "R1"
# inside the rule,
# two lines
codes = [
  # an array's note
  # on two lines
  "a",
  "b",  # after a value
]
[rules.when]
# the condition's note
all = [{ any = [{ a = 1 },
                # in an inline table's list
                { b = 2 }] }]
'''


def test_comment_blocks_are_read_with_their_breaks_from_a_toml_file() -> None:
    """Consecutive comment lines are one block; a blank line, a value or a table ends one; a
    comment after a value is its own; comments in multi-line arrays and sub-tables count; a
    ``#`` inside a string is no comment."""
    assert comment_blocks(TOML) == [
        "A pack's opening note on two lines.", "the id's own note",
        "Escalation: no step of its own.", "inside the rule, two lines",
        "an array's note on two lines", "after a value", "the condition's note",
        "in an inline table's list"]
    assert no_step_notes(TOML) == ["Escalation: no step of its own."]


@pytest.mark.parametrize(("pack_id", "said"), [("wokingham-pyjs-2024", BUDDY),
                                               ("somerset-yjt-2023", WHERE_APPROPRIATE)])
def test_the_bundled_packs_no_step_decisions_are_found(pack_id: str, said: str) -> None:
    """Each bundled pack's file (found by id and version) gives its no-step decisions."""
    source = pack_source(pack_id, "1.0" if pack_id.startswith("wokingham") else "1",
                         (None, PACK_DIR))
    assert source is not None
    assert any(said in note for note in no_step_notes(source))


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_pack_render_shows_what_the_pack_decided_to_give_no_step(
        fmt: str, tmp_path: Path) -> None:
    """``yjrisk pack render wokingham-pyjs-2024`` (the id, as the service loads it) and the
    Somerset file given by path list those decisions under their own heading, last; they were
    not in the rendered policy at all."""
    for pack, said in (("wokingham-pyjs-2024", BUDDY),
                       (str(PACK_DIR / "somerset-yjt-2023.toml"), WHERE_APPROPRIATE)):
        out = tmp_path / f"policy.{fmt}"
        assert main(["pack", "render", pack, "--format", fmt, "-o", str(out)]) == 0
        page = out.read_text()
        if fmt == "html":
            assert f"<h2>{NO_STEP_HEADING}</h2>" in page
            assert said.replace('"', "&quot;").replace("'", "&#x27;") in page
        else:
            tail = page.split(f"## {NO_STEP_HEADING}\n")[1]
            assert said in tail
