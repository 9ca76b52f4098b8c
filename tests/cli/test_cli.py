"""The ``yjrisk`` command line as a user meets it: run in a folder, reading that folder's ``.env``.

Each test runs the command line's entry point in a fresh folder with no ``YJ_`` variables (as a
user's shell after ``scripts/dev.sh``) and the settings reading ``.env`` as the installed command
does (the suite otherwise ignores a developer's ``.env``); ``tests/docs/test_readme.py`` runs the
installed console script itself. User errors must be one line on stderr, exit status 2.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import NoDecode

from app.cli import main
from app.core import clock
from app.core.config import Settings, get_settings
from app.demo import write_dev_env


@dataclass
class Done:
    """What a command did: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def yjrisk(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """``yjrisk(folder, *args, **env)``: run the CLI in ``folder`` with only ``env`` set."""

    def run(folder: Path, *args: str, **env: str) -> Done:
        with monkeypatch.context() as patch:
            patch.chdir(folder)
            for name in [k for k in os.environ if k.startswith("YJ_")]:
                patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            patch.setitem(Settings.model_config, "env_file", ".env")
            get_settings.cache_clear()
            root = logging.getLogger()
            handlers, level = list(root.handlers), root.level
            try:
                code = main(list(args))
            finally:
                get_settings.cache_clear()
                root.handlers[:] = handlers  # tick configures logging onto captured stderr
                root.setLevel(level)
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    yield run
    clock.configure(Settings(env="test", _env_file=None))  # type: ignore[call-arg]


def assert_one_line_user_error(done: Done, *words: str) -> None:
    """Exit status 2, nothing on stdout, one line on stderr starting ``yjrisk:``."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("yjrisk: ")
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="module")
def migrated_dev_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dev database as ``yjrisk migrate`` leaves it, made once a module: its migrations take
    seconds and most tests need them only done (``migrate`` itself is tested on its own)."""
    folder = tmp_path_factory.mktemp("migrated")
    write_dev_env(folder / ".env", real_now=datetime.now(UTC))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for name in [k for k in os.environ if k.startswith("YJ_")]:
            patch.delenv(name)
        patch.setitem(Settings.model_config, "env_file", ".env")
        get_settings.cache_clear()
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            assert main(["migrate"]) == 0
        finally:
            get_settings.cache_clear()
            root.handlers[:] = handlers
            root.setLevel(level)
    database = folder / ".dev" / "yjrisk.db"
    assert database.is_file()
    assert not list(folder.glob(".dev/*-wal"))
    return database


@pytest.fixture
def dev_folder(tmp_path: Path, migrated_dev_database: Path) -> Path:
    """A folder with the .env that scripts/dev.sh writes and its database migrated (a copy of
    :func:`migrated_dev_database`)."""
    write_dev_env(tmp_path / ".env", real_now=datetime.now(UTC))
    (tmp_path / ".dev").mkdir()
    shutil.copyfile(migrated_dev_database, tmp_path / ".dev" / "yjrisk.db")
    return tmp_path


def test_migrate_makes_the_dev_database_in_the_folder(tmp_path: Path, yjrisk: Any) -> None:
    """``yjrisk migrate`` in a folder set up by scripts/dev.sh makes ``.dev/yjrisk.db``."""
    write_dev_env(tmp_path / ".env", real_now=datetime.now(UTC))
    assert yjrisk(tmp_path, "migrate").returncode == 0
    assert (tmp_path / ".dev" / "yjrisk.db").is_file()


def test_every_command_uses_the_dev_env_database_and_secret(
    dev_folder: Path, yjrisk: Any
) -> None:
    """After dev set-up, tick and token work in the folder with no variables set, on
    .dev/yjrisk.db, and leave no stray ./yjrisk.db behind."""
    tick = yjrisk(dev_folder, "tick")
    assert tick.returncode == 0, tick.stderr
    assert tick.stdout.strip() == "escalated 0 overdue steps"
    assert yjrisk(dev_folder, "seed-demo", "--no-print-tokens").returncode == 0
    token = yjrisk(dev_folder, "token", "--role", "chair", "--sub", "chair-kim",
                "--service", "wokingham")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2  # one JWT
    assert (dev_folder / ".dev" / "yjrisk.db").is_file()
    assert not (dev_folder / "yjrisk.db").exists()


def test_tick_without_a_database_is_one_line_and_creates_nothing(
    tmp_path: Path, yjrisk: Any
) -> None:
    """No .env and no database: one line naming the fix, exit 2, no empty database made."""
    done = yjrisk(tmp_path, "tick")
    assert_one_line_user_error(done, "no database", "yjrisk migrate")
    assert list(tmp_path.iterdir()) == []


def test_tick_on_an_unmigrated_database_says_run_migrate(tmp_path: Path, yjrisk: Any) -> None:
    """A database file with no tables: one line telling to run ``yjrisk migrate``."""
    (tmp_path / "empty.db").write_bytes(b"")
    done = yjrisk(tmp_path, "tick", YJ_DATABASE_URL="sqlite+aiosqlite:///./empty.db")
    assert_one_line_user_error(done, "not migrated", "run: yjrisk migrate")


def test_token_without_a_secret_is_one_line(tmp_path: Path, yjrisk: Any) -> None:
    """No secret configured: one line pointing at scripts/dev.sh, exit 2."""
    done = yjrisk(tmp_path, "token", "--role", "chair", "--sub", "chair-kim")
    assert_one_line_user_error(done, "YJ_JWT_SECRET", "scripts/dev.sh")


def test_unknown_role_and_missing_option_are_one_line(tmp_path: Path, yjrisk: Any) -> None:
    """Bad options: one line each, exit 2, no usage box."""
    write_dev_env(tmp_path / ".env", real_now=datetime.now(UTC))
    dev_folder = tmp_path
    assert_one_line_user_error(
        yjrisk(dev_folder, "token", "--role", "superuser", "--sub", "x"), "unknown role")
    assert_one_line_user_error(yjrisk(dev_folder, "token", "--sub", "x"), "--role")


def test_token_needs_an_existing_service_for_a_staff_role(
    dev_folder: Path, yjrisk: Any
) -> None:
    """Attack A L8: a staff-role token without --service, or for a service the configured
    database does not hold, would only be refused by the API (401/403): one line, exit 2."""
    assert_one_line_user_error(
        yjrisk(dev_folder, "token", "--role", "chair", "--sub", "x"),
        "role chair needs --service")
    assert_one_line_user_error(
        yjrisk(dev_folder, "token", "--role", "case_holder", "--sub", "x", "--service", "nosuch"),
        "no service 'nosuch'", "none (run: yjrisk seed-demo)")
    admin = yjrisk(dev_folder, "token", "--role", "admin", "--sub", "admin-1")
    assert admin.returncode == 0, admin.stderr


def test_invalid_settings_are_one_line(tmp_path: Path, yjrisk: Any) -> None:
    """A bad YJ_ENV and an unsafe production configuration: one line each, exit 2."""
    assert_one_line_user_error(yjrisk(tmp_path, "tick", YJ_ENV="prod"), "YJ_ENV")
    assert_one_line_user_error(yjrisk(tmp_path, "tick", YJ_ENV="production"), "YJ_JWKS_URL")


def test_unreachable_database_is_one_line(tmp_path: Path, yjrisk: Any) -> None:
    """A PostgreSQL URL nobody listens on: one line, exit 2, no password shown."""
    done = yjrisk(tmp_path, "tick",
               YJ_DATABASE_URL="postgresql+asyncpg://yj:hunter2@127.0.0.1:1/yjrisk")
    assert_one_line_user_error(done, "cannot reach the database")
    assert "hunter2" not in done.stderr


def test_dev_on_a_busy_port_is_one_line(tmp_path: Path, yjrisk: Any) -> None:
    """A second dev server on the same port: one line naming the port and the way out."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = yjrisk(tmp_path, "dev", "--port", str(port))
    assert_one_line_user_error(done, f"127.0.0.1:{port}", "PORT=")
    assert not (tmp_path / ".env").exists()


def test_dev_demo_clock_option_sets_the_clock_for_the_server_and_tick(
    tmp_path: Path, yjrisk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``scripts/dev.sh --demo-clock 2026-11-16T09:00:00Z`` (options go to ``yjrisk dev``) starts
    the demo clock there: .env says so, the start-up line says so in London time, and a later
    ``yjrisk tick`` in the folder runs on the same clock (the demo cases' 4-week assessments,
    due in September, are overdue on 16 November and escalated; on the default clock, 28 August,
    nothing is)."""
    served: list[tuple[str, int]] = []
    monkeypatch.setattr("app.cli._serve", lambda host, port, **_: served.append((host, port)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = yjrisk(tmp_path, "dev", "--port", str(port), "--demo-clock", "2026-11-16T09:00:00Z")
    assert done.returncode == 0, done.stderr
    assert served == [("127.0.0.1", port)]
    assert "demo clock: Monday 16 November 2026, 09:00 London time" in done.stdout
    env = (tmp_path / ".env").read_text()
    assert "YJ_DEMO_CLOCK_START=2026-11-16T09:00:00Z" in env
    tick = yjrisk(tmp_path, "tick")
    assert tick.returncode == 0, tick.stderr
    last = tick.stdout.strip().splitlines()[-1]
    assert last.startswith("escalated "), tick.stdout
    assert last.endswith(" overdue steps"), tick.stdout
    assert int(last.split()[1]) > 0, tick.stdout


def test_dev_default_demo_clock_escalates_nothing(
    tmp_path: Path, yjrisk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the option the clock starts at 15:35 London on Friday 28 August 2026 (the README's
    demo calendar), where nothing the demo seeds is overdue yet."""
    monkeypatch.setattr("app.cli._serve", lambda host, port, **_: None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = yjrisk(tmp_path, "dev", "--port", str(port))
    assert done.returncode == 0, done.stderr
    assert "demo clock: Friday 28 August 2026, 15:35 London time" in done.stdout
    assert yjrisk(tmp_path, "tick").stdout.strip() == "escalated 0 overdue steps"


@pytest.mark.parametrize("value", ["2026-11-17T10:30:00", "next tuesday", "2026-13-01T09:00Z"])
def test_dev_bad_demo_clock_is_one_line(tmp_path: Path, yjrisk: Any, value: str) -> None:
    """A demo clock without an offset (ambiguous around a clock change) or not a time at all:
    one line, nothing written, the value not echoed."""
    done = yjrisk(tmp_path, "dev", "--demo-clock", value)
    assert_one_line_user_error(done, "--demo-clock", "offset")
    assert value not in done.stderr
    assert not (tmp_path / ".env").exists()


def _json_typed_settings() -> list[str]:
    """Every setting pydantic-settings reads as JSON (a list or a dict), by its variable name."""
    names = []
    for field, info in Settings.model_fields.items():
        if any(m is NoDecode or isinstance(m, NoDecode) for m in info.metadata):
            continue
        origin = typing.get_origin(info.annotation)
        if origin in (list, dict, set, tuple) or info.annotation in (list, dict):
            names.append("YJ_" + field.upper())
    return names


def test_the_json_typed_settings_are_found() -> None:
    """The parametrisation below covers the settings the attack named (A16-2)."""
    assert {"YJ_EXTRA_CLOSURE_DAYS", "YJ_CALENDAR_CHILD_NAMES_SERVICES",
            "YJ_WEBHOOK_ALLOWED_PORTS"} <= set(_json_typed_settings())


@pytest.mark.parametrize("value", ["notjson", "2027-05-10", "somerset", "[\"a\""])
@pytest.mark.parametrize("name", _json_typed_settings())
@pytest.mark.parametrize("source", ["environment", ".env"])
def test_a_malformed_json_typed_setting_is_one_line(
    tmp_path: Path, yjrisk: Any, name: str, value: str, source: str
) -> None:
    """Attack pass 16, A16-2: ``YJ_EXTRA_CLOSURE_DAYS=notjson`` (or a single date, or
    ``YJ_CALENDAR_CHILD_NAMES_SERVICES=somerset``) made pydantic-settings raise SettingsError,
    a 65-line traceback and exit 1. README: "a bad setting ... prints one line starting
    ``yjrisk:`` and exits with status 2", from the environment or the .env file alike."""
    if source == ".env":
        (tmp_path / ".env").write_text(f"{name}={value}\n")
        done = yjrisk(tmp_path, "tick")
    else:
        done = yjrisk(tmp_path, "tick", **{name: value})
    assert_one_line_user_error(done, name, "invalid")
    assert value not in done.stderr.replace(name, "")


def test_serve_with_a_malformed_setting_is_one_line(tmp_path: Path, yjrisk: Any) -> None:
    """The same for ``yjrisk serve`` (A16-2: it crashed before reaching the port)."""
    done = yjrisk(tmp_path, "serve", "--port", "1", YJ_EXTRA_CLOSURE_DAYS="notjson")
    assert_one_line_user_error(done, "YJ_EXTRA_CLOSURE_DAYS")


def test_the_server_process_with_a_malformed_setting_is_one_line(tmp_path: Path) -> None:
    """``python -m app.core.serve`` (what ``yjrisk serve`` execs into) reads the settings
    again: a mistake there is the same one line and exit status 2, not a traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YJ_")}
    env |= {"YJ_CALENDAR_CHILD_NAMES_SERVICES": "somerset", "YJ_ENV_FILE": ""}
    done = subprocess.run([sys.executable, "-m", "app.core.serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("yjrisk: setting YJ_CALENDAR_CHILD_NAMES_SERVICES is invalid")


def test_dev_writes_the_environments_database_and_secret_into_dot_env(
    tmp_path: Path, yjrisk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack pass 16, A16-5: ``YJ_DATABASE_URL=... bash scripts/dev.sh`` served that database
    but wrote the SQLite default into .env, so ``yjrisk tick``/``token`` in the folder used
    another database. README: dev.sh "writes .env (the dev secret, the database ..., the demo
    clock), which every yjrisk command run in the project folder reads, so they all use the dev
    server's database and secret": the environment's database (and secret) go into .env."""
    monkeypatch.setattr("app.cli._serve", lambda host, port, **_: None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = "sqlite+aiosqlite:///./elsewhere.db"
    secret = "s" * 40
    done = yjrisk(tmp_path, "dev", "--port", str(port), YJ_DATABASE_URL=url,
                  YJ_JWT_SECRET=secret)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "elsewhere.db").is_file()
    env = (tmp_path / ".env").read_text()
    assert f"YJ_DATABASE_URL={url}\n" in env
    assert f"YJ_JWT_SECRET={secret}\n" in env
    # Later commands in the folder, with nothing in their environment, use that database.
    tick = yjrisk(tmp_path, "tick")
    assert tick.returncode == 0, tick.stderr
    assert tick.stdout.strip() == "escalated 0 overdue steps"
    token = yjrisk(tmp_path, "token", "--role", "chair", "--sub", "chair-kim",
                   "--service", "wokingham")
    assert token.returncode == 0, token.stderr
    assert not (tmp_path / ".dev" / "yjrisk.db").exists()
    # A second start without them keeps what .env holds.
    again = yjrisk(tmp_path, "dev", "--port", str(port))
    assert again.returncode == 0, again.stderr
    assert f"YJ_DATABASE_URL={url}\n" in (tmp_path / ".env").read_text()


def test_dev_creates_a_missing_postgresql_database() -> None:
    """README: ``YJ_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/yjdev bash
    scripts/dev.sh`` on a machine where ``yjdev`` was never made starts the server (attack
    pass 21, A21a-2: it stopped at 'database "yjdev" does not exist'). The dev set-up creates
    the database once, finds it there the second time, and quotes the name as an identifier."""
    import asyncio

    import asyncpg

    from app.cli import create_dev_database
    from tests.conftest import PG_ADMIN_DSN, _pg_admin, _pg_reachable

    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable and CI=true: failing, not skipping")
        pytest.skip("PostgreSQL is not reachable")
    name = f'yjrisk dev "{uuid.uuid4().hex[:8]}"'
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"

    async def exists() -> bool:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
        try:
            return bool(await conn.fetchval(
                "SELECT count(*) FROM pg_database WHERE datname = $1", name))
        finally:
            await conn.close()

    try:
        assert asyncio.run(exists()) is False
        assert asyncio.run(create_dev_database(url)) is True
        assert asyncio.run(exists()) is True
        assert asyncio.run(create_dev_database(url)) is False
        assert asyncio.run(create_dev_database("sqlite+aiosqlite:///x.db")) is False
    finally:
        quoted = '"' + name.replace('"', '""') + '"'
        _pg_admin(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


@pytest.mark.parametrize("command", ["tick", "migrate"])
@pytest.mark.parametrize(("url", "words"), [
    ("", ("YJ_DATABASE_URL", "empty")),
    ("   ", ("YJ_DATABASE_URL", "empty")),
    ("bogus", ("YJ_DATABASE_URL", "not a database URL")),
    ("mysql://yj:hunter2@127.0.0.1/yjrisk", ("YJ_DATABASE_URL", "not a database URL")),
    ("postgresql://yj:hunter2@127.0.0.1/yjrisk", ("YJ_DATABASE_URL", "postgresql+asyncpg://")),
])
def test_A24a3_an_empty_or_malformed_database_url_is_one_line(
    tmp_path: Path, yjrisk: Any, command: str, url: str, words: tuple[str, ...],
) -> None:
    """Attack 24a, A24a-3: ``YJ_DATABASE_URL=`` (or ``bogus``) was a 48-line SQLAlchemy
    traceback (``Could not parse SQLAlchemy URL``), exit 1. README: "A mistake you can fix (a
    database not migrated, a bad setting) prints one line starting ``yjrisk:`` and exits with
    status 2"; the value itself is never printed (it may hold a password)."""
    done = yjrisk(tmp_path, command, YJ_DATABASE_URL=url)
    assert_one_line_user_error(done, *words)
    assert "hunter2" not in done.stderr
    assert not (tmp_path / "yjrisk.db").exists()


def _store_service_running(folder: Path, pack: str) -> None:
    """A service row in the folder's dev database running ``pack``, as one created while a
    pack of that id was loaded from ``YJ_PACKS_DIR`` (the file since removed)."""
    import sqlite3

    with sqlite3.connect(folder / ".dev" / "yjrisk.db") as db:
        db.execute("INSERT INTO service (id, slug, name, policy_pack, created_at) "
                   "VALUES (?, 'eastvale', 'Eastvale YJS', ?, '2026-11-01 09:00:00')",
                   (uuid.uuid4().hex, pack))


@pytest.mark.parametrize("command", [("tick",), ("serve", "--port", "1", "--no-migrate"),
                                     ("serve", "--port", "1")])
def test_A26a17_a_service_whose_pack_is_not_loaded_stops_every_start_in_one_line(
    dev_folder: Path, yjrisk: Any, command: tuple[str, ...]
) -> None:
    """Attack 26a, A26a-17: a service created under a pack from ``YJ_PACKS_DIR`` whose file is
    then removed started and reported ready, and every write of that service was a 500
    (``KeyError``). Each start (``serve``, ``tick``; ``worker`` shares tick's start) now refuses
    in one line naming the service and its pack, and the other services' records are kept."""
    assert yjrisk(dev_folder, "seed-demo", "--no-print-tokens").returncode == 0
    _store_service_running(dev_folder, "eastvale-yjs")
    done = yjrisk(dev_folder, *command)
    assert_one_line_user_error(done, "refusing to start", "'eastvale'", "'eastvale-yjs'",
                               "YJ_PACKS_DIR")


def test_atk28b_8_dev_writes_the_packs_dir_so_every_command_loads_its_packs(
    tmp_path: Path, yjrisk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack 28b, ATK28B-8: after the packs README's worked example (``YJ_PACKS_DIR=mypacks
    bash scripts/dev.sh``, then a service created on the folder's pack), ``.venv/bin/yjrisk
    tick`` in the same folder refused to start ("runs policy pack ..., which is not loaded"):
    .env had no YJ_PACKS_DIR. README: dev.sh "writes .env ..., which every yjrisk command run in
    the project folder reads". It is written there, as an absolute path, and kept by a later
    start without it."""
    monkeypatch.setattr("app.cli._serve", lambda host, port, **_: None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from app.workflows.packs import PACK_DIR

    (tmp_path / "mypacks").mkdir()
    text = (PACK_DIR / "example-yjs.toml").read_text()
    (tmp_path / "mypacks" / "eastvale-yjs.toml").write_text(
        text.replace('id = "example-yjs"', 'id = "eastvale-yjs"', 1))
    done = yjrisk(tmp_path, "dev", "--port", str(port), YJ_PACKS_DIR="mypacks")
    assert done.returncode == 0, done.stderr
    _store_service_running(tmp_path, "eastvale-yjs")
    tick = yjrisk(tmp_path, "tick")
    assert tick.returncode == 0, tick.stderr
    assert tick.stdout.strip() == "escalated 0 overdue steps"
    assert f"YJ_PACKS_DIR={tmp_path.resolve() / 'mypacks'}\n" in (tmp_path / ".env").read_text()
    again = yjrisk(tmp_path, "dev", "--port", str(port))
    assert again.returncode == 0, again.stderr
    assert f"YJ_PACKS_DIR={tmp_path.resolve() / 'mypacks'}\n" in (tmp_path / ".env").read_text()


def test_atk29_5_an_empty_packs_dir_is_unset_not_the_current_folder(tmp_path: Path) -> None:
    """ATK29-5: ``YJ_PACKS_DIR=`` (set to nothing, the usual way to switch off what ``.env``
    holds) read the current folder as the packs folder, so every command refused on the
    project's ``pyproject.toml`` ("'id' is missing"). README: "An empty variable ... counts as
    unset". Empty or blank, it is unset: no extra packs."""
    for empty in ("", "  "):
        assert Settings(env="test", jwt_secret="x" * 40, packs_dir=empty).packs_dir is None
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert Settings(env="test", jwt_secret="x" * 40,
                    packs_dir=str(tmp_path)).packs_dir == tmp_path


def _record_served(folder: Path, slug: str, pack: str, version: str) -> None:
    """A version of ``pack`` recorded as having served the service ``slug`` in the folder's dev
    database, as a write judged by it records it (its file since removed)."""
    import sqlite3

    with sqlite3.connect(folder / ".dev" / "yjrisk.db") as db:
        db.execute("INSERT INTO service_pack_version (service_id, pack_id, version, recorded_at) "
                   "SELECT id, ?, ?, '2026-11-01 09:00:00' FROM service WHERE slug = ?",
                   (pack, version, slug))


@pytest.mark.parametrize("command", [("tick",), ("serve", "--port", "1", "--no-migrate")])
def test_ATTACK27_1_a_version_a_service_was_served_with_missing_stops_every_start(
    dev_folder: Path, yjrisk: Any, command: tuple[str, ...]
) -> None:
    """Attack 27, ATTACK27-1: the demo service ``somerset`` served with a version ``0.9`` of
    its pack whose file is gone (the pack's id still loaded, version 1): each start refuses in
    one line naming the service, the pack, the version and the versions loaded, instead of
    judging that version's acts by version 1."""
    assert yjrisk(dev_folder, "seed-demo", "--no-print-tokens").returncode == 0
    _record_served(dev_folder, "somerset", "somerset-yjt-2023", "0.9")
    done = yjrisk(dev_folder, *command)
    assert_one_line_user_error(done, "refusing to start", "service 'somerset'",
                               "version '0.9' of policy pack 'somerset-yjt-2023'",
                               "loaded: '1'", "YJ_PACKS_DIR")


def _somerset_revised(folder: Path, effective: str) -> Path:
    """A folder holding Somerset's pack as a version ``2`` in force from ``effective``."""
    from app.workflows.packs import PACK_DIR

    text = (PACK_DIR / "somerset-yjt-2023.toml").read_text()
    header = 'version = "1"\neffective_from = 2023-08-01\n'
    assert header in text
    (folder / "packs").mkdir()
    (folder / "packs" / "somerset-yjt-2023@2.toml").write_text(
        text.replace(header, f'version = "2"\neffective_from = {effective}\n'))
    return folder / "packs"


def _record_act_days(folder: Path, slug: str, pack: str, version: str, first: str,
                     last: str) -> None:
    """The version recorded as having judged acts of ``slug`` from ``first`` to ``last``."""
    import sqlite3

    with sqlite3.connect(folder / ".dev" / "yjrisk.db") as db:
        db.execute("INSERT INTO service_pack_version (service_id, pack_id, version, recorded_at, "
                   "first_act_on, last_act_on) SELECT id, ?, ?, '2026-11-01 09:00:00', ?, ? "
                   "FROM service WHERE slug = ? ON CONFLICT (service_id, pack_id, version) DO "
                   "UPDATE SET first_act_on = excluded.first_act_on, "
                   "last_act_on = excluded.last_act_on", (pack, version, first, last, slug))


@pytest.mark.parametrize("command", [("tick",), ("serve", "--port", "1", "--no-migrate"),
                                     ("serve", "--port", "1"), ("worker",), ("dev",)])
def test_ATK29_4_a_version_dated_before_acts_another_judged_stops_every_start(
    dev_folder: Path, yjrisk: Any, command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ATK29-4: the demo service ``somerset`` has acts of 2 March to 1 July 2026 judged by its
    pack's version 1; a version 2 added in force from 1 June 2026 (back-dated past acts version
    1 judged; a re-dated version looks the same to a start) stops each start (``tick``,
    ``serve``, ``worker``, ``dev``) in one line naming the service, the pack, the version that
    judged, the day and the version the files now give it to."""
    assert yjrisk(dev_folder, "seed-demo", "--no-print-tokens").returncode == 0
    _record_act_days(dev_folder, "somerset", "somerset-yjt-2023", "1", "2026-03-02",
                     "2026-07-01")
    packs = _somerset_revised(dev_folder, "2026-06-01")
    if command == ("dev",):
        command = ("dev", "--port", str(_free_port()))
    _started_is_an_error(monkeypatch)
    done = yjrisk(dev_folder, *command, YJ_PACKS_DIR=str(packs))
    assert_one_line_user_error(done, "refusing to start", "service 'somerset' has acts of ",
                               "judged by version '1' of policy pack 'somerset-yjt-2023'",
                               "give to version '2'", "YJ_PACKS_DIR")


def test_ATK29_4_a_version_dated_after_the_acts_judged_starts(
    dev_folder: Path, yjrisk: Any
) -> None:
    """The same version 2 in force from the day after the last act version 1 judged: ``tick``
    runs."""
    assert yjrisk(dev_folder, "seed-demo", "--no-print-tokens").returncode == 0
    _record_act_days(dev_folder, "somerset", "somerset-yjt-2023", "1", "2026-03-02",
                     "2026-07-01")
    packs = _somerset_revised(dev_folder, "2027-01-01")
    done = yjrisk(dev_folder, "tick", YJ_PACKS_DIR=str(packs))
    assert done.returncode == 0, done.stderr


def _started_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start that gets past its checks raises instead of serving (or looping) for ever."""

    def serve(*_a: Any, **_k: Any) -> None:
        raise AssertionError("started serving")

    async def loop(*_a: Any, **_k: Any) -> None:
        raise AssertionError("started its loops")

    monkeypatch.setattr("app.cli._serve", serve)
    for module in ("escalation", "stand_ins", "webhooks"):
        monkeypatch.setattr(f"app.domain.{module}.run_forever", loop)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_A26a17_the_app_served_another_way_does_not_start_either(
    dev_folder: Path, yjrisk: Any
) -> None:
    """The same refusal in the app's own start-up (``uvicorn app.main:app`` or any ASGI server
    that runs the lifespan), so no process answers writes it cannot judge."""
    from asgi_lifespan import LifespanManager

    from app.main import create_app

    _store_service_running(dev_folder, "eastvale-yjs")
    url = f"sqlite+aiosqlite:///{dev_folder / '.dev' / 'yjrisk.db'}"
    settings = Settings(env="test", database_url=url, jwt_secret="x" * 32,  # type: ignore[call-arg]
                        _env_file=None)
    with pytest.raises(RuntimeError, match="service 'eastvale' runs policy pack 'eastvale-yjs'"):
        async with LifespanManager(create_app(settings), startup_timeout=60, shutdown_timeout=60):
            pass


def test_A26a17_a_service_whose_pack_is_not_loaded_is_never_judged_by_another() -> None:
    """Where the start-up could not look (the database not there yet, A21a-3), that service's
    acts are 503 with Retry-After (``ServiceUnavailable``), not a 500 and not another pack."""
    from app.core.errors import ServiceUnavailable
    from app.domain.services import Service
    from app.main import build_policy_context

    ctx = build_policy_context(Settings(env="test", jwt_secret="x" * 32,  # type: ignore[call-arg]
                                        _env_file=None))
    gone = Service(slug="eastvale", name="Eastvale YJS", policy_pack="eastvale-yjs")
    with pytest.raises(ServiceUnavailable):
        ctx.pack_for(gone, at=datetime(2026, 11, 2, 10, tzinfo=UTC))
    kept = Service(slug="somerset", name="Somerset", policy_pack="somerset-yjt-2023")
    assert ctx.pack_for(kept, at=datetime(2026, 11, 2, 10, tzinfo=UTC)).id == "somerset-yjt-2023"
