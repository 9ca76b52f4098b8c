"""Attack 35b, ATTACK35B-4: a pack or scenario file nested past about 400 levels was refused with
``-: -:`` (the TOML reader's own recursion error: no line, no field), a table header of 100,000
dotted keys kept ``pack check`` busy for minutes, and a deep ``values`` list was called "a
condition". A file nested past the one limit (32 tables or lists, ``packs.MAX_TOML_DEPTH``) is
refused at every depth in one line naming the file, the line, the rule, the field path and the
thing by its name (a list, an inline table, a table; a condition's advice only in a
condition): by ``yjrisk pack check``, by ``yjrisk pack test`` for its scenario file, and by
``yjrisk serve`` for a pack in ``YJ_PACKS_DIR``. Never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from tests.cli.test_cli import assert_one_line_user_error, yjrisk  # noqa: F401 - fixture

PACK_DIR = Path(__file__).resolve().parents[2] / "app" / "workflows" / "packs"
DEPTHS = (33, 400, 1000, 100_000)
PAST = "nested more than 32 tables or lists deep cannot be read; write it flatter"
CONDITION = " (all and any take a list of conditions)"


def _list(depth: int) -> tuple[str, int, str, str, str]:
    """A fact's ``values`` nested ``depth`` lists deep (not a condition)."""
    text = ('[[facts]]\nid = "deep"\ntitle = "Deep"\ntype = "list"\n'
            f"values = {'[' * depth}\"a\"{']' * depth}\n")
    return text, 5, "-", "facts.0.values" + ".0" * 29, f"a list {PAST}"


def _inline(depth: int) -> tuple[str, int, str, str, str]:
    """A rule's condition nested ``depth`` inline tables deep."""
    text = ('[[rules]]\nid = "X1"\ntrigger = "case_event"\n'
            f"when = {'{ not = ' * depth}{{ event_type_in = [\"death\"] }}{' }' * depth}\n")
    return text, 4, "X1", "rules.0.when" + ".not" * 29, f"an inline table {PAST}{CONDITION}"


def _table(depth: int) -> tuple[str, int, str, str, str]:
    """A table header of ``depth`` dotted keys."""
    text = f"[{'.'.join(['deep'] * depth)}]\nflag = true\n"
    return text, 1, "-", ".".join(["deep"] * 32), f"a table {PAST}"


SHAPES = {"list": _list, "inline table": _inline, "table": _table}
CASES = [(shape, depth) for shape in SHAPES for depth in DEPTHS]
IDS = [f"{shape}-{depth}" for shape, depth in CASES]


def _pack(folder: Path, shape: str, depth: int) -> tuple[Path, str, str]:
    """A pack file ``deep-yjs.toml`` with the deep value after its head (six lines); the file,
    and its expected ``line: rule: field`` and message."""
    text, line, rule, field, message = SHAPES[shape](depth)
    head = ('id = "deep-yjs"\ntitle = "Deep"\nauthority = "-"\nsource = "-"\nversion = "1"\n'
            'effective_from = "2026-01-01"\n')
    path = folder / "deep-yjs.toml"
    path.write_text(head + text, encoding="utf-8")
    return path, f"{line + 6}: {rule}: {field}", message


@pytest.mark.parametrize(("shape", "depth"), CASES, ids=IDS)
def test_pack_check_names_the_file_line_rule_field_and_thing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str, depth: int) -> None:
    """``yjrisk pack check``: one error line ``file:LINE: rule: field: error: <thing> nested
    more than 32 ...``, exit 1 (an invalid pack), no traceback."""
    path, where, message = _pack(tmp_path, shape, depth)
    assert main(["pack", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.splitlines() == [f"{path}:{where}: error: {message}"]


@pytest.mark.parametrize(("shape", "depth"), CASES, ids=IDS)
def test_pack_test_names_the_scenario_file_line_and_field(
        tmp_path: Path, yjrisk: Any, shape: str, depth: int) -> None:  # noqa: F811
    """``yjrisk pack test PACK SCENARIOS``: a scenario file nested past the limit is one
    ``yjrisk:`` line naming the file, the field path and its line, exit 2."""
    text, line, _rule, field, message = SHAPES[shape](depth)
    scenarios = tmp_path / "deep-scenarios.toml"
    scenarios.write_text(text, encoding="utf-8")
    done = yjrisk(tmp_path, "pack", "test", str(PACK_DIR / "example-yjs.toml"), str(scenarios))
    assert_one_line_user_error(done)
    assert done.stderr == f"yjrisk: {scenarios}: {field} (line {line}): {message}\n"


@pytest.mark.parametrize(("shape", "depth"), CASES, ids=IDS)
def test_serve_refuses_a_deep_pack_in_the_packs_dir_in_one_located_line(
        tmp_path: Path, yjrisk: Any, shape: str, depth: int) -> None:  # noqa: F811
    """``yjrisk serve`` with the pack in ``YJ_PACKS_DIR``: ``yjrisk: refusing to start:
    file:LINE: rule: field: error: ...``, exit 2, no database made."""
    packs = tmp_path / "packs"
    packs.mkdir()
    path, where, message = _pack(packs, shape, depth)
    work = tmp_path / "work"
    work.mkdir()
    done = yjrisk(work, "serve", "--no-migrate", YJ_PACKS_DIR=str(packs),
                  YJ_DATABASE_URL=f"sqlite+aiosqlite:///{work}/never.db")
    assert_one_line_user_error(done)
    assert done.stderr == f"yjrisk: refusing to start: {path}:{where}: error: {message}\n"
    assert not (work / "never.db").exists()
