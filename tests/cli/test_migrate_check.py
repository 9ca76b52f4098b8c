"""The schema check of ``yjrisk tick`` and ``worker`` (app.core.migrate) reads the migration
files' revision ids and the ``alembic_version`` table without Alembic: it must answer what
Alembic's script directory and migration context answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app.core import migrate


def test_heads_are_alembics() -> None:
    """The head of this checkout's migrations, as Alembic finds it."""
    alembic = set(ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_heads())
    assert migrate.head_revisions() == alembic


def test_a_file_stating_revisions_otherwise_is_left_to_alembic(tmp_path: Path) -> None:
    """A merge (several down revisions) is read; branch labels, ``depends_on`` or a computed
    revision are not guessed at (the check then asks Alembic)."""
    merge = tmp_path / "merge.py"
    merge.write_text('revision: str = "0015"\ndown_revision = ("0013", "0014")\n'
                     "branch_labels = None\ndepends_on = None\n")
    assert migrate._literal_revisions(merge) == ("0015", ("0013", "0014"))
    for text in ('revision = "a"\ndown_revision = "b"\ndepends_on = "c"\n',
                 'revision = "a"\ndown_revision = "b"\nbranch_labels = ("x",)\n',
                 'revision = "a" + "b"\ndown_revision = None\n',
                 "down_revision = None\n"):
        odd = tmp_path / "odd.py"
        odd.write_text(text)
        assert migrate._literal_revisions(odd) is None, text


def _alembic_current(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_heads()))
        finally:
            await engine.dispose()
    return asyncio.run(read())


def _ours(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            return await migrate.current_revisions(engine)
        finally:
            await engine.dispose()
    return asyncio.run(read())


def test_current_revisions_are_alembics(tmp_path: Path) -> None:
    """An empty database (no version table), one at an older revision, one at the head."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'check.db'}"
    (tmp_path / "check.db").write_bytes(b"")
    assert _ours(url) == _alembic_current(url) == set()
    migrate.upgrade(url, "0012")
    assert _ours(url) == _alembic_current(url) == {"0012"}
    migrate.upgrade(url)
    assert _ours(url) == _alembic_current(url) == migrate.head_revisions()
