"""The ``yjrisk`` command line: serve, migrate, seed demo data, mint dev tokens, run the worker.

Settings come from ``YJ_*`` variables and the ``.env`` that ``scripts/dev.sh`` writes, so every
command run in the project folder after it uses the dev server's database and secret. A mistake
the user can fix (bad settings, a database not migrated or not reachable, a bad option) prints one
line, ``yjrisk: ...``, on stderr and exits 2; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from app.core import clock
from app.core.config import ConfigError, Settings, get_settings
from app.core.migrate import current_revisions, head_revisions, sqlite_path, upgrade
from app.core.security import MACHINE_SCOPES, ROLES, mint_dev_token

cli = typer.Typer(no_args_is_help=True, help="yjrisk: youth justice risk policy service",
                  pretty_exceptions_enable=False, add_completion=False)

T = TypeVar("T")
USER_ERROR_EXIT = 2


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit status 2."""


def _settings() -> Settings:
    """The settings, or a one-line UserError naming what is wrong with them."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    clock.configure(settings)
    return settings


def _where(database_url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def _run_db(settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on the event loop, turning database failures into one-line UserErrors."""
    from sqlalchemy.exc import DBAPIError

    try:
        return asyncio.run(work)
    except DBAPIError as exc:
        reason = (str(exc.orig) or type(exc.orig).__name__).splitlines()[0]
        if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
            raise UserError(f"the database at {_where(settings.database_url)} is not migrated "
                            f"({reason}); run: yjrisk migrate") from None
        raise UserError(f"database error at {_where(settings.database_url)}: {reason}") from None
    except OSError as exc:  # asyncpg: connection refused, unknown host
        raise UserError(f"cannot reach the database at {_where(settings.database_url)}: "
                        f"{exc.strerror or exc}") from None
    except Exception as exc:  # asyncpg's own, raised outside SQLAlchemy (create_dev_database)
        if not type(exc).__module__.startswith("asyncpg"):
            raise
        reason = (str(exc) or type(exc).__name__).splitlines()[0]
        raise UserError(f"database error at {_where(settings.database_url)}: {reason}") from None


def _require_schema(settings: Settings) -> None:
    """UserError unless the database exists and is migrated to this checkout's head."""
    path = sqlite_path(settings.database_url)
    if path is not None and not path.is_file():
        raise UserError(f"no database at {path} (YJ_DATABASE_URL); start the dev server with "
                        "scripts/dev.sh, or run: yjrisk migrate")

    async def revisions() -> set[str]:
        from app.core.db import build_engine

        engine = build_engine(settings)
        try:
            return await current_revisions(engine)
        finally:
            await engine.dispose()

    current, head = _run_db(settings, revisions()), head_revisions()
    if current != head:
        stamped = ", ".join(sorted(current)) or "none"
        raise UserError(f"the database at {_where(settings.database_url)} is not migrated "
                        f"(revision {stamped}, this code needs {', '.join(sorted(head))}); "
                        "run: yjrisk migrate")


async def create_dev_database(database_url: str) -> bool:
    """Create the PostgreSQL database ``database_url`` names when it does not exist yet (the
    dev server only: ``YJ_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/yjdev bash
    scripts/dev.sh`` on a machine where ``yjdev`` was never made; attack pass 21, A21a-2).

    Connects to the server's ``postgres`` maintenance database with the same user, host and
    password and runs ``CREATE DATABASE`` (the user needs CREATEDB, as the README's trust user
    ``postgres`` has). True when it created the database; False when it existed or the URL is
    not PostgreSQL (SQLite makes its file itself). Connection failures propagate as asyncpg
    raises them (``OSError``, ``asyncpg.PostgresError``): :func:`_run_db` words them.
    """
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    import asyncpg

    def dsn(database: str) -> str:
        return url.set(drivername="postgresql", database=database).render_as_string(
            hide_password=False)

    try:
        conn = await asyncpg.connect(dsn(url.database), timeout=10)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await conn.close()
        return False
    admin = await asyncpg.connect(dsn("postgres"), timeout=10)
    try:
        quoted = '"' + url.database.replace('"', '""') + '"'
        try:
            await admin.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:  # made meanwhile by another start
            return False
    finally:
        await admin.close()
    return True


def _migrate(settings: Settings) -> None:
    """Apply the migrations, as one-line UserErrors when that cannot be done."""
    from alembic.util.exc import CommandError

    try:
        _run_db(settings, asyncio.to_thread(upgrade, settings.database_url))
    except CommandError as exc:
        raise UserError(f"cannot migrate {_where(settings.database_url)}: "
                        f"{str(exc).splitlines()[0]}") from None
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from app.workflows.packs import Pack, Versions

