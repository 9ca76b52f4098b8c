"""Attack pass 26a, A26a-5: an invalid pack in ``YJ_PACKS_DIR`` made ``scripts/dev.sh`` (``yjrisk
dev``) and ``yjrisk tick`` die with a 40-line Python traceback, where ``yjrisk serve`` printed one
``yjrisk:`` line and exited 2. README: "A mistake you can fix (... a bad setting) prints one line
starting `yjrisk:` and exits with status 2." Every command that loads the packs now says it the
same way, naming the file and its line as ``yjrisk pack check`` does, and does nothing else (no
database made, nothing migrated or served).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import assert_one_line_user_error, yjrisk  # noqa: F401 - fixture
from tests.workflows.test_pack_check import TYPO_EVENT, _variant


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


COMMANDS = [("tick",), ("worker",), ("seed-demo", "--no-print-tokens"), ("serve", "--no-migrate"),
            ("serve",), ("dev",)]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_loading_the_packs_refuses_a_bad_pack_in_one_located_line(
    tmp_path: Path, yjrisk: Any, command: tuple[str, ...],  # noqa: F811
) -> None:
    """One line ``yjrisk: refusing to ...: <file>:<LINE>: W4: <field>: error: unknown event type
    'new_incidnet' ...``, exit status 2, and no database made or migrated."""
    packs = tmp_path / "packs"
    packs.mkdir()
    _variant(packs, TYPO_EVENT, name="reading-yjs-2026")
    work = tmp_path / "work"
    work.mkdir()
    args = [*command, "--port", str(_free_port())] if command[0] in {"dev", "serve"} else command
    done = yjrisk(work, *args, YJ_PACKS_DIR=str(packs),
                  YJ_DATABASE_URL=f"sqlite+aiosqlite:///{work}/never.db")
    assert_one_line_user_error(done, "unknown event type 'new_incidnet'")
    assert re.match(r"yjrisk: refusing to (start|run): \S*reading-yjs-2026\.toml:\d+: W4: ",
                    done.stderr), done.stderr
    assert "Traceback" not in done.stderr
    assert not (work / "never.db").exists()
