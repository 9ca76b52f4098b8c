"""The README's examples, run as a newcomer would, against a live dev server.

A fresh folder gets the project's ``.venv``, ``scripts/dev.sh`` and ``pyproject.toml`` and nothing
else; ``bash scripts/dev.sh`` (its install step finding the venv up to date) writes ``.env``,
migrates a fresh SQLite database, seeds the demo data and serves on a free port (``PORT``). Then
every fenced ``bash`` block of README.md that calls the dev server (``http://127.0.0.1:8000``,
pointed at that port) or the dev CLI (``.venv/bin/yjrisk``) runs, in order, each in its own
``bash -euo pipefail`` (so a block that leans on another's variables fails); other bash blocks
(benchmarks, operators' cron lines) are only checked to be valid bash. Checked per block:

- each ``curl`` answers the status listed by a ``<!-- expect: 201 200 -->`` line right after the
  block (one per request, in order), or any ``2xx`` where there is none;
- a block marked ``<!-- expect: not run -->`` (an operator's production example) is skipped;
- a table of steps that follows (``| code | actor | ...`` with a ``rule`` column, before the next
  block) lists exactly the last answer's ``next_steps``: each code with its actor and rule, no
  more, no fewer (ATK29-7: a step the answer has was missing from the table);
- a ``json`` block that follows (before the next ``bash`` block) describes the last request's
  answer: every field shown must be there with that value. Ids shown (UUIDs) stand for any id,
  ``created_at``/``updated_at`` for any UTC time, a string holding ``…`` for any value,
  ``"...": "..."`` for more fields, and ``"…"`` in a list for more items.

The two newcomer commands are checked too: exactly two in "Two commands", and ``.ci/run`` runs
exactly the README's test command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTED_BASE = "http://127.0.0.1:8000"
NEWCOMER_COMMANDS = ("bash scripts/dev.sh", "bash scripts/test.sh")
LOCAL_CLI = ".venv/bin/yjrisk"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n(?:<!-- expect: ([\w ]+) -->\n)?", re.M | re.S)
NOT_RUN = "not run"  # an operator's example for production, not for the dev server
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ANY_TIME_KEYS = {"created_at", "updated_at"}
# Records each curl's headers and body in $YJ_CALLS, numbered, without changing what it prints.
CURL_RECORDER = """
curl() {
  local n; n=$(( $(cat "$YJ_CALLS/n" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$YJ_CALLS/n"
  command curl -D "$YJ_CALLS/$n.head" "$@" | tee "$YJ_CALLS/$n.body"
}
"""


@dataclass
class Block:
    """One fenced block of the README: its language, text, line and expected statuses."""

    lang: str
    text: str
    line: int
    expect: list[int] | None
    answer: str | None = None  # the json block shown after a bash block
    run: bool = True
    after: str = ""  # the prose between this block and the next


def readme_blocks(document: Path = README) -> list[Block]:
    """Every fenced block of a Markdown file, each bash block with the json block after it."""
    source = document.read_text()
    blocks: list[Block] = []
    fences = list(FENCE.finditer(source))
    for index, match in enumerate(fences):
        marker = (match.group(3) or "").strip()
        expect = [int(code) for code in marker.split()] if marker and marker != NOT_RUN else None
        line = source.count("\n", 0, match.start()) + 1
        block = Block(match.group(1), match.group(2), line, expect, run=marker != NOT_RUN,
                      after=source[match.end():fences[index + 1].start()
                                   if index + 1 < len(fences) else len(source)])
        if block.lang == "json" and blocks and blocks[-1].lang == "bash":
            blocks[-1].answer = block.text
        blocks.append(block)
    return blocks


def example_blocks() -> list[Block]:
    """The bash blocks a reader runs against the dev server: those that call it or the dev
    ``yjrisk`` command (not the two newcomer commands, nor blocks marked ``not run``)."""
    return [b for b in readme_blocks()
            if b.lang == "bash" and b.run and b.text.strip() not in NEWCOMER_COMMANDS
            and (DOCUMENTED_BASE in b.text or LOCAL_CLI in b.text)]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without any YJ_ setting of the test run (the server reads its .env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YJ_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A fresh folder with the project's .venv and a live dev server in it, started by
    ``bash scripts/dev.sh`` itself (its install step finds the venv up to date) when the venv
    was made by the scripts, else by ``yjrisk dev`` (what dev.sh runs after installing)."""
    folder = tmp_path_factory.mktemp("newcomer")
    venv = Path(sys.prefix)  # the venv running the tests
    (folder / ".venv").symlink_to(venv)
    (folder / "scripts").mkdir()
    for name in ("scripts/dev.sh", "scripts/_venv.sh", "pyproject.toml"):
        (folder / name).write_bytes((ROOT / name).read_bytes())
    stamp = venv / ".yjrisk-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    by_script = stamp.is_file() and stamp.read_text().strip() == want
    port = free_port()
    command = (["bash", "scripts/dev.sh"] if by_script
               else [str(folder / ".venv/bin/yjrisk"), "dev", "--port", str(port)])
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        command, cwd=folder, env=_clean_env(PORT=str(port)), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # A newcomer's script waits for the "serving on" line, then calls the server: the
        # line comes once the port accepts requests (attack pass 11, A11-12).
        deadline = time.monotonic() + 90
        while f"serving on {base}" not in (folder / "server.log").read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the dev server did not start:\n{(folder / 'server.log').read_text()}")
            time.sleep(0.05)
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        yield folder, base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def matches(expected: Any, actual: Any, key: str = "") -> bool:
    """Whether ``actual`` has every field ``expected`` shows (see the module docstring)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        shown = {k: v for k, v in expected.items() if k != "..."}
        return all(k in actual and matches(v, actual[k], k) for k, v in shown.items())
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        items = [e for e in expected if e != "…"]
        if len(items) < len(expected):  # "…": at least these, in any order
            return all(any(matches(e, a) for a in actual) for e in items)
        return len(items) == len(actual) and all(
            matches(e, a) for e, a in zip(items, actual, strict=True))
    if isinstance(expected, str):
        if "…" in expected:
            return actual is not None
        if _is_uuid(expected):
            return isinstance(actual, str) and _is_uuid(actual)
        if key in ANY_TIME_KEYS:
            return isinstance(actual, str) and UTC_TIME.match(actual) is not None
    return bool(expected == actual)


def steps_table(prose: str) -> list[tuple[str, str, str]]:
    """The (code, actor, rule) rows of a Markdown table of steps in ``prose`` (a header
    ``| code | actor | ... | rule | ...``), or none."""
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")]
            for ln in prose.splitlines() if ln.lstrip().startswith("|")]
    if not rows or rows[0][:2] != ["code", "actor"] or "rule" not in rows[0]:
        return []
    rule = rows[0].index("rule")
    return [(r[0].strip("`"), r[1], r[rule]) for r in rows[2:]]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _status(head: Path) -> int:
    lines = [ln for ln in head.read_text().splitlines() if ln.startswith("HTTP/")]
    return int(lines[-1].split()[1])


def test_readme_has_exactly_two_newcomer_commands_and_ci_runs_the_test_one() -> None:
    """The README's "Two commands" section holds exactly the start and the test command, and
    .ci/run runs exactly that test command."""
    section = README.read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = [m.group(2).strip() for m in FENCE.finditer(section)]
    assert commands == list(NEWCOMER_COMMANDS)
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    assert ci == [f"exec {NEWCOMER_COMMANDS[1]}"]


def test_python_json_and_shell_examples_of_the_readme_and_guides_parse() -> None:
    """Every fenced python block of README.md and docs/*.md compiles, every json block parses,
    and every bash block (run or not, e.g. a benchmark or an operator's cron line) is valid
    bash."""
    for document in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for block in readme_blocks(document):
            where = f"{document.name}:{block.line}"
            if block.lang == "python":
                compile(block.text, where, "exec")
            elif block.lang == "json":
                json.loads(block.text)
            elif block.lang == "bash":
                checked = subprocess.run(["bash", "-n"], input=block.text, text=True,
                                         capture_output=True, check=False)
                assert checked.returncode == 0, f"{where}: {checked.stderr}"


def test_dev_start_is_quiet(dev_server: tuple[Path, str]) -> None:
    """Before serving requests the dev start prints a few lines: a summary, a token per role,
    where it serves; no installer noise, warning or traceback."""
    folder, base = dev_server
    text = (folder / "server.log").read_text()
    start = text.split("\n{", 1)[0].splitlines()  # up to the first JSON request log line
    assert len(start) <= 15, text
    assert any(f"serving on {base}" in line for line in start), text
    assert "Traceback" not in text
    assert not [line for line in start if "warning" in line.lower()], text


def test_readme_examples_run_against_a_live_dev_server(dev_server: tuple[Path, str]) -> None:
    """Every bash example of the README answers what the README says, in order."""
    folder, base = dev_server
    examples = example_blocks()
    assert len(examples) >= 5, "the README's examples were not found"
    for number, block in enumerate(examples):
        calls = folder / f"calls-{number}"
        calls.mkdir()
        script = CURL_RECORDER + block.text.replace(DOCUMENTED_BASE, base)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=folder, capture_output=True,
            text=True, timeout=60, env=_clean_env(YJ_CALLS=str(calls)),
        )
        where = f"README.md line {block.line}"
        assert done.returncode == 0, f"{where} failed:\n{done.stderr}\n{done.stdout}"
        count = int((calls / "n").read_text()) if (calls / "n").exists() else 0
        statuses = [_status(calls / f"{n}.head") for n in range(1, count + 1)]
        if block.expect is not None:
            assert statuses == block.expect, f"{where}: statuses {statuses}"
        else:
            assert all(200 <= s < 300 for s in statuses), f"{where}: statuses {statuses}"
        table = steps_table(block.after)
        if table:
            assert count, f"{where}: a table of steps is shown but no request was made"
            answer = json.loads((calls / f"{count}.body").read_text())
            got = sorted((s["code"], s["actor"], s["policy"]["rule"])
                         for s in answer["next_steps"])
            assert sorted(table) == got, f"{where}: the table of steps differs: {got}"
        if block.answer is not None:
            assert count, f"{where}: a JSON answer is shown but no request was made"
            actual = json.loads((calls / f"{count}.body").read_text())
            assert matches(json.loads(block.answer), actual), (
                f"{where}: the answer differs from the README's:\n"
                f"{json.dumps(actual, indent=1)[:4000]}")