pack_cli = typer.Typer(no_args_is_help=True,
                       help="Tools for a policy pack's owner: check, render, test.")
cli.add_typer(pack_cli, name="pack")


@cli.command()
def migrate() -> None:
    """Apply every Alembic migration to the configured database."""
    _migrate(_settings())
    typer.echo("migrations applied")


@cli.command()
def token(
    role: Annotated[list[str], typer.Option("--role", "-r", help="a role; repeat for several")],
    sub: Annotated[str, typer.Option(help="staff id (the token's sub)")],
    service: Annotated[str | None, typer.Option(help="service slug (not for admin)")] = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 7)] = 8,
    scope: Annotated[str | None, typer.Option(
        help="what a machine client (role feed) is for, space-separated: cms (case upsert "
             "and events), feed:emrac, feed:mappa (that feed's deliveries)")] = None,
) -> None:
    """Mint a dev/test HS256 token for a role, staff id and service (and a feed's scope)."""
    unknown = set(role) - ROLES
    if unknown:
        raise UserError(f"unknown role {sorted(unknown)[0]!r}; known roles: "
                        f"{', '.join(sorted(ROLES))}")
    scopes = set((scope or "").split())
    if "feed" in role and not scopes:
        raise UserError("role feed needs --scope: cms, feed:emrac or feed:mappa (a feed token "
                        "without one may call nothing)")
    if scopes - MACHINE_SCOPES:
        raise UserError(f"unknown scope; known scopes: {', '.join(sorted(MACHINE_SCOPES))}")
    settings = _settings()
    if settings.env not in {"dev", "test"} or not settings.jwt_secret:
        raise UserError("dev tokens need YJ_ENV=dev or test and YJ_JWT_SECRET; run "
                        "scripts/dev.sh in the project folder first (it writes .env)")
    staff_roles = sorted(set(role) - {"admin"})
    if staff_roles and service is None:
        raise UserError(f"role {staff_roles[0]} needs --service SLUG (only an admin token has "
                        "no service)")
    if service is not None:
        _require_service(settings, service)
    typer.echo(mint_dev_token(settings, sub=sub, roles=role, service=service,
                              ttl_seconds=hours * 3600, scope=" ".join(sorted(scopes)) or None))


def _require_service(settings: Settings, slug: str) -> None:
    """UserError unless the configured database holds a service with this slug (a token for
    another service would only be refused by the API)."""
    _require_schema(settings)

    async def slugs() -> list[str]:
        from sqlmodel import select
        from sqlmodel.ext.asyncio.session import AsyncSession

        from app.core.db import build_engine
        from app.domain.services import Service

        engine = build_engine(settings)
        try:
            async with AsyncSession(engine) as session:
                return sorted((await session.exec(select(Service.slug))).all())
        finally:
            await engine.dispose()

    known = _run_db(settings, slugs())
    if slug not in known:
        shown = slug if len(slug) <= 64 and slug.isprintable() else "given"
        raise UserError(f"no service {shown!r} in the database at "
                        f"{_where(settings.database_url)}; services: "
                        f"{', '.join(known) or 'none (run: yjrisk seed-demo)'}")


@cli.command("seed-demo")
def seed_demo(print_tokens: bool = True) -> None:
    """Create the demo services and cases (idempotent) and print a token per role."""
    from app.demo import seed

    settings = _settings()
    _check_packs(settings, "refusing to run")
    _require_schema(settings)
    summary = _run_db(settings, seed(settings))
    if print_tokens:
        typer.echo(json.dumps(summary, indent=2))


