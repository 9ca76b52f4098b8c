"""Run the Alembic migrations programmatically (start-up, tests, CLI).

Alembic is imported only by what runs or reads migrations through it (``upgrade``,
``downgrade``, ``alembic_config``): the schema check every ``yjrisk tick`` and ``worker`` makes
(:func:`head_revisions`, :func:`current_revisions`) reads the revision ids from the migration
files' text and the ``alembic_version`` table itself, which costs a cron tick ~1 s of CPU less
than importing Alembic, loading every migration module and configuring a migration context
(tests/cli/test_migrate_check.py compares both ways).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "migrations" / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default; migrations/env.py does not change it


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at this repository's migrations and the given database."""
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (call outside a running event loop)."""
    from alembic import command

    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the schema down to ``revision``."""
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def _literal_revisions(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A migration file's ``revision`` and ``down_revision`` ids, when the file states them as
    plain literals and uses no branch labels nor ``depends_on``; None otherwise."""
    found: dict[str, Any] = {}
    value: ast.expr | None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in (
                "revision", "down_revision", "branch_labels", "depends_on"):
            try:
                found[target.id] = ast.literal_eval(value) if value is not None else None
            except ValueError:
                return None
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str) or found.get("branch_labels") or found.get("depends_on"):
        return None
    downs = (down,) if isinstance(down, str) else tuple(down or ())
    if not all(isinstance(d, str) for d in downs):
        return None
    return revision, downs


def head_revisions() -> set[str]:
    """The revision ids of the migrations' head(s) in this checkout: the revisions no other
    migration names as its ``down_revision``, read from the files; through Alembic's script
    directory when a file states its revisions otherwise than as plain literals."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        stated = _literal_revisions(path)
        if stated is None:
            return _alembic_heads()
        revisions.add(stated[0])
        parents.update(stated[1])
    return revisions - parents


def _alembic_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    """The revision ids the database is stamped with (empty when never migrated): the rows of
    ``alembic_version``, as Alembic's migration context reads them."""
    import sqlalchemy as sa

    def read(connection: Any) -> set[str]:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return set()
        rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return {row[0] for row in rows}

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a file-backed SQLite URL, else None (PostgreSQL, in-memory SQLite)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)