@cli.command()
def dev(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_clock: Annotated[str | None, typer.Option(
        "--demo-clock", metavar="ISO-8601",
        help="start the demo clock here instead of 15:35 London on Friday 28 August 2026 "
             "(a time with its offset, e.g. 2026-11-16T09:00:00Z; default: YJ_DEMO_CLOCK_START "
             "if set in the environment)")] = None,
) -> None:
    """Set up and run the dev server (what scripts/dev.sh runs): write .env, migrate, seed, serve.

    ``.env`` gets the dev secret, the SQLite database in ``.dev/`` and the demo clock (15:35 London
    on Friday 28 August 2026 from now on, or ``--demo-clock``); a ``YJ_DATABASE_URL`` or
    ``YJ_JWT_SECRET`` in the environment is written there instead of the default, and a
    ``YJ_PACKS_DIR`` as an absolute path (ATK28B-8: every command then loads the same packs);
    tokens for both demo services go to ``.dev/tokens.json``. A bad ``--demo-clock`` is a
    one-line UserError.
    """
    import os

    from app.demo import DEMO_CLOCK_START, DEMO_SERVICES, seed, write_dev_env

    clock_start = _demo_clock_start(demo_clock or os.environ.get("YJ_DEMO_CLOCK_START"),
                                    default=DEMO_CLOCK_START)
    _require_free_port(host, port)
    Path(".dev").mkdir(exist_ok=True)
    real_now = datetime.now(UTC)
    write_dev_env(Path(".env"), real_now=real_now, clock_start=clock_start,
                  given=os.environ)
    # The environment wins over .env: where it names the clock, make it agree with .env.
    for name in ("YJ_DEMO_CLOCK_START", "YJ_DEMO_CLOCK_SET_AT"):
        if name in os.environ:
            os.environ[name] = (clock_start if name.endswith("START") else real_now).isoformat(
            ).replace("+00:00", "Z")
    get_settings.cache_clear()
    settings = _settings()
    if settings.env != "dev":
        raise UserError(f"YJ_ENV={settings.env} is set: the dev server runs only with YJ_ENV=dev")
    known = _check_packs(settings)
    _run_db(settings, create_dev_database(settings.database_url))
    _migrate(settings)
    summary = _run_db(settings, seed(settings))
    _run_db(settings, require_known_packs(settings, known))
    tokens_file = Path(".dev/tokens.json")
    tokens_file.write_text(json.dumps(summary, indent=2) + "\n")
    tokens_file.chmod(0o600)
    somerset = summary["tokens_for_service_somerset"]
    base = f"http://{host}:{port}"
    lines = [f"yjrisk: database {_where(settings.database_url)} migrated; demo services "
             f"{', '.join(s[0] for s in DEMO_SERVICES)} seeded; demo clock: "
             f"{_london(clock_start)}",
             'Tokens for the demo service "somerset" (all services: .dev/tokens.json):']
    lines += [f"  {role:<13}{value}" for role, value in somerset.items()]
    lines += ["  More tokens: .venv/bin/yjrisk token --role chair --sub chair-kim "
              "--service wokingham",
              "yjrisk: starting the server ..."]
    typer.echo("\n".join(lines))
    _serve(host, port, access_log=False,
           ready=f"yjrisk: serving on {base}  (API docs: {base}/docs; Ctrl+C stops)")


def _demo_clock_start(value: str | None, *, default: datetime) -> datetime:
    """``value`` (ISO 8601 with an offset or ``Z``) as an aware UTC datetime, or ``default``
    when empty; UserError when it is not such a time."""
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise UserError("--demo-clock (or YJ_DEMO_CLOCK_START) must be a time with its offset, "
                        "e.g. 2026-11-16T09:00:00Z") from None
    return parsed.astimezone(UTC)


def _london(moment: datetime) -> str:
    """``moment`` as the README writes the demo clock ("Friday 28 August 2026, 15:35 London
    time")."""
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo("Europe/London"))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} London time"


def _require_free_port(host: str, port: int) -> None:
    """UserError when ``host:port`` cannot be bound (another server already listens there)."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); stop the other "
                            "server or pick another port: PORT=8001 bash scripts/dev.sh") from None


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes (uvicorn)")] = 1,
) -> None:
    """Run the API with uvicorn (migrating first); ``--workers N`` runs N processes on one port.
    Every policy pack (bundled and ``YJ_PACKS_DIR``) is checked first: an invalid one stops it."""
    settings = _settings()
    known = _check_packs(settings)
    if migrate_first:
        _migrate(settings)
    else:
        _require_schema(settings)
    _run_db(settings, require_known_packs(settings, known))
    _serve(host, port, workers=workers)


def _check_packs(settings: Settings, refusal: str = "refusing to start") -> Versions:
    """The packs loaded (every version, by pack id); UserError naming the file, line, rule and
    field unless every pack loads and checks clean (what ``app.main.build_policy_context`` does
    first, without importing the whole app: the server process it hands over to loads the app, and
    logs the packs' warnings, itself). Run by every command that loads the packs (serve, dev,
    tick, worker, seed-demo: attack 26a, A26a-5, dev and tick died with a traceback)."""
    from app.workflows.engine import load_service_packs
    from app.workflows.packs import PackError

    try:
        return load_service_packs(settings.packs_dir)
    except PackError as exc:
        raise UserError(f"{refusal}: {_located(exc, settings.packs_dir)}") from None


def _located(exc: Exception, packs_dir: Path | None) -> str:
    """The pack error as ``yjrisk pack check`` says it, with the file's line
    (``file:LINE: rule: field: error: message``) when a file of ``packs_dir`` holds it, and how
    many more errors there are; else the error's own message (it names the file)."""
    from app.workflows.pack_tools import check_files
    from app.workflows.packs import PackError

    said = str(exc)
    if packs_dir is None or not Path(packs_dir).is_dir():
        return said
    try:
        lines, _ = check_files(sorted(Path(packs_dir).glob("*.toml")))
    except (PackError, OSError, ValueError):
        return said
    errors = [line for line in lines if ": error: " in line]
    first = next((p.message for p in getattr(exc, "problems", ()) if p.message), said)
    found = next((line for line in errors if first in line), errors[0] if errors else None)
    if found is None:
        return said
    more = len(errors) - 1
    return found + (f" (and {more} more: run `yjrisk pack check` on the folder's files)"
                    if more else "")


async def require_known_packs(
    settings: Settings, loaded: Mapping[str, tuple[Pack, ...]],
    engine: AsyncEngine | None = None,
) -> None:
    """UserError when a service stored in the database runs a policy pack not ``loaded`` (its
    file removed from ``YJ_PACKS_DIR``, or the variable unset): every write of that service
    would fail and its steps could not be explained (attack 26a, A26a-17); or has been served
    with a version of its pack no longer loaded: its acts of that version's period would be
    judged by another (ATTACK27-1); or whose loaded versions' dates give a day of a recorded
    version's acts to another version (re-dated or back-dated, ATK29-4). No process starts
    then (the API, ``tick``, ``worker``, ``dev``). Run on the migrated database, through
    ``engine`` when the caller has one (``tick`` and ``worker`` then use it for their passes),
    else an engine of its own."""
    import app.domain.tables  # noqa: F401 - every table on the metadata
    from app.core.db import build_engine, session_factory
    from app.domain.pack_versions import recorded, served_refusal
    from app.domain.services import services_without_pack, unloaded_packs_message

    used = engine if engine is not None else build_engine(settings)
    try:
        async with session_factory(used)() as session:
            missing = await services_without_pack(session, loaded)
            refusal = None if missing else served_refusal(await recorded(session), loaded)[0]
    finally:
        if engine is None:  # its own: disposed here
            await used.dispose()
    if missing:
        raise UserError(unloaded_packs_message(missing))
    if refusal:
        raise UserError(refusal)


def _serve(host: str, port: int, *, access_log: bool = True, workers: int = 1,
           ready: str | None = None) -> None:
    """Hand this process over to the server (app.core.serve: uvicorn without the command line's
    modules); the settings are checked first, so a bad one is still one line here. ``ready``:
    printed once the server accepts connections."""
    from app.core.serve import exec_server

    _settings()
    exec_server(host, port, access_log=access_log, workers=workers, ready=ready)


async def _audit_heads() -> list[dict[str, object]]:
    from app.core.db import build_engine, session_factory
    from app.domain.audit import chain_heads

    engine = build_engine(_settings())
    try:
        async with session_factory(engine)() as session:
            return list(await chain_heads(session))
    finally:
        await engine.dispose()


@cli.command("audit-head")
def audit_head() -> None:
    """Print the newest hash of every audit chain, one JSON object per line, for anchoring
    outside the database (see README, "Anchoring the audit chain")."""
    settings = _settings()
    _require_schema(settings)
    for head in _run_db(settings, _audit_heads()):
        typer.echo(json.dumps(head, sort_keys=True))


async def _escalation(
    settings: Settings, loop_seconds: float | None, webhook_seconds: float = 5
) -> int:
    import app.domain.tables  # noqa: F401 - every table on the metadata, as in the API process
    from app.core.db import build_engine, session_factory
    from app.domain import escalation, stand_ins, webhooks
    from app.domain.history import RecordedSession
    from app.main import build_policy_context

    policy_ctx = build_policy_context(settings)
    engine = build_engine(settings)
    try:
        await require_known_packs(settings, policy_ctx.versions, engine)
        factory = session_factory(engine, RecordedSession)
        if loop_seconds is None:
            await stand_ins.run_pass(factory, policy_ctx)  # leave that started or ended today
            escalated = await escalation.run_pass(factory)
            await webhooks.run_pass(factory)  # then deliver what the pass (and writes) queued
            return escalated
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)  # finish the current pass, then exit
        await asyncio.gather(stand_ins.run_forever(factory, policy_ctx, loop_seconds, stop),
                             escalation.run_forever(factory, loop_seconds, stop),
                             webhooks.run_forever(factory, webhook_seconds, stop))
        return 0
    finally:
        await engine.dispose()


@cli.command()
def tick() -> None:
    """Run one overdue-escalation pass and one webhook delivery pass, then exit (cron)."""
    from app.core.logging import configure_logging

    settings = _settings()
    _check_packs(settings, "refusing to run")
    _require_schema(settings)
    configure_logging(settings.log_level, settings.log_json)
    typer.echo(f"escalated {_run_db(settings, _escalation(settings, None))} overdue steps")


@cli.command()
def worker(
    interval: Annotated[float, typer.Option(min=1, help="seconds between passes")] = 60,
    webhook_interval: Annotated[
        float, typer.Option(min=0.5, help="seconds between webhook delivery passes")] = 5,
) -> None:
    """Run the overdue-escalation and webhook delivery loops (several may run on PostgreSQL)."""
    from app.core.logging import configure_logging

    settings = _settings()
    _check_packs(settings)
    _require_schema(settings)
    configure_logging(settings.log_level, settings.log_json)
    _run_db(settings, _escalation(settings, interval, webhook_interval))
    typer.echo("worker stopped")


@pack_cli.command("check")
def pack_check(
    files: Annotated[list[Path], typer.Argument(help="pack files (*.toml)")],
    source: Annotated[Path | None, typer.Option(
        help="the policy's text, to check every ref against it (default: the pack's "
             "'source' file next to the pack, if there)")] = None,
) -> None:
    """Check packs: one line per problem (file:LINE: rule: field: severity: message); exit 1
    on an error."""
    from app.workflows.calendar import london_date
    from app.workflows.pack_tools import check_files
    from app.workflows.packs import PackFileUnreadable

    try:  # today as the service's clock says (a pack not in force yet is warned: A26a-6)
        lines, failed = check_files(files, source, today=london_date(clock.now()))
    except PackFileUnreadable as exc:
        raise UserError(str(exc)) from None
    for line in lines:
        typer.echo(line)
    if failed:
        raise typer.Exit(1)
    typer.echo(f"{len(files)} pack(s) checked: no errors")


def _pack_arg(pack: str) -> Pack:
    """A pack file, or the id of a bundled pack; UserError when it does not load."""
    from app.workflows.packs import PACK_DIR, PackError, PackFileUnreadable, load_pack

    path = Path(pack)
    if not path.is_file() and (PACK_DIR / f"{pack}.toml").is_file():
        path = PACK_DIR / f"{pack}.toml"
    try:
        return load_pack(path)
    except PackFileUnreadable as exc:
        raise UserError(str(exc)) from None
    except PackError as exc:
        # One line per mistake, each with its line, is pack check's (A20-17a).
        raise UserError(f"{exc} (run `yjrisk pack check {path}` for one line per mistake, "
                        "with the line of the file it is on)") from None


@pack_cli.command("render")
def pack_render(
    file: Annotated[str, typer.Argument(help="a pack file, or a bundled pack's id")],
    fmt: Annotated[str, typer.Option("--format", help="html or md")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here")] = None,
) -> None:
    """Every rule as a plain sentence, grouped by what triggers it (HTML opens offline), and
    last the duties of the policy the pack deliberately gives no step, as its comments say
    ("No step: ..."). A pack id renders the version the service holds in force today, loaded
    as the service loads it (bundled packs plus YJ_PACKS_DIR); the version rendered is said on
    stderr."""
    from app.workflows.pack_notes import no_step_notes, pack_source
    from app.workflows.pack_tools import pack_under_test
    from app.workflows.packs import PACK_DIR, PackError, PackFileUnreadable, version_at
    from app.workflows.render import render_html, render_markdown

    if fmt not in ("html", "md"):
        raise UserError(f"--format must be html or md, not {fmt!r}")
    if Path(file).is_file():
        pack = _pack_arg(file)
        said = f"{file}: {pack.id} version {pack.version}"
        source: str | None = Path(file).read_text(encoding="utf-8")
    else:
        settings = _settings()
        try:  # the service's own loader (A24b-6), not the bundled file alone
            versions = pack_under_test(file, settings.packs_dir).versions
        except PackFileUnreadable as exc:
            raise UserError(str(exc)) from None
        except PackError as exc:
            raise UserError(f"{exc} (run `yjrisk pack check FILE...` for one line per mistake, "
                            "with the line of the file it is on)") from None
        pack = version_at(versions, clock.now())
        said = (f"{pack.id} version {pack.version}, in force today (versions the service "
                f"loads: {', '.join(v.version for v in versions)})")
        source = pack_source(pack.id, pack.version, (settings.packs_dir, PACK_DIR))
    notes = no_step_notes(source) if source is not None else []
    text = render_html(pack, notes) if fmt == "html" else render_markdown(pack, notes)
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{output}: cannot write: {exc.strerror or exc}") from None
    typer.echo(f"rendered {said}", err=True)


@pack_cli.command("test")
def pack_test(
    pack: Annotated[str, typer.Argument(
        help="a pack file (one version of its pack), or the id of a pack the service loads")],
    scenarios: Annotated[list[Path], typer.Argument(help="scenario files (*.toml)")],
) -> None:
    """Run scenario files against a pack, each act judged by the version in force on its date
    (bundled, YJ_PACKS_DIR and the file given): one line per scenario, naming that version;
    exit 1 if any fails."""
    from app.workflows.calendar import WorkingCalendar
    from app.workflows.pack_tools import pack_under_test
    from app.workflows.packs import PackError, PackFileUnreadable
    from app.workflows.scenarios import ScenarioError, run_file

    settings = _settings()
    try:
        under_test = pack_under_test(pack, settings.packs_dir)
    except PackFileUnreadable as exc:
        raise UserError(str(exc)) from None
    except PackError as exc:
        files = pack if Path(pack).is_file() else "FILE..."
        raise UserError(f"{exc} (run `yjrisk pack check {files}` for one line per mistake, "
                        "with the line of the file it is on)") from None
    calendar = WorkingCalendar(extra_closures=settings.extra_closure_days)
    failed = 0
    given_run = False
    for path in scenarios:
        try:
            outcomes = run_file(path, under_test.versions, calendar)
        except ScenarioError as exc:
            raise UserError(str(exc)) from None
        for outcome in outcomes:
            typer.echo(f"{path}: {'ok  ' if outcome.passed else 'FAIL'} {outcome.name} "
                       f"[{outcome.pack_id} version {outcome.version}]")
            for note in outcome.notes:
                typer.echo(f"    note: {note}")
            for failure in outcome.failures:
                typer.echo(f"    {failure}")
            failed += not outcome.passed
            given_run = given_run or outcome.version == under_test.given_version
    if under_test.given is not None and not given_run:
        typer.echo(f"note: no act of these scenarios is dated while {under_test.pack_id} version "
                   f"{under_test.given_version} ({under_test.given}) is in force "
                   f"({_in_force(under_test.versions, under_test.given_version)}): "
                   "the file given was not run")
    if failed:
        typer.echo(f"{failed} scenario(s) failed")
        raise typer.Exit(1)


def _in_force(versions: tuple[Pack, ...], version: str | None) -> str:
    """When a version of a pack is in force, among its versions (oldest first)."""
    index = next(i for i, v in enumerate(versions) if v.version == version)
    start = versions[index].effective_from
    said = f"from {start}" if start is not None else "on every date"
    if index + 1 < len(versions) and versions[index + 1].effective_from is not None:
        said += f" until the day before {versions[index + 1].effective_from}"
    return said


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run a command; user errors become one line and exit status 2."""
    command = typer.main.get_command(cli)
    try:
        result = command.main(args=argv, prog_name="yjrisk", standalone_mode=False)
    except (UserError, ConfigError) as exc:  # ConfigError: settings read past _settings()
        typer.echo(f"yjrisk: {exc}", err=True)
        return USER_ERROR_EXIT
    except typer.TyperException as exc:  # usage errors (typer vendors click)
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            typer.echo(f"yjrisk: {exc.format_message()}", err=True)
        return USER_ERROR_EXIT
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("yjrisk: aborted", err=True)
        return 130
    except Exception as exc:
        # A pack error reached past the commands' own check (any command loading the packs):
        # still one line, not a traceback (A26a-5).
        from app.workflows.packs import PackError

        if not isinstance(exc, PackError):
            raise
        typer.echo(f"yjrisk: {exc}", err=True)
        return USER_ERROR_EXIT
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
